"""The JSON Schema of one state of a raft_election trace: its variables, messages, actions."""

from __future__ import annotations

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
