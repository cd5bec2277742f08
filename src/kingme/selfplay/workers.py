"""Self-play rollouts on Ray actors: `kingme train checkers --rollout-workers N`.

PPO needs every sample of a batch to come from one frozen θ_old. Here the N workers are Ray actors
(kingme.scale), each holding a `SelfPlayEnv` of num_envs / N games, its own copy of the network and
of the opponent pool. Each update:

    1. BROADCAST  the learner puts θ_old (its weights) and the pool (snapshots, bots in play, recent
                  scores) into Ray's object store once; every worker loads that one object.
    2. COLLECT    each worker runs T steps of its games with `kingme.ppo.train.collect_rollout`,
                  the serial loop's own code, and returns its arrays, the episodes and games that
                  ended, and a fingerprint of the weights it held after the last step.
    3. ASSEMBLE   the learner checks every fingerprint against θ_old (a mismatch is an error),
                  writes worker k's games into columns k·n .. (k+1)·n of the (T, N) batch, and PPO
                  goes on as usual: log π_θold and V_φold are computed by the learner, so the first
                  minibatch's ratio is exactly 1 as in the serial loop.

A worker that dies mid-batch (its process killed, its machine gone) is replaced once: a new actor
starts fresh games with the same θ_old and collects its share again, so the batch is whole and from
one θ_old. If the replacement dies too, the update stops with an error; the batch is never written
partly, never trained on with fewer columns, never mixed from two parameter sets.

`RolloutWorkers` is the learner's side: a VecEnv for `kingme.ppo.train.train` that collects whole
rollouts itself (the `RolloutCollector` hook) and has the `pool` and `results` the self-play
callback reads, like `SelfPlayEnv`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from kingme.common import seed_everything
from kingme.envs.base import VecStep
from kingme.nets import ActorCritic
from kingme.ppo.buffer import RolloutBuffer
from kingme.ppo.train import EpisodeStats, collect_rollout
from kingme.selfplay.env import OpponentPool, SelfPlayEnv

EnvFactory = Callable[[int, int, OpponentPool], SelfPlayEnv]  # (num_envs, seed, pool) -> env
SEED_STRIDE = 100_003  # worker k's games are seeded seed + k·SEED_STRIDE (+ a further stride per restart)


def worker_seed(seed: int, k: int, num_workers: int, restart: int = 0) -> int:
    """The seed of worker k's games (after `restart` replacements of dead workers)."""
    return seed + (k + restart * num_workers) * SEED_STRIDE


def fingerprint(state: dict[str, torch.Tensor]) -> str:
    """A hash of a network's exact parameters (names, shapes and bytes)."""
    h = hashlib.sha1()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


class RolloutWorker:
    """One actor's side: a SelfPlayEnv of `num_envs` games, θ_old and a copy of the pool."""

    def __init__(self, make_env: EnvFactory, pool: OpponentPool, num_envs: int, num_steps: int, seed: int) -> None:
        torch.set_num_threads(1)  # one actor, one CPU
        self.agent = pool.make_net().eval()
        pool.learner = self.agent
        self.env = make_env(num_envs, seed, pool)
        self.num_steps = num_steps
        self.episodes = EpisodeStats(num_envs, window=1)
        self.buf: RolloutBuffer | None = None
        self.obs: np.ndarray | None = None
        self.mask: np.ndarray | None = None

    def _load(self, broadcast: dict[str, Any]) -> None:
        """θ_old and the learner's pool; the live learner of the pool ("self") is this θ_old."""
        self.agent.load_state_dict(broadcast["weights"])
        pool: OpponentPool = broadcast["pool"]
        pool.learner = self.agent
        self.env.pool = pool

    def spec(self) -> tuple[int, tuple[int, ...], int]:
        return self.env.num_envs, tuple(self.env.obs_shape), self.env.num_actions

    def reset(self, broadcast: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        self._load(broadcast)
        seed_everything(seed)  # the global torch RNG draws the sampling noise of collect_rollout
        self.obs, self.mask = self.env.reset(seed=seed)
        env = self.env
        self.buf = RolloutBuffer(self.num_steps, env.num_envs, env.obs_shape, env.num_actions, self.mask is not None)
        self.episodes = EpisodeStats(env.num_envs, window=1)
        return self.obs, self.mask

    def collect(self, broadcast: dict[str, Any]) -> dict[str, Any]:
        """T steps of every game with θ_old; the arrays, episodes, game results and fingerprint."""
        assert self.buf is not None and self.obs is not None, "reset() first"
        self._load(broadcast)
        self.obs, self.mask = collect_rollout(
            self.agent, self.env, self.buf, self.obs, self.mask, self.episodes, torch.device("cpu")
        )
        b, ep = self.buf, self.episodes
        part = {
            "fingerprint": fingerprint(self.agent.state_dict()),  # after the last step: θ_old throughout
            "obs": b.obs,
            "actions": b.actions,
            "rewards": b.rewards,
            "terminated": b.terminated,
            "truncated": b.truncated,
            "masks": b.masks,
            "final_obs": b.final_obs,
            "next_obs": b.next_obs,
            "episodes": (list(ep.batch_returns), list(ep.batch_lengths)),
            "results": list(self.env.results),
        }
        ep.batch_returns.clear()
        ep.batch_lengths.clear()
        self.env.results = []
        return part


class RolloutWorkers:
    """The learner's side: N RolloutWorker actors that together play `num_envs` games."""

    def __init__(
        self,
        make_env: EnvFactory,
        pool: OpponentPool,
        num_envs: int,
        num_steps: int,
        num_workers: int,
        seed: int,
    ) -> None:
        from kingme.scale import init_ray

        if num_workers < 1 or num_envs % num_workers:
            raise ValueError(f"{num_workers} workers cannot share {num_envs} games evenly")
        self.ray = init_ray()
        self.pool = pool  # the learner's pool: the callback records results and grows it
        self.results: list[tuple[str, float]] = []  # games finished in the last rollout, as SelfPlayEnv's
        self.num_envs, self.num_steps, self.num_workers = num_envs, num_steps, num_workers
        self.per_worker = num_envs // num_workers
        self.make_env, self._seed = make_env, seed
        self.restarts = 0
        self._actor = self.ray.remote(num_cpus=1, max_restarts=0)(RolloutWorker)
        self.actors = [self._start(k) for k in range(num_workers)]
        n, self.obs_shape, self.num_actions = self.ray.get(self.actors[0].spec.remote())
        assert n == self.per_worker

    def _start(self, k: int) -> Any:
        seed = self._worker_seed(k, self.restarts)
        return self._actor.remote(self.make_env, self._shipped_pool(), self.per_worker, self.num_steps, seed)

    def _shipped_pool(self) -> OpponentPool:
        """The pool as the workers get it: everything but the learner (θ_old travels beside it)."""
        return dataclasses.replace(self.pool, learner=None)

    def _broadcast(self, agent: ActorCritic) -> tuple[Any, str]:
        weights = {k: v.detach().cpu().clone() for k, v in agent.state_dict().items()}
        ref = self.ray.put({"weights": weights, "pool": self._shipped_pool()})  # once, for every worker
        return ref, fingerprint(weights)

    def _worker_seed(self, k: int, restart: int = 0) -> int:
        return worker_seed(self._seed, k, self.num_workers, restart)

    # --- VecEnv -----------------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        if self.pool.learner is None:
            raise RuntimeError("the pool has no learner yet: reset after the agent is built")
        if seed is not None:
            self._seed = seed
        ref, _ = self._broadcast(self.pool.learner)
        parts = self.ray.get([a.reset.remote(ref, self._worker_seed(k)) for k, a in enumerate(self.actors)])
        obs = np.concatenate([p[0] for p in parts])  # (N, *obs_shape), worker k's games at k·n .. (k+1)·n
        masks = [p[1] for p in parts]
        return obs, None if masks[0] is None else np.concatenate(masks)

    def step(self, actions: np.ndarray) -> VecStep:
        raise NotImplementedError("RolloutWorkers collects whole rollouts (collect_rollout), not single steps")

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []

    # --- the RolloutCollector hook of kingme.ppo.train ----------------------------------------------

    def collect_rollout(self, agent: ActorCritic, buf: RolloutBuffer, episodes: EpisodeStats) -> None:
        """Fill `buf` with T steps of all N games, every one played by θ_old = `agent` now."""
        ref, expected = self._broadcast(agent)
        refs = [a.collect.remote(ref) for a in self.actors]
        parts = []
        for k, r in enumerate(refs):
            try:
                parts.append(self.ray.get(r))
            except self.ray.exceptions.RayActorError:
                parts.append(self._replace(k, ref))
        for k, part in enumerate(parts):  # all parts are in: check them before writing any
            if part["fingerprint"] != expected:
                raise RuntimeError(f"rollout worker {k} collected with parameters other than θ_old")
        n = self.per_worker
        for k, part in enumerate(parts):
            cols = slice(k * n, (k + 1) * n)
            for name in ("obs", "actions", "rewards", "terminated", "truncated", "final_obs"):
                getattr(buf, name)[:, cols] = part[name]
            if buf.masks is not None:
                buf.masks[:, cols] = part["masks"]
            buf.next_obs[cols] = part["next_obs"]
            for ret, length in zip(*part["episodes"]):
                episodes.add(ret, length)
            self.results += part["results"]

    def _replace(self, k: int, ref: Any) -> dict[str, Any]:
        """Worker k died: start a new actor on fresh games, with the same θ_old, and collect its
        share again; a second death ends the update with an error."""
        self.restarts += 1
        actor = self._start(k)
        self.actors[k] = actor
        try:
            self.ray.get(actor.reset.remote(ref, self._worker_seed(k, self.restarts)))
            return self.ray.get(actor.collect.remote(ref))  # type: ignore[no-any-return]
        except self.ray.exceptions.RayActorError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RuntimeError(
                f"rollout worker {k} died twice in one batch ({first}); no update was made from a partial batch"
            ) from None
