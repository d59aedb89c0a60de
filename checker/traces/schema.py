"""The JSON Schema of electkit trace files, and the check that names file, step and field.

Every trace has the same envelope (ITF's ``#meta``, ``vars`` and ``states``, each state's
``#meta`` with its action); the protocol adds the schema of its parameters (derived from its
bundle's :class:`~checker.protocols.bundle.Param` s) and, optionally, of one state.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from checker.errors import ElectkitError
from checker.protocols.bundle import Bundle, Param

ANY_STATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "#meta": {
            "type": "object",
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "action": {"type": "string"},
                "params": {"type": "object"},
                "sends": {"type": "array"},
            },
        }
    },
}


def parameter_schema(param: Param) -> dict[str, Any]:
    """The JSON Schema of one parameter's value."""
    names = {int: "integer", bool: "boolean", float: "number", str: "string"}
    schema: dict[str, Any] = {"type": names.get(param.type, "string")}
    if param.low is not None:
        schema["minimum"] = param.low
    if param.high is not None:
        schema["maximum"] = param.high
    if param.optional:
        schema["type"] = [schema["type"], "null"]
    return schema


def trace_schema(bundle: Bundle | None) -> dict[str, Any]:
    """The schema of a trace of ``bundle`` (None: the envelope any protocol shares)."""
    parameters: dict[str, Any] = {"type": "object"}
    if bundle is not None:
        parameters["properties"] = {p.name: parameter_schema(p) for p in bundle.params}
        parameters["additionalProperties"] = False
    state = dict(bundle.state_schema) if bundle is not None and bundle.state_schema else ANY_STATE
    title = f"of the {bundle.name} protocol" if bundle is not None else "of any protocol"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"electkit trace (ITF) {title}",
        "type": "object",
        "required": ["#meta", "vars", "states"],
        "properties": {
            "#meta": {
                "type": "object",
                "required": ["format", "format_version", "spec", "parameters"],
                "properties": {
                    "format": {"const": "ITF"},
                    "format_version": {"const": 1},
                    "spec": {"type": "string"},
                    "parameters": parameters,
                    "property": {"type": ["string", "null"]},
                    "verdict": {"type": "string"},
                    "expect": {"enum": ["conforms", "diverges"]},
                    "expect_step": {"type": "integer", "minimum": 1},
                    "description": {"type": "string"},
                },
            },
            "vars": {"type": "array", "items": {"type": "string"}},
            "states": {"type": "array", "minItems": 1, "items": state},
        },
    }


_validators: dict[str | None, jsonschema.Draft202012Validator] = {}


def validate_itf(doc: Any, where: str, bundle: Bundle | None = None) -> None:
    """Raise one clear error, naming ``where``, the step and the field, if ``doc`` does not fit."""
    key = bundle.name if bundle is not None else None
    validator = _validators.get(key)
    if validator is None:
        validator = _validators[key] = jsonschema.Draft202012Validator(trace_schema(bundle))
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is None:
        return
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "states":
        step = f"step {path[1]}"
        field = ".".join(str(p) for p in path[2:]) or "(the state)"
    else:
        step = "header"
        field = ".".join(str(p) for p in path) or "(top level)"
    raise ElectkitError(f"{where}: {step}: field {field}: {_short(error.message)}")


def _short(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."
