"""One self-contained HTML page of a trace: a sequence diagram and a step-by-step table.

The page needs nothing from the network (inline CSS, inline SVG, no script): open it from CI
artifacts or attach it to a bug report. Lanes are servers, coloured by role; a local action
(Timeout, Heartbeat, Restart) is a mark on its lane, a Receive an arrow from the sender's lane
to the receiver's. Each table row shows what the step changed and, folded, every server's
state after it.
"""

from __future__ import annotations

from html import escape
from typing import Any

from checker.traces import Trace, show, state_diff

ROLE_COLOURS = {"follower": "#9aa5b1", "candidate": "#e8a33d", "leader": "#2f9e44"}
LANE_GAP, ROW_GAP, TOP, LEFT = 150, 34, 60, 80


def render_html(trace: Trace, title: str) -> str:
    """The page for ``trace``; ``title`` names it (usually the file)."""
    meta = trace.meta
    params = ", ".join(f"{k}={v}" for k, v in trace.model.parameters.items())
    facts = [("spec", f"{trace.model.name} ({params})"), ("steps", str(len(trace.steps)))]
    for key in ("property", "verdict", "expect", "expect_step", "description"):
        if meta.get(key) is not None:
            facts.append((key, str(meta[key])))
    header = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><table class='facts'>{header}</table>"
        f"<h2>Sequence</h2>{sequence_svg(trace)}"
        f"<h2>Steps</h2>{steps_table(trace)}</body></html>\n"
    )


def sequence_svg(trace: Trace) -> str:
    """Servers as lanes, steps as rows: marks for local actions, arrows for deliveries."""
    ids = list(trace.model.server_ids())
    width = LEFT + LANE_GAP * len(ids) + 140  # room for the last lane's labels
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
    states = trace.states
    for row in range(len(trace.steps) + 1):
        y = TOP + ROW_GAP * row
        for s in ids:  # the lane segment for this row, in the role the server has after it
            srv = states[row].locals[s - 1]
            colour = ROLE_COLOURS.get(srv.role, "#999")
            parts.append(
                f"<line x1='{x[s]}' y1='{y - ROW_GAP // 2}' x2='{x[s]}' y2='{y + ROW_GAP // 2}' "
                f"stroke='{colour}' stroke-width='6'><title>server {s}: {escape(srv.role)}, "
                f"term {srv.term}</title></line>"
            )
        parts.append(f"<text x='8' y='{y + 4}' class='step'>{row}</text>")
        if row == 0:
            continue
        step = trace.steps[row - 1]
        m = step.params.get("m")
        if m is not None:
            parts.append(
                f"<line x1='{x[m.src]}' y1='{y - 8}' x2='{x[m.dst]}' y2='{y + 4}' "
                f"stroke='#333' marker-end='url(#arrow)'/>"
                f"<text x='{(x[m.src] + x[m.dst]) // 2}' y='{y - 10}' class='label'>"
                f"{escape(str(m))}</text>"
            )
        else:
            s = step.params["s"]
            parts.append(
                f"<circle cx='{x[s]}' cy='{y}' r='7' fill='white' stroke='#333'/>"
                f"<text x='{x[s] + 12}' y='{y + 4}' class='label'>{escape(step.action)}"
                f" (term {states[row].locals[s - 1].term})</text>"
            )
    parts.append("</svg>")
    legend = " ".join(
        f"<span class='swatch' style='background:{c}'></span>{escape(r)}"
        for r, c in ROLE_COLOURS.items()
    )
    return f"<div class='legend'>{legend}</div>" + "".join(parts)


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
        changes = state_diff(trace.model, previous, state) if previous is not None else []
        sends = ", ".join(sorted(str(m) for m in step.sends)) if step else ""
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
    view = trace.model.to_json(state)
    per_server = [k for k, v in view.items() if isinstance(v, dict) and "#map" in v]
    head = "".join(f"<th>{escape(k)}</th>" for k in per_server)
    body = []
    for s in trace.model.server_ids():
        cells = "".join(
            f"<td>{escape(show(dict((int(a), b) for a, b in view[k]['#map'])[s]))}</td>"
            for k in per_server
        )
        body.append(f"<tr><th>{s}</th>{cells}</tr>")
    rest = "".join(
        f"<p><b>{escape(k)}</b>: {escape(show(v))}</p>"
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
