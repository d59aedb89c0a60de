"""Traces: ITF files (itf.py), their schema (schema.py), the corpus and random walks (corpus.py)."""

from checker.traces.itf import (
    Trace,
    TraceError,
    dumps,
    read_trace,
    show,
    state_diff,
    to_itf,
    trace_from_actions,
    trace_from_itf,
    write_trace,
)

__all__ = [
    "Trace",
    "TraceError",
    "dumps",
    "read_trace",
    "show",
    "state_diff",
    "to_itf",
    "trace_from_actions",
    "trace_from_itf",
    "write_trace",
]
