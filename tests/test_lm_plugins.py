"""Tasks, rewards and monitors as plug-ins (kingme.lm.plugins): docs/reasoning.md's example module,
written to a temporary folder and run with its own commands on tiny settings; the one-line errors."""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kingme.common import UserError
from kingme.lm.commands import main
from kingme.lm.monitors import load_monitor
from kingme.lm.rewards import load_reward
from kingme.lm.tasks import make_task

DOC = Path(__file__).resolve().parents[1] / "docs" / "reasoning.md"
TINY = {
    "pretrain": ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--train-size", "200", "--steps", "3"],
    "train": ["--updates", "2", "--prompts-per-update", "2", "--group-size", "2"],
    "eval": ["--samples", "8", "--problems", "4"],
    "sample": [],
}


def _doc_block(marker: str) -> str:
    """The fenced block that follows `<!-- marker` in docs/reasoning.md."""
    text = DOC.read_text()
    m = re.search(rf"<!-- {re.escape(marker)}[^>]*-->\n```[a-z]*\n(.*?)```", text, re.S)
    assert m is not None, f"no block after {marker} in {DOC}"
    return m.group(1)


@pytest.fixture
def plugin_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder holding the docs' my_plugins.py, as the current folder; the module forgotten after."""
    (tmp_path / "my_plugins.py").write_text(_doc_block("plugin-example"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    sys.modules.pop("my_plugins", None)
    yield tmp_path
    sys.modules.pop("my_plugins", None)


def _run(line: str) -> int:
    """One `kingme lm ...` line of the docs, in this process, with tiny settings added after it."""
    argv = shlex.split(line)
    assert argv[:2] == ["kingme", "lm"], line
    sub = argv[2]
    extra = TINY[sub] + (["--quiet"] if sub in ("pretrain", "train") else [])
    extra += ["--eval-problems", "8"] if sub in ("pretrain", "train") else []
    return main([*argv[2:], *extra, "--device", "cpu"])


def test_the_docs_example_runs_every_lm_command(plugin_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [line for line in _doc_block("plugin-commands").splitlines() if line.strip()]
    assert [shlex.split(line)[2] for line in lines] == ["pretrain", "train", "eval", "sample"]
    pretrain, train, evaluate, sample = lines
    assert _run(pretrain) == 0
    spec = json.loads((plugin_folder / "runs" / "rev" / "config.json").read_text())["task"]
    assert spec == "my_plugins:Reverse"
    # as written, train also asks for `unfaithful`, which the docs say is refused: one line, no run folder
    with pytest.raises(UserError, match="the unfaithful monitor needs a task with a scratchpad"):
        _run(train)
    assert not (plugin_folder / "runs" / "rev-rl").exists()
    assert _run(train.replace(",unfaithful", "")) == 0
    rows = [json.loads(x) for x in (plugin_folder / "runs" / "rev-rl" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:  # Strict paid (1 right, -1 wrong); the plug-in monitor's flag rate logged every update
        assert row["charts/reward"] == pytest.approx(2 * row["charts/true_reward"] - 1)
        assert 0.0 <= row["monitor/Long_flagged"] <= 1.0
        assert "steps/has_steps" not in row  # the reverse task has no scratchpad
        assert 0.0 <= row["exploit/skip_used"] <= 1.0 and "exploit/lenient_used" not in row  # skip only
    capsys.readouterr()
    assert _run(evaluate) == 0
    assert "reverse, 4 test problems" in capsys.readouterr().out
    assert _run(sample) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and all(line.startswith("abc=") and line.split()[1] in ("correct", "wrong") for line in out)


def test_a_plug_in_reward_scores_a_batch_and_the_task_is_reopened_only_where_its_module_is(
    plugin_folder: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = make_task("my_plugins:Reverse", 3)
    assert task.spec == "my_plugins:Reverse" and task.levels == (1, 2, 3)
    strict = load_reward("my_plugins:Strict", task)
    assert list(strict.score(["abc=", "abc="], ["cba", "abc"])) == [1.0, -1.0]
    assert list(load_monitor("my_plugins:Long", task).score(["ab="], ["bab"])) == [1.0]
    assert (
        main(
            ["pretrain", "my_plugins:Reverse", "--run-name", "b", "--eval-problems", "8", "--quiet", *TINY["pretrain"]]
        )
        == 0
    )
    checkpoint = plugin_folder / "runs" / "b"
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(plugin_folder))])
    sys.modules.pop("my_plugins", None)
    for argv in (["eval", str(checkpoint)], ["sample", str(checkpoint), "abc="], ["train", str(checkpoint)]):
        with pytest.raises(UserError, match=r"trained on the plug-in task 'my_plugins:Reverse': no module named"):
            main(argv)
    assert not (elsewhere / "runs").exists()


BROKEN = """
from kingme.lm.tasks import Problem, Task

class NotATask:
    def __init__(self, max_level):
        pass

class Upper(Task):
    def __init__(self, max_level):
        self.name, self.levels, self.prompt_width, self.response_width = "upper", (1,), 3, 3
    def sample(self, rng, level):
        return Problem("A=", "A", 1, 1)
    def verify(self, prompt, response):
        return True

class Liar(Upper):
    def sample(self, rng, level):
        return Problem("a=", "a", 1, 1)
    def verify(self, prompt, response):
        return False

class Short:
    def __init__(self, task):
        pass
    def score(self, prompts, responses):
        return [1.0]

class Silent:
    def __init__(self, task):
        pass

class Raises:
    def __init__(self, task):
        pass
    def score(self, prompts, responses):
        return [{}["x"]]

def Boom(task):
    raise ValueError("no config file")
"""


def only_builtin_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The task registry as a fresh process has it: another test in this worker may have imported a
    module that registers tasks of its own (an experiment's, e.g. cot-necessity's keyed tasks), and
    the messages checked below list every registered task."""
    from kingme.lm import tasks

    monkeypatch.setattr(tasks, "TASKS", {n: e for n, e in tasks.TASKS.items() if n in tasks.MAX_LEVELS})


def test_bad_plug_ins_are_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kingme.lm.rewards import score_batch

    only_builtin_tasks(monkeypatch)

    (tmp_path / "broken.py").write_text(BROKEN)
    (tmp_path / "crash.py").write_text("raise RuntimeError('bad import')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    addition = make_task("addition", 2)
    cases = {
        lambda: make_task("nosuch:Task", 2): "no module named 'nosuch' for the task 'nosuch:Task'",
        lambda: make_task("crash:Task", 2): "module 'crash' failed to import: RuntimeError: bad import",
        lambda: make_task("broken:Missing", 2): "module 'broken' has no 'Missing'",
        lambda: make_task("broken:NotATask", 2): "must subclass kingme.lm.tasks.Task",
        lambda: make_task("broken:Upper", 2): "character 'A' is not in the vocabulary",
        lambda: make_task("broken:Liar", 2): "its verifier rejects its own solution",
        lambda: make_task(
            "broken:Upper", 2, scratchpad=True
        ): "--scratchpad applies to the addition, countdown tasks only",
        lambda: load_reward("broken:Silent", addition): "has no score\\(prompts, responses\\) method",
        lambda: load_reward("broken:Boom", addition): "could not be built: ValueError: no config file",
        lambda: load_monitor("broken:Silent", addition): "has no score\\(prompts, responses\\) method",
        lambda: score_batch(load_reward("broken:Short", addition), ["1+1="] * 2, ["2", "3"]): "must return 2 finite",
    }
    for call, message in cases.items():
        with pytest.raises(UserError, match=message):
            call()
    base = tmp_path / "b"
    pre = ["pretrain", "addition", "--max-level", "1", "--run-name", "b", "--runs-dir", str(tmp_path), "--quiet"]
    assert main([*pre, "--device", "cpu", "--eval-problems", "8", *TINY["pretrain"]]) == 0
    for option, message in (
        (["--reward", "broken:Short"], "the reward 'broken:Short' failed on a probe|must return 2 finite numbers"),
        (["--monitors", "broken:Short"], "monitor Short.score must return 2 numbers in \\[0, 1\\]"),
        (["--reward", "broken:Raises"], "the reward 'broken:Raises' failed on a probe: KeyError: 'x'"),
    ):
        with pytest.raises(UserError, match=message):
            main(["train", str(base), *option, "--run-name", "r", "--runs-dir", str(tmp_path), "--device", "cpu"])
        assert not (tmp_path / "r").exists()  # refused before the run folder
    for module in ("broken", "crash"):
        sys.modules.pop(module, None)


def test_a_registered_task_is_built_by_name_within_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    from kingme.lm import tasks

    only_builtin_tasks(monkeypatch)
    tasks.register_task("small-addition", lambda level, pad: tasks.Addition(level, use_scratchpad=pad), 2, True)
    task = make_task("small-addition", 2, scratchpad=True)
    assert task.spec == "small-addition" and task.check_steps("47+85=", "7+5+0=12,4+8+1=13:132") is not None
    with pytest.raises(UserError, match=r"--max-level of the small-addition task must be in \[1, 2\], got 3"):
        make_task("small-addition", 3)
    with pytest.raises(UserError, match="--scratchpad applies to the addition, countdown, small-addition tasks only"):
        make_task("path", 2, scratchpad=True)
