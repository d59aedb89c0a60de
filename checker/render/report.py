"""Terminal output of a search: live progress, the summary table, a counterexample table."""

from __future__ import annotations

import shutil
import sys
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from checker.protocols.bundle import shown
from checker.search.state import Progress, Result
from checker.traces import state_diff


class LiveProgress:
    """A one-line live display (distinct, states/s, queue, depth), shown once a run passes 1 s."""

    def __init__(self, console: Console, after: float = 1.0, log_every: float = 10.0) -> None:
        self.console = console
        self.after = after
        self.log_every = log_every  # when not a terminal (a CI log): a plain line this often
        self.next_log = after
        self.live: Live | None = None

    def begin(self) -> None:
        """On a terminal, say at once that work has started (compiling a large model's tables
        takes seconds before the first state is explored)."""
        if self.console.is_terminal and self.live is None:
            self.live = Live(
                Text("  compiling the model's tables ...", style="cyan"),
                console=self.console,
                refresh_per_second=4,
                transient=True,
            )
            self.live.start()

    def __call__(self, p: Progress) -> None:
        if p.seconds < self.after:
            return
        extra = ""
        if p.memory:
            extra += f"   mem {p.memory / 2**20:,.0f} MiB   disk {p.disk / 2**20:,.0f} MiB"
        if p.levels_left is not None:
            extra += f"   ~{p.levels_left} levels left"
        line = Text(
            f"  distinct {p.distinct:>12,}   {p.rate or p.distinct / p.seconds:>10,.0f} states/s"
            f"   queue {p.queue:>10,}   depth {p.depth:>3}   {p.seconds:6.1f} s{extra}",
            style="cyan",
        )
        if self.console.is_terminal:
            if self.live is None:
                self.live = Live(line, console=self.console, refresh_per_second=4, transient=True)
                self.live.start()
            else:
                self.live.update(line)
        elif p.seconds >= self.next_log:
            self.next_log = p.seconds + self.log_every
            self.console.print(line)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def summary_table(model: Any, result: Result) -> Table:
    """The closing summary of a search: verdict, counts, depth, speed, coverage."""
    params = ", ".join(f"{k}={shown(v)}" for k, v in model.parameters.items())
    table = Table(title=f"{model.name} ({params})", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    verdict = {
        "ok": "[green]ok: every property holds[/]",
        "violation": (
            f"[red]vacuous: the sometimes-property {result.property} was never witnessed[/]"
            if result.vacuous
            else f"[red]violation of {result.property}[/]"
        ),
        "interrupted": "[yellow]interrupted: the search did not finish[/]",
    }[result.verdict]
    table.add_row("verdict", verdict)
    stored = "orbits (symmetry reduction)" if result.symmetry else "states"
    table.add_row("distinct states", f"{result.distinct_states:,} {stored}")
    table.add_row("generated states", f"{result.generated_states:,}")
    bounded = " (bounded by --max-depth)" if result.bounded else ""
    table.add_row("depth", f"{result.depth}{bounded}")
    table.add_row("time", f"{result.seconds:.2f} s ({result.states_per_second:,.0f} distinct/s)")
    if result.exact:
        table.add_row("visited set", "exact (whole states packed into integers: no collisions)")
    else:
        table.add_row(
            "visited set",
            f"64-bit fingerprints; probability of a missed state ≈ "
            f"{result.collision_probability:.1e}",
        )
    if result.workers:
        per_state = result.peak_memory / max(1, result.distinct_states)
        table.add_row(
            "partitioned search",
            f"{result.workers} partition(s); peak memory {result.peak_memory / 2**20:,.0f} MiB "
            f"({per_state:,.1f} bytes a state); {result.disk_bytes / 2**20:,.0f} MiB on disk",
        )
    if result.witnessed or result.unwitnessed:
        seen = ", ".join(result.witnessed) or "-"
        table.add_row("sometimes, witnessed", seen)
        if result.unwitnessed:
            table.add_row("[yellow]sometimes, NOT witnessed[/]", ", ".join(result.unwitnessed))
    return table


def coverage_table(result: Result) -> Table:
    """How often each action was enabled, changed the state, found a new state."""
    table = Table(title="action coverage", title_justify="left")
    table.add_column("action")
    table.add_column("enabled", justify="right")
    table.add_column("changed state", justify="right")
    table.add_column("new states", justify="right")
    for c in result.coverage:
        flag = "  [yellow](never fired)[/]" if c.fired == 0 else ""
        table.add_row(c.action + flag, f"{c.fired:,}", f"{c.changed:,}", f"{c.new_states:,}")
    return table


def counterexample_table(
    model: Any, init: Any, path: list, title: str = "counterexample (shortest)"
) -> Table:
    """The counterexample, one row per step: the action and what it changed."""
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("step", justify="right")
    table.add_column("action")
    table.add_column("what changed")
    table.add_row("0", "(initial state)", "")
    previous = init
    for index, step in enumerate(path, start=1):
        changes = state_diff(model, previous, step.state) or ["(nothing: a self-loop)"]
        table.add_row(str(index), step.label(), "\n".join(changes))
        previous = step.state
    return table


def make_console(stderr: bool = False) -> Console:
    """A console for tables: the terminal's width on a terminal; in a log or a pipe, wide
    enough that tables and lines never wrap at 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else max(160, shutil.get_terminal_size().columns)
    return Console(stderr=stderr, highlight=False, width=width, soft_wrap=not stream.isatty())
