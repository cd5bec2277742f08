"""The engine's docstring examples are tests: every example in these modules must run as shown."""

import doctest
import importlib
import re
from pathlib import Path

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


def test_checkers_doc_snippets_run_as_shown() -> None:
    doc = Path(__file__).resolve().parents[1] / "docs" / "checkers.md"
    snippets = re.findall(r"```pycon\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    assert snippets
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for i, text in enumerate(snippets):
        runner.run(parser.get_doctest(text, {}, f"docs/checkers.md snippet {i + 1}", str(doc), 0))
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0
