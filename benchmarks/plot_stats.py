"""Plot the JSON-lines stats file of a long `electkit check --stats PATH` run as one PNG.

    .venv/bin/python benchmarks/plot_stats.py STATS.jsonl -o OUT.png [--title TEXT]

Four panels: distinct states over time, states/s over time, resident memory per stored
state over time, and the number of new states at each depth (the BFS level sizes).

Each line of the file is one JSON object, written every few seconds ("tick"), at the end of
each BFS level ("level", with "level_size") and once at the end ("done"):
``t`` seconds since the start, ``depth``, ``distinct`` states stored, ``generated``
successors, ``queue`` states waiting, ``rate`` distinct states/s over the last interval,
``rss`` resident bytes of every process of the checker, ``disk`` bytes on disk, ``event``.
Keys it does not know are ignored. A line that does not fit is one error naming file:line,
exit 2; only a last line without its newline (a run still writing it) is skipped, with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

EVENTS = ("tick", "level", "done")
FIELDS: dict[str, tuple[type, ...]] = {
    "t": (int, float),
    "depth": (int,),
    "distinct": (int,),
    "generated": (int,),
    "queue": (int,),
    "rate": (int, float),
    "rss": (int,),
    "disk": (int,),
}


class StatsError(Exception):
    """A stats file that cannot be plotted: the message names file:line and the field."""


def parse_stats(lines: Iterable[str], where: str) -> list[dict[str, Any]]:
    """The records of a stats file's lines, each checked; StatsError names ``where:line``."""
    records = []
    lines = list(lines)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not line.endswith("\n"):
                print(f"{where}:{number}: an unfinished last line, skipped", file=sys.stderr)
                continue
            raise StatsError(f"{where}:{number}: not JSON ({exc.msg})") from None
        records.append(_checked(record, f"{where}:{number}"))
    if not records:
        raise StatsError(f"{where}: no stats lines to plot")
    return records


def _checked(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise StatsError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key, types in FIELDS.items():
        if key not in record:
            raise StatsError(f"{where}: missing field {key!r}")
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, types) or value < 0:
            kind = "a number" if float in types else "an integer"
            raise StatsError(f"{where}: field {key!r} must be {kind} >= 0, got {value!r}")
    event = record.get("event")
    if event not in EVENTS:
        raise StatsError(
            f"{where}: field 'event' must be one of {', '.join(EVENTS)}, got {event!r}"
        )
    if record["event"] == "level":
        size = record.get("level_size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise StatsError(f"{where}: a 'level' line needs 'level_size', an integer >= 0")
    return record


def plot(records: list[dict[str, Any]], out: Path, title: str) -> None:
    """Draw the four panels of ``records`` into the PNG ``out`` (written whole, then renamed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    t = [r["t"] for r in records]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), dpi=100)
    fig.suptitle(title)
    distinct, rate, memory, levels = axes.flat
    distinct.plot(t, [r["distinct"] for r in records], color="tab:blue")
    distinct.set(title="distinct states stored", xlabel="time (s)", ylabel="states")
    rate.plot(t, [r["rate"] for r in records], color="tab:green")
    rate.set(title="distinct states/s (last interval)", xlabel="time (s)", ylabel="states/s")
    stored = [r for r in records if r["distinct"] > 0]
    memory.plot(
        [r["t"] for r in stored], [r["rss"] / r["distinct"] for r in stored], color="tab:red"
    )
    # Log scale: the first seconds (the interpreter's fixed memory over few states) would
    # otherwise flatten the figure that matters, the bytes per state of a large run.
    memory.set_yscale("log")
    last = f", {stored[-1]['rss'] / stored[-1]['distinct']:,.0f} at the end" if stored else ""
    memory.set(title=f"memory per stored state (rss / distinct){last}", xlabel="time (s)")
    memory.set_ylabel("bytes per state (log)")
    level_lines = [r for r in records if r["event"] == "level"]
    levels.bar([r["depth"] for r in level_lines], [r["level_size"] for r in level_lines])
    levels.set(title="new states per level", xlabel="depth", ylabel="states")
    if not level_lines:
        levels.text(0.5, 0.5, "no level lines yet", ha="center", transform=levels.transAxes)
    thousands = FuncFormatter(lambda value, _: f"{value:,.0f}")
    for ax in axes.flat:
        if ax is not memory:
            ax.yaxis.set_major_formatter(thousands)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    temporary = out.with_name(f".{out.name}.tmp")
    try:
        fig.savefig(temporary, format="png")
        os.replace(temporary, out)
    finally:
        plt.close(fig)
        temporary.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plot a `check --stats` file as a PNG.")
    parser.add_argument("stats", type=Path, help="the JSON-lines stats file")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--title", help="the figure's title (default: the stats file's name)")
    args = parser.parse_args(argv)
    try:
        if not args.stats.is_file():
            raise StatsError(f"{args.stats}: not a file")
        if not args.out.parent.is_dir():
            raise StatsError(f"-o {args.out}: folder {args.out.parent} does not exist")
        with args.stats.open(encoding="utf-8", newline="") as handle:
            records = parse_stats(handle, str(args.stats))
        plot(records, args.out, args.title or args.stats.name)
    except (StatsError, OSError, UnicodeDecodeError) as exc:
        print(f"plot_stats: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(records)} lines, {records[-1]['t']:.1f} s of the run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
