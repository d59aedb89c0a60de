"""Traces in the Informal Trace Format (ITF, as Apalache and Quint write it).

A trace is an initial state and the steps after it. On disk it is JSON with ``vars``,
``states`` and ``#meta`` (spec, parameters, variant, property, verdict, format version); each
state after the first carries in its ``#meta`` the action that led to it, its parameters and
the messages it sent. Files are written with sorted keys and one short value per line, so
that a diff reads well. The reader refuses a file that does not fit, naming the file, the step
and the field.

>>> from spec.model import Model, Property, Step
>>> class Counter(Model):
...     name = "counter"
...     def init_states(self): return [0]
...     def steps(self, n): return iter([Step("Inc", {}, n + 1)])
...     def properties(self): return []
...     def to_json(self, n): return {"n": n}
...     def from_json(self, value): return value["n"]
>>> trace_from_actions(Counter(), [("Inc", {}), ("Inc", {})]).states
[0, 1, 2]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.errors import ElectkitError
from checker.files import read_text, write_text
from checker.protocols.bundle import ParamError
from checker.protocols.registry import bundle_named
from spec.model import Model, ModelError, Step, find_step

FORMAT_VERSION = 1
MAX_TRACE_BYTES = 64 * 2**20  # 64 MiB: a trace of about 100,000 states of five servers
MAX_TRACE_STATES = 100_000
_COMPACT_WIDTH = 96


class TraceError(ElectkitError):
    """A trace file that cannot be read: names the file, the step and the field."""


@dataclass
class Trace:
    """An initial state and the steps after it, with the model that produced them."""

    model: Model
    init: Any
    steps: list[Step]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def states(self) -> list[Any]:
        return [self.init] + [step.state for step in self.steps]


def trace_from_actions(
    model: Model, actions: Sequence[tuple[str, Mapping[str, Any]]], meta: dict | None = None
) -> Trace:
    """Run ``actions`` (name, parameters) from the initial state; each must be enabled."""
    init = model.init_states()[0]
    state, steps = init, []
    for index, (action, params) in enumerate(actions, start=1):
        step = find_step(model, state, action, params)
        if step is None:
            args = ", ".join(f"{k}={v}" for k, v in params.items())
            raise TraceError(f"step {index}: {action}({args}) is not enabled in the model")
        steps.append(step)
        state = step.state
    return Trace(model, init, steps, dict(meta or {}))


def to_itf(trace: Trace) -> dict[str, Any]:
    """The trace as an ITF JSON document."""
    model = trace.model
    meta = {
        "format": "ITF",
        "format_version": FORMAT_VERSION,
        "source": "electkit",
        "spec": model.name,
        "parameters": dict(model.parameters),
        **trace.meta,
    }
    states = [{"#meta": {"index": 0}, **model.to_json(trace.init)}]
    for index, step in enumerate(trace.steps, start=1):
        step_meta = {"index": index, **model.action_to_json(step)}
        step_meta["sends"] = model.messages_to_json(step.sends)
        states.append({"#meta": step_meta, **model.to_json(step.state)})
    variables = [k for k in states[0] if k != "#meta"]
    return {"#meta": meta, "vars": variables, "states": states}


def write_trace(trace: Trace, path: str | os.PathLike, option: str = "trace") -> Path:
    """Write ``trace`` to ``path`` atomically (folders made as needed); returns the path.

    A path that is a folder, a device, a FIFO or a symbolic link is refused, and a failed
    write (a full disk) leaves what was there: ElectkitError names ``option`` and why.
    """
    return write_text(path, dumps(to_itf(trace)), option)


def dumps(value: Any) -> str:
    """Stable, diff-friendly JSON: sorted keys; a value that fits on a short line stays on it."""
    return _dump(value, 0) + "\n"


def _dump(value: Any, indent: int) -> str:
    flat = json.dumps(value, sort_keys=True, separators=(", ", ": "))
    if len(flat) + indent <= _COMPACT_WIDTH or not isinstance(value, dict | list):
        return flat
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, list):
        items = [inner + _dump(item, indent + 2) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    items = [f"{inner}{json.dumps(key)}: {_dump(value[key], indent + 2)}" for key in sorted(value)]
    return "{\n" + ",\n".join(items) + "\n" + pad + "}"


def read_trace(path: str | os.PathLike) -> Trace:
    """Read and check a trace file: every state must be the one its action leads to.

    Limits, checked before the work: a regular file (never a FIFO or a device) of at most
    :data:`MAX_TRACE_BYTES`, with at most :data:`MAX_TRACE_STATES` states.
    """
    path = Path(path)
    text = read_text(path, MAX_TRACE_BYTES, "trace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise TraceError(f"{path}: not a trace (JSON nested too deeply)") from None
    return trace_from_itf(doc, str(path))


def trace_from_itf(doc: Any, where: str = "<trace>") -> Trace:
    """The :class:`Trace` of a parsed ITF document, checked against its protocol's model."""
    from checker.traces.schema import validate_itf

    doc = _normalize(doc, where, [])
    validate_itf(doc, where)
    if len(doc["states"]) > MAX_TRACE_STATES:
        raise TraceError(
            f"{where}: {len(doc['states']):,} states; a trace is limited to {MAX_TRACE_STATES:,}"
        )
    meta = doc["#meta"]
    try:
        bundle = bundle_named(meta["spec"])
    except ElectkitError as exc:
        raise TraceError(f"{where}: header: field #meta.spec: {exc}") from None
    validate_itf(doc, where, bundle)
    params = dict(meta.get("parameters", {}))
    try:
        model = bundle.build(**params)
    except (ModelError, ParamError, TypeError) as exc:
        raise TraceError(f"{where}: #meta.parameters: {exc}") from None
    states = doc["states"]
    init = _state(model, states[0], where, 0)
    if init not in model.init_states():
        raise TraceError(f"{where}: step 0: the first state is not an initial state of the model")
    steps, current = [], init
    for index, raw in enumerate(states[1:], start=1):
        expected = _state(model, raw, where, index)
        try:
            action, action_params = model.action_from_json(raw["#meta"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TraceError(f"{where}: step {index}: #meta action/params: {exc}") from None
        _check_servers(model, action_params, f"{where}: step {index}")
        step = find_step(model, current, action, action_params)
        if step is None:
            args = ", ".join(f"{k}={v}" for k, v in action_params.items())
            raise TraceError(
                f"{where}: step {index}: field #meta.action: {action}({args}) is not enabled "
                "in the model here"
            )
        recorded_sends = raw["#meta"].get("sends")
        if recorded_sends is not None and recorded_sends != model.messages_to_json(step.sends):
            raise TraceError(
                f"{where}: step {index}: field #meta.sends: the recorded messages are not the "
                f"ones {step.label()} sends"
            )
        if step.state != expected:
            diff = "; ".join(state_diff(model, step.state, expected)[:3])
            raise TraceError(
                f"{where}: step {index}: the recorded state is not where {step.label()} "
                f"leads: {diff}"
            )
        steps.append(step)
        current = step.state
    trace_meta = {k: v for k, v in meta.items() if k not in ("spec", "parameters")}
    return Trace(model, init, steps, trace_meta)


def _normalize(value: Any, where: str, path: list) -> Any:
    """ITF integers may be written ``{"#bigint": "12"}`` (Quint, Apalache): read them as ints.
    ITF has no floats: a ``1.0`` is refused rather than quietly taken for ``1``."""
    if isinstance(value, dict):
        if set(value) == {"#bigint"} and isinstance(value["#bigint"], str):
            try:
                return int(value["#bigint"])
            except ValueError:
                raise TraceError(
                    f"{where}: {_where(path)}: {value['#bigint']!r} is not an integer"
                ) from None
        return {k: _normalize(v, where, [*path, k]) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v, where, [*path, i]) for i, v in enumerate(value)]
    if isinstance(value, float):
        raise TraceError(
            f"{where}: {_where(path)}: {value!r} is not an integer (ITF has no floats)"
        )
    return value


def _where(path: list) -> str:
    if len(path) >= 2 and path[0] == "states":
        return f"step {path[1]}: field " + (".".join(str(p) for p in path[2:]) or "(the state)")
    return "header: field " + (".".join(str(p) for p in path) or "(top level)")


def _check_servers(model: Model, params: Mapping[str, Any], where: str) -> None:
    """A server id in an action's parameters (``s``, a message's ``src``/``dst``) must exist."""
    ids = set(model.server_ids())
    if not ids:
        return
    named = [("params.s", params["s"])] if isinstance(params.get("s"), int) else []
    for key, value in params.items():
        if hasattr(value, "src") and hasattr(value, "dst"):
            named += [(f"params.{key}.src", value.src), (f"params.{key}.dst", value.dst)]
    for field_name, value in named:
        if value not in ids:
            raise TraceError(
                f"{where}: field #meta.{field_name}: server {value} is not one of "
                f"{min(ids)}..{max(ids)}"
            )


def _state(model: Model, raw: Mapping[str, Any], where: str, index: int) -> Any:
    try:
        return model.from_json({k: v for k, v in raw.items() if k != "#meta"})
    except KeyError as exc:
        raise TraceError(f"{where}: step {index}: missing field {exc}") from None
    except (TypeError, ValueError) as exc:
        raise TraceError(f"{where}: step {index}: {exc}") from None


def state_diff(model: Model, before: Any, after: Any) -> list[str]:
    """What changed between two states, one short line per change, e.g. ``term[1]: 0 -> 1``."""
    old, new = model.to_json(before), model.to_json(after)
    lines = []
    for var in new:
        a, b = old.get(var), new[var]
        if a == b:
            continue
        if isinstance(b, dict) and "#map" in b:
            old_map = {json.dumps(k): v for k, v in a["#map"]}
            for k, v in b["#map"]:
                if old_map.get(json.dumps(k)) != v:
                    lines.append(
                        f"{var}[{k}]: {show(old_map.get(json.dumps(k)), model)} -> {show(v, model)}"
                    )
        elif isinstance(b, dict) and "#set" in b:
            old_set = [json.dumps(x, sort_keys=True) for x in a["#set"]]
            new_set = [json.dumps(x, sort_keys=True) for x in b["#set"]]
            added = [
                show(x, model)
                for x, key in zip(b["#set"], new_set, strict=True)
                if key not in old_set
            ]
            removed = [
                show(x, model)
                for x, key in zip(a["#set"], old_set, strict=True)
                if key not in new_set
            ]
            lines += [f"{var} + {x}" for x in added] + [f"{var} - {x}" for x in removed]
        else:
            lines.append(f"{var}: {show(a, model)} -> {show(b, model)}")
    return lines


def show(value: Any, model: Model | None = None) -> str:
    """An ITF value in short human form: sets in braces, options unwrapped, records inline; a
    record that ``model`` reads as a message is shown as the model describes it."""
    if isinstance(value, dict):
        if "#set" in value:
            return "{" + ", ".join(show(x, model) for x in value["#set"]) + "}"
        if "#tup" in value:
            return "(" + ", ".join(show(x, model) for x in value["#tup"]) + ")"
        if "#map" in value:
            return "{" + ", ".join(f"{show(k)}: {show(v, model)}" for k, v in value["#map"]) + "}"
        if value.get("tag") == "None":
            return "none"
        if value.get("tag") == "Some":
            return show(value["value"], model)
        if model is not None:
            try:
                return model.describe(model.message_from_json(value))
            except Exception:  # noqa: BLE001 - not a message of this model: show the record
                pass
        return "{" + ", ".join(f"{k}: {show(v, model)}" for k, v in value.items()) + "}"
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(show(x, model) for x in value) + "]"
    return str(value)
