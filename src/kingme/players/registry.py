"""The registry of player kinds: `parse_spec(text) -> PlayerSpec`, `build_player(spec, seed)`,
`load_player(text, seed)` and `register_player_kind`.

A spec is ``KIND`` or ``KIND:ARGS``. `parse_spec` finds the kind and reads its arguments with the
kind's grammar (`kingme.players.specs`, the one place each is read); `build_player` hands the
parsed `PlayerSpec` to the kind's factory; `load_player` does both. Anything that builds players
from user text (the arena, the web app, self-play's pool of opponents, the experiments) goes
through these, so every registered kind is accepted everywhere. A bad spec is a `UserError` with
one line.

`register_player_kind(prefix, factory, usage)` adds a kind (or replaces one): its factory receives
ARGS (the text after the first ``:``, or "" for none) and a seed, and returns a player or raises
`UserError`; a registered kind's `PlayerSpec` holds its kind and text only. The built-in kinds'
factories receive the parsed `PlayerSpec` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kingme.common import UserError
from kingme.players.base import Player
from kingme.players.specs import (
    MAX_DEPTH,
    POLICY_USAGE,
    SEARCH_USAGE,
    SHIPPED_MODELS,
    PlayerSpec,
    PolicySpec,
    parse_alphabeta,
    parse_mix,
    parse_no_args,
    parse_policy,
    parse_policy_spec,
    parse_search,
    parse_search_args,
    search_model,
)

__all__ = [
    "MAX_DEPTH",
    "POLICY_USAGE",
    "SEARCH_USAGE",
    "SHIPPED_MODELS",
    "PlayerFactory",
    "PlayerSpec",
    "PolicySpec",
    "build_player",
    "load_player",
    "parse_policy_spec",
    "parse_search_args",
    "parse_spec",
    "player_kinds",
    "register_player_kind",
    "search_model",
]

PlayerFactory = Callable[[str, int], Player]  # (ARGS, seed) -> player: a registered kind's factory
Builder = Callable[[PlayerSpec, int], Player]  # (parsed spec, seed) -> player
SpecParser = Callable[[str, str], PlayerSpec]  # (spec text, ARGS) -> PlayerSpec, UserError if malformed


@dataclass
class _Kind:
    build: Builder
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

    def build(spec: PlayerSpec, seed: int) -> Player:
        return factory(spec.args, seed)

    _KINDS[prefix] = _Kind(build, usage or (old.usage if old else prefix))


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


def build_player(spec: PlayerSpec, seed: int = 0) -> Player:
    """The player of a parsed spec (UserError if it names a model file that is missing or
    unreadable). The spec must come from `parse_spec` while the same kinds are registered."""
    kind = _KINDS.get(spec.kind)
    if kind is None:
        raise UserError(f"unknown player {spec.text!r}: expected one of {accepted()}")
    player = kind.build(spec, seed)
    if not getattr(player, "name", None):
        player.name = spec.text
    return player


def load_player(spec: str | PlayerSpec, seed: int = 0) -> Player:
    """The player named by ``spec`` (a spec string, parsed by `parse_spec`, or a parsed spec;
    UserError with one line if the spec is unknown or malformed, or names a model file that is
    missing or unreadable)."""
    return build_player(spec if isinstance(spec, PlayerSpec) else parse_spec(spec), seed)


# ------------------------------------------------------------------------------------------------
# Built-in kinds: a grammar (`kingme.players.specs`) and a factory of the parsed spec


def _register_builtin(prefix: str, build: Builder, usage: str, parse: SpecParser) -> None:
    _KINDS[prefix] = _Kind(build, usage, parse)


def _alphabeta(spec: PlayerSpec, seed: int) -> Player:
    from kingme.players.simple import AlphaBetaPlayer

    return AlphaBetaPlayer(spec.depth or 1, spec.ms or 0.0, seed)


def _mix(spec: PlayerSpec, seed: int) -> Player:
    from kingme.players.simple import MixPlayer

    assert spec.inner is not None and spec.eps is not None
    return MixPlayer(spec.eps, build_player(spec.inner, seed), seed, name=spec.text)


def _search(spec: PlayerSpec, seed: int) -> Player:
    from kingme.players.evalnet import resolve_eval

    net = None if spec.full else resolve_eval(spec.model or "default")
    if net is not None:  # an evaluation network: the compiled alpha-beta, no torch
        from kingme.players.simple import AlphaBetaPlayer

        return AlphaBetaPlayer(spec.depth or 1, spec.ms or 0.0, seed, name=spec.text, net=net)
    from kingme.players.search import load_search_player  # torch is imported only when needed

    return load_search_player(spec, seed)


def _policy(spec: PlayerSpec, seed: int) -> Player:
    from kingme.players.policy import load_policy_player  # torch is imported only when needed

    return load_policy_player(spec, seed)


def _random(spec: PlayerSpec, seed: int) -> Player:
    from kingme.players.simple import RandomPlayer

    return RandomPlayer(seed)


def _greedy(spec: PlayerSpec, seed: int) -> Player:
    from kingme.players.simple import GreedyPlayer

    return GreedyPlayer(seed)


def _human(spec: PlayerSpec, seed: int) -> Player:
    from kingme.players.human import HumanPlayer

    return HumanPlayer()


def _parse_mix(text: str, args: str) -> PlayerSpec:
    return parse_mix(text, args, parse_spec)


_register_builtin("random", _random, "random", parse_no_args("random"))
_register_builtin("greedy", _greedy, "greedy", parse_no_args("greedy"))
_register_builtin("alphabeta", _alphabeta, "alphabeta:D[:MS]", parse_alphabeta)
_register_builtin("policy", _policy, POLICY_USAGE, parse_policy)
_register_builtin("search", _search, SEARCH_USAGE, parse_search)
_register_builtin("human", _human, "human", parse_no_args("human"))
_register_builtin("mix", _mix, "mix:EPS:SPEC", _parse_mix)


def _egdb(args: str, seed: int) -> Player:
    # The endgame database lives above players (its grading uses them), so this kind is named by
    # its module and imported only when a spec asks for it: no import runs upward until then.
    from importlib import import_module

    player: Player = import_module("kingme.egdb.player").egdb_player(args, seed)
    return player


register_player_kind("egdb", _egdb, "egdb:SPEC")
