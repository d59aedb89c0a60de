"""Failover time after SIGKILL of the leader, over many trials of a real local cluster.

Each trial: wait until all N nodes agree on one leader; sleep a random 0-100 ms (so the kill
lands at a random phase of the heartbeat); SIGKILL the leader; wait for a new leader among the
rest. Failover time = the instant the new leader's own event log records its election minus
the instant of the kill (both wall clock on this machine), so polling delay does not count.
"Known to all" is the instant the last surviving node's log names the new leader. The killed
node is then restarted and must rejoin before the next trial.

    .venv/bin/python benchmarks/failover.py --trials 100
    .venv/bin/python benchmarks/failover.py --trials 100 --etcd   # etcd's default timings
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from impl.cluster import LocalCluster, single_leader  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _events_since(cluster: LocalCluster, node_id: int, offset: int) -> list[dict]:
    with open(cluster.event_log(node_id), "rb") as log:
        log.seek(offset)
        return [json.loads(line) for line in log.read().splitlines() if line]


def trial(cluster: LocalCluster, rng: random.Random) -> dict[str, float | int]:
    views = cluster.wait_for(lambda v: single_leader(v) is not None and all(v.values()), 30)
    old = single_leader(views)
    assert old is not None
    old_term = views[old]["term"]
    rest = [i for i in cluster.ids if i != old]
    offsets = {i: cluster.event_log(i).stat().st_size for i in rest}
    time.sleep(rng.uniform(0, 0.1))
    killed_at = time.time()
    cluster.kill(old)
    views = cluster.wait_for(lambda v: any(x and x["role"] == "leader" and x["term"] > old_term
                                           for x in v.values()), 30, interval=0.01, ids=rest)
    new = next(i for i, x in views.items() if x and x["role"] == "leader")
    new_term = views[new]["term"]
    cluster.wait_for(lambda v: all(x and x["leader"] == new and x["term"] == new_term
                                   for x in v.values()), 30, interval=0.01, ids=rest)
    events = {i: _events_since(cluster, i, offsets[i]) for i in rest}
    elected_at = min(e["time"] for e in events[new]
                     if e["state"]["role"] == "leader" and e["state"]["term"] == new_term)
    known_at = max(min(e["time"] for e in events[i]
                       if e["state"]["leader"] == new and e["state"]["term"] == new_term)
                   for i in rest)
    cluster.spawn(old)
    return {"failover_ms": (elected_at - killed_at) * 1000,
            "known_to_all_ms": (known_at - killed_at) * 1000,
            "terms": new_term - old_term}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--election-timeout", default="150-300", help="ms range")
    parser.add_argument("--heartbeat", type=int, default=50, help="ms")
    parser.add_argument("--etcd", action="store_true",
                        help="etcd's defaults: heartbeat 100 ms, election timeout 1000 ms "
                             "(randomized to 1000-2000 ms as etcd/raft does)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    low, high = (int(x) for x in args.election_timeout.split("-"))
    heartbeat = args.heartbeat
    if args.etcd:
        low, high, heartbeat = 1000, 2000, 100
    rng = random.Random(args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="electkit-failover-") as tmp:
        cluster = LocalCluster(tmp, args.nodes, election_timeout_ms=(low, high),
                               heartbeat_ms=heartbeat)
        try:
            cluster.start()
            for k in range(args.trials):
                results.append(trial(cluster, rng))
                r = results[-1]
                print(f"trial {k + 1:3d}: failover {r['failover_ms']:7.1f} ms, known to all "
                      f"{r['known_to_all_ms']:7.1f} ms, terms +{r['terms']}", flush=True)
        finally:
            cluster.stop()
    fail = [r["failover_ms"] for r in results]
    known = [r["known_to_all_ms"] for r in results]
    summary = {
        "nodes": args.nodes, "trials": args.trials, "election_timeout_ms": [low, high],
        "heartbeat_ms": heartbeat,
        "failover_ms": {"p50": percentile(fail, 50), "p90": percentile(fail, 90),
                        "p99": percentile(fail, 99), "max": max(fail), "min": min(fail)},
        "known_to_all_ms": {"p50": percentile(known, 50), "p99": percentile(known, 99)},
        "trials_needing_more_than_one_term": sum(r["terms"] > 1 for r in results),
    }
    f = summary["failover_ms"]
    print(f"\n{args.nodes} nodes, election timeout {low}-{high} ms, heartbeat {heartbeat} ms, "
          f"{args.trials} trials: failover p50 {f['p50']:.1f} ms, p90 {f['p90']:.1f} ms, "
          f"p99 {f['p99']:.1f} ms, max {f['max']:.1f} ms; known to all p50 "
          f"{summary['known_to_all_ms']['p50']:.1f} ms, p99 "
          f"{summary['known_to_all_ms']['p99']:.1f} ms; split votes (more than one term) in "
          f"{summary['trials_needing_more_than_one_term']} trials")
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
