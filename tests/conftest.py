"""Shared fixtures and strategies."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
ELECTKIT = str(Path(sys.executable).with_name("electkit"))

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def electkit_cmd() -> list[str]:
    """The installed console script, as a real user runs it."""
    return [ELECTKIT]


def search_summary(result) -> tuple:
    """What two searches of one model must agree on: verdict, counts, depth, path, coverage."""
    return (
        result.verdict,
        result.property,
        result.distinct_states,
        result.generated_states,
        result.depth,
        [s.label() for s in result.path or []],
        [(c.action, c.fired, c.changed, c.new_states) for c in result.coverage],
        result.witnessed,
    )
