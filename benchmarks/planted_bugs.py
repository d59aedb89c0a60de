"""Planted bugs against the whole gate: which stage of `electkit verify` catches each, and the
line it printed.

Each bug is a text patch applied to a temporary copy of impl/ (checker/conformance/overlay.py;
nothing in the project changes); `electkit verify --spec raft_election --json` then runs every
stage against the copy in a subprocess. Prints, per bug, each failing stage and its summary.
Usage: .venv/bin/python benchmarks/planted_bugs.py [NAME-SUBSTRING]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from checker.conformance.overlay import Overlay, package_dir

ELECTKIT = Path(sys.executable).with_name("electkit")
# name -> [(file, old text, new text), ...]; each old text must occur exactly once.
BUGS: dict[str, list[tuple[str, str, str]]] = {
    "messages before persist (server sends, then saves)": [
        ("server.py", " else VoteStore(config.data_dir)\n",
         " else VoteStore(config.data_dir)\n        self._deferred = _Deferred(self._store)\n"),
        ("server.py", "self._host = NodeHost(cfg.node_id, cfg.addresses, self._store,",
         "self._host = NodeHost(cfg.node_id, cfg.addresses, self._deferred,"),
        ("server.py", "on_handled=self._log_handled, on_persisted=self._log_persisted)",
         "on_handled=self._log_handled)"),
        ("server.py", "        self._rearm(out)\n",
         "        pending, self._deferred.pending = self._deferred.pending, None\n"
         "        if pending is not None:\n"
         "            self._store.save(pending)\n"
         "            self._log_persisted(pending)\n"
         "        self._rearm(out)\n"),
        ("server.py", "    def _require_node(self) -> Node:\n",
         "    def _require_node(self) -> Node:\n"
         "        return self._require_host().node\n\n\n"
         "class _Deferred:\n"
         "    def __init__(self, store):\n"
         "        self.store, self.pending = store, None\n\n"
         "    def load(self):\n"
         "        return self.store.load()\n\n"
         "    def save(self, durable):\n"
         "        self.pending = durable\n\n"
         "    def _unused(self) -> Node:\n"),
    ],
    "persist skipped on term change (only a changed vote is saved)": [
        ("node.py", "return Output(persist=after if after != before else None, send=send,",
         "return Output(persist=after if after.voted_for != before.voted_for else None, "
         "send=send,"),
    ],
    "votes carried across elections": [
        ("node.py", "        self._votes = frozenset({self._id})\n",
         "        self._votes = self._votes | {self._id}\n"),
    ],
    "no random jitter (the timeout is always the low end)": [
        ("server.py", "delay = self._rng.uniform(*self.config.election_timeout)",
         "delay = self.config.election_timeout[0]"),
    ],
    "election timer not reset by the server": [
        ("server.py", "if out.reset_election_timer or out.stepped_down or "
         "self._election.handle is None:",
         "if out.stepped_down or self._election.handle is None:"),
    ],
    "leader stops beating (heartbeat timer never re-armed)": [
        ("server.py", "            if self._heartbeat.handle is None:\n",
         "            if False:\n"),
    ],
}


def patched(changes: list[tuple[str, str, str]]) -> dict[str, str]:
    """The changed files' new text."""
    texts: dict[str, str] = {}
    for name, old, new in changes:
        text = texts.get(name) or (package_dir("impl") / name).read_text()
        if text.count(old) != 1:
            raise SystemExit(f"{name}: the text to change occurs {text.count(old)} times: {old!r}")
        texts[name] = text.replace(old, new)
    return texts


def main() -> None:
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    for bug, changes in BUGS.items():
        if only not in bug:
            continue
        with Overlay("impl", patched(changes)) as overlay:
            proc = subprocess.run([str(ELECTKIT), "verify", "--spec", "raft_election", "--json"],
                                  cwd=overlay.root, env=overlay.env(), capture_output=True,
                                  text=True, timeout=600)
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        failed = [s for s in report["stages"] if not s["passed"]]
        print(f"## {bug}: exit {proc.returncode}, {len(failed)} stage(s) failed", flush=True)
        for stage in failed:
            print(f"- {stage['name']}: {stage['summary']}", flush=True)


if __name__ == "__main__":
    main()
