"""Every example in a docstring of spec/, checker/ and impl/ runs, and says what it shows."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.conftest import ROOT

MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for package in ("spec", "checker", "impl")
    for path in (ROOT / package).rglob("*.py")
    if path.name != "__main__.py"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), report=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"


def test_there_are_examples_to_run():
    attempted = sum(
        doctest.testmod(importlib.import_module(name), report=False).attempted
        for name in ("spec.model", "checker.protocols.registry", "checker.search.explore")
    )
    assert attempted >= 5
