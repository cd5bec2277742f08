"""Graph navigation: the illustrative task of the Decision Transformer paper (Chen et al. 2021).

A fixed random directed graph; the agent stands on a node and an action names the node to move to.

Rules (the choices the paper leaves open are marked *):
- The graph is `networkx.gnp_random_graph(n_nodes, edge_prob, directed=True)`: no self-loops.
- * A node with no way out (out-degree 0) gets a self-loop, so its only move is to stay where it
  is; a walk that falls into such a dead end stays there until the step cap.
- * Actions are masked: every way to act (and the random walks of the data) picks among the
  out-neighbours of the current node (`adjacency[node]`). The environment still follows the paper's
  rule for a non-edge (the agent stays in place, reward -1), so `step` is total, but no agent here
  ever uses it.
- Reward: 0 for the move that arrives at the goal, -1 for every other move; the episode ends at the
  goal or after `max_steps` moves. A success in L moves has return -(L-1); a failure has return
  -max_steps, so the two never share a return.
- * The fixed goal (the default task) is the node with the most ancestors (ties broken by the graph
  seed): the node that the most starts can reach, so that the evaluation set is as large as the
  graph allows. Starts are evaluated only where the goal is reachable within `max_steps` moves.
- Goal-conditioned variant: each episode draws its own goal; the state is (node, goal).
- Stochastic variant: each move fails with probability `fail_prob`, leaving the agent in place
  (reward -1, as for any other move that does not arrive).

Shortest paths come from networkx BFS (`all_pairs_shortest_path_length`).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

Node = int
UNREACHABLE = -1  # distance entry for a goal that cannot be reached


def make_graph(n_nodes: int, edge_prob: float, seed: int) -> nx.DiGraph:
    """A G(n, p) random directed graph; dead ends (out-degree 0) get a self-loop."""
    graph = nx.gnp_random_graph(n_nodes, edge_prob, seed=seed, directed=True)
    for node in range(n_nodes):
        if graph.out_degree(node) == 0:
            graph.add_edge(node, node)
    return graph


def distance_matrix(graph: nx.DiGraph) -> np.ndarray:
    """(N, N) int64: dist[s, g] = BFS moves from s to g, 0 on the diagonal, UNREACHABLE if none."""
    n = graph.number_of_nodes()
    dist = np.full((n, n), UNREACHABLE, dtype=np.int64)
    for source, lengths in nx.all_pairs_shortest_path_length(graph):
        for target, d in lengths.items():
            dist[source, target] = d
    return dist


def pick_goal(dist: np.ndarray, rng: np.random.Generator) -> Node:
    """The node reachable from the most other nodes; ties broken uniformly at random."""
    ancestors = (dist >= 1).sum(axis=0)  # (N,) how many other nodes can reach each node
    best = np.flatnonzero(ancestors == ancestors.max())
    return int(rng.choice(best))


@dataclass
class GraphTask:
    """A fixed graph with its BFS distances, the goal (None: a goal per episode) and the rules."""

    graph: nx.DiGraph
    adjacency: np.ndarray  # (N, N) bool, adjacency[u, v]: the move u -> v is legal
    dist: np.ndarray  # (N, N) int64 BFS distances, UNREACHABLE where there is no path
    goal: Node | None  # the fixed goal, or None in the goal-conditioned variant
    max_steps: int = 10
    fail_prob: float = 0.0

    @property
    def n_nodes(self) -> int:
        return int(self.adjacency.shape[0])

    def eval_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The (start, goal) pairs evaluated: start != goal, goal reachable within `max_steps`.

        With a fixed goal this is every start that can reach it; in the goal-conditioned variant,
        every such ordered pair of nodes.
        """
        ok = (self.dist >= 1) & (self.dist <= self.max_steps)  # (N, N) over (start, goal)
        if self.goal is not None:
            mask = np.zeros_like(ok)
            mask[:, self.goal] = True
            ok &= mask
        starts, goals = np.nonzero(ok)
        return starts.astype(np.int64), goals.astype(np.int64)

    def step(
        self, nodes: np.ndarray, actions: np.ndarray, goals: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Move a batch of agents. Returns (next_nodes, rewards, arrived), each of shape (B,).

        A non-edge or a failed move (probability `fail_prob`) leaves the agent where it is.
        """
        legal = self.adjacency[nodes, actions]
        if self.fail_prob > 0.0:
            legal &= rng.random(nodes.shape[0]) >= self.fail_prob
        next_nodes = np.where(legal, actions, nodes)
        arrived = next_nodes == goals
        rewards = np.where(arrived, 0.0, -1.0).astype(np.float32)
        return next_nodes, rewards, arrived


def make_task(
    n_nodes: int,
    edge_prob: float,
    seed: int,
    *,
    goal_conditioned: bool = False,
    max_steps: int = 10,
    fail_prob: float = 0.0,
) -> GraphTask:
    """Build the graph of `seed`, its distances and (unless goal-conditioned) its goal."""
    graph = make_graph(n_nodes, edge_prob, seed)
    adjacency = nx.to_numpy_array(graph, nodelist=range(n_nodes), dtype=np.float64) > 0
    dist = distance_matrix(graph)
    goal = None if goal_conditioned else pick_goal(dist, np.random.default_rng([seed, 1]))
    return GraphTask(graph, adjacency, dist, goal, max_steps, fail_prob)


def uniform_legal(adjacency: np.ndarray, nodes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random out-neighbour per node: the random walk's move. Shape (B,)."""
    legal = adjacency[nodes]  # (B, N)
    scores = np.where(legal, rng.random(legal.shape), -1.0)
    return scores.argmax(axis=1).astype(np.int64)


def shortest_next(task: GraphTask, nodes: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """The BFS optimum's move: an out-neighbour one move closer to the goal. Shape (B,)."""
    d = task.dist[:, goals].T.astype(np.float64)  # (B, N) distance from every node to each goal
    d[d < 0] = np.inf
    d = np.where(task.adjacency[nodes], d, np.inf)  # only legal moves
    return d.argmin(axis=1).astype(np.int64)
