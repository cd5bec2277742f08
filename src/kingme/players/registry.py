"""Player specs: `parse_spec(text) -> PlayerSpec`, `load_player(text)`, and `register_player_kind`.

A spec is ``KIND`` or ``KIND:ARGS``. `parse_spec` checks it and returns a `PlayerSpec` (the kind,
the search depth and time limit of a searching kind, the inner player of a ``mix``, the model
file a ``policy`` names, whether it reads a terminal), so that callers who must decide what a spec
may do (the web app's request limits) read fields instead of re-tokenising strings.
`load_player` parses with it and builds the player. A bad spec is a `UserError` with one line.

Built in: ``random``, ``greedy``, ``alphabeta:D[:MS]``, ``policy:NAME_OR_PATH[:sample][:T]``,
``search:MODEL:DEPTH[:MS]`` / ``search:MODEL::MS`` (alpha-beta with a learned evaluation:
``search:default`` the distilled one in the compiled search, ``search:policy:M`` a whole
network), ``human`` and ``mix:EPS:SPEC`` (random moves mixed into another player, for calibration).
`register_player_kind(prefix, factory, usage)` adds a kind (or replaces one): its factory
receives ARGS (the text after the first ``:``, or "" for none) and a seed, and returns a player or
raises `UserError`; a registered kind's `PlayerSpec` holds its kind and text only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kingme.common import UserError
from kingme.players.base import Player

PlayerFactory = Callable[[str, int], Player]

MAX_DEPTH = 40  # deepest alphabeta:D accepted (the search stack holds 64 plies with extensions)


@dataclass(frozen=True)
class PlayerSpec:
    """A parsed player spec."""

    kind: str  # "alphabeta", "policy", "mix", ...
    text: str  # the spec as given (stripped)
    depth: int | None = None  # search depth for searching kinds, else None
    ms: float | None = None  # per-move time limit in ms, None = no limit
    inner: PlayerSpec | None = None  # mix:EPS:SPEC's inner player
    path: str | None = None  # a model FILE path named by the spec (None for built-in names like policy:default)
    interactive: bool = False  # human


SpecParser = Callable[[str, str], PlayerSpec]  # (spec text, ARGS) -> PlayerSpec, UserError if malformed


@dataclass
class _Kind:
    factory: PlayerFactory
    usage: str  # e.g. "alphabeta:D[:MS]"
    parse: SpecParser | None = None  # built-in kinds check their arguments here


_KINDS: dict[str, _Kind] = {}


def register_player_kind(prefix: str, factory: PlayerFactory, usage: str | None = None) -> None:
    """Make ``load_player("PREFIX[:ARGS]")`` call ``factory(ARGS, seed)`` (replacing any earlier
    kind of that prefix). ``usage`` is shown in the list of accepted specs (an earlier kind's
    usage is kept when none is given)."""
    if not prefix or ":" in prefix or not prefix.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"bad player kind prefix {prefix!r}")
    old = _KINDS.get(prefix)
    _KINDS[prefix] = _Kind(factory, usage or (old.usage if old else prefix))


def player_kinds() -> list[str]:
    """The accepted spec forms, e.g. ['random', 'greedy', 'alphabeta:D[:MS]', ...]."""
    return [k.usage for k in _KINDS.values()]


def accepted() -> str:
    return ", ".join(player_kinds())


def parse_spec(text: str) -> PlayerSpec:
    """The parsed spec (UserError with one line listing the accepted forms if the spec is unknown
    or malformed). Files are not looked at: a model path that does not exist parses."""
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"empty player spec: expected one of {accepted()}")
    text = text.strip()
    prefix, _, args = text.partition(":")
    kind = _KINDS.get(prefix)
    if kind is None:
        raise UserError(f"unknown player {text!r}: expected one of {accepted()}")
    if kind.parse is None:
        return PlayerSpec(prefix, text)
    return kind.parse(text, args)


def load_player(spec: str, seed: int = 0) -> Player:
    """The player named by ``spec`` (parsed by `parse_spec`; UserError with one line if the spec
    is unknown or malformed, or names a model file that is missing or unreadable)."""
    parsed = parse_spec(spec)
    player = _KINDS[parsed.kind].factory(parsed.text.partition(":")[2], seed)
    if not getattr(player, "name", None):
        player.name = parsed.text
    return player


# ------------------------------------------------------------------------------------------------
# Built-in kinds: a parser (the one place each grammar is read) and a factory


def _register_builtin(prefix: str, factory: PlayerFactory, usage: str, parse: SpecParser) -> None:
    _KINDS[prefix] = _Kind(factory, usage, parse)


def _no_args(kind: str) -> SpecParser:
    def parse(text: str, args: str) -> PlayerSpec:
        if args:
            raise UserError(f"player {kind!r} takes no arguments, not {text}")
        return PlayerSpec(kind, text, interactive=kind == "human")

    return parse


def parse_alphabeta(args: str) -> tuple[int, float]:
    """``D`` or ``D:MS`` -> (depth, time limit in ms, 0 = none)."""
    usage = f"alphabeta:D[:MS] with depth D in 1..{MAX_DEPTH} and an optional time limit MS > 0 in milliseconds"
    spec = "alphabeta" + (f":{args}" if args else "")
    parts = args.split(":") if args else []
    if not 1 <= len(parts) <= 2:
        raise UserError(f"malformed player {spec!r}: expected {usage}")
    try:
        depth = int(parts[0])
        ms = float(parts[1]) if len(parts) == 2 else 0.0
    except ValueError:
        raise UserError(f"malformed player {spec!r}: expected {usage}") from None
    if not 1 <= depth <= MAX_DEPTH or (len(parts) == 2 and not 0 < ms < float("inf")):
        raise UserError(f"malformed player {spec!r}: expected {usage}")
    return depth, ms


def _parse_alphabeta_spec(text: str, args: str) -> PlayerSpec:
    depth, ms = parse_alphabeta(args)
    return PlayerSpec("alphabeta", text, depth=depth, ms=ms or None)


def _alphabeta(args: str, seed: int) -> Player:
    from kingme.players.simple import AlphaBetaPlayer

    depth, ms = parse_alphabeta(args)
    return AlphaBetaPlayer(depth, ms, seed)


def _mix_args(args: str) -> tuple[float, str]:
    """``EPS:SPEC`` -> (eps, inner spec text)."""
    usage = "mix:EPS:SPEC with 0 <= EPS <= 1 and SPEC another player, e.g. mix:0.25:alphabeta:2"
    eps_text, _, inner = args.partition(":")
    try:
        eps = float(eps_text)
    except ValueError:
        raise UserError(f"malformed player 'mix:{args}': expected {usage}") from None
    if not 0.0 <= eps <= 1.0 or not inner.strip():
        raise UserError(f"malformed player 'mix:{args}': expected {usage}")
    return eps, inner


def _parse_mix_spec(text: str, args: str) -> PlayerSpec:
    _, inner = _mix_args(args)
    return PlayerSpec("mix", text, inner=parse_spec(inner))


def _mix(args: str, seed: int) -> Player:
    from kingme.players.simple import MixPlayer

    eps, inner = _mix_args(args)
    return MixPlayer(eps, load_player(inner, seed), seed, name=f"mix:{args}")


POLICY_USAGE = "policy:NAME_OR_PATH[:sample][:T]"


# Models shipped with the package, by name: `default` (the current one), `v2` (the one before it)
# and `v1` (the one before that), kept so that the figures measured with them can be reproduced.
SHIPPED_MODELS = ("default", "v2", "v1")


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
            try:
                t = float(tok)
            except ValueError:
                break
            if not t > 0 or t == float("inf"):
                raise UserError(f"policy:{arg}: temperature must be a positive number, not {tok!r}")
            sample, temperature = True, t
        parts.pop()
    model = ":".join(parts).strip()
    if not model:
        raise UserError(f"policy:{arg}: no model given; expected {POLICY_USAGE}")
    return PolicySpec(model, sample, temperature)


def _parse_policy_spec(text: str, args: str) -> PlayerSpec:
    spec = parse_policy_spec(args)
    return PlayerSpec("policy", text, path=None if spec.is_shipped else spec.model)


SEARCH_USAGE = "search:MODEL:DEPTH[:MS] or search:MODEL::MS"


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def parse_search_args(args: str) -> tuple[str, int, float]:
    """``MODEL:DEPTH``, ``MODEL::MS`` or ``MODEL:DEPTH:MS`` -> (model, depth, time limit in ms, 0 =
    none); without a depth the search deepens until the time limit (up to `MAX_DEPTH`). MODEL is
    ``default``, an evaluation-network file, or what ``policy:`` accepts (`search_model`; the
    numbers are read from the right, so it may contain ':')."""
    usage = (
        f"{SEARCH_USAGE} with MODEL default, an evaluation-network file, or policy:NAME_OR_PATH, "
        f"depth DEPTH in 1..{MAX_DEPTH} and a time limit MS > 0 in milliseconds"
    )
    spec = "search" + (f":{args}" if args else "")
    parts = args.split(":")
    if len(parts) >= 3 and (parts[-2].strip().isdigit() or not parts[-2].strip()) and _is_number(parts[-1] or "0"):
        model, depth_text, ms_text = ":".join(parts[:-2]), parts[-2].strip(), parts[-1].strip()
    elif len(parts) >= 2:
        model, depth_text, ms_text = ":".join(parts[:-1]), parts[-1].strip(), ""
    else:
        raise UserError(f"malformed player {spec!r}: expected {usage}")
    try:
        depth = int(depth_text) if depth_text else MAX_DEPTH
        ms = float(ms_text) if ms_text else 0.0
    except ValueError:
        raise UserError(f"malformed player {spec!r}: expected {usage}") from None
    if (
        not model.strip()
        or not 1 <= depth <= MAX_DEPTH
        or (ms_text and not 0 < ms < float("inf"))
        or (not depth_text and not ms_text)
    ):
        raise UserError(f"malformed player {spec!r}: expected {usage}")
    return model.strip(), depth, ms


def search_model(model: str) -> tuple[str, bool]:
    """What a ``search:MODEL`` names: (model, full) with ``full`` True for a policy network (the
    batched search with the whole network: ``policy:X``, or a shipped policy other than
    ``default``) and False for ``default`` (the shipped evaluation network distilled from
    ``policy:default``) or a file, whose format decides at load time."""
    if model.startswith("policy:"):
        return model[len("policy:") :], True
    return model, model in SHIPPED_MODELS and model != "default"


def _parse_search_spec(text: str, args: str) -> PlayerSpec:
    model, depth, ms = parse_search_args(args)
    name, _ = search_model(model)
    return PlayerSpec("search", text, depth=depth, ms=ms or None, path=None if name in SHIPPED_MODELS else name)


def _search(args: str, seed: int) -> Player:
    from kingme.players.evalnet import resolve_eval

    model, depth, ms = parse_search_args(args)
    name, full = search_model(model)
    net = None if full else resolve_eval(name)
    if net is not None:  # an evaluation network: the compiled alpha-beta, no torch
        from kingme.players.simple import AlphaBetaPlayer

        return AlphaBetaPlayer(depth, ms, seed, name=f"search:{args}", net=net)
    from kingme.players.search import load_search_player  # torch is imported only when needed

    return load_search_player(args, seed)


def _policy(args: str, seed: int) -> Player:
    from kingme.players.policy import load_policy_player  # torch is imported only when needed

    return load_policy_player(args, seed)


def _random(args: str, seed: int) -> Player:
    from kingme.players.simple import RandomPlayer

    return RandomPlayer(seed)


def _greedy(args: str, seed: int) -> Player:
    from kingme.players.simple import GreedyPlayer

    return GreedyPlayer(seed)


def _human(args: str, seed: int) -> Player:
    from kingme.players.human import HumanPlayer

    return HumanPlayer()


_register_builtin("random", _random, "random", _no_args("random"))
_register_builtin("greedy", _greedy, "greedy", _no_args("greedy"))
_register_builtin("alphabeta", _alphabeta, "alphabeta:D[:MS]", _parse_alphabeta_spec)
_register_builtin("policy", _policy, POLICY_USAGE, _parse_policy_spec)
_register_builtin("search", _search, SEARCH_USAGE, _parse_search_spec)
_register_builtin("human", _human, "human", _no_args("human"))
_register_builtin("mix", _mix, "mix:EPS:SPEC", _parse_mix_spec)
