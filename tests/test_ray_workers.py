"""Self-play rollouts on Ray actors (kingme.selfplay.workers), on a local 2-CPU Ray instance.

- every sample of a batch comes from the learner's θ_old: each worker's share equals, array for
  array, what the serial loop's collect_rollout produces with θ_old on the same games;
- training with workers keeps the serial loop's invariant (the first minibatch's ratio is exactly 1);
- a worker that dies mid-batch is replaced and its share collected again (a whole batch, one θ_old);
  one that dies again stops the update with a clear error, the batch left untouched.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from kingme.common import seed_everything
from kingme.nets import make_network
from kingme.ppo.buffer import RolloutBuffer
from kingme.ppo.train import EpisodeStats, collect_rollout
from kingme.scale import init_ray
from kingme.selfplay.env import OpponentPool, SelfPlayEnv
from kingme.selfplay.train import SelfPlayConfig, train_checkers
from kingme.selfplay.workers import RolloutWorkers, worker_seed

pytestmark = pytest.mark.timeout(600)
N, T = 4, 6  # games and steps per rollout (two workers of two games)
ARRAYS = ("obs", "actions", "rewards", "terminated", "truncated", "masks", "final_obs", "next_obs")


@pytest.fixture(scope="module", autouse=True)
def ray_local() -> None:
    os.environ.pop("RAY_ADDRESS", None)  # this machine's own instance, shared with the other Ray tests
    ray = init_ray(num_cpus=2)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the factories below run on workers


def make_net() -> Any:
    return make_network("mlp", (32,), 8, (6, 32), 128)


def make_pool(agent: Any) -> OpponentPool:
    pool = OpponentPool(make_net=make_net, p_self=0.5, p_bots=0.5, bots=["random"])
    pool.learner = agent
    return pool


def make_env(num_envs: int, seed: int, pool: OpponentPool) -> SelfPlayEnv:
    return SelfPlayEnv(num_envs, pool, max_plies=3, seed=seed)  # short games: they end inside T steps


class DyingEnv(SelfPlayEnv):
    """Kills its worker's process at its third step, on the worker seeded `doomed`; once, unless
    `always` (a marker file remembers that it died)."""

    doomed: int = -1
    marker: str = ""
    always: bool = False

    def step(self, actions: np.ndarray) -> Any:
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == 3 and self.seed == self.doomed and (self.always or not os.path.exists(self.marker)):
            Path(self.marker).touch()
            os._exit(1)
        return super().step(actions)


def dying_factory(doomed: int, marker: str, always: bool) -> Any:
    def factory(num_envs: int, seed: int, pool: OpponentPool) -> SelfPlayEnv:
        env = DyingEnv(num_envs, pool, max_plies=3, seed=seed)
        env.seed, env.doomed, env.marker, env.always = seed, doomed, marker, always
        return env

    return factory


def serial_share(agent: Any, seed: int, num_envs: int) -> RolloutBuffer:
    """What the serial loop collects with θ_old = `agent` on a worker's games (same seeds)."""
    env = make_env(num_envs, seed, make_pool(agent))
    seed_everything(seed)
    obs, mask = env.reset(seed=seed)
    buf = RolloutBuffer(T, num_envs, env.obs_shape, env.num_actions, True)
    collect_rollout(agent, env, buf, obs, mask, EpisodeStats(num_envs, 1), torch.device("cpu"))
    return buf


def collect(workers: RolloutWorkers, agent: Any) -> tuple[RolloutBuffer, EpisodeStats]:
    buf = RolloutBuffer(T, N, workers.obs_shape, workers.num_actions, True)
    episodes = EpisodeStats(N, 20)
    workers.collect_rollout(agent, buf, episodes)
    return buf, episodes


def assert_share(buf: RolloutBuffer, k: int, expected: RolloutBuffer) -> None:
    n = expected.num_envs
    for name in ARRAYS:
        got = getattr(buf, name)
        got = got[k * n : (k + 1) * n] if name == "next_obs" else got[:, k * n : (k + 1) * n]
        np.testing.assert_array_equal(got, getattr(expected, name), err_msg=name)


def test_every_share_is_theta_olds_rollout() -> None:
    torch.manual_seed(0)
    agent = make_net().eval()
    workers = RolloutWorkers(make_env, make_pool(agent), N, T, 2, seed=7)
    try:
        workers.reset(seed=7)
        buf, episodes = collect(workers, agent)
        for k in range(2):
            assert_share(buf, k, serial_share(agent, workers._worker_seed(k), N // 2))
        assert episodes.episodes > 0 and workers.results  # games ended and were reported
        with torch.no_grad():  # θ changes: the next rollout is played by the new θ_old, not the old one
            for p in agent.parameters():
                p.add_(0.5 * torch.randn_like(p))
        buf2, _ = collect(workers, agent)
        assert not np.array_equal(buf2.actions, buf.actions)
    finally:
        workers.close()


def test_training_with_workers_keeps_the_first_ratio_at_one() -> None:
    cfg = SelfPlayConfig(
        num_envs=4, num_steps=8, total_steps=3 * 32, minutes=0, hidden_sizes=(32,), max_plies=30,
        rollout_workers=2, eval_ladder=("random",), eval_games=2, eval_every_minutes=0, tensorboard=False,
        num_minibatches=1,  # the first minibatch is the batch: with 4, a 1-ulp matmul difference shows, serially too
    )  # fmt: skip
    result = train_checkers(cfg, None, quiet=True)
    assert result.updates == 3 and result.global_step == 3 * 32
    assert [row["debug/first_ratio_dev"] for row in result.history] == [0.0, 0.0, 0.0]
    assert all(np.isfinite(row["losses/policy_loss"]) for row in result.history)


def test_a_dead_worker_is_replaced_once_then_the_update_stops(tmp_path: Path) -> None:
    torch.manual_seed(1)
    agent = make_net().eval()
    doomed = worker_seed(3, 1, 2)  # worker 1's games: its process dies at its third step
    workers = RolloutWorkers(dying_factory(doomed, str(tmp_path / "died"), False), make_pool(agent), N, T, 2, seed=3)
    try:
        workers.reset(seed=3)
        buf, _ = collect(workers, agent)
        assert (tmp_path / "died").exists() and workers.restarts == 1
        assert_share(buf, 0, serial_share(agent, worker_seed(3, 0, 2), N // 2))
        assert_share(buf, 1, serial_share(agent, worker_seed(3, 1, 2, restart=1), N // 2))  # fresh games, θ_old

        # Now worker 1 is gone before it hands in its share, and its replacement dies mid-batch.
        workers.ray.kill(workers.actors[1])
        workers.make_env = dying_factory(worker_seed(3, 1, 2, restart=2), str(tmp_path / "died"), True)
        buf.rewards[:] = 123.0
        with pytest.raises(RuntimeError, match="rollout worker 1 died twice in one batch"):
            workers.collect_rollout(agent, buf, EpisodeStats(N, 20))
        assert workers.restarts == 2
        assert (buf.rewards == 123.0).all()  # nothing of the failed batch was written
    finally:
        workers.close()
