"""Flood a live node with 10,000 bad datagrams; it must not crash, change term or vote, and
elections must keep working.

A 3-node local cluster elects a leader; then 10,000 datagrams from impl.faults.bad_datagrams
(random bytes, wrong key, wrong cluster id, unknown peer, one bit flipped, oversized) are sent
over loopback to one node, first a follower, then the leader. The script reports how many
the node counted as dropped (the rest were lost in the kernel's socket buffer), how fast it
refused them, whether its term, vote or leader changed, and finally kills the leader to show
that an election still succeeds.

    .venv/bin/python benchmarks/impl_flood.py
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from impl.cluster import LocalCluster, single_leader  # noqa: E402
from impl.faults import bad_datagrams  # noqa: E402


def _dropped(view: dict) -> int:
    return sum(count for reason, count in view["dropped"].items() if reason != "send-error")


def flood(cluster: LocalCluster, target: int, datagrams: list[bytes], burst: int) -> dict:
    before = cluster.status(target)
    assert before is not None
    port = cluster.udp_ports[target]
    start = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for k, data in enumerate(datagrams, 1):
            sock.sendto(data, ("127.0.0.1", port))
            if k % burst == 0:
                time.sleep(0.001)  # pacing: the kernel buffer holds only a few hundred
    sent_s = time.perf_counter() - start
    # Done when every datagram is counted, or when the count stopped moving for 1 s (the
    # rest were lost in the kernel before the node could see them).
    after, done_s, last = cluster.status(target) or before, sent_s, -1
    stalled_since = time.monotonic()
    while _dropped(after) - _dropped(before) < len(datagrams):
        if _dropped(after) != last:
            last, done_s, stalled_since = _dropped(after), time.perf_counter() - start, \
                time.monotonic()
        elif time.monotonic() - stalled_since > 1.0:
            break
        time.sleep(0.005)
        after = cluster.status(target) or after
    else:
        done_s = time.perf_counter() - start
    counted = _dropped(after) - _dropped(before)
    cluster_terms = sorted({v["term"] for v in cluster.statuses().values() if v})
    return {"target": target, "role": before["role"], "cluster_terms_after": cluster_terms,
            "sent": len(datagrams),
            "counted_dropped": counted, "lost_in_kernel": len(datagrams) - counted,
            "accepted": after["received"] - before["received"],
            "seconds": done_s, "send_seconds": sent_s, "rate_per_s": counted / done_s,
            "alive": cluster.procs[target].poll() is None,
            "term_before": before["term"], "term_after": after["term"],
            "voted_for_before": before["voted_for"], "voted_for_after": after["voted_for"],
            "leader_before": before["leader"], "leader_after": after["leader"],
            "by_reason": {r: after["dropped"].get(r, 0) - before["dropped"].get(r, 0)
                          for r in after["dropped"] if r != "send-error"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument(
        "--burst", type=int, default=50, help="datagrams per 1 ms pause (sender pacing)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reports = []
    with tempfile.TemporaryDirectory(prefix="electkit-flood-") as tmp:
        cluster = LocalCluster(tmp, 3)
        try:
            cluster.start()
            views = cluster.wait_for(lambda v: single_leader(v) is not None and all(v.values()),
                                     30)
            leader = single_leader(views)
            assert leader is not None
            key = bytes.fromhex(cluster.key_file.read_text().strip())
            follower = next(i for i in cluster.ids if i != leader)
            for target, seed in ((follower, 1), (leader, 2)):
                data = bad_datagrams(key, cluster.cluster_id, cluster.ids, args.count, seed)
                reports.append(flood(cluster, target, data, args.burst))
            views = cluster.wait_for(lambda v: single_leader(v) is not None and all(v.values()),
                                     30)
            leader = single_leader(views)
            assert leader is not None
            term = views[leader]["term"]
            killed_at = time.time()
            cluster.kill(leader)
            rest = [i for i in cluster.ids if i != leader]
            views = cluster.wait_for(lambda v: any(x and x["role"] == "leader" and
                                                   x["term"] > term for x in v.values()),
                                     30, interval=0.01, ids=rest)
            new = next(i for i, x in views.items() if x and x["role"] == "leader")
            elected = {"old_leader": leader, "new_leader": new, "new_term": views[new]["term"],
                       "seconds_after_kill_polled": time.time() - killed_at}
        finally:
            cluster.stop()
    for r in reports:
        print(f"flood of node {r['target']} ({r['role']}): {r['sent']} sent, "
              f"{r['counted_dropped']} refused and counted, {r['lost_in_kernel']} lost in the "
              f"kernel buffer, {r['accepted']} accepted (valid peer traffic meanwhile), "
              f"{r['rate_per_s']:.0f}/s; alive={r['alive']}; term {r['term_before']}->"
              f"{r['term_after']}, voted_for {r['voted_for_before']}->{r['voted_for_after']}, "
              f"leader {r['leader_before']}->{r['leader_after']}; cluster terms after: "
              f"{r['cluster_terms_after']}")
        print(f"  by reason: {json.dumps(r['by_reason'], sort_keys=True)}")
    print(f"after the floods: leader {elected['old_leader']} SIGKILLed, node "
          f"{elected['new_leader']} elected in term {elected['new_term']} "
          f"({elected['seconds_after_kill_polled'] * 1000:.0f} ms by polling)")
    if args.json:
        print(json.dumps({"floods": reports, "election_after": elected}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
