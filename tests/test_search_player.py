"""The `search:` player: alpha-beta with the shipped network's critic at the leaves and its policy
ordering the moves (kingme.players.search)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kingme.checkers import Board
from kingme.common import UserError
from kingme.players import load_player, parse_spec, player_kinds
from kingme.players.policy import DEFAULT_MODEL, PolicyPlayer, load_model
from kingme.players.search import PLY_STEP, WIN, NetSearch, SearchPlayer, network_heads

# positions found by a brute-force scan of random games, checked with alphabeta
WIN_IN_3 = [
    ("B:W13,21:B3,4,5,6,10,17,19,K23", "10-14"),  # the only one of 12 moves that wins by force
    ("B:WK7,24:B1,12,K16,22", "16-11"),  # the only winning move of 7
]
SHOT = ("B:WK3,17,18,19,21,22,26,29,32:B1,5,7,9,10,13,28", "10-14")  # 10-14 3x10 14x23x30
TWO_FOR_ONE = ("W:W17,18,20,21,23,27,28,29,31:B1,3,4,5,6,7,11,12,16", "18-15")  # 18-15 11x18 20x11x2


@pytest.fixture(scope="module")
def agent():  # type: ignore[no-untyped-def]
    return load_model(DEFAULT_MODEL)[0]


def key_of(board: Board) -> tuple[int, int, int, int, int]:
    P, O = (board.black, board.white) if board.turn == 0 else (board.white, board.black)
    return (P, O, board.kings, int(board.turn), board.clock)


# ------------------------------------------------------------------------------------------------
# Specs


def test_spec_forms() -> None:
    s = parse_spec("search:default:4")
    assert (s.kind, s.depth, s.ms, s.path) == ("search", 4, None, None)
    s = parse_spec("search:default::20")
    assert (s.depth, s.ms) == (40, 20.0)  # deepens until the clock stops it
    s = parse_spec("search:runs/a/model.safetensors:6:50")
    assert (s.depth, s.ms, s.path) == (6, 50.0, "runs/a/model.safetensors")
    assert parse_spec("search:C:/m.safetensors:3").path == "C:/m.safetensors"
    assert any(k.startswith("search:") for k in player_kinds())


@pytest.mark.parametrize(
    "bad",
    [
        "search",
        "search:default",
        "search::4",
        "search:default:0",
        "search:default:41",
        "search:default::0",
        "search:default::-5",
        "search:default:x",
        "search:default::",
        "search:default:4:inf",
    ],
)
def test_bad_specs_are_one_line_user_errors(bad: str) -> None:
    with pytest.raises(UserError) as e:
        parse_spec(bad)
    assert "\n" not in str(e.value) and "search:MODEL:DEPTH" in str(e.value)


def test_missing_model_is_a_user_error() -> None:
    with pytest.raises(UserError, match="not found"):
        load_player("search:/no/such/model.safetensors:2")


def test_load_player_names_it() -> None:
    p = load_player("search:policy:default:2", seed=3)  # the full network (search:default: the distilled one)
    assert isinstance(p, SearchPlayer) and p.name == "search:policy:default:2"
    assert (p.depth, p.time_ms) == (2, 0.0)
    assert p.choose(Board()) in Board().legal_moves()


# ------------------------------------------------------------------------------------------------
# The critic's sign and the batched evaluation


def test_critic_value_is_for_the_side_to_move(agent) -> None:  # type: ignore[no-untyped-def]
    player = PolicyPlayer(agent)
    # Black a man up: good for Black to move, and worse for White to move in the same position
    for pieces in ["W18,27:B14,1,5", "W21,22:B9,10,11,12"]:
        black_to_move = player.value(Board("B:" + pieces))
        white_to_move = player.value(Board("W:" + pieces))
        assert black_to_move > 0.3 and black_to_move > white_to_move
    assert player.value(Board("W:W18,27,28:B14,1")) > 0.3  # White a man up, White to move


def reference(board: Board, full: int, critic: PolicyPlayer, ply: int = 0) -> tuple[float, int]:
    """(value, quiet leaves) of `board` searched `full` plies full width plus captures, one
    critic call per leaf on Boards: the independent version of `NetSearch.tree`."""
    moves = board.legal_moves()
    if not moves:
        return -(WIN - ply * PLY_STEP), 0
    if full <= 0 and not moves[0].is_capture:
        return float(np.clip(critic.value(board), -1.0, 1.0)), 1
    best, leaves = -float("inf"), 0
    for m in moves:
        board.push(m)
        v, k = reference(board, full - 1, critic, ply + 1)
        board.pop()
        best, leaves = max(best, -v), leaves + k
    return best, leaves


def sample_boards(n: int, seed: int) -> list[Board]:
    rng = np.random.default_rng(seed)
    boards: list[Board] = []
    while len(boards) < n:
        b = Board()
        for _ in range(int(rng.integers(6, 40))):
            moves = b.legal_moves()
            if b.outcome() is not None or not moves:
                break
            b.push(moves[int(rng.integers(len(moves)))])
        if b.outcome() is None and b.legal_moves():
            boards.append(b.copy())
    return boards


@pytest.mark.parametrize("full", [1, 2])
def test_batched_tree_equals_one_leaf_at_a_time(agent, full: int) -> None:  # type: ignore[no-untyped-def]
    critic = PolicyPlayer(agent)
    boards = [Board(SHOT[0]), Board(TWO_FOR_ONE[0]), *sample_boards(4, seed=full)]
    for board in boards:
        engine = NetSearch(agent)
        vals = engine.tree(key_of(board), full, 0)
        assert engine.batches == 1  # every leaf of the tree in one forward pass
        want, leaves = reference(board.copy(), full, critic)
        assert engine.leaves == leaves
        assert float(vals.max()) == pytest.approx(want, abs=1e-5)


def test_frontier_size_does_not_change_the_values(agent) -> None:  # type: ignore[no-untyped-def]
    board = Board(TWO_FOR_ONE[0])
    results = [NetSearch(agent, frontier=f).search(board, 4) for f in (1, 2, 3)]
    assert results[0].depth == 4
    assert len({r.index for r in results}) == 1
    assert results[0].score == pytest.approx(results[1].score, abs=1e-5)
    assert results[0].score == pytest.approx(results[2].score, abs=1e-5)
    assert results[0].batches > results[1].batches > results[2].batches


# ------------------------------------------------------------------------------------------------
# Search


@pytest.mark.parametrize(("fen", "move"), WIN_IN_3)
def test_finds_the_forced_win(agent, fen: str, move: str) -> None:  # type: ignore[no-untyped-def]
    player = SearchPlayer(agent, 3)
    assert str(player.choose(Board(fen))) == move
    assert player.last is not None and player.last.score > WIN - 0.1  # a proven win


def test_finds_the_two_for_one_at_depth_3(agent) -> None:  # type: ignore[no-untyped-def]
    fen, move = TWO_FOR_ONE
    player = SearchPlayer(agent, 3)
    assert str(player.choose(Board(fen))) == move
    assert [str(m) for m in player.pv_moves(Board(fen))] == ["18-15", "11x18", "20x11x2"]


def test_quiescence_plays_the_capture_chain_out(agent) -> None:  # type: ignore[no-untyped-def]
    fen, move = SHOT
    board = Board(fen)
    player = SearchPlayer(agent, 1)  # one ply: only the capture extension sees the shot
    assert str(player.choose(board)) == move
    # the score is the critic's value at the end of the exchange, backed up through every
    # capture: the critic saw only the quiet positions at the end of each line
    want, leaves = reference(board.copy(), 1, PolicyPlayer(agent))
    assert player.last is not None
    assert player.last.score == pytest.approx(want, abs=1e-5)
    assert player.last.leaves == leaves
    after = board.copy()
    after.push(move)
    assert after.legal_moves()[0].is_capture  # the move is a sacrifice: its child is not quiet


def test_deterministic_given_the_seed(agent) -> None:  # type: ignore[no-untyped-def]
    def game(seed: int) -> list[str]:
        a, b = SearchPlayer(agent, 3, seed=seed), SearchPlayer(agent, 2, seed=seed + 1)
        board, out = Board(), []
        for ply in range(16):
            if board.outcome() is not None:
                break
            m = (a if ply % 2 == 0 else b).choose(board)
            out.append(str(m))
            board.push(m)
        return out

    assert game(5) == game(5)
    p = SearchPlayer(agent, 3, seed=9)
    first = [p.search(Board()).index for _ in range(3)]
    p.reseed(9)
    assert [p.search(Board()).index for _ in range(3)] == first


def test_time_limit_is_respected(agent) -> None:  # type: ignore[no-untyped-def]
    player = SearchPlayer(agent, 40, time_ms=30.0)
    board = Board("B:W18,19,21,22,23,24,25,26,27,28,29,30:B1,2,3,4,5,6,7,9,10,11,12,14")
    player.choose(board)  # warm up
    t = time.perf_counter()
    player.choose(board)
    elapsed = (time.perf_counter() - t) * 1000
    assert player.last is not None and player.last.aborted and player.last.depth >= 1
    assert elapsed < 30.0 + 500.0  # generous: the clock is read every few nodes


def test_arena_plays_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kingme.arena.commands import ArenaConfig, run_arena

    r = run_arena("search:default:1", "random", ArenaConfig(games=2, workers=1, progress=False))
    assert r["games"] == 2 and r["wins"] + r["draws"] + r["losses"] == 2


def test_fast_heads_equal_the_modules(agent) -> None:  # type: ignore[no-untyped-def]
    import torch

    value, logits = network_heads(agent)
    obs = torch.rand(17, 6, 32)
    with torch.no_grad():
        want_logits, want_value = agent(obs)
        assert torch.allclose(value(obs), want_value, atol=1e-6)
        assert torch.allclose(logits(obs), want_logits, atol=1e-6)


def test_any_network_kind_searches() -> None:
    import torch

    from kingme.nets import make_network

    torch.manual_seed(0)
    conv = make_network("conv", (), 8).eval()
    player = SearchPlayer(conv, 3, seed=1)
    assert player.choose(Board()) in Board().legal_moves()
    assert player.last is not None and player.last.depth == 3 and player.last.batches > 0


def test_the_web_analysis_shows_its_policy_and_critic() -> None:
    from kingme.web.analysis import UNIFORM_SOURCE, analyzer_for

    analyzer = analyzer_for(load_player("search:policy:default:2"))
    assert analyzer is not None
    a = analyzer.analyze(Board())
    assert a.source != UNIFORM_SOURCE and a.value is not None
    assert sum(p for _, p in a.probs) == pytest.approx(1.0)
