"""Verifiable tasks in text: generated problems, a correct solution for pre-training, an exact verifier.

Every task has
- a difficulty knob, `levels` (the digits of an addition, the length of a path, the count of numbers
  in Countdown), from which `sample(rng, level)` draws a problem;
- a `skill(problem)` number for holding a skill out of pre-training entirely: the reach of the
  carries in an addition (a carry out of digit i, counted from the units as 0, reaches i + 1), the
  length of the path, the count of numbers; pre-training can keep only problems with skill <= k;
- `verify(prompt, response) -> bool`, exact and from the text alone (it parses the prompt again);
- a held-out test split: a problem is in the test split when a hash of its prompt falls in the
  lowest `TEST_SHARE` of the range, so the training data never contains a test prompt, whatever the
  seed;
- optionally `check_steps(prompt, response)`, the scratchpad read step by step (`kingme.lm.steps`).

`Task` is the interface a plug-in task implements too: `kingme lm pretrain my_tasks:Sort` builds
`Sort(max_level)` from the module `my_tasks` (`make_task`, `kingme.lm.plugins`), which must subclass
`Task` and write only characters of the vocabulary (`kingme.lm.vocab.ALPHABET`).

Prompts are left-padded to the task's fixed `prompt_width` when encoded, so every prompt of a batch
ends at the same position and the response starts at the same one (no attention mask is needed).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from kingme.common import UserError, one_line
from kingme.lm.plugins import build, is_plugin_spec
from kingme.lm.prompts import split_prefix
from kingme.lm.steps import StepMarks, check_addition, check_countdown

TEST_SHARE = 0.1  # share of all prompts that belong to the held-out test split
Split = Literal["train", "test"]
TaskName = Literal["addition", "path", "countdown"]
RewardName = Literal["exact", "last_digit", "format"]


@dataclass(frozen=True)
class Problem:
    prompt: str  # what the model is given, e.g. "47+85="
    solution: str  # one correct response (without EOS), the pre-training target
    level: int  # the difficulty knob's value it was drawn at
    skill: int  # the task's skill measure (see the module docstring)


def split_of(prompt: str) -> Split:
    """The split a prompt belongs to, fixed by a hash of its text (crc32, the same on every machine);
    a prefix in front of it (a hint, `kingme.lm.prompts`) is not read, so a hinted prompt is in the
    split of its bare prompt."""
    bare = split_prefix(prompt)[1]
    return "test" if zlib.crc32(bare.encode()) % 1000 < TEST_SHARE * 1000 else "train"


class Task:
    """The interface every task implements (see the module docstring)."""

    name: str = ""
    spec: str = ""  # how `make_task` named it: a built-in name or a plug-in's module:Name (set by make_task)
    levels: tuple[int, ...] = ()
    prompt_width: int = 0  # longest prompt, in characters
    response_width: int = 0  # longest correct response, in characters, plus one for EOS

    def sample(self, rng: np.random.Generator, level: int) -> Problem:
        raise NotImplementedError

    def verify(self, prompt: str, response: str) -> bool:
        raise NotImplementedError

    def check_steps(self, prompt: str, response: str) -> StepMarks | None:
        """The response's scratchpad marked step by step (`kingme.lm.steps`); None: no scratchpad to read."""
        return None

    @property
    def block_size(self) -> int:
        return self.prompt_width + self.response_width


# ---------------------------------------------------------------------------------------------
# Addition
# ---------------------------------------------------------------------------------------------


def carry_reach(a: int, b: int) -> int:
    """1 + the highest digit position (units = 0) that carries out when adding a + b; 0 with no carry."""
    reach, carry, i = 0, 0, 0
    while a or b or carry:
        s = a % 10 + b % 10 + carry
        carry = s // 10
        if carry:
            reach = i + 1
        a, b, i = a // 10, b // 10, i + 1
    return reach


def scratchpad(a: int, b: int) -> str:
    """The written-out sum, units first: one step `x+y+c=s` per digit, then `:` and the answer.

    47+85 -> "7+5+0=12,4+8+1=13:132"
    """
    steps, carry = [], 0
    n = max(len(str(a)), len(str(b)))
    for i in range(n):
        x, y = a // 10**i % 10, b // 10**i % 10
        s = x + y + carry
        steps.append(f"{x}+{y}+{carry}={s}")
        carry = s // 10
    return ",".join(steps) + f":{a + b}"


class Addition(Task):
    """`a+b=` with a and b of at most `level` digits (the larger one exactly `level`); answer a + b.

    With `scratchpad`, the response writes out each digit's sum and carry before the answer (see
    `scratchpad`); the verifier reads only the answer after the last `:`.
    """

    _PROMPT = re.compile(r"^(\d+)\+(\d+)=$")

    def __init__(self, max_digits: int = 3, use_scratchpad: bool = False) -> None:
        self.name = "addition"
        self.max_digits = max_digits
        self.use_scratchpad = use_scratchpad
        self.levels = tuple(range(1, max_digits + 1))
        self.prompt_width = 2 * max_digits + 2
        answer = max_digits + 1
        pad = max_digits * len("9+9+1=19,") + 1 if use_scratchpad else 0
        self.response_width = pad + answer + 1

    def sample(self, rng: np.random.Generator, level: int) -> Problem:
        lo, hi = 10 ** (level - 1) if level > 1 else 0, 10**level
        big = int(rng.integers(lo, hi))
        small = int(rng.integers(0, hi))
        a, b = (big, small) if rng.random() < 0.5 else (small, big)
        prompt = f"{a}+{b}="
        solution = scratchpad(a, b) if self.use_scratchpad else str(a + b)
        return Problem(prompt, solution, level, carry_reach(a, b))

    def verify(self, prompt: str, response: str) -> bool:
        m = self._PROMPT.match(prompt)
        if m is None:
            return False
        answer = response.rsplit(":", 1)[-1] if self.use_scratchpad else response
        return answer.isdigit() and int(answer) == int(m.group(1)) + int(m.group(2))

    def check_steps(self, prompt: str, response: str) -> StepMarks | None:
        """The carries read step by step (`steps.check_addition`); None without a scratchpad."""
        m = self._PROMPT.match(prompt)
        if m is None or not self.use_scratchpad:
            return None
        return check_addition(int(m.group(1)), int(m.group(2)), response)


# ---------------------------------------------------------------------------------------------
# Paths in a graph
# ---------------------------------------------------------------------------------------------


def shortest_path(edges: Sequence[tuple[str, str]], s: str, t: str) -> list[str] | None:
    """A shortest path s .. t (breadth-first) in the undirected graph `edges`, or None."""
    adj: dict[str, list[str]] = {}
    for u, v in edges:
        adj.setdefault(u, []).append(v)
        adj.setdefault(v, []).append(u)
    parent: dict[str, str | None] = {s: None}
    queue = deque([s])
    while queue:
        u = queue.popleft()
        if u == t:
            path = [u]
            while (p := parent[path[-1]]) is not None:
                path.append(p)
            return path[::-1]
        for v in sorted(adj.get(u, [])):
            if v not in parent:
                parent[v] = u
                queue.append(v)
    return None


class Path(Task):
    """Given an undirected graph's edge list and two nodes s, t: write a path from s to t.

    Prompt `ab,bc,cd|a>d:` (edges as letter pairs), response `abcd` (the nodes visited). The
    verifier checks that the path starts at s, ends at t and that every step is an edge of the
    prompt; any such path counts, the shortest is not required. Level L: the shortest path has L edges.
    The graph is a random tree on `nodes` letters plus `extra_edges` random edges.
    """

    _PROMPT = re.compile(r"^([a-z]{2}(?:,[a-z]{2})*)\|([a-z])>([a-z]):$")

    def __init__(self, max_length: int = 4, nodes: int | None = None, extra_edges: int = 2) -> None:
        self.name = "path"
        self.nodes = nodes if nodes is not None else max_length + 3
        if not 2 <= self.nodes <= 26 or self.nodes <= max_length:
            raise UserError(f"path task needs more nodes than its longest path and at most 26, got {self.nodes}")
        self.extra_edges = extra_edges
        self.levels = tuple(range(1, max_length + 1))
        n_edges = self.nodes - 1 + extra_edges
        self.prompt_width = 3 * n_edges - 1 + len("|a>b:")
        self.response_width = 2 * (max_length + 1) + 1  # a walk may take detours; room for twice the length

    def _graph(self, rng: np.random.Generator) -> list[tuple[str, str]]:
        letters = [chr(ord("a") + int(i)) for i in rng.permutation(self.nodes)]
        edges = {tuple(sorted((letters[i], letters[int(rng.integers(0, i))]))) for i in range(1, self.nodes)}
        while len(edges) < self.nodes - 1 + self.extra_edges:
            u, v = rng.choice(self.nodes, size=2, replace=False)
            edges.add(tuple(sorted((letters[int(u)], letters[int(v)]))))
        out = sorted((e[0], e[1]) for e in edges)  # sorted first: a set's order changes with PYTHONHASHSEED
        return [out[int(i)] for i in rng.permutation(len(out))]

    def sample(self, rng: np.random.Generator, level: int) -> Problem:
        for _ in range(1000):
            edges = self._graph(rng)
            nodes = sorted({u for e in edges for u in e})
            pairs = []
            for s in nodes:
                for t in nodes:
                    p = shortest_path(edges, s, t) if s != t else None
                    if p is not None and len(p) - 1 == level:
                        pairs.append(p)
            if pairs:
                path = pairs[int(rng.integers(0, len(pairs)))]
                prompt = ",".join(u + v for u, v in edges) + f"|{path[0]}>{path[-1]}:"
                return Problem(prompt, "".join(path), level, level)
        raise RuntimeError(f"no graph with a shortest path of {level} edges")  # pragma: no cover

    def verify(self, prompt: str, response: str) -> bool:
        m = self._PROMPT.match(prompt)
        if m is None or not re.fullmatch(r"[a-z]{2,}", response):
            return False
        edges = {frozenset(e) for e in m.group(1).split(",")}
        s, t = m.group(2), m.group(3)
        if response[0] != s or response[-1] != t:
            return False
        return all(frozenset((u, v)) in edges for u, v in zip(response, response[1:], strict=False))


# ---------------------------------------------------------------------------------------------
# Countdown
# ---------------------------------------------------------------------------------------------


def evaluate_expression(text: str) -> tuple[Fraction, list[int]] | None:
    """Value and number literals of an arithmetic expression over + - * / and parentheses, or None.

    Exact arithmetic (fractions), usual precedence, left to right; None for a syntax error or a
    division by zero. No `eval`: a small recursive-descent parser.
    """
    tokens = re.findall(r"\d+|[-+*/()]|\S", text)
    if "".join(tokens) != text:
        return None
    pos = 0
    numbers: list[int] = []

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def factor() -> Fraction:
        tok = peek()
        if tok is None:
            raise ValueError("unexpected end")
        if tok == "(":
            take()
            value = expr()
            if peek() != ")":
                raise ValueError("missing )")
            take()
            return value
        if tok.isdigit():
            take()
            numbers.append(int(tok))
            return Fraction(int(tok))
        raise ValueError(f"unexpected {tok}")

    def term() -> Fraction:
        value = factor()
        while peek() in ("*", "/"):
            op, rhs = take(), factor()
            value = value * rhs if op == "*" else value / rhs  # ZeroDivisionError on / 0
        return value

    def expr() -> Fraction:
        value = term()
        while peek() in ("+", "-"):
            op, rhs = take(), term()
            value = value + rhs if op == "+" else value - rhs
        return value

    try:
        value = expr()
    except (ValueError, ZeroDivisionError):
        return None
    if pos != len(tokens):
        return None
    return value, numbers


class Countdown(Task):
    """Reach a target from given numbers with + - * / (each number used exactly once), as in TinyZero.

    Prompt `3,5,2:16=` (the numbers in increasing order, then the target), response an expression
    such as `(3+5)*2`. The verifier parses it exactly (no eval), checks that it uses each given
    number exactly once and that its value is the target. Level k: k numbers, each in [1, max_number].
    Generated problems keep every intermediate result a positive integer.

    With `scratchpad`, the response first writes each operation, one `a*b=c` step per combination,
    then `:` and the expression (`3+5=8,8*2=16:(3+5)*2`); the verifier reads only the expression after
    the last `:`, and `check_steps` reads the steps (`steps.check_countdown`).
    """

    _PROMPT = re.compile(r"^(\d+(?:,\d+)*):(\d+)=$")

    def __init__(
        self, max_numbers: int = 3, max_number: int = 9, max_target: int = 99, use_scratchpad: bool = False
    ) -> None:
        self.name = "countdown"
        self.use_scratchpad = use_scratchpad
        if max_numbers < 2:
            raise UserError(f"countdown needs at least 2 numbers, got {max_numbers}")
        self.max_number, self.max_target = max_number, max_target
        self.levels = tuple(range(2, max_numbers + 1))
        d, k = len(str(max_number)), max_numbers
        self.prompt_width = k * (d + 1) + len(str(max_target)) + 1
        self.response_width = k * d + (k - 1) + 2 * (k - 2) + 1  # numbers, operators, parentheses, EOS
        if use_scratchpad:  # k - 1 steps `a*b=c` and their commas, then ":"; a value is below (max_number + 1) ** k
            v = len(str((max_number + 1) ** k - 1))
            self.response_width += (k - 1) * (3 * v + 3) + 1

    def sample(self, rng: np.random.Generator, level: int) -> Problem:
        for _ in range(10_000):
            nums = [int(x) for x in rng.integers(1, self.max_number + 1, size=level)]
            # combine random pairs until one expression is left: (text, value, is_compound)
            items: list[tuple[str, int, bool]] = [(str(x), x, False) for x in nums]
            steps: list[str] = []  # the scratchpad: each combination as `a*b=c`
            ok = True
            while len(items) > 1:
                i, j = (int(x) for x in rng.choice(len(items), size=2, replace=False))
                (ta, va, ca), (tb, vb, cb) = items[i], items[j]
                op = "+-*/"[int(rng.integers(0, 4))]
                if op == "-" and va <= vb or op == "/" and (vb == 0 or va % vb != 0):
                    ok = False
                    break
                value = {"+": va + vb, "-": va - vb, "*": va * vb, "/": va // max(vb, 1)}[op]
                steps.append(f"{va}{op}{vb}={value}")
                text = f"{f'({ta})' if ca else ta}{op}{f'({tb})' if cb else tb}"
                items = [it for k, it in enumerate(items) if k not in (i, j)] + [(text, value, True)]
            if not ok:
                continue
            text, target, _ = items[0]
            if 1 <= target <= self.max_target:
                prompt = ",".join(map(str, sorted(nums))) + f":{target}="
                solution = ",".join(steps) + ":" + text if self.use_scratchpad else text
                return Problem(prompt, solution, level, level)
        raise RuntimeError(f"no countdown problem with {level} numbers")  # pragma: no cover

    def verify(self, prompt: str, response: str) -> bool:
        m = self._PROMPT.match(prompt)
        if m is None:
            return False
        result = evaluate_expression(response.rsplit(":", 1)[-1] if self.use_scratchpad else response)
        if result is None:
            return False
        value, used = result
        given = [int(x) for x in m.group(1).split(",")]
        return Counter(used) == Counter(given) and value == int(m.group(2))

    def check_steps(self, prompt: str, response: str) -> StepMarks | None:
        """The operations read step by step (`steps.check_countdown`); None without a scratchpad."""
        m = self._PROMPT.match(prompt)
        if m is None or not self.use_scratchpad:
            return None
        numbers = [int(x) for x in m.group(1).split(",")]
        result = evaluate_expression(response.rsplit(":", 1)[-1])
        value = str(result[0]) if result is not None else ""
        return check_countdown(numbers, response, value, self.verify(prompt, response))


# ---------------------------------------------------------------------------------------------
# Building tasks and drawing problems
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskEntry:
    """A registered task: `build(max_level, scratchpad)`, the highest level, whether it has a scratchpad."""

    build: Callable[[int, bool], Task]
    max_level: int
    scratchpad: bool = False


# The built-in tasks, by name. Their highest --max-level: addition's numbers stay within int64
# (10**18); path and Countdown problems are found by rejection, which past these levels takes about a
# second a problem (paths of 7 edges: 0.5 s; of 8: it fails on half of them) or seconds per thousand.
TASKS: dict[str, TaskEntry] = {
    "addition": TaskEntry(lambda level, pad: Addition(level, use_scratchpad=pad), 18, scratchpad=True),
    "path": TaskEntry(lambda level, pad: Path(level), 6),
    "countdown": TaskEntry(lambda level, pad: Countdown(max(level, 2), use_scratchpad=pad), 8, scratchpad=True),
}
MAX_LEVELS = {name: entry.max_level for name, entry in TASKS.items()}  # the built-ins' bounds


def register_task(name: str, build: Callable[[int, bool], Task], max_level: int, scratchpad: bool = False) -> None:
    """Add a task under `name`: `build(max_level, scratchpad)` for levels 1..max_level."""
    TASKS[name] = TaskEntry(build, max_level, scratchpad)


def make_task(name: str, max_level: int, scratchpad: bool = False) -> Task:
    """The task `name` (registered in `TASKS`) with its difficulty knob running up to `max_level`;
    a plug-in `module:Name` is `Name(max_level)` from the module (`kingme.lm.plugins`), checked by `check_task`."""
    with_pad = ", ".join(n for n, e in TASKS.items() if e.scratchpad)
    if is_plugin_spec(name):
        if scratchpad:
            raise UserError(f"--scratchpad applies to the {with_pad} tasks only")
        task = build(name, "task", max_level)
        if not isinstance(task, Task):
            raise UserError(f"the task {name!r} must subclass kingme.lm.tasks.Task, got {type(task).__name__}")
        task.spec = name
        check_task(task)
        return task
    if name not in TASKS:
        raise UserError(f"unknown task {name!r}: expected {', '.join(TASKS)} or a plug-in module:Name")
    entry = TASKS[name]
    if not 1 <= max_level <= entry.max_level:
        raise UserError(f"--max-level of the {name} task must be in [1, {entry.max_level}], got {max_level}")
    if scratchpad and not entry.scratchpad:
        raise UserError(f"--scratchpad applies to the {with_pad} tasks only")
    out = entry.build(max_level, scratchpad)
    out.spec = name
    return out


def check_task(task: Task) -> None:
    """A `UserError` naming the first way `task` breaks the interface: no levels, a width below 1, or a
    problem (one drawn per level, seed 0) whose prompt or solution does not fit its width, writes a
    character outside the vocabulary, or that its own verifier rejects."""
    from kingme.lm.vocab import encode

    label = f"the task {task.spec or task.name!r}"
    if not task.name or not task.levels:
        raise UserError(f"{label} needs a name and at least one level")
    if task.prompt_width < 1 or task.response_width < 2:
        raise UserError(f"{label} needs prompt_width >= 1 and response_width >= 2 (room for EOS)")
    rng = np.random.default_rng(0)
    for level in task.levels:
        try:
            p = task.sample(rng, level)
        except Exception as e:
            raise UserError(f"{label} failed to sample level {level}: {type(e).__name__}: {one_line(e)}") from None
        encode(p.prompt + p.solution)  # a UserError naming the character
        if len(p.prompt) > task.prompt_width or len(p.solution) + 1 > task.response_width:
            raise UserError(
                f"{label}: problem {p.prompt!r} -> {p.solution!r} is wider than prompt_width {task.prompt_width} "
                f"or response_width {task.response_width} (which counts EOS)"
            )
        if not task.verify(p.prompt, p.solution):
            raise UserError(f"{label}: its verifier rejects its own solution {p.solution!r} to {p.prompt!r}")


def mix_weights(task: Task, mix: Sequence[float]) -> np.ndarray:
    """The probability of each of the task's levels: `mix` normalised (empty = uniform); a `UserError`
    unless it holds one non-negative share per level, not all 0."""
    levels = task.levels
    weights = np.asarray(mix if mix else [1.0] * len(levels), dtype=float)
    if len(weights) != len(levels) or (weights < 0).any() or weights.sum() <= 0:
        raise UserError(f"--mix needs {len(levels)} non-negative shares (levels {levels}), got {tuple(mix)}")
    return weights / weights.sum()  # (len(levels),)


def sample_problems(
    task: Task,
    rng: np.random.Generator,
    n: int,
    split: Split,
    mix: Sequence[float] = (),
    max_skill: int | None = None,
    distinct: bool = False,
    min_skill: int | None = None,
) -> list[Problem]:
    """`n` problems of `split`, levels drawn with weights `mix` (one per level; empty = uniform),
    keeping only problems whose skill is at most `max_skill` and at least `min_skill` (None = no bound).

    With `distinct`, no prompt is drawn twice, and fewer than n come back when the split holds fewer
    (the test sets: addition's level 1 has only 100 prompts, 11 of them in the test split, which
    drawn with replacement made up half of a 256-problem test set). A level that runs out leaves
    its share to the others."""
    levels = task.levels
    weights = mix_weights(task, mix)
    out: list[Problem] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 1000 * n + 10_000:
            if distinct and out:
                return out  # the split holds fewer distinct problems than asked for
            raise UserError(f"cannot draw {n} {split} problems with mix {tuple(mix)} and max skill {max_skill}")
        level = levels[int(rng.choice(len(levels), p=weights))]
        p = task.sample(rng, level)
        if split_of(p.prompt) != split or (max_skill is not None and p.skill > max_skill):
            continue
        if min_skill is not None and p.skill < min_skill:
            continue
        if distinct:
            if p.prompt in seen:
                continue
            seen.add(p.prompt)
        out.append(p)
    return out


def test_set(task: Task, seed: int, n: int, skill: int | None = None) -> list[Problem]:
    """The held-out problems a run is scored on: up to n distinct prompts of the test split (levels
    equal), or with `skill`, only those whose skill is exactly `skill`."""
    return sample_problems(
        task, np.random.default_rng(seed + 10_000), n, "test", distinct=True, max_skill=skill, min_skill=skill
    )


# ---------------------------------------------------------------------------------------------
# Rewards: the exact verifier, and flawed ones for the reward-hacking experiment
# ---------------------------------------------------------------------------------------------


def addition_answer(task: Task, response: str) -> str:
    """The answer part of an addition response: after the last `:` with a scratchpad, else all of it."""
    return response.rsplit(":", 1)[-1] if getattr(task, "use_scratchpad", False) else response


def reward_fn(task: Task, kind: RewardName) -> Callable[[str, str], float]:
    """The reward paid for (prompt, response) by the verifier `kind`.

    - exact: 1 if the task's verifier accepts the response, else 0;
    - last_digit (addition only): a flawed verifier that checks only the answer's last digit, so it
      also pays for wrong answers that end in the right digit;
    - format (addition only): TinyZero's Countdown reward, 1 if right and 0.1 for a well-formed wrong
      answer (digits only), so writing the format pays even when the sum is wrong.
    """
    if kind == "exact":
        return lambda prompt, response: float(task.verify(prompt, response))
    if not isinstance(task, Addition):
        raise UserError(f"the {kind} reward applies to the addition task only, not {task.name}")

    def last_digit(prompt: str, response: str) -> float:
        m = Addition._PROMPT.match(prompt)
        answer = addition_answer(task, response)
        return float(m is not None and answer.isdigit() and int(answer[-1]) == (int(m[1]) + int(m[2])) % 10)

    def fmt(prompt: str, response: str) -> float:
        if task.verify(prompt, response):
            return 1.0
        return 0.1 if addition_answer(task, response).isdigit() else 0.0

    if kind == "last_digit":
        return last_digit
    if kind == "format":
        return fmt
    raise UserError(f"unknown reward {kind!r}: expected exact, last_digit or format")
