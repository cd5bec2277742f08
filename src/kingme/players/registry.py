"""Player specs to players: `load_player(spec)` and `register_player_kind(prefix, factory)`.

A spec is ``KIND`` or ``KIND:ARGS``; the factory registered for KIND receives ARGS (the text after
the first ``:``, or "" for none) and a seed, and returns a player or raises `UserError` with one
line. Built in: ``random``, ``greedy``, ``alphabeta:D[:MS]``, ``human``, ``mix:EPS:SPEC`` (random
moves mixed into another player, for calibration) and a ``policy`` kind that validates its spec
and reports that no loader exists yet.

Plug-ins: another module (the self-play package) replaces or adds kinds by calling
``register_player_kind`` when it is imported. So that ``kingme arena policy:...`` finds it without
anyone importing it first, `load_player` imports the modules named in `PLUGIN_MODULES` (when they
exist) the first time it meets a kind that is not built in or the unregistered ``policy`` kind.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from kingme.common import UserError
from kingme.players.base import Player

PlayerFactory = Callable[[str, int], Player]

# Modules that register player kinds when imported (looked up lazily; a missing one is skipped).
PLUGIN_MODULES: list[str] = ["kingme.selfplay.players"]

MAX_DEPTH = 40  # deepest alphabeta:D accepted (the search stack holds 64 plies with extensions)


@dataclass
class _Kind:
    factory: PlayerFactory
    usage: str  # e.g. "alphabeta:D[:MS]"
    builtin_stub: bool = False  # a placeholder a plug-in is expected to replace


_KINDS: dict[str, _Kind] = {}
_plugins_loaded = False


def register_player_kind(prefix: str, factory: PlayerFactory, usage: str | None = None) -> None:
    """Make ``load_player("PREFIX[:ARGS]")`` call ``factory(ARGS, seed)`` (replacing any earlier
    factory for that prefix). ``usage`` is shown in the list of accepted specs."""
    if not prefix or ":" in prefix or not prefix.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"bad player kind prefix {prefix!r}")
    old = _KINDS.get(prefix)
    _KINDS[prefix] = _Kind(factory, usage or (old.usage if old else prefix))


def player_kinds() -> list[str]:
    """The accepted spec forms, e.g. ['random', 'greedy', 'alphabeta:D[:MS]', ...]."""
    return [k.usage for k in _KINDS.values()]


def accepted() -> str:
    return ", ".join(player_kinds())


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for name in PLUGIN_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the parent package does not exist
            found = False
        if found:
            importlib.import_module(name)


def load_player(spec: str, seed: int = 0) -> Player:
    """The player named by ``spec`` (UserError with one line listing the accepted forms if the spec
    is unknown or malformed)."""
    if not isinstance(spec, str) or not spec.strip():
        raise UserError(f"empty player spec: expected one of {accepted()}")
    spec = spec.strip()
    prefix, _, args = spec.partition(":")
    kind = _KINDS.get(prefix)
    if kind is None or kind.builtin_stub:
        _load_plugins()
        kind = _KINDS.get(prefix)
    if kind is None:
        raise UserError(f"unknown player {spec!r}: expected one of {accepted()}")
    player = kind.factory(args, seed)
    if not getattr(player, "name", None):
        player.name = spec
    return player


# ------------------------------------------------------------------------------------------------
# Built-in kinds


def _no_args(kind: str, args: str) -> None:
    if args:
        raise UserError(f"player {kind!r} takes no arguments, not {kind}:{args}")


def _random(args: str, seed: int) -> Player:
    from kingme.players.simple import RandomPlayer

    _no_args("random", args)
    return RandomPlayer(seed)


def _greedy(args: str, seed: int) -> Player:
    from kingme.players.simple import GreedyPlayer

    _no_args("greedy", args)
    return GreedyPlayer(seed)


def parse_alphabeta(args: str) -> tuple[int, float]:
    """``D`` or ``D:MS`` -> (depth, time limit in ms, 0 = none)."""
    usage = "alphabeta:D[:MS] with depth D in 1..40 and an optional time limit MS > 0 in milliseconds"
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


def _alphabeta(args: str, seed: int) -> Player:
    from kingme.players.simple import AlphaBetaPlayer

    depth, ms = parse_alphabeta(args)
    return AlphaBetaPlayer(depth, ms, seed)


def _mix(args: str, seed: int) -> Player:
    from kingme.players.simple import MixPlayer

    usage = "mix:EPS:SPEC with 0 <= EPS <= 1 and SPEC another player, e.g. mix:0.25:alphabeta:2"
    eps_text, _, inner = args.partition(":")
    try:
        eps = float(eps_text)
    except ValueError:
        raise UserError(f"malformed player 'mix:{args}': expected {usage}") from None
    if not 0.0 <= eps <= 1.0 or not inner:
        raise UserError(f"malformed player 'mix:{args}': expected {usage}")
    return MixPlayer(eps, load_player(inner, seed), seed, name=f"mix:{args}")


def _human(args: str, seed: int) -> Player:
    from kingme.players.human import HumanPlayer

    _no_args("human", args)
    return HumanPlayer()


def _policy(args: str, seed: int) -> Player:
    from kingme.players.policy import load_unregistered_policy

    return load_unregistered_policy(args, seed)  # type: ignore[return-value]


register_player_kind("random", _random, "random")
register_player_kind("greedy", _greedy, "greedy")
register_player_kind("alphabeta", _alphabeta, "alphabeta:D[:MS]")
register_player_kind("policy", _policy, "policy:NAME_OR_PATH[:sample][:T]")
_KINDS["policy"].builtin_stub = True
register_player_kind("human", _human, "human")
register_player_kind("mix", _mix, "mix:EPS:SPEC")
