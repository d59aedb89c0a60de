"""Reading node event logs and checking them for the two safety facts a run must keep.

Each line of a node's JSON-lines log is one handled event with the node's state after it (see
:mod:`impl.server`). Over the logs of every node of a run, across restarts:

* no two nodes were ever leader in the same term (ElectionSafety), and
* no node held two different votes in one term (the durable vote did its job).

>>> check_logs({1: [{"state": {"term": 2, "role": "leader", "voted_for": 1}}],
...             2: [{"state": {"term": 2, "role": "leader", "voted_for": 2}}]})
['term 2 has two leaders: nodes [1, 2]']
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from impl.errors import ImplError


def read_event_log(path: str | Path) -> list[dict[str, Any]]:
    """Every event of one log file; raises ImplError naming the file and line if damaged."""
    events = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ImplError(f"{path}:{number}: not a JSON event ({exc})") from None
    return events


def leaders_by_term(logs: Mapping[int, Iterable[dict[str, Any]]]) -> dict[int, set[int]]:
    """term -> the set of nodes whose log shows them leading that term."""
    leaders: dict[int, set[int]] = defaultdict(set)
    for node, events in logs.items():
        for event in events:
            state = event["state"]
            if state["role"] == "leader":
                leaders[state["term"]].add(node)
    return dict(leaders)


def votes_by_term(logs: Mapping[int, Iterable[dict[str, Any]]]) -> dict[tuple[int, int], set[int]]:
    """(node, term) -> the set of servers the node's log shows it voting for in that term."""
    votes: dict[tuple[int, int], set[int]] = defaultdict(set)
    for node, events in logs.items():
        for event in events:
            state = event["state"]
            if state["voted_for"] is not None:
                votes[(node, state["term"])].add(state["voted_for"])
    return dict(votes)


def check_logs(logs: Mapping[int, Iterable[dict[str, Any]]]) -> list[str]:
    """The safety violations visible in ``logs`` (node -> events); empty when safe."""
    logs = {node: list(events) for node, events in logs.items()}
    problems = [f"term {t} has two leaders: nodes {sorted(ns)}"
                for t, ns in sorted(leaders_by_term(logs).items()) if len(ns) > 1]
    problems += [f"node {n} voted for {sorted(vs)} in term {t}"
                 for (n, t), vs in sorted(votes_by_term(logs).items()) if len(vs) > 1]
    return problems
