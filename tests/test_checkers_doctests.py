"""The engine's docstring examples are tests: every example in these modules must run as shown."""

import doctest
import importlib

import pytest

MODULES = ["kingme.checkers", "kingme.checkers.board", "kingme.checkers.pdn", "kingme.checkers.core"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES[:3])
def test_each_engine_module_has_examples(name: str) -> None:
    assert doctest.testmod(importlib.import_module(name)).attempted > 0
