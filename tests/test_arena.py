"""The arena: openings, fair schedules, game play in every mode, PDN, the commands."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

import pytest

from kingme.arena.bench import bench_lockstep_ladder, bench_search
from kingme.arena.commands import arena_main, ladder_main
from kingme.arena.ladder import (
    ANCHOR,
    BRIDGES,
    DEEP_RUNGS,
    LADDER,
    LADDER_MAX_PLIES,
    RUNG_RATINGS,
    LadderResult,
    check_rungs,
    measurement_pairs,
    run_ladder,
)
from kingme.arena.match import (
    MAX_PLIES,
    GameSpec,
    play_game,
    play_games,
    play_lockstep,
    play_pool,
    play_sequential,
    schedule_match,
    tally,
)
from kingme.arena.openings import acf_ballots, acf_openings, all_three_ply_openings
from kingme.checkers import Board, Move, read_games
from kingme.cli import main as cli_main
from kingme.players import load_player, register_player_kind, registry
from kingme.players.simple import AlphaBetaPlayer, RandomPlayer

# ------------------------------------------------------------------------------------------------
# Openings


def test_acf_ballots() -> None:
    ballots = acf_ballots()
    assert len(ballots) == 174 and [o.number for o in ballots] == list(range(1, 175))
    barred = [o.number for o in ballots if o.barred]
    assert barred == [3, 13, 26, 35, 44, 45, 48, 52, 77, 88, 94, 109, 114, 137, 145, 156, 168, 171]
    assert len(acf_openings()) == 156
    assert str(ballots[0]) == "9-13 21-17 5-9" and str(ballots[-1]) == "12-16 24-20 10-15"
    positions = set()
    for o in ballots:
        b = o.board()  # every move is legal (push raises otherwise)
        assert len(b.move_stack) == 3 and b.turn == 1 and b.result() is None
        positions.add((b.black, b.white, b.kings))
    assert len(positions) == 174


def test_all_three_ply_openings_cover_the_acf_list() -> None:
    every = all_three_ply_openings()
    keys = {(o.board().black, o.board().white) for o in every}
    assert len(keys) == len(every)
    assert all((o.board().black, o.board().white) in keys for o in acf_ballots())


# ------------------------------------------------------------------------------------------------
# Schedules


def test_schedule_balances_colours_and_openings() -> None:
    specs = schedule_match("A", "B", 40, seed=5, openings=acf_openings())
    assert [s.index for s in specs] == list(range(40))
    assert sum(s.a_is_black for s in specs) == 20
    pairs = [specs[i : i + 2] for i in range(0, 40, 2)]
    for first, second in pairs:
        assert first.opening == second.opening
        assert (first.black, first.white) == ("A", "B") and (second.black, second.white) == (
            "B",
            "A",
        )
        assert first.a_is_black and not second.a_is_black
    used = Counter(s.opening.number for s in specs)
    assert len(used) == 20 and set(used.values()) == {2}
    assert len({s.seed for s in specs}) == 40
    # the same seed gives the same schedule; another seed another order
    assert schedule_match("A", "B", 40, 5, acf_openings()) == specs
    assert [s.opening for s in schedule_match("A", "B", 40, 6, acf_openings())] != [s.opening for s in specs]


def test_schedule_wraps_round_the_openings() -> None:
    specs = schedule_match("A", "B", 2 * 156 + 4, seed=0, openings=acf_openings())
    counts = Counter(s.opening.number for s in specs)
    assert len(counts) == 156 and sorted(set(counts.values())) == [2, 4]


@pytest.mark.parametrize("games", [0, 1, 7, -2])
def test_schedule_rejects_bad_game_counts(games: int) -> None:
    with pytest.raises(ValueError, match="positive even number"):
        schedule_match("A", "B", games, 0, acf_openings())


# ------------------------------------------------------------------------------------------------
# Playing


def test_alphabeta4_beats_random_every_game_and_greedy_mostly() -> None:
    specs = schedule_match("alphabeta:4", "random", 12, seed=1, openings=acf_openings())
    records, _ = play_games(specs, workers=1)
    t = tally(records)
    assert (t.wins, t.draws, t.losses) == (12, 0, 0)
    specs = schedule_match("alphabeta:4", "greedy", 12, seed=1, openings=acf_openings())
    t = tally(play_games(specs, workers=1)[0])
    assert t.wins > t.games / 2 and t.losses <= 1, t


def test_game_records_are_consistent_with_the_board_rules() -> None:
    specs = schedule_match("random", "random", 8, seed=3, openings=acf_openings())
    players = {"random": RandomPlayer()}
    for rec in play_sequential(specs, players, 400, None):
        board = Board()
        for m in rec.moves:
            board.push(m)
        assert [str(m) for m in rec.moves[:3]] == list(rec.spec.opening.moves)
        outcome = board.outcome()
        assert outcome is not None  # no game here reaches the ply cap
        assert (rec.result, rec.termination) == (outcome.result, outcome.termination.value)
        assert rec.plies == len(rec.moves)
        assert rec.termination in ("no moves", "80-ply rule", "threefold repetition")


def test_ply_cap_draws_the_game() -> None:
    spec = schedule_match("random", "random", 2, 0, acf_openings())[0]
    rec = play_game(spec, RandomPlayer(), RandomPlayer(), max_plies=10)
    assert (rec.result, rec.termination, rec.plies) == ("1/2-1/2", "ply cap", 10)
    assert rec.score_a == 0.5


def test_modes_give_identical_games() -> None:
    """Moves are seeded per game and ply, so sequential, lockstep and pool runs agree."""
    specs = schedule_match("alphabeta:2", "random", 8, seed=11, openings=acf_openings())
    names = ("alphabeta:2", "random")
    seq = play_sequential(specs, {n: load_player(n) for n in names}, 400, None)
    lock = play_lockstep(specs, {n: load_player(n) for n in names}, 400, None)
    pool = play_pool(specs, 2, 400, None, {n: load_player(n) for n in names})
    assert [r.moves for r in seq] == [r.moves for r in lock] == [r.moves for r in pool]
    assert [r.result for r in seq] == [r.result for r in pool]


class CountingBatchRandom:
    """A batched random player that records the size of every batch it is asked for."""

    def __init__(self) -> None:
        self.name = "batchrandom"
        self.inner = RandomPlayer()
        self.batches: list[int] = []

    def reseed(self, seed: int) -> None:
        self.inner.reseed(seed)

    def choose(self, board: Board) -> Move:
        return self.inner.choose(board)

    def choose_batch(self, boards: Sequence[Board]) -> list[Move]:
        self.batches.append(len(boards))
        return [self.inner.choose(b) for b in boards]


def test_batched_player_runs_in_lockstep_with_one_call_per_step() -> None:
    player = CountingBatchRandom()
    old = dict(registry._KINDS)
    try:
        register_player_kind("batchrandom", lambda a, s: player)
        specs = schedule_match("batchrandom", "alphabeta:2", 16, 0, acf_openings())
        records, mode = play_games(specs, workers=2)
    finally:
        registry._KINDS.clear()
        registry._KINDS.update(old)
    assert mode == "lockstep" and len(records) == 16
    # after the 3-move ballot White is to move: its 8 games as White come in one call, and no
    # call ever holds more than the 8 games where it has the side to move
    assert player.batches[0] == 8 and max(player.batches) == 8
    # one board per move it made: White's share of the plies after the ballot rounds up
    made = sum((r.plies - 3) // 2 if r.spec.a_is_black else (r.plies - 2) // 2 for r in records)
    assert sum(player.batches) == made


def test_play_games_picks_the_pool_for_search_bots() -> None:
    specs = schedule_match("alphabeta:2", "greedy", 8, 0, acf_openings())
    records, mode = play_games(specs, workers=2)
    assert mode == "pool" and [r.spec.index for r in records] == list(range(8))
    records, mode = play_games(specs, workers=1)
    assert mode == "sequential"


def test_human_games_run_in_order_in_this_process() -> None:
    old = dict(registry._KINDS)
    answers: list[str] = []

    class Scripted:
        name = "human"
        interactive = True

        def reseed(self, seed: int) -> None:
            pass

        def choose(self, board: Board) -> Move:
            answers.append(board.fen())
            return board.legal_moves()[0]

    try:
        register_player_kind("human", lambda a, s: Scripted())
        specs = schedule_match("human", "alphabeta:2", 4, 0, acf_openings())
        records, mode = play_games(specs, workers=2)
    finally:
        registry._KINDS.clear()
        registry._KINDS.update(old)
    assert mode == "sequential" and len(records) == 4 and answers


# ------------------------------------------------------------------------------------------------
# Commands


def run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = cli_main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_arena_json_and_pdn(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    pdn = tmp_path / "games.pdn"
    code, out, _ = run_cli(
        capsys,
        [
            "arena",
            "alphabeta:3",
            "random",
            "--games",
            "6",
            "--seed",
            "2",
            "--json",
            "--pdn",
            str(pdn),
        ],
    )
    assert code == 0
    r = json.loads(out)
    assert r["players"] == ["alphabeta:3", "random"]
    assert (r["games"], r["wins"] + r["draws"] + r["losses"]) == (6, 6)
    assert r["score"] == pytest.approx((r["wins"] + r["draws"] / 2) / 6)
    lo, hi = r["score_ci95"]
    assert 0 <= lo <= r["score"] <= hi <= 1
    assert set(r) >= {"elo", "elo_ci95", "as_black", "as_white", "terminations", "seconds"}
    assert r["as_black"]["wins"] + r["as_black"]["draws"] + r["as_black"]["losses"] == 3
    games = read_games(pdn.read_text())
    assert len(games) == 6
    assert [g.tags["Black"] for g in games[:2]] == ["alphabeta:3", "random"]
    assert all(g.tags["Opening"].startswith("ACF #") for g in games)
    assert all(g.result == g.board().result() for g in games)


def test_arena_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, ["arena", "greedy", "random", "--games", "4", "--workers", "1"])
    assert code == 0
    assert out.startswith("greedy vs random: 4 games") and "score" in out and "Elo" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["arena", "alphabeta:4", "random", "--games", "7"], "bad game count 7"),
        (["arena", "alphabeta:4", "random", "--games", "0"], "positive even number"),
        (["arena", "alphabeta:4", "rand"], "unknown player 'rand': expected one of random, greedy"),
        (["arena", "policy:nope.pt", "random"], "model file not found: nope.pt"),
        (["arena", "alphabeta:4", "random", "--workers", "0"], "bad --workers 0"),
        (["ladder", "alphabeta:2", "--rungs", "random,alphabeta:5"], "unknown rung 'alphabeta:5'"),
        (["ladder"], "no PLAYER given"),
        (["ladder", "random", "--games", "3"], "bad game count 3"),
        (["ladder", "random", "--measure"], "give no PLAYER"),
        (["ladder", "random", "--rungs", ","], "no rungs given"),
        (["ladder", "random", "--rungs", "random,random"], "a rung is given twice"),
        (
            ["arena", "greedy", "random", "--pdn", "/nonexistent/kingme/x.pdn"],
            "cannot write PDN file /nonexistent/kingme/x.pdn: folder /nonexistent/kingme does not exist",
        ),
        (
            ["ladder", "greedy", "--rungs", "random", "--games", "2", "--pdn", "/nonexistent/kingme/x.pdn"],
            "folder /nonexistent/kingme does not exist",
        ),
    ],
)
def test_command_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    code, out, err = run_cli(capsys, argv)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1


def test_pdn_in_a_missing_folder_creates_nothing(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "no" / "such" / "games.pdn"
    for cmd in (
        ["arena", "greedy", "random", "--games", "2"],
        ["ladder", "greedy", "--rungs", "random", "--games", "2"],
    ):
        code, out, err = run_cli(capsys, [*cmd, "--pdn", str(target)])
        assert code == 2 and out == "" and "does not exist" in err and err.count("\n") == 1
    assert not (tmp_path / "no").exists()


def test_missing_shipped_model_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import kingme.players.policy as policy_kind

    monkeypatch.setattr(policy_kind, "DEFAULT_MODEL", tmp_path / "absent.safetensors")
    code, out, err = run_cli(capsys, ["arena", "policy:default", "random"])
    assert code == 2 and out == "" and "policy:default: the shipped model file is missing" in err
    assert err.count("\n") == 1


def test_argparse_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        arena_main(["alphabeta:4", "random", "--games", "ten"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "invalid value 'ten' for --games" in err and err.count("\n") == 1


def test_ladder_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = ladder_main(["alphabeta:2", "--rungs", "random,greedy", "--games", "4", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert code == 0 and r["player"] == "alphabeta:2" and r["games"] == 8
    assert [row["opponent"] for row in r["rungs"]] == ["random", "greedy"]
    assert [row["rating"] for row in r["rungs"]] == [RUNG_RATINGS["random"], RUNG_RATINGS["greedy"]]
    assert r["anchor"] == {"alphabeta:4": 1500.0} and r["max_plies"] == LADDER_MAX_PLIES
    # the fitted Elo is above both rungs' ratings when it wins most games
    if r["elo"] is not None:
        assert r["elo"] > RUNG_RATINGS["greedy"]


def test_ladder_text(capsys: pytest.CaptureFixture[str]) -> None:
    code = ladder_main(["greedy", "--rungs", "random", "--games", "2"])
    out = capsys.readouterr().out
    assert code == 0 and "Elo of greedy" in out and "random" in out


def test_run_ladder_rates_a_player_object_like_its_spec() -> None:
    """An in-memory player and its spec get the same games and the same typed result."""
    by_spec = run_ladder("alphabeta:2", 4, ("random", "greedy"), seed=3, workers=1)
    by_object = run_ladder(AlphaBetaPlayer(2), 4, ("random", "greedy"), seed=3, workers=1)
    assert isinstance(by_spec, LadderResult) and by_spec.player == by_object.player == "alphabeta:2"
    assert [r.moves for r in by_spec.records] == [r.moves for r in by_object.records]
    assert by_spec.rungs == by_object.rungs and by_spec.games == 8
    assert (by_spec.elo, by_spec.elo_ci) == (by_object.elo, by_object.elo_ci)
    row = by_spec.rung("greedy")
    assert row.rating == RUNG_RATINGS["greedy"] and row.stats.games == 4
    lo, hi = row.stats.score_ci
    assert 0 <= lo <= row.stats.score <= hi <= 1
    assert by_spec.elo_ci[0] <= by_spec.elo <= by_spec.elo_ci[1]
    # a player named like a rung is kept apart from it
    named = run_ladder(RandomPlayer(name="random"), 2, ("random",), seed=0)
    assert named.player == "random (player)" and named.games == 2
    # an object that no spec names is played in this process, whatever the worker count
    learner = run_ladder(RandomPlayer(name="learner"), 8, ("random", "greedy"), seed=0, workers=2)
    assert learner.games == 16 and learner.mode == "sequential"


def test_ladder_ply_cap_is_the_arenas() -> None:
    # one cap for every ladder game: the one the rung ratings were measured with
    assert LADDER_MAX_PLIES == MAX_PLIES == 400


def test_ladder_constants() -> None:
    assert LADDER == (
        "random",
        "greedy",
        "alphabeta:2",
        "alphabeta:4",
        "alphabeta:6",
        "alphabeta:8",
    )
    assert DEEP_RUNGS == ("alphabeta:10", "alphabeta:12")  # rated on only when asked: --rungs ...,alphabeta:10
    assert set(RUNG_RATINGS) == set(LADDER + DEEP_RUNGS) and RUNG_RATINGS[ANCHOR] == 1500.0
    ratings = [RUNG_RATINGS[r] for r in LADDER + DEEP_RUNGS]
    assert ratings == sorted(ratings) and len(set(ratings)) == len(ratings)
    assert check_rungs(["alphabeta:8", "alphabeta:10"]) == ("alphabeta:8", "alphabeta:10")


def test_alphabeta_player_is_deterministic_given_its_seed() -> None:
    spec = GameSpec(0, "alphabeta:4", "alphabeta:4", acf_openings()[10], seed=99)
    a = play_game(spec, AlphaBetaPlayer(4), AlphaBetaPlayer(4))
    b = play_game(spec, AlphaBetaPlayer(4, seed=123), AlphaBetaPlayer(4, seed=5))
    assert a.moves == b.moves  # the arena reseeds before every move


def test_measurement_pairs_bridge_the_greedy_gap() -> None:
    players, pairs = measurement_pairs(LADDER)
    assert players == [*LADDER, *BRIDGES]
    assert pairs[:5] == [
        ("greedy", "random"),
        ("alphabeta:2", "greedy"),
        ("alphabeta:4", "alphabeta:2"),
        ("alphabeta:6", "alphabeta:4"),
        ("alphabeta:8", "alphabeta:6"),
    ]
    chain = ["greedy", *BRIDGES, "alphabeta:2"]
    assert pairs[5:] == [(chain[k + 1], chain[k]) for k in range(4)]
    assert measurement_pairs(["alphabeta:2", "alphabeta:4"]) == (
        ["alphabeta:2", "alphabeta:4"],
        [("alphabeta:4", "alphabeta:2")],
    )


def test_measure_command_small(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--measure", "--rungs", "alphabeta:2,alphabeta:4", "--games", "4", "--json"]
    code = ladder_main(argv)
    r = json.loads(capsys.readouterr().out)
    assert code == 0 and r["games"] == 4 and len(r["pairs"]) == 1
    row = r["pairs"][0]
    assert (row["player"], row["opponent"]) == ("alphabeta:4", "alphabeta:2")
    # two players, one pair: the fitted gap is the pair's Elo difference
    ratings = r["ratings"]
    assert ratings["alphabeta:4"] == {"rating": 1500.0, "se": 0.0}
    assert ratings["alphabeta:2"]["rating"] == pytest.approx(1500 - row["elo"], abs=0.2)


def test_bench_functions_small() -> None:
    r = bench_search(depth=2, games=2, seed=0)
    assert r["positions"] > 10 and r["median_ms"] > 0 and r["nodes_per_s"] > 0
    lad = bench_lockstep_ladder(games_per_rung=2, rungs=("random", "greedy"))
    assert lad["games"] == 4 and lad["mode"] == "lockstep" and lad["forward_passes"] > 0
