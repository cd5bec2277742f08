"""Returns-to-go, random walks, hindsight relabelling and the best-seen-return table."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kingme.dt.data import (
    Walks,
    best_seen_returns,
    random_walks,
    relabel_goals,
    returns_to_go,
    to_batch,
)
from kingme.envs.graph import (
    UNREACHABLE,
    make_graph,
    make_task,
    shortest_next,
)

# ---------------------------------------------------------------- returns-to-go, by hand


def test_returns_to_go_success_in_three_moves() -> None:
    rewards = np.array([[-1.0, -1.0, 0.0, 0.0, 0.0]])  # arrives on the third move; the rest is padding
    rtg = returns_to_go(rewards, np.array([3]))
    np.testing.assert_array_equal(rtg, [[-2.0, -1.0, 0.0, 0.0, 0.0]])


def test_returns_to_go_truncated_walk_counts_down_to_minus_one() -> None:
    rewards = -np.ones((1, 4))  # never arrives, cut by a cap of 4
    rtg = returns_to_go(rewards, np.array([4]))
    np.testing.assert_array_equal(rtg, [[-4.0, -3.0, -2.0, -1.0]])


def test_returns_to_go_ignores_padding_and_handles_rows_independently() -> None:
    rewards = np.array([[-1.0, 0.0, -7.0], [0.0, -5.0, -5.0], [-1.0, -1.0, -1.0]])
    rtg = returns_to_go(rewards, np.array([2, 1, 3]))
    np.testing.assert_array_equal(rtg, [[-1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-3.0, -2.0, -1.0]])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from([-1.0, 0.0]), min_size=6, max_size=6), min_size=1, max_size=5),
    st.data(),
)
def test_returns_to_go_satisfies_the_backward_recursion(rows: list[list[float]], data) -> None:
    rewards = np.array(rows)
    lengths = np.array([data.draw(st.integers(0, 6)) for _ in rows])
    rtg = returns_to_go(rewards, lengths)
    for w, L in enumerate(lengths):
        for t in range(L):
            nxt = rtg[w, t + 1] if t + 1 < L else 0.0
            assert rtg[w, t] == rewards[w, t] + nxt  # R_t = r_t + R_{t+1}
        assert np.all(rtg[w, L:] == 0.0)


# ---------------------------------------------------------------- the graph task


def test_dead_ends_get_a_self_loop_and_nothing_else_does() -> None:
    for seed in range(5):
        g = make_graph(20, 0.1, seed)
        bare = nx.gnp_random_graph(20, 0.1, seed=seed, directed=True)
        for v in range(20):
            assert g.out_degree(v) >= 1
            assert g.has_edge(v, v) == (bare.out_degree(v) == 0)


def test_distances_match_networkx_and_eval_pairs_are_reachable_within_the_cap() -> None:
    task = make_task(20, 0.1, 3)
    for s in range(20):
        for g in range(20):
            if nx.has_path(task.graph, s, g):
                assert task.dist[s, g] == nx.shortest_path_length(task.graph, s, g)
            else:
                assert task.dist[s, g] == UNREACHABLE
    starts, goals = task.eval_pairs()
    assert starts.size > 0 and np.all(goals == task.goal)
    d = task.dist[starts, goals]
    assert np.all((d >= 1) & (d <= task.max_steps))
    # every start that can reach the goal within the cap is evaluated
    expected = {s for s in range(20) if 1 <= task.dist[s, task.goal] <= task.max_steps}
    assert set(starts.tolist()) == expected


def test_step_rewards_non_edges_and_failures() -> None:
    task = make_task(20, 0.1, 1)
    rng = np.random.default_rng(0)
    u, v = next(iter(e for e in task.graph.edges if e[0] != e[1]))
    non_edge = next(w for w in range(20) if not task.adjacency[u, w])
    other = next(w for w in range(20) if w not in (u, v))  # a goal that none of these moves reach
    nodes = np.array([u, u, u])
    goals = np.array([v, other, other])
    nxt, r, arrived = task.step(nodes, np.array([v, v, non_edge]), goals, rng)
    assert nxt.tolist() == [v, v, u]  # a non-edge leaves the agent in place
    assert r.tolist() == [0.0, -1.0, -1.0] and arrived.tolist() == [True, False, False]
    task.fail_prob = 0.5
    moved = task.step(np.full(4000, u), np.full(4000, v), np.full(4000, v), rng)[0] == v
    assert 0.45 < moved.mean() < 0.55


def test_shortest_next_moves_one_step_closer() -> None:
    task = make_task(20, 0.1, 2)
    starts, goals = task.eval_pairs()
    nxt = shortest_next(task, starts, goals)
    assert np.all(task.adjacency[starts, nxt])
    assert np.all(task.dist[nxt, goals] == task.dist[starts, goals] - 1)


# ---------------------------------------------------------------- random walks


@pytest.mark.parametrize("goal_conditioned", [False, True])
def test_random_walks_follow_edges_and_stop_at_the_goal(goal_conditioned: bool) -> None:
    task = make_task(20, 0.1, 0, goal_conditioned=goal_conditioned)
    w = random_walks(task, 300, np.random.default_rng(0))
    valid = w.valid()
    assert np.all((w.lengths >= 1) & (w.lengths <= task.max_steps))
    assert np.all(task.adjacency[w.states[valid], w.actions[valid]])
    assert np.all(w.next_states[valid] == w.actions[valid])  # deterministic moves
    assert np.all(w.states[:, 1:][valid[:, 1:]] == w.next_states[:, :-1][valid[:, 1:]])
    assert np.all(w.states[:, 0] != w.goals[:, 0])
    arrived = w.next_states == w.goals
    assert np.all((w.rewards == 0.0)[valid] == arrived[valid])
    # a walk ends at its first arrival, or at the cap
    assert np.all(arrived[valid].sum() == w.success().sum())
    assert np.all(w.success() | (w.lengths == task.max_steps))
    if not goal_conditioned:
        assert np.all(w.goals == task.goal)
    else:
        assert len(np.unique(w.goals[:, 0])) > 10


def test_relabelled_walks_are_prefixes_that_end_at_a_later_node() -> None:
    task = make_task(20, 0.1, 0, goal_conditioned=True)
    w = random_walks(task, 300, np.random.default_rng(1))
    r = relabel_goals(w, np.random.default_rng(2))
    assert 0 < len(r) <= len(w)
    assert np.all(r.success())
    np.testing.assert_array_equal(r.rtg[:, 0], -(r.lengths - 1))
    for i in range(len(r)):
        L = r.lengths[i]
        g = r.goals[i, 0]
        assert r.next_states[i, L - 1] == g and g not in r.next_states[i, : L - 1]
        assert g != r.states[i, 0]
        # the relabelled walk is a prefix of some original walk
        match = (w.states[:, :L] == r.states[i, :L]).all(1) & (w.actions[:, :L] == r.actions[i, :L]).all(1)
        assert match.any()


def test_best_seen_returns_uses_successful_suffixes_only() -> None:
    T = 4
    z = np.zeros((2, T), dtype=np.int64)
    walks = Walks(
        states=np.array([[1, 2, 3, 0], [1, 4, 1, 4]]),
        actions=np.array([[2, 3, 5, 0], [4, 1, 4, 1]]),
        next_states=np.array([[2, 3, 5, 0], [4, 1, 4, 1]]),
        rewards=np.array([[-1.0, -1.0, 0.0, 0.0], [-1.0, -1.0, -1.0, -1.0]], dtype=np.float32),
        goals=z + 5,
        lengths=np.array([3, 4]),
    )
    best = best_seen_returns(walks, 6)
    assert best[1, 5] == -2 and best[2, 5] == -1 and best[3, 5] == 0
    # node 4 was only seen on the truncated walk (return-to-go -1 at its last step): no target
    assert best[4, 5] == -np.inf


def test_to_batch_shapes_and_returns() -> None:
    task = make_task(20, 0.1, 0)
    w = random_walks(task, 50, np.random.default_rng(0))
    b = to_batch(w)
    assert b.states.shape == b.returns.shape == b.timesteps.shape == (50, task.max_steps)
    assert b.returns.max() <= 0 and b.returns.min() >= -task.max_steps
    assert b.mask.sum().item() == w.lengths.sum()
