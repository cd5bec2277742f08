"""Players: specs and their errors, random/greedy/human behaviour, the registry and its hooks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest

from kingme.checkers import Board, Move
from kingme.common import UserError
from kingme.players import (
    BatchPlayer,
    Player,
    PlayerSpec,
    is_batched,
    load_player,
    mix_seed,
    parse_spec,
    player_kinds,
    register_player_kind,
    registry,
)
from kingme.players.human import HumanPlayer
from kingme.players.policy import PolicySpec, parse_policy_spec
from kingme.players.simple import AlphaBetaPlayer, GreedyPlayer, RandomPlayer


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Restore the registry after a test that changes it."""
    kinds = dict(registry._KINDS)
    yield
    registry._KINDS.clear()
    registry._KINDS.update(kinds)


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
        ("alphabeta:0", "the depth must be in 1..40, not 0"),
        ("alphabeta:41", "the depth must be in 1..40, not 41"),
        ("alphabeta:-3", "the depth must be in 1..40, not -3"),
        ("alphabeta:99999999999999999999", "the depth must be in 1..40"),
        ("alphabeta:4:0", "the time limit must be 1 to 8.64e+07 milliseconds, not 0"),
        ("alphabeta:4:1e-9", "the time limit must be 1 to 8.64e+07 milliseconds, not 1e-9"),
        ("alphabeta:4:inf", "the time limit must be"),
        ("alphabeta:4:nan", "the time limit must be"),
        ("search:default::1e-9", "the time limit must be"),
        ("search:policy:default:4:1e308", "the time limit must be"),
        ("search:default:-2", "the depth must be in 1..40, not -2"),
        ("search:default:100", "the depth must be in 1..40, not 100"),
        ("mix:nan:random", "expected mix:EPS:SPEC"),
        ("mix:1e308:random", "expected mix:EPS:SPEC"),
        ("alphabeta:4:5:6", "malformed"),
        ("random:3", "takes no arguments"),
        ("greedy:1", "takes no arguments"),
        ("policy:/no/such/model.safetensors", "model file not found: /no/such/model.safetensors"),
        ("policy:", "no model given"),
        ("policy:x:-1", "the temperature must be 0.01 to 100, not '-1'"),
        ("policy:default:sample:1e308", "the temperature must be 0.01 to 100, not '1e308'"),
        ("policy:default:1e-300", "the temperature must be"),
        ("policy:default:inf", "the temperature must be"),
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
    with pytest.raises(UserError, match="policy:default: the shipped model file is missing") as e:
        load_player("policy:default")
    assert "\n" not in str(e.value)


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
    # an empty file is refused in one line
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


def test_registering_a_kind_replaces_the_builtin_one(clean_registry: None) -> None:
    register_player_kind("policy", lambda args, seed: FirstMovePlayer(f"policy:{args}"))
    p = load_player("policy:default")
    assert p.name == "policy:default" and is_batched(p)
    # the usage text of the kind it replaced is kept; its spec parses to kind and text only
    assert "policy:NAME_OR_PATH[:sample][:T]" in player_kinds()
    assert parse_spec("policy:x.safetensors") == PlayerSpec("policy", "policy:x.safetensors")
    assert parse_spec("policy:x.safetensors").args == "x.safetensors"


def test_the_policy_kind_is_built_in_and_imports_nothing_above_players() -> None:
    """`policy:` is registered by kingme.players itself (no plug-in loading, no selfplay import):
    a fresh process loads the shipped model and plays with it."""
    code = (
        "import sys\n"
        "from kingme.checkers import Board\n"
        "from kingme.players import load_player\n"
        "from kingme.players.policy import DEFAULT_MODEL, PolicyPlayer\n"
        "p = load_player('policy:default') if DEFAULT_MODEL.exists() else None\n"
        "assert p is None or (isinstance(p, PolicyPlayer) and p.choose(Board()) in Board().legal_moves())\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('kingme.selfplay', 'kingme.arena', 'kingme.web')))\n"
        "assert not bad, bad\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    "text,expected",
    [
        ("random", PlayerSpec("random", "random")),
        (" greedy ", PlayerSpec("greedy", "greedy")),
        ("human", PlayerSpec("human", "human", interactive=True)),
        ("alphabeta:6", PlayerSpec("alphabeta", "alphabeta:6", depth=6)),
        ("alphabeta:6:250", PlayerSpec("alphabeta", "alphabeta:6:250", depth=6, ms=250.0)),
        ("policy:default", PlayerSpec("policy", "policy:default", model="default")),
        (
            "policy:default:sample:0.5",
            PlayerSpec("policy", "policy:default:sample:0.5", model="default", sample=True, temperature=0.5),
        ),
        (
            "policy:runs/a/m.safetensors:0.5",
            PlayerSpec(
                "policy",
                "policy:runs/a/m.safetensors:0.5",
                path="runs/a/m.safetensors",
                model="runs/a/m.safetensors",
                sample=True,
                temperature=0.5,
            ),
        ),
        ("search:default:6", PlayerSpec("search", "search:default:6", depth=6, model="default")),
        (
            "search:policy:default::250",
            PlayerSpec("search", "search:policy:default::250", depth=40, ms=250.0, model="default", full=True),
        ),
        ("search:v1:3:50", PlayerSpec("search", "search:v1:3:50", depth=3, ms=50.0, model="v1", full=True)),
        (
            "search:e.safetensors:5",
            PlayerSpec("search", "search:e.safetensors:5", depth=5, model="e.safetensors", path="e.safetensors"),
        ),
        (
            "mix:0.25:alphabeta:2",
            PlayerSpec("mix", "mix:0.25:alphabeta:2", inner=PlayerSpec("alphabeta", "alphabeta:2", depth=2), eps=0.25),
        ),
        (
            "mix:0.5:mix:0.1:policy:/m",
            PlayerSpec(
                "mix",
                "mix:0.5:mix:0.1:policy:/m",
                inner=PlayerSpec(
                    "mix", "mix:0.1:policy:/m", inner=PlayerSpec("policy", "policy:/m", path="/m", model="/m"), eps=0.1
                ),
                eps=0.5,
            ),
        ),
    ],
)
def test_parse_spec(text: str, expected: PlayerSpec) -> None:
    assert parse_spec(text) == expected


@pytest.mark.parametrize(
    "text,needle",
    [
        ("", "empty player spec"),
        ("stockfish", "unknown player 'stockfish'"),
        ("alphabeta:99", "the depth must be in 1..40"),
        ("alphabeta:4:-5", "the time limit must be"),
        ("human:1", "takes no arguments"),
        ("mix:2:random", "expected mix:EPS:SPEC"),
        ("mix:0.5:minimax", "unknown player 'minimax'"),
        ("policy:", "no model given"),
        ("policy:m:0", "the temperature must be"),
    ],
)
def test_parse_spec_errors_are_one_line(text: str, needle: str) -> None:
    with pytest.raises(UserError) as e:
        parse_spec(text)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_parse_spec_does_not_look_at_files() -> None:
    # a missing model parses (the web app decides from the path); loading it is the error
    assert parse_spec("policy:/no/such/file").path == "/no/such/file"
    with pytest.raises(UserError, match="model file not found"):
        load_player("policy:/no/such/file")


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


@pytest.mark.parametrize("spec", ["alphabeta:40:30", "search:default::30"])
def test_a_timed_search_line_costs_about_one_search_not_depth_searches(spec: str) -> None:
    import time

    player = load_player(spec)
    assert isinstance(player, AlphaBetaPlayer)
    board = Board()
    player.principal_variation(board)  # warm up (numba's cache)
    t = time.perf_counter()
    line, _ = player.principal_variation(board)
    elapsed = time.perf_counter() - t
    assert 1 <= len(line) <= 40 and elapsed < 0.5  # at most ~3 x 30 ms, never 40 searches of 30 ms (1.2 s)
    b = board.copy()
    for m in line:
        assert m in b.legal_moves()
        b.push(m)


def test_each_spec_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The factories build from the parsed spec: loading parses the text exactly once."""
    from kingme.players import specs

    calls: list[str] = []
    real = specs.parse_search_args

    def counting(args: str) -> tuple[str, int, float]:
        calls.append(args)
        return real(args)

    monkeypatch.setattr(specs, "parse_search_args", counting)
    load_player("search:policy:default:2")
    assert calls == ["policy:default:2"]


def test_build_player_takes_a_parsed_spec() -> None:
    from kingme.players import build_player

    spec = parse_spec("mix:0.5:alphabeta:3")
    p = build_player(spec, seed=4)
    assert p.name == "mix:0.5:alphabeta:3"
    assert str(p.choose(Board())) in {str(m) for m in Board().legal_moves()}
