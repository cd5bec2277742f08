"""The ways to act, and the rollout that scores them.

Every policy sees a batch of episodes: the history so far (states, actions, timesteps), the goals
and the legal moves (out-neighbours of the current node), and returns one move per episode.

- `RandomWalk`: a uniformly random out-neighbour (the data's behaviour).
- `ShortestPath`: the BFS optimum (a neighbour one move closer to the goal).
- `BehaviourCloning`: the transformer without return tokens, trained to predict a_t; sampled, since
  the behaviour it clones is a random one.
- `DecisionTransformer`: conditioned on a target return R_0, decreased by each reward received
  (R_{t+1} = R_t - r_t, clipped at 0, the largest value the model has an embedding for); greedy.
- `ReturnPrediction`: the transformer trained to predict R_t of (history, s_t, a_t); it scores
  every legal move and takes the one with the highest predicted (expected) return-to-go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from kingme.dt.model import TrajectoryGPT
from kingme.envs.graph import GraphTask, shortest_next, uniform_legal


@dataclass
class History:
    """The episodes so far; arrays (B, t+1) hold steps 0..t, with a_t not chosen yet (0)."""

    states: np.ndarray
    actions: np.ndarray
    goals: np.ndarray  # (B,)

    @property
    def t(self) -> int:
        return self.states.shape[1] - 1


class Policy(Protocol):
    def reset(self, starts: np.ndarray, goals: np.ndarray) -> None: ...

    def act(self, hist: History, legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """legal: (B, N) bool. Returns (B,) int64 moves."""
        ...

    def observe(self, rewards: np.ndarray) -> None: ...


class RandomWalk:
    def __init__(self, task: GraphTask) -> None:
        self.task = task

    def reset(self, starts: np.ndarray, goals: np.ndarray) -> None:
        pass

    def act(self, hist: History, legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return uniform_legal(self.task.adjacency, hist.states[:, -1], rng)

    def observe(self, rewards: np.ndarray) -> None:
        pass


class ShortestPath(RandomWalk):
    def act(self, hist: History, legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return shortest_next(self.task, hist.states[:, -1], hist.goals)


def _tensors(hist: History) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    B, T = hist.states.shape
    states = torch.from_numpy(hist.states)
    actions = torch.from_numpy(hist.actions)
    timesteps = torch.arange(T).expand(B, T)
    goals = torch.from_numpy(hist.goals)[:, None].expand(B, T)  # (B,) -> (B, T)
    return states, actions, timesteps, goals


def _masked(logits: np.ndarray, legal: np.ndarray) -> np.ndarray:
    return np.where(legal, logits, -np.inf)


class BehaviourCloning:
    """Samples from the cloned action distribution (greedy=True takes its mode instead)."""

    def __init__(self, model: TrajectoryGPT, greedy: bool = False) -> None:
        self.model, self.greedy = model, greedy

    def reset(self, starts: np.ndarray, goals: np.ndarray) -> None:
        pass

    @torch.no_grad()
    def act(self, hist: History, legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        states, actions, timesteps, goals = _tensors(hist)
        logits, _ = self.model(states, actions, timesteps, goals=goals)  # (B, T, N)
        z = _masked(logits[:, -1].double().numpy(), legal)  # (B, N)
        if self.greedy:
            return z.argmax(axis=1)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return (p.cumsum(axis=1) > rng.random((p.shape[0], 1))).argmax(axis=1)

    def observe(self, rewards: np.ndarray) -> None:
        pass


class DecisionTransformer:
    """Greedy action given the return still wanted; `target_table[start, goal]` gives R_0."""

    def __init__(self, model: TrajectoryGPT, target_table: np.ndarray) -> None:
        self.model = model
        self.target_table = target_table  # (N, N): R_0 for (start, goal)
        self.returns = np.zeros((0, 0), dtype=np.int64)

    def reset(self, starts: np.ndarray, goals: np.ndarray) -> None:
        r0 = self.target_table[starts, goals].round().astype(np.int64)
        self.returns = r0[:, None]  # (B, 1): R_0, grows by a column per step

    @torch.no_grad()
    def act(self, hist: History, legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        states, actions, timesteps, goals = _tensors(hist)
        returns = torch.from_numpy(self.returns)
        logits, _ = self.model(states, actions, timesteps, returns=returns, goals=goals)
        return _masked(logits[:, -1].double().numpy(), legal).argmax(axis=1)

    def observe(self, rewards: np.ndarray) -> None:
        nxt = np.minimum(self.returns[:, -1] - rewards.round().astype(np.int64), 0)
        self.returns = np.concatenate([self.returns, nxt[:, None]], axis=1)


class ReturnPrediction:
    """argmax over legal a of E[R_t | history, s_t, a], from the predicted return distribution."""

    def __init__(self, model: TrajectoryGPT) -> None:
        self.model = model

    def reset(self, starts: np.ndarray, goals: np.ndarray) -> None:
        pass

    @torch.no_grad()
    def act(self, hist: History, legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        B, T = hist.states.shape
        rows, cands = np.nonzero(legal)  # one model row per (episode, legal move)
        actions = hist.actions[rows].copy()  # (M, T)
        actions[:, -1] = cands
        sub = History(hist.states[rows], actions, hist.goals[rows])
        states, acts, timesteps, goals = _tensors(sub)
        logits, _ = self.model(states, acts, timesteps, goals=goals)  # (M, T, n_returns)
        probs = torch.softmax(logits[:, -1].double(), dim=-1).numpy()  # (M, n_returns)
        value = -(probs * np.arange(probs.shape[1])).sum(axis=1)  # E[R] with R = -class
        q = np.full(legal.shape, -np.inf)
        q[rows, cands] = value
        return q.argmax(axis=1)

    def observe(self, rewards: np.ndarray) -> None:
        pass


@dataclass
class Episodes:
    """Outcome of each episode: moves taken, whether the goal was reached, the BFS distance."""

    starts: np.ndarray
    goals: np.ndarray
    lengths: np.ndarray
    success: np.ndarray
    shortest: np.ndarray


def rollout(
    task: GraphTask,
    policy: Policy,
    starts: np.ndarray,
    goals: np.ndarray,
    rng: np.random.Generator,
) -> Episodes:
    """Run one episode per (start, goal) row, all in one batch, up to `task.max_steps` moves."""
    B, T = starts.shape[0], task.max_steps
    node = starts.astype(np.int64).copy()
    states = np.zeros((B, T), dtype=np.int64)
    actions = np.zeros((B, T), dtype=np.int64)
    lengths = np.zeros(B, dtype=np.int64)
    done = np.zeros(B, dtype=bool)
    policy.reset(starts, goals)
    for t in range(T):
        states[:, t] = node
        hist = History(states[:, : t + 1], actions[:, : t + 1], goals)
        legal = task.adjacency[node]  # (B, N)
        a = policy.act(hist, legal, rng)
        actions[:, t] = a
        nxt, rewards, arrived = task.step(node, a, goals, rng)
        policy.observe(rewards)
        live = ~done
        lengths[live] += 1
        node = np.where(live, nxt, node)
        done |= live & arrived
        if done.all():
            break
    return Episodes(starts, goals, lengths, done, task.dist[starts, goals])


def summarize(ep: Episodes, max_steps: int) -> dict[str, float | list[int]]:
    """Success rate, mean (moves / BFS distance) over successes, and the path-length histogram.

    `hist[L]` counts successes in L moves (L = 1..max_steps); `hist[0]` counts failures.
    """
    ok = ep.success
    ratio = float((ep.lengths[ok] / ep.shortest[ok]).mean()) if ok.any() else float("nan")
    hist = np.bincount(np.where(ok, ep.lengths, 0), minlength=max_steps + 1)
    return {
        "success": float(ok.mean()),
        "length_ratio": ratio,
        "mean_length": float(ep.lengths[ok].mean()) if ok.any() else float("nan"),
        "episodes": int(ok.size),
        "hist": [int(x) for x in hist],
    }
