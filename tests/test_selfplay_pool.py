"""The opponent pool: PFSP weights against hand values, the growth rules, attribution of results to
stable opponents, and persistence of the pool's state."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kingme.nets import make_network
from kingme.selfplay.env import OpponentPool, SelfPlayEnv, pfsp_weights


def _mlp() -> torch.nn.Module:
    return make_network("mlp", (16,), 8, (6, 32), 128)


def test_pfsp_weights_match_hand_values() -> None:
    x = np.array([0.0, 0.5, 0.9])
    # hard, p = 2: (1, 0.25, 0.01) / 1.26
    assert np.allclose(pfsp_weights(x, "hard", 2.0), np.array([1.0, 0.25, 0.01]) / 1.26)
    # even: (0, 0.25, 0.09) / 0.34
    assert np.allclose(pfsp_weights(x, "even"), np.array([0.0, 0.25, 0.09]) / 0.34)
    assert np.allclose(pfsp_weights(x, "uniform"), np.full(3, 1 / 3))
    # every opponent beaten outright: no weight anywhere, so uniform
    assert np.allclose(pfsp_weights(np.ones(4), "hard"), np.full(4, 0.25))


def test_hard_weighting_draws_the_opponents_the_learner_beats_least() -> None:
    pool = OpponentPool(make_net=_mlp, p_self=0.0, bots=["random", "alphabeta:1"], weighting="hard")
    pool.learner = _mlp()
    for _ in range(50):
        pool.record("random", 1.0)  # always beaten: weight 0
        pool.record("alphabeta:1", 0.0)  # even: weight 0.25
    rng = np.random.default_rng(0)
    names = [pool.sample(rng).name for _ in range(400)]
    assert names.count("alphabeta:1") == 400


def test_beat_rules_add_snapshots_and_bots_only_past_the_threshold() -> None:
    pool = OpponentPool(
        make_net=_mlp,
        bots=["random", "alphabeta:1", "alphabeta:2"],
        snapshot_rule="beat",
        bot_rule="beat",
        threshold=0.75,
        min_games=10,
    )
    agent = _mlp()
    assert pool.active_bots == 1
    assert pool.grow(agent, 1) == ["snapshot@1"]  # the first snapshot: the initial network
    for _ in range(9):
        pool.record("snapshot@1", 1.0)
        pool.record("random", 1.0)
    assert pool.grow(agent, 2) == []  # 9 games: not yet counted
    pool.record("snapshot@1", 0.0)  # 10 games, score 0.95
    pool.record("random", -1.0)  # 10 games, score 0.9
    assert pool.grow(agent, 3) == ["snapshot@3", "alphabeta:1"]
    assert pool.active_bots == 2 and pool.snapshot_updates == [1, 3]
    for _ in range(20):
        pool.record("alphabeta:1", 0.0)  # draws: 0.5 < 0.75
    assert pool.grow(agent, 4) == []


def test_results_are_attributed_to_the_opponent_that_played_even_when_the_pool_changes() -> None:
    pool = OpponentPool(make_net=_mlp, p_self=0.0, p_bots=1.0, bots=["alphabeta:2"], max_snapshots=1)
    pool.learner = _mlp()
    env = SelfPlayEnv(8, pool, seed=0)
    _, mask = env.reset()
    rng = np.random.default_rng(0)
    for t in range(120):
        if t % 10 == 0:
            pool.add_snapshot(pool.learner, t)  # the pool changes under the games in flight
        acts = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
        mask = env.step(acts).action_mask
    assert env.results and {name for name, _ in env.results} == {"alphabeta:2"}


def test_pool_state_survives_save_and_load(tmp_path: Path) -> None:
    pool = OpponentPool(make_net=_mlp, bots=["random", "alphabeta:1"], bot_rule="beat", window=4)
    pool.add_snapshot(_mlp(), 5)
    pool.active_bots = 2
    for r in (1.0, 0.0, -1.0, 1.0, 1.0):
        pool.record("random", r)
    pool.save(tmp_path)
    other = OpponentPool(make_net=_mlp, bots=["random", "alphabeta:1"], bot_rule="beat", window=4)
    other.load(tmp_path)
    assert other.active_bots == 2 and other.snapshot_updates == [5]
    assert other.score("random") == pytest.approx(pool.score("random")) == pytest.approx((0.5 + 0 + 1 + 1) / 4)


def test_wdl_critic_round_trips_through_a_model_file_and_gives_probabilities(tmp_path: Path) -> None:
    from kingme.players.policy import load_model, save_model

    net = make_network("mlp", (16,), 8, (6, 32), 128, "wdl")
    assert net.value_support == (-1.0, 0.0, 1.0)
    obs = torch.rand(5, 6, 32)
    p = net.value_distribution(obs)
    assert p.shape == (5, 3) and torch.allclose(p.sum(-1), torch.ones(5))
    assert torch.allclose(net.value(obs), p[:, 2] - p[:, 0], atol=1e-6)
    save_model(tmp_path / "m.safetensors", net, {"kind": "mlp", "hidden": [16], "value_head": "wdl"})
    back, desc = load_model(tmp_path / "m.safetensors")
    assert desc["value_head"] == "wdl" and torch.allclose(back.value(obs), net.value(obs))


def test_a_run_with_pfsp_beat_rules_and_a_wdl_critic_trains_and_grows_its_pool(tmp_path: Path) -> None:
    import json

    from kingme.cli import main

    argv = ["train", "checkers", "--runs-dir", str(tmp_path), "--run-name", "r", "--quiet", "--minutes", "0",
            "--total-steps", "2048", "--num-envs", "16", "--p-self", "0", "--num-steps", "32", "--hidden-sizes", "16",
            "--value-head", "wdl", "--opponent-weighting", "hard", "--snapshot-rule", "beat",
            "--bot-rule", "beat", "--bots", "random,alphabeta:1", "--pool-min-games", "1",
            "--pool-threshold", "0.01", "--eval-games", "2", "--eval-ladder", "random",
            "--eval-every-minutes", "0", "--no-tensorboard"]  # fmt: skip
    assert main(argv) == 0
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(np.isfinite(r["losses/value_loss"]) for r in rows)
    # a threshold of 0.01: each update's rule fires once there is a game against the newest member
    assert rows[-1]["pool/snapshots"] >= 2 and rows[-1]["pool/active_bots"] == 2
    pool = json.loads((tmp_path / "r" / "checkpoints" / "pool.json").read_text())
    assert pool["active_bots"] == 2 and "random" in pool["results"]


def test_a_draw_penalty_moves_the_wdl_critics_draw_point_so_a_draw_stays_a_draw() -> None:
    from kingme.ppo.core import two_hot

    net = make_network("mlp", (16,), 8, (6, 32), 128, "wdl", draw_value=-0.3)
    assert net.value_support == (-1.0, -0.3, 1.0)
    # a drawn game's return (-0.3) is all draw, a win all win
    hot = two_hot(torch.tensor([-0.3, 1.0]), net.value_support)
    assert torch.allclose(hot, torch.tensor([[0, 1.0, 0], [0, 0, 1.0]]))
    obs = torch.rand(4, 6, 32)
    p = net.value_distribution(obs)
    assert torch.allclose(net.value(obs), p[:, 2] - p[:, 0] - 0.3 * p[:, 1], atol=1e-6)
    with pytest.raises(ValueError, match="between -1 and 1"):
        make_network("mlp", (16,), 8, (6, 32), 128, "wdl", draw_value=-1.0)


# ---------------------------------------------------------------------------------------------
# The pool's bots go through the players registry
# ---------------------------------------------------------------------------------------------


def _play_digest(bots: list[str], steps: int) -> tuple[str, list[tuple[str, float]]]:
    """A digest of everything the learner saw in `steps` steps of 16 games against `bots` only (a
    uniformly random learner, no network opponent: the games are integer work and numpy's seeded
    generator, the same on every processor), and the games' results."""
    import hashlib

    pool = OpponentPool(make_net=_mlp, p_self=0.0, bots=bots, weighting="hard")
    pool.learner = _mlp()
    env = SelfPlayEnv(16, pool, max_plies=200, seed=7, draw_reward=-0.3)
    h = hashlib.sha256()
    obs, mask = env.reset()
    h.update(obs.tobytes())
    h.update(mask.tobytes())
    rng = np.random.default_rng(5)
    for _ in range(steps):
        step = env.step(np.array([rng.choice(np.flatnonzero(m)) for m in mask]))
        mask = step.action_mask
        for x in step:
            h.update(np.ascontiguousarray(x).tobytes())
    h.update(repr(env.results).encode())
    return h.hexdigest(), env.results


def test_the_default_pool_plays_the_same_games_as_before_the_registry() -> None:
    # The digest of these 300 steps as the pool played them before its bots went through the players
    # registry (commit 4837054, when the env tokenised "random" and "alphabeta:D" itself).
    digest, results = _play_digest(["random", "alphabeta:1", "alphabeta:2", "alphabeta:3"], 300)
    assert len(results) == 173 and {name for name, _ in results} == {
        "random",
        "alphabeta:1",
        "alphabeta:2",
        "alphabeta:3",
    }
    assert digest == "e1b4624d1f88c51603c4948468c7a6bc027c36c957774a3ba7cafd4cacc4cc30"


def test_any_registered_player_can_join_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    from kingme.checkers import Board, Move
    from kingme.players import registry

    class FirstMove:
        """Always the first legal move; remembers how often it was asked."""

        def __init__(self, seed: int) -> None:
            self.name, self.calls = "first", 0

        def choose(self, board: Board) -> Move:
            self.calls += 1
            return board.legal_moves()[0]

        def reseed(self, seed: int) -> None:
            pass

    made: list[FirstMove] = []

    def factory(args: str, seed: int) -> FirstMove:
        made.append(FirstMove(seed))
        return made[-1]

    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))  # the registration ends with the test
    registry.register_player_kind("first", factory)
    # a kind of the user's own and a built-in one that the env does not know by name
    _, results = _play_digest(["first", "greedy"], 150)
    names = {name for name, _ in results}
    assert names == {"first", "greedy"}
    assert len(made) == 1 and made[0].calls > 0  # built once, asked for every move it made


@pytest.mark.parametrize(("bot", "says"), [("nobody", "unknown player"), ("human", "reads a terminal")])
def test_a_bot_that_is_no_player_is_refused_in_one_line(bot: str, says: str) -> None:
    from kingme.common import UserError
    from kingme.selfplay.config import SelfPlayConfig

    with pytest.raises(UserError, match=says) as e:
        SelfPlayConfig(bots=("random", bot)).validate()
    assert "\n" not in str(e.value)
