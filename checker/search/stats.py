"""Progress of a long search: memory read off the processes, JSON lines for a plot, and an
estimate of the levels still to come."""

from __future__ import annotations

import json
import math
import os
import resource
import time
from pathlib import Path
from typing import Any

from checker.search.state import Progress

STATS_EVERY = 2.0  # seconds between "tick" lines of the stats file
SHRINKING = 0.9  # levels_left estimates only once a level is at most this much of the last


def rss_bytes() -> int:
    """This process's resident memory now (Linux /proc; elsewhere its peak)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """This process's peak resident memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class StatsFile:
    """Progress as JSON lines: a line a tick, one at the end of each level, one at the end."""

    def __init__(self, path: Path, start: float) -> None:
        self.path, self.start = Path(path), start
        self.last = (start, 0)
        self.file = open(self.path, "a", buffering=1)  # noqa: SIM115 - closed by close()

    def write(self, event: str, p: Progress, rss: int, disk: int, **extra: Any) -> None:
        now = time.perf_counter()
        then, before = self.last
        rate = (p.distinct - before) / (now - then) if now > then else 0.0
        self.last = (now, p.distinct)
        line = {
            "t": round(now - self.start, 3), "depth": p.depth, "distinct": p.distinct,
            "generated": p.generated, "queue": p.queue, "rate": round(rate, 1), "rss": rss,
            "disk": disk, "event": event, **extra,
        }  # fmt: skip
        self.file.write(json.dumps(line) + "\n")

    def level(self, sizes: list[int], distinct: int, generated: int, rss: int, disk: int) -> None:
        """The line at the end of a level: its size and, once levels shrink, levels left."""
        extra = {"level_size": sizes[-1]}
        left = levels_left(sizes)
        if left is not None:
            extra["levels_left"] = left
        p = Progress(distinct, generated, sizes[-1], len(sizes) - 1, 0.0)
        self.write("level", p, rss, disk, **extra)


def levels_left(sizes: list[int]) -> int | None:
    """An estimate of the levels still to come, once the levels shrink: at the last ratio of
    one level to the one before, how many more until a level is empty (None while the levels
    grow or barely shrink: near a ratio of 1 the estimate means nothing).

    >>> levels_left([1, 10, 100, 50, 25])
    5
    >>> levels_left([1, 10, 100]) is None
    True
    """
    if len(sizes) < 3 or sizes[-1] == 0:
        return 0 if sizes and sizes[-1] == 0 else None
    ratio = sizes[-1] / sizes[-2]
    if ratio > SHRINKING:
        return None
    return max(1, math.ceil(math.log(sizes[-1]) / -math.log(ratio)))
