"""Players: specs and their errors, random/greedy/human behaviour, the registry and its hooks."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import pytest

from kingme.checkers import Board, Move
from kingme.common import UserError
from kingme.players import (
    BatchPlayer,
    Player,
    is_batched,
    load_player,
    mix_seed,
    player_kinds,
    register_player_kind,
    registry,
)
from kingme.players.human import HumanPlayer
from kingme.players.policy import PolicySpec, parse_policy_spec
from kingme.players.simple import AlphaBetaPlayer, GreedyPlayer, RandomPlayer


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Restore the registry (and the plug-in list) after a test that changes them."""
    kinds = dict(registry._KINDS)
    plugins = list(registry.PLUGIN_MODULES)
    loaded = registry._plugins_loaded
    yield
    registry._KINDS.clear()
    registry._KINDS.update(kinds)
    registry.PLUGIN_MODULES[:] = plugins
    registry._plugins_loaded = loaded


# ------------------------------------------------------------------------------------------------
# Specs


@pytest.mark.parametrize(
    "spec,cls",
    [
        ("random", RandomPlayer),
        ("greedy", GreedyPlayer),
        ("alphabeta:3", AlphaBetaPlayer),
        (" alphabeta:6:250 ", AlphaBetaPlayer),
        ("human", HumanPlayer),
    ],
)
def test_load_player_builtin_kinds(spec: str, cls: type) -> None:
    p = load_player(spec, seed=3)
    assert isinstance(p, cls)
    assert isinstance(p, Player)
    assert p.name == spec.strip()


def test_alphabeta_spec_fields() -> None:
    p = load_player("alphabeta:6:250")
    assert isinstance(p, AlphaBetaPlayer)
    assert (p.depth, p.time_ms) == (6, 250.0)


@pytest.mark.parametrize(
    "spec,needle",
    [
        ("", "empty player spec"),
        ("minimax:3", "unknown player 'minimax:3'"),
        ("Random", "unknown player"),
        ("alphabeta", "malformed player 'alphabeta'"),
        ("alphabeta:x", "malformed player 'alphabeta:x'"),
        ("alphabeta:0", "depth D in 1..40"),
        ("alphabeta:41", "depth D in 1..40"),
        ("alphabeta:4:0", "time limit MS > 0"),
        ("alphabeta:4:5:6", "malformed"),
        ("random:3", "takes no arguments"),
        ("greedy:1", "takes no arguments"),
        ("policy:/no/such/model.safetensors", "model file not found: /no/such/model.safetensors"),
        ("policy:", "no model given"),
        ("policy:x:-1", "temperature must be a positive number"),
    ],
)
def test_bad_specs_give_one_line_errors(spec: str, needle: str) -> None:
    with pytest.raises(UserError) as e:
        load_player(spec)
    msg = str(e.value)
    assert needle in msg
    assert "\n" not in msg


def test_missing_shipped_model_is_a_one_line_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import kingme.players.policy as policy_kind

    monkeypatch.setattr(policy_kind, "DEFAULT_MODEL", tmp_path / "absent.safetensors")
    with pytest.raises(UserError, match="policy:default: no shipped model yet"):
        load_player("policy:default")


def test_unknown_spec_lists_what_is_accepted() -> None:
    with pytest.raises(UserError) as e:
        load_player("stockfish")
    for form in (
        "random",
        "greedy",
        "alphabeta:D[:MS]",
        "policy:NAME_OR_PATH[:sample][:T]",
        "human",
    ):
        assert form in str(e.value)
    assert player_kinds()[:3] == ["random", "greedy", "alphabeta:D[:MS]"]


def test_existing_file_that_is_not_a_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the self-play module registers the real loader; an empty file is refused in one line
    model = tmp_path / "net.safetensors"
    model.write_bytes(b"")
    with pytest.raises(UserError, match="not a readable model file"):
        load_player(f"policy:{model}")


@pytest.mark.parametrize(
    "arg,expected",
    [
        ("default", PolicySpec("default", False, 1.0)),
        ("runs/a/model", PolicySpec("runs/a/model", False, 1.0)),
        ("m.pt:sample", PolicySpec("m.pt", True, 1.0)),
        ("m.pt:0.5", PolicySpec("m.pt", True, 0.5)),
        ("m.pt:sample:2", PolicySpec("m.pt", True, 2.0)),
        ("C:/models/m.pt:sample", PolicySpec("C:/models/m.pt", True, 1.0)),
    ],
)
def test_parse_policy_spec(arg: str, expected: PolicySpec) -> None:
    assert parse_policy_spec(arg) == expected


# ------------------------------------------------------------------------------------------------
# Registry hooks


class FirstMovePlayer:
    """A test player: always the first legal move; counts its batches."""

    def __init__(self, name: str = "first") -> None:
        self.name = name
        self.batches: list[int] = []

    def reseed(self, seed: int) -> None:
        pass

    def choose(self, board: Board) -> Move:
        return board.legal_moves()[0]

    def choose_batch(self, boards: Sequence[Board]) -> list[Move]:
        self.batches.append(len(boards))
        return [b.legal_moves()[0] for b in boards]


def test_register_player_kind(clean_registry: None) -> None:
    seen = []

    def factory(args: str, seed: int) -> Player:
        seen.append((args, seed))
        return FirstMovePlayer(f"first:{args}")

    register_player_kind("first", factory, "first:ANY")
    p = load_player("first:abc", seed=9)
    assert seen == [("abc", 9)]
    assert str(p.choose(Board())) == str(Board().legal_moves()[0])
    assert is_batched(p) and isinstance(p, BatchPlayer)
    assert "first:ANY" in player_kinds()
    with pytest.raises(ValueError):
        register_player_kind("bad:prefix", factory)


def test_registering_policy_replaces_the_stub(clean_registry: None) -> None:
    register_player_kind("policy", lambda args, seed: FirstMovePlayer(f"policy:{args}"))
    p = load_player("policy:default")
    assert p.name == "policy:default" and is_batched(p)
    # the usage text of the stub is kept
    assert "policy:NAME_OR_PATH[:sample][:T]" in player_kinds()


def test_plugin_module_is_imported_on_demand(clean_registry: None, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "kingme_test_plugin.py").write_text(
        "from kingme.players import register_player_kind\n"
        "from kingme.players.simple import RandomPlayer\n"
        "register_player_kind('plug', lambda a, s: RandomPlayer(s, name='plug'), 'plug')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.PLUGIN_MODULES[:] = ["kingme_test_plugin", "kingme_no_such_plugin.sub"]
    registry._plugins_loaded = False
    p = load_player("plug")
    assert p.name == "plug"
    sys.modules.pop("kingme_test_plugin", None)


# ------------------------------------------------------------------------------------------------
# Behaviour


def test_random_player_is_seeded_and_legal() -> None:
    board = Board()
    a = [str(RandomPlayer(s).choose(board)) for s in range(20)]
    b = [str(RandomPlayer(s).choose(board)) for s in range(20)]
    assert a == b
    assert len(set(a)) > 1
    assert all(board.is_legal(m) for m in a)
    p = RandomPlayer(1)
    first = [str(p.choose(board)) for _ in range(10)]
    p.reseed(1)
    assert [str(p.choose(board)) for _ in range(10)] == first


def test_greedy_takes_the_most_material() -> None:
    # Black can take two men (9x18x25 over 14 and 22) or one (16x23 over 19)
    board = Board("B:W14,19,22:B9,16")
    assert {str(m) for m in board.legal_moves()} == {"9x18x25", "16x23"}
    for seed in range(5):
        assert str(GreedyPlayer(seed).choose(board)) == "9x18x25"


def test_greedy_prefers_crowning_and_breaks_ties_at_random() -> None:
    # a man on 27 can crown on 31 or 32; 12 can step; crowning gains 30 points of material
    board = Board("B:W5:B12,27")
    picks = {str(GreedyPlayer(s).choose(board)) for s in range(30)}
    assert picks == {"27-31", "27-32"}


def test_human_player_reprompts_on_illegal_move() -> None:
    answers = iter(["12-16x", "11-16 ", "9-13"])
    shown: list[str] = []
    p = HumanPlayer(input_fn=lambda prompt: next(answers), print_fn=shown.append)
    board = Board()
    board.push("11-15")
    board.push("24-20")
    move = p.choose(board)
    assert str(move) == "9-13"
    errors = [s for s in shown if "legal moves" in s]
    assert len(errors) == 2 and "malformed move" in errors[0] and "illegal move" in errors[1]


def test_human_player_end_of_input_stops_the_match() -> None:
    def eof(prompt: str) -> str:
        raise EOFError

    with pytest.raises(UserError, match="input ended"):
        HumanPlayer(input_fn=eof, print_fn=lambda s: None).choose(Board())


def test_mix_seed_is_stable_and_spreads() -> None:
    assert mix_seed(1, 2) == mix_seed(1, 2)
    assert mix_seed(1, 2) != mix_seed(2, 1)
    assert len({mix_seed(0, i) for i in range(1000)}) == 1000
    assert all(0 <= mix_seed(i, -i) < 2**63 for i in range(100))


def test_mix_player() -> None:
    board = Board()
    p = load_player("mix:0.25:alphabeta:2")
    assert p.name == "mix:0.25:alphabeta:2"
    # eps 0 is the base player, eps 1 is uniformly random, each with the same seeding
    base = load_player("alphabeta:2")
    never = load_player("mix:0:alphabeta:2")
    always = load_player("mix:1:alphabeta:2")
    picks = set()
    for seed in range(40):
        never.reseed(seed)
        base.reseed(mix_seed(seed, 3))
        assert never.choose(board) == base.choose(board)
        always.reseed(seed)
        picks.add(str(always.choose(board)))
    assert len(picks) == len(board.legal_moves())  # all 7 first moves show up in 40 draws


@pytest.mark.parametrize("spec", ["mix:1.5:random", "mix:x:random", "mix:0.5", "mix:0.5:"])
def test_mix_player_bad_specs(spec: str) -> None:
    with pytest.raises(UserError, match="expected mix:EPS:SPEC"):
        load_player(spec)
