"""One self-contained HTML page of a trace: a sequence diagram and a step-by-step table.

The page needs nothing from the network (inline CSS, inline SVG, no script): open it from CI
artifacts or attach it to a bug report. Lanes are the servers (the keys of the model's
per-server variables), coloured by the variable the protocol's view hints name; a local
action (an action with a server parameter ``s``) is a mark on its lane, the delivery of a
message an arrow from the sender's lane to the receiver's. Each table row shows what the step
changed and, folded, every server's state after it.
"""

from __future__ import annotations

from html import escape
from typing import Any

from checker.errors import ElectkitError
from checker.protocols.bundle import ViewHints, shown
from checker.protocols.registry import bundle_named
from checker.traces import Trace, show, state_diff

LANE_GAP, ROW_GAP, TOP, LEFT = 150, 34, 60, 80
GREY = "#9aa5b1"


def hints_for(trace: Trace) -> ViewHints:
    """The protocol's view hints, or none (plain lanes) for a protocol without a bundle."""
    try:
        return bundle_named(trace.model.name).view
    except ElectkitError:
        return ViewHints()


def lanes(view: dict[str, Any]) -> tuple[list[Any], list[str]]:
    """The lanes (keys of the per-server variables) and those variables' names."""
    per_server = [k for k, v in view.items() if isinstance(v, dict) and "#map" in v]
    keys: list[Any] = []
    for name in per_server:
        for key, _ in view[name]["#map"]:
            if key not in keys:
                keys.append(key)
    return keys, per_server


def lane_value(view: dict[str, Any], var: str | None, lane: Any) -> Any:
    """The value of the per-server variable ``var`` for ``lane`` (None when absent)."""
    if var is None or var not in view:
        return None
    return next((v for k, v in view[var]["#map"] if k == lane), None)


def render_html(trace: Trace, title: str, graph: str | None = None) -> str:
    """The page for ``trace``; ``title`` names it (usually the file); ``graph``, a picture of
    the state graph to link to (a path relative to the page)."""
    meta = trace.meta
    params = ", ".join(f"{k}={shown(v)}" for k, v in trace.model.parameters.items())
    facts = [("spec", f"{trace.model.name} ({params})"), ("steps", str(len(trace.steps)))]
    for key in ("property", "verdict", "expect", "expect_step", "description"):
        if meta.get(key) is not None:
            facts.append((key, str(meta[key])))
    if meta.get("loop") is not None:
        facts.append(
            (
                "lasso",
                f"after step {len(trace.steps)}, back to the state after step "
                f"{meta['loop']}, forever",
            )
        )
    header = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    if graph is not None:
        header += (
            f"<tr><th>state graph</th><td><a href='{escape(graph, quote=True)}'>"
            f"{escape(graph)}</a></td></tr>"
        )
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><table class='facts'>{header}</table>"
        f"<h2>Sequence</h2>{sequence_svg(trace)}"
        f"<h2>Steps</h2>{steps_table(trace)}</body></html>\n"
    )


def sequence_svg(trace: Trace) -> str:
    """Servers as lanes, steps as rows: marks for local actions, arrows for deliveries."""
    model, hints = trace.model, hints_for(trace)
    views = [model.to_json(state) for state in trace.states]
    ids, _ = lanes(views[0])
    width = LEFT + LANE_GAP * max(len(ids), 1) + 140  # room for the last lane's labels
    height = TOP + ROW_GAP * (len(trace.steps) + 1)
    x = {s: LEFT + LANE_GAP * i + LANE_GAP // 2 for i, s in enumerate(ids)}
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"class='sequence' role='img' aria-label='sequence diagram'>",
        "<defs><marker id='arrow' markerWidth='8' markerHeight='8' refX='7' refY='4' "
        "orient='auto'><path d='M0,0 L8,4 L0,8 z' fill='#333'/></marker></defs>",
    ]
    for s in ids:
        parts.append(f"<text x='{x[s]}' y='{TOP - 30}' class='lane'>server {s}</text>")
    for row in range(len(trace.steps) + 1):
        y = TOP + ROW_GAP * row
        for s in ids:  # the lane segment for this row, in the status it has after the step
            status = lane_value(views[row], hints.status, s)
            colour = hints.colours.get(show(status), GREY) if status is not None else GREY
            tip = (
                ", ".join(
                    f"{var} {show(lane_value(views[row], var, s))}"
                    for var in (hints.status, hints.note)
                    if var is not None
                )
                or f"server {s}"
            )
            parts.append(
                f"<line x1='{x[s]}' y1='{y - ROW_GAP // 2}' x2='{x[s]}' y2='{y + ROW_GAP // 2}' "
                f"stroke='{colour}' stroke-width='6'><title>server {s}: {escape(tip)}</title>"
                "</line>"
            )
        parts.append(f"<text x='8' y='{y + 4}' class='step'>{row}</text>")
        if row == 0:
            continue
        step = trace.steps[row - 1]
        message = next((v for v in step.params.values() if _is_message(v, x)), None)
        actor = step.params.get("s")
        if message is not None:
            src, dst = x[message.src], x[message.dst]
            parts.append(
                f"<line x1='{src}' y1='{y - 8}' x2='{dst}' y2='{y + 4}' "
                f"stroke='#333' marker-end='url(#arrow)'/>"
                f"<text x='{(src + dst) // 2}' y='{y - 10}' class='label'>"
                f"{escape(model.describe(message))}</text>"
            )
        elif actor in x:
            note = lane_value(views[row], hints.note, actor)
            suffix = f" ({hints.note} {show(note)})" if note is not None else ""
            parts.append(
                f"<circle cx='{x[actor]}' cy='{y}' r='7' fill='white' stroke='#333'/>"
                f"<text x='{x[actor] + 12}' y='{y + 4}' class='label'>{escape(step.action)}"
                f"{escape(suffix)}</text>"
            )
        else:
            parts.append(
                f"<text x='{LEFT}' y='{y + 4}' class='label'>{escape(step.label())}</text>"
            )
    parts.append("</svg>")
    legend = " ".join(
        f"<span class='swatch' style='background:{c}'></span>{escape(r)}"
        for r, c in hints.colours.items()
    )
    return f"<div class='legend'>{legend}</div>" + "".join(parts)


def _is_message(value: Any, lanes_x: dict) -> bool:
    return getattr(value, "src", None) in lanes_x and getattr(value, "dst", None) in lanes_x


def steps_table(trace: Trace) -> str:
    """One row per step: the action, what changed, what was sent, the full state folded."""
    rows = [
        "<table class='steps'><tr><th>step</th><th>action</th><th>what changed</th>"
        "<th>sent</th></tr>"
    ]
    previous = None
    for index, state in enumerate(trace.states):
        step = trace.steps[index - 1] if index else None
        label = step.label() if step else "(initial state)"
        if trace.meta.get("loop") == index:
            label += "  ⟲ the cycle starts here"
        changes = state_diff(trace.model, previous, state) if previous is not None else []
        sends = ", ".join(sorted(trace.model.describe(m) for m in step.sends)) if step else ""
        changed = "<br>".join(escape(c) for c in changes) or ("-" if step else "")
        rows.append(
            f"<tr id='step-{index}'><td>{index}</td><td>{escape(label)}</td>"
            f"<td>{changed}<details><summary>state</summary>"
            f"{state_table(trace, state)}</details></td><td>{escape(sends)}</td></tr>"
        )
        previous = state
    rows.append("</table>")
    return "".join(rows)


def state_table(trace: Trace, state: Any) -> str:
    model = trace.model
    view = model.to_json(state)
    ids, per_server = lanes(view)
    head = "".join(f"<th>{escape(k)}</th>" for k in per_server)
    body = []
    for s in ids:
        cells = "".join(
            f"<td>{escape(show(lane_value(view, k, s), model))}</td>" for k in per_server
        )
        body.append(f"<tr><th>{escape(show(s))}</th>{cells}</tr>")
    rest = "".join(
        f"<p><b>{escape(k)}</b>: {escape(show(v, model))}</p>"
        for k, v in view.items()
        if k not in per_server
    )
    return f"<table class='state'><tr><th>server</th>{head}</tr>{''.join(body)}</table>{rest}"


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
table.facts th{text-align:left;background:#f3f3f3}
table.steps td:first-child{text-align:right}
table.state{margin:6px 0}table.state td,table.state th{font-size:12px}
svg.sequence text{font:12px system-ui,sans-serif}svg.sequence text.lane{font-weight:bold;
text-anchor:middle}svg.sequence text.label{fill:#333}svg.sequence text.step{fill:#888}
.legend{margin:.5em 0}.swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;
vertical-align:middle}
"""
