"""The JSON Schema of electkit trace files, and the check that names file, step and field."""

from __future__ import annotations

from typing import Any

import jsonschema

from checker.errors import ElectkitError

_INT = {"type": "integer"}
_SERVER = {"type": "integer", "minimum": 1}


def _map_of(value: dict) -> dict:
    return {
        "type": "object",
        "required": ["#map"],
        "properties": {
            "#map": {
                "type": "array",
                "items": {
                    "type": "array",
                    "prefixItems": [_SERVER, value],
                    "minItems": 2,
                    "maxItems": 2,
                },
            }
        },
    }


def _set_of(value: dict) -> dict:
    return {
        "type": "object",
        "required": ["#set"],
        "properties": {"#set": {"type": "array", "items": value}},
    }


MESSAGE = {
    "type": "object",
    "required": ["kind", "term", "src", "dst"],
    "properties": {
        "kind": {"enum": ["RequestVote", "Vote", "Heartbeat"]},
        "term": {"type": "integer", "minimum": 0},
        "src": _SERVER,
        "dst": _SERVER,
        "granted": {"type": "boolean"},
    },
    "additionalProperties": False,
}

OPTION_SERVER = {
    "oneOf": [
        {
            "type": "object",
            "required": ["tag", "value"],
            "properties": {"tag": {"const": "None"}, "value": {"const": {"#tup": []}}},
        },
        {
            "type": "object",
            "required": ["tag", "value"],
            "properties": {"tag": {"const": "Some"}, "value": _SERVER},
        },
    ]
}

STATE_META = {
    "type": "object",
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "action": {"enum": ["Timeout", "Heartbeat", "Restart", "Receive"]},
        "params": {
            "type": "object",
            "properties": {"s": _SERVER, "m": MESSAGE},
            "additionalProperties": False,
        },
        "sends": {"type": "array", "items": MESSAGE},
    },
}

STATE = {
    "type": "object",
    "required": ["term", "voted_for", "role", "votes", "net", "elected"],
    "properties": {
        "#meta": STATE_META,
        "term": _map_of({"type": "integer", "minimum": 0}),
        "voted_for": _map_of(OPTION_SERVER),
        "role": _map_of({"enum": ["follower", "candidate", "leader"]}),
        "votes": _map_of(_set_of(_SERVER)),
        "net": _set_of(MESSAGE),
        "elected": _set_of(
            {
                "type": "object",
                "required": ["#tup"],
                "properties": {
                    "#tup": {
                        "type": "array",
                        "prefixItems": [_INT, _SERVER],
                        "minItems": 2,
                        "maxItems": 2,
                    }
                },
            }
        ),
    },
}

TRACE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "electkit trace (ITF) of the raft_election spec",
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
                "parameters": {
                    "type": "object",
                    "properties": {
                        "servers": {"type": "integer", "minimum": 1, "maximum": 64},
                        "max_term": {"type": "integer", "minimum": 0, "maximum": 1000},
                        "restart": {"type": "boolean"},
                        "variant": {"type": ["string", "null"]},
                    },
                    "additionalProperties": False,
                },
                "property": {"type": ["string", "null"]},
                "verdict": {"type": "string"},
                "expect": {"enum": ["conforms", "diverges"]},
                "expect_step": {"type": "integer", "minimum": 1},
                "description": {"type": "string"},
            },
        },
        "vars": {"type": "array", "items": {"type": "string"}},
        "states": {
            "type": "array",
            "minItems": 1,
            "items": STATE,
        },
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(TRACE_SCHEMA)


def validate_itf(doc: Any, where: str) -> None:
    """Raise one clear error, naming ``where``, the step and the field, if ``doc`` does not fit."""
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(doc))
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
