"""Training data: uniformly random walks on the graph, their returns-to-go, and goal relabelling.

A set of walks is stored as padded (W, T) arrays, T = the step cap; step t of walk w is valid when
t < lengths[w]. Step t holds the state s_t (the node before the move), the goal g_t, the action a_t
(the node moved to), the reward r_t and the return-to-go R_t = r_t + r_{t+1} + ... (undiscounted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kingme.envs.graph import GraphTask, uniform_legal


def returns_to_go(rewards: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """R_t = sum_{t' >= t} r_t' over the valid steps of each row; 0 on the padding.

    rewards: (W, T) float, lengths: (W,) int. Returns (W, T) float32.
    """
    T = rewards.shape[1]
    valid = np.arange(T)[None, :] < lengths[:, None]  # (W, T)
    r = np.where(valid, rewards, 0.0)
    rtg = np.flip(np.cumsum(np.flip(r, axis=1), axis=1), axis=1)  # reverse cumulative sum
    return np.where(valid, rtg, 0.0).astype(np.float32)


@dataclass
class Walks:
    """A padded batch of walks; every array is (W, T) except `lengths` (W,)."""

    states: np.ndarray  # int64 node before the move
    actions: np.ndarray  # int64 node chosen
    next_states: np.ndarray  # int64 node after the move (= states when the move failed)
    rewards: np.ndarray  # float32, 0 on arrival at the goal, -1 otherwise
    goals: np.ndarray  # int64 goal of the walk (constant along a row)
    lengths: np.ndarray  # int64 number of valid steps

    @property
    def rtg(self) -> np.ndarray:
        return returns_to_go(self.rewards, self.lengths)

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def success(self) -> np.ndarray:
        """(W,) bool: the walk ended by arriving at its goal (its last reward is 0)."""
        last = np.clip(self.lengths - 1, 0, None)
        return (self.lengths > 0) & (self.rewards[np.arange(len(self)), last] == 0.0)

    def valid(self) -> np.ndarray:
        """(W, T) bool mask of the valid steps."""
        return np.arange(self.states.shape[1])[None, :] < self.lengths[:, None]

    def concat(self, other: Walks) -> Walks:
        return Walks(*(np.concatenate([a, b]) for a, b in zip(self.arrays(), other.arrays())))

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.states, self.actions, self.next_states, self.rewards, self.goals, self.lengths)


def random_walks(task: GraphTask, n_walks: int, rng: np.random.Generator) -> Walks:
    """`n_walks` uniformly random walks of at most `task.max_steps` moves.

    Each walk starts at a uniformly random node other than its goal (the task's fixed goal, or a
    uniformly random goal per walk in the goal-conditioned variant), moves to a uniformly random
    out-neighbour each step, and stops on arriving at the goal or at the cap.
    """
    N, T = task.n_nodes, task.max_steps
    if task.goal is None:
        goals = rng.integers(0, N, size=n_walks)
        starts = (goals + rng.integers(1, N, size=n_walks)) % N  # uniform over nodes != goal
    else:
        goals = np.full(n_walks, task.goal, dtype=np.int64)
        others = np.array([v for v in range(N) if v != task.goal])
        starts = rng.choice(others, size=n_walks)
    states = np.zeros((n_walks, T), dtype=np.int64)
    actions = np.zeros((n_walks, T), dtype=np.int64)
    next_states = np.zeros((n_walks, T), dtype=np.int64)
    rewards = np.zeros((n_walks, T), dtype=np.float32)
    lengths = np.zeros(n_walks, dtype=np.int64)
    node = starts.astype(np.int64)
    done = np.zeros(n_walks, dtype=bool)
    for t in range(T):
        a = uniform_legal(task.adjacency, node, rng)
        nxt, r, arrived = task.step(node, a, goals, rng)
        live = ~done
        states[live, t], actions[live, t], rewards[live, t] = node[live], a[live], r[live]
        next_states[live, t] = nxt[live]
        lengths[live] += 1
        node = np.where(live, nxt, node)
        done |= live & arrived
    goals_2d = np.repeat(goals.astype(np.int64)[:, None], T, axis=1)  # (W,) -> (W, T)
    return Walks(states, actions, next_states, rewards, goals_2d, lengths)


def relabel_goals(walks: Walks, rng: np.random.Generator) -> Walks:
    """Hindsight relabelling: each walk gets as goal a node it visited later, and is cut there.

    For each walk, a node is drawn uniformly among the nodes it arrived at (s_1, ..., s_L, the
    moves' outcomes, counted with repetition) other than its start; the walk is cut at its first
    arrival at that node and its rewards recomputed (0 for that arrival, -1 before). Walks that
    never left their start are dropped. Every relabelled walk is therefore a success.
    """
    W, T = walks.states.shape
    rows = []
    for w in range(W):
        L = int(walks.lengths[w])
        path = walks.next_states[w, :L]
        start = walks.states[w, 0]
        candidates = np.flatnonzero(path != start)
        if candidates.size == 0:
            continue
        new_goal = path[rng.choice(candidates)]
        cut = int(np.flatnonzero(path == new_goal)[0]) + 1  # moves up to the first arrival
        rows.append((w, int(new_goal), cut))
    n = len(rows)
    states = np.zeros((n, T), dtype=np.int64)
    actions = np.zeros((n, T), dtype=np.int64)
    next_states = np.zeros((n, T), dtype=np.int64)
    rewards = np.zeros((n, T), dtype=np.float32)
    goals = np.zeros((n, T), dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    for i, (w, g, cut) in enumerate(rows):
        states[i, :cut] = walks.states[w, :cut]
        actions[i, :cut] = walks.actions[w, :cut]
        next_states[i, :cut] = walks.next_states[w, :cut]
        rewards[i, : cut - 1] = -1.0
        rewards[i, cut - 1] = 0.0
        goals[i, :] = g
        lengths[i] = cut
    return Walks(states, actions, next_states, rewards, goals, lengths)


def best_seen_returns(walks: Walks, n_nodes: int) -> np.ndarray:
    """(N, N): the best return-to-go seen at (node, goal) on a walk that arrived; -inf if none.

    Every visit counts, at any step of a successful walk: its suffix is itself a path from that node
    to the goal. Walks cut by the step cap are left out: their return-to-go at step t is just
    -(cap - t), which says how little time was left, not how far the goal is.
    """
    best = np.full((n_nodes, n_nodes), -np.inf)
    valid = walks.valid() & walks.success()[:, None]
    np.maximum.at(best, (walks.states[valid], walks.goals[valid]), walks.rtg[valid])
    return best


@dataclass
class Batch:
    """Torch tensors of walks, each (B, T); `returns` holds R_t, `mask` the valid steps."""

    states: torch.Tensor
    actions: torch.Tensor
    returns: torch.Tensor
    goals: torch.Tensor
    timesteps: torch.Tensor
    mask: torch.Tensor

    def __getitem__(self, idx: torch.Tensor) -> Batch:
        return Batch(*(t[idx] for t in self.tensors()))

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.states, self.actions, self.returns, self.goals, self.timesteps, self.mask)


def to_batch(walks: Walks) -> Batch:
    W, T = walks.states.shape
    return Batch(
        states=torch.from_numpy(walks.states),
        actions=torch.from_numpy(walks.actions),
        returns=torch.from_numpy(walks.rtg.round().astype(np.int64)),
        goals=torch.from_numpy(walks.goals),
        timesteps=torch.arange(T).expand(W, T).clone(),
        mask=torch.from_numpy(walks.valid()),
    )
