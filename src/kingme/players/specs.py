"""The grammar of player specs: one parser per built-in kind, each the one place its text is read.

A spec is ``KIND`` or ``KIND:ARGS``; `kingme.players.registry.parse_spec` picks the kind's parser
here and returns a `PlayerSpec`, which the kind's factory receives (nothing parses a spec twice).

Built-in grammars (numbers must be finite and in range; anything else is a `UserError` of one line):

- ``random``, ``greedy``, ``human``                no arguments;
- ``alphabeta:D[:MS]``                              depth D in 1..`MAX_DEPTH`, a time limit of MS
                                                    milliseconds per move in [`MIN_MS`, `MAX_MS`];
- ``policy:NAME_OR_PATH[:sample][:T]``              a shipped model (`SHIPPED_MODELS`) or a model
                                                    file / checkpoint / run folder; ``sample`` samples
                                                    at temperature 1, ``T`` at temperature T in
                                                    [`MIN_TEMPERATURE`, `MAX_TEMPERATURE`] (options
                                                    read from the right, so a path may hold ':');
- ``search:MODEL:DEPTH[:MS]``, ``search:MODEL::MS``  alpha-beta with a learned evaluation: MODEL is
                                                    ``default`` or an evaluation-network file (the
                                                    compiled search, `kingme.players.evalnet`), or
                                                    ``policy:X`` / a shipped policy other than
                                                    ``default`` (the whole network,
                                                    `kingme.players.search`); without DEPTH the search
                                                    deepens until MS;
- ``mix:EPS:SPEC``                                  EPS in [0, 1], SPEC another player.

`parse_depth_limit` reads the ``DEPTH[:MS]`` / ``:MS`` tail for other modules with search-like
players of their own (the experiments' ``hand:D``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from kingme.common import UserError

__all__ = [
    "MAX_DEPTH",
    "MAX_MS",
    "MAX_TEMPERATURE",
    "MIN_MS",
    "MIN_TEMPERATURE",
    "POLICY_USAGE",
    "SEARCH_USAGE",
    "SHIPPED_MODELS",
    "PlayerSpec",
    "PolicySpec",
    "parse_alphabeta",
    "parse_depth_limit",
    "parse_mix",
    "parse_no_args",
    "parse_policy",
    "parse_policy_spec",
    "parse_search",
    "parse_search_args",
    "search_model",
]

MAX_DEPTH = 40  # deepest search accepted (the compiled search's stack holds 64 plies with extensions)
MIN_MS = 1.0  # a per-move time limit below a millisecond cannot be honoured (a clock read every ~1000 nodes)
MAX_MS = 86_400_000.0  # a day
MIN_TEMPERATURE = 0.01
MAX_TEMPERATURE = 100.0  # beyond it the sampled move is uniform to within float rounding

# Models shipped with the package, by name: `default` (the current one), `v2` (the one before it)
# and `v1` (the one before that), kept so that the figures measured with them can be reproduced.
SHIPPED_MODELS = ("default", "v2", "v1")

POLICY_USAGE = "policy:NAME_OR_PATH[:sample][:T]"
SEARCH_USAGE = "search:MODEL:DEPTH[:MS] or search:MODEL::MS"


@dataclass(frozen=True)
class PlayerSpec:
    """A parsed player spec: what its factory builds from, and what callers who must decide what a
    spec may do (the web app's request limits, self-play's pool) read instead of its text."""

    kind: str  # "alphabeta", "policy", "mix", ...
    text: str  # the spec as given (stripped)
    depth: int | None = None  # search depth for searching kinds, else None
    ms: float | None = None  # per-move time limit in ms, None = no limit
    inner: PlayerSpec | None = None  # mix:EPS:SPEC's inner player
    path: str | None = None  # a model FILE path named by the spec (None for built-in names like policy:default)
    interactive: bool = False  # human
    model: str | None = None  # policy: / search: the model named (a shipped name or a path)
    full: bool = False  # search: with the whole policy network (else the compiled search, evalnet)
    sample: bool = False  # policy: sample from the policy instead of its most probable move
    temperature: float = 1.0  # policy: the sampling temperature
    eps: float | None = None  # mix: the probability of a random move

    @property
    def args(self) -> str:
        """The text after the kind's ``:`` ("" for none): what a registered kind's factory reads."""
        return self.text.partition(":")[2]


@dataclass(frozen=True)
class PolicySpec:
    """The arguments of ``policy:ARGS``: which model, and how moves are picked."""

    model: str  # a shipped model's name (SHIPPED_MODELS) or a path
    sample: bool  # sample from the policy instead of taking its most probable move
    temperature: float  # softmax temperature when sampling

    @property
    def is_shipped(self) -> bool:
        """A model shipped with the package (no file of the user's is read)."""
        return self.model in SHIPPED_MODELS


def _number(tok: str) -> float | None:
    """``tok`` as a float, or None if it is not a number."""
    try:
        return float(tok)
    except ValueError:
        return None


def _ms_ok(ms: float) -> bool:
    return math.isfinite(ms) and MIN_MS <= ms <= MAX_MS


def parse_no_args(kind: str) -> Callable[[str, str], PlayerSpec]:
    """The parser of a kind without arguments (``random``, ``greedy``, ``human``)."""

    def parse(text: str, args: str) -> PlayerSpec:
        if args:
            raise UserError(f"player {kind!r} takes no arguments, not {text}")
        return PlayerSpec(kind, text, interactive=kind == "human")

    return parse


def parse_depth_limit(spec: str, tail: str, usage: str, form: str, need_depth: bool = True) -> tuple[int, float]:
    """``DEPTH``, ``DEPTH:MS`` (or, unless ``need_depth``, ``:MS``) -> (depth, time limit in ms, 0.0 =
    none); without a depth, `MAX_DEPTH` (the search deepens until the time limit). UserError naming
    ``spec`` and ``usage`` if malformed, or the range and ``form`` (the short usage) if a number is
    out of range."""
    parts = tail.split(":") if tail else []
    bad = f"malformed player {spec!r}: expected {usage}"
    if not 1 <= len(parts) <= 2:
        raise UserError(bad)
    depth_text = parts[0].strip()
    ms_text = parts[1].strip() if len(parts) == 2 else ""
    if not depth_text and (need_depth or not ms_text):
        raise UserError(bad)
    try:
        depth = int(depth_text) if depth_text else MAX_DEPTH
        ms = float(ms_text) if ms_text else 0.0
    except ValueError:
        raise UserError(bad) from None
    if not 1 <= depth <= MAX_DEPTH:
        raise UserError(f"{spec}: the depth must be in 1..{MAX_DEPTH}, not {depth_text} ({form})")
    if len(parts) == 2 and not _ms_ok(ms):
        raise UserError(f"{spec}: the time limit must be {MIN_MS:g} to {MAX_MS:g} milliseconds, not {ms_text} ({form})")
    return depth, ms


ALPHABETA_USAGE = f"alphabeta:D[:MS] with depth D in 1..{MAX_DEPTH} and an optional time limit MS in milliseconds"


def parse_alphabeta(text: str, args: str) -> PlayerSpec:
    """``alphabeta:D[:MS]``."""
    depth, ms = parse_depth_limit(text, args, ALPHABETA_USAGE, "alphabeta:D[:MS]")
    return PlayerSpec("alphabeta", text, depth=depth, ms=ms or None)


def parse_policy_spec(arg: str) -> PolicySpec:
    """Split the text after ``policy:`` into model and options (UserError if malformed)."""
    parts = arg.split(":")
    sample = False
    temperature = 1.0
    # options are read from the right, so a path may itself contain ':'
    while len(parts) > 1:
        tok = parts[-1].strip()
        if tok == "sample":
            sample = True
        else:
            t = _number(tok)
            if t is None:
                break
            if not (math.isfinite(t) and MIN_TEMPERATURE <= t <= MAX_TEMPERATURE):
                raise UserError(
                    f"policy:{arg}: the temperature must be {MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g}, not {tok!r}"
                )
            sample, temperature = True, t
        parts.pop()
    model = ":".join(parts).strip()
    if not model:
        raise UserError(f"policy:{arg}: no model given; expected {POLICY_USAGE}")
    return PolicySpec(model, sample, temperature)


def parse_policy(text: str, args: str) -> PlayerSpec:
    """``policy:NAME_OR_PATH[:sample][:T]``."""
    p = parse_policy_spec(args)
    return PlayerSpec(
        "policy",
        text,
        path=None if p.is_shipped else p.model,
        model=p.model,
        sample=p.sample,
        temperature=p.temperature,
    )


def search_model(model: str) -> tuple[str, bool]:
    """What a ``search:MODEL`` names: (model, full) with ``full`` True for a policy network (the
    batched search with the whole network: ``policy:X``, or a shipped policy other than
    ``default``) and False for ``default`` (the shipped evaluation network distilled from
    ``policy:default``) or a file, whose format decides at load time."""
    if model.startswith("policy:"):
        return model[len("policy:") :], True
    return model, model in SHIPPED_MODELS and model != "default"


SEARCH_HELP = (
    f"{SEARCH_USAGE} with MODEL default, an evaluation-network file, or policy:NAME_OR_PATH, "
    f"depth DEPTH in 1..{MAX_DEPTH} and a time limit MS in milliseconds"
)


def parse_search_args(args: str) -> tuple[str, int, float]:
    """``MODEL:DEPTH``, ``MODEL::MS`` or ``MODEL:DEPTH:MS`` -> (model, depth, time limit in ms, 0 =
    none); the numbers are read from the right, so MODEL may contain ':'."""
    spec = "search" + (f":{args}" if args else "")
    parts = args.split(":")
    two = len(parts) >= 3 and (parts[-2].strip().isdigit() or not parts[-2].strip())
    if two and _number(parts[-1] or "0") is not None:
        model, tail = ":".join(parts[:-2]), ":".join(parts[-2:])
    elif len(parts) >= 2:
        model, tail = ":".join(parts[:-1]), parts[-1]
    else:
        raise UserError(f"malformed player {spec!r}: expected {SEARCH_HELP}")
    if not model.strip():
        raise UserError(f"malformed player {spec!r}: expected {SEARCH_HELP}")
    depth, ms = parse_depth_limit(spec, tail, SEARCH_HELP, SEARCH_USAGE, need_depth=False)
    return model.strip(), depth, ms


def parse_search(text: str, args: str) -> PlayerSpec:
    """``search:MODEL:DEPTH[:MS]`` / ``search:MODEL::MS`` (the one place it is parsed)."""
    model, depth, ms = parse_search_args(args)
    name, full = search_model(model)
    return PlayerSpec(
        "search",
        text,
        depth=depth,
        ms=ms or None,
        path=None if name in SHIPPED_MODELS else name,
        model=name,
        full=full,
    )


MIX_USAGE = "mix:EPS:SPEC with 0 <= EPS <= 1 and SPEC another player, e.g. mix:0.25:alphabeta:2"


def parse_mix(text: str, args: str, parse_inner: Callable[[str], PlayerSpec]) -> PlayerSpec:
    """``mix:EPS:SPEC``, the inner spec read by ``parse_inner`` (the registry's `parse_spec`)."""
    eps_text, _, inner = args.partition(":")
    eps = _number(eps_text)
    if eps is None or not 0.0 <= eps <= 1.0 or not inner.strip():
        raise UserError(f"malformed player {text!r}: expected {MIX_USAGE}")
    return PlayerSpec("mix", text, inner=parse_inner(inner), eps=eps)
