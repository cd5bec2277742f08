"""`policy:NAME_OR_PATH`: a trained checkers network as a player, batched across boards.

A complete move may take several network actions (one per single jump). The player scores every
legal complete move by the product of the policy's probabilities of its actions, each taken in
the position the previous jumps leave, and evaluates every such position of every board in ONE
forward pass. It then plays the most probable move, or samples at a temperature.

Model files. `save_model` writes one safetensors file: the weights, plus in its metadata the
format tag `kingme-checkers-policy` and the network's description (kind, sizes). `load_model`
reads that, or any self-play run folder / checkpoint file (the network of its latest checkpoint).
Nothing is unpickled.

Importing this module registers the `policy` player kind (`kingme.players.register_player_kind`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

from kingme.checkers import Board, Move
from kingme.checkers.board import bit
from kingme.checkers.core import square_to_bit
from kingme.common import UserError, atomic_write_bytes
from kingme.envs.checkers_vec import NUM_ACTIONS, OBS_SHAPE, _observe, move_to_actions
from kingme.nets import ActorCritic
from kingme.players import policy as policy_kind
from kingme.players import register_player_kind
from kingme.players.policy import USAGE, parse_policy_spec, resolve_model_path
from kingme.ppo.core import mask_logits
from kingme.selfplay.networks import make_network

FORMAT = "kingme-checkers-policy"


# ------------------------------------------------------------------------------------------------
# Model files


def save_model(path: str | Path, agent: ActorCritic, net: dict[str, Any], info: dict[str, Any] | None = None) -> None:
    """Write the network and its description to one safetensors file (atomically)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in agent.state_dict().items()}
    meta = {"format": FORMAT, "net": json.dumps(net), "info": json.dumps(info or {})}
    atomic_write_bytes(path, safetensors_save(tensors, metadata=meta))


def net_from_description(net: dict[str, Any]) -> ActorCritic:
    return make_network(
        net["kind"], tuple(net.get("hidden", (256, 256))), int(net.get("channels", 64)), OBS_SHAPE, NUM_ACTIONS
    )


def load_model(path: str | Path) -> tuple[ActorCritic, dict[str, Any]]:
    """The network stored at `path` (a model file, a checkpoint file, or a run folder) and its
    description; UserError if the file is not such a model."""
    p = Path(path)
    if p.is_dir():
        from kingme.ppo.checkpoint import resolve_checkpoint

        p = resolve_checkpoint(p, "latest")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no items()
    except Exception as e:  # noqa: BLE001 - safetensors raises several types for bad files
        raise UserError(f"{path}: not a readable model file ({str(e).splitlines()[0] if str(e) else e})") from None
    if meta.get("format") == FORMAT:
        net = json.loads(meta["net"])
        weights = tensors
    elif meta.get("format") == "kingme-ppo":
        cfg = json.loads(meta["meta"])["config"]
        if "net" not in cfg:
            raise UserError(f"{path}: a PPO checkpoint, but not of a checkers self-play run")
        net = {
            "kind": cfg["net"],
            "hidden": [int(h) for h in cfg["hidden_sizes"].split(",")],
            "channels": cfg["channels"],
        }
        weights = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    else:
        raise UserError(f"{path}: not a kingme checkers model (format {meta.get('format')!r})")
    agent = net_from_description(net)
    try:
        agent.load_state_dict(weights)
    except RuntimeError as e:
        raise UserError(f"{path}: weights do not fit the network: {str(e).splitlines()[0]}") from None
    return agent.eval(), net


# ------------------------------------------------------------------------------------------------
# Scoring complete moves


def _prefix_state(board: Board, path: tuple[int, ...], k: int) -> tuple[int, int, int, int]:
    """(black, white, kings, jumping bit or -1) after the first k single jumps of a capture."""
    if k == 0:
        return board.black, board.white, board.kings, -1
    black, white, kings = board.black, board.white, board.kings
    mover = bit(path[0])
    here = bit(path[k])
    own = black if board.turn == 0 else white
    opp = white if board.turn == 0 else black
    for j in range(k):  # remove the pieces jumped so far
        mid = 1 << ((square_to_bit(path[j]) + square_to_bit(path[j + 1])) // 2)
        opp &= ~mid
        kings &= ~mid
    own = (own & ~mover) | here
    if kings & mover:
        kings = (kings & ~mover) | here
    black, white = (own, opp) if board.turn == 0 else (opp, own)
    return black, white, kings, here.bit_length() - 1


@torch.no_grad()
def move_distributions(
    agent: ActorCritic, boards: Sequence[Board], temperature: float = 1.0, device: str = "cpu"
) -> tuple[list[list[tuple[Move, float]]], np.ndarray]:
    """For each board: [(legal move, probability)] and the critic's value of the position (from
    the side to move's view), with one forward pass over every decision point."""
    keys: dict[tuple[int, tuple[int, ...]], int] = {}
    states: list[tuple[int, int, int, int, int, int]] = []
    per_board: list[list[tuple[Move, list[tuple[int, int]]]]] = []
    for bi, board in enumerate(boards):
        items = []
        for m in board.legal_moves():
            acts = move_to_actions(m.path, int(board.turn))
            steps = []
            for k, a in enumerate(acts):
                key = (bi, m.path[: k + 1])
                if key not in keys:
                    keys[key] = len(states)
                    b, w, kg, jb = _prefix_state(board, m.path, k)
                    states.append((b, w, kg, int(board.turn), jb, board.clock))
                steps.append((keys[key], a))
            items.append((m, steps))
        per_board.append(items)
    # every k = 0 state of a board is its root position; the value is read from the first one
    n = len(states)
    obs = np.zeros((max(n, 1), *OBS_SHAPE), dtype=np.float32)
    mask = np.zeros((max(n, 1), NUM_ACTIONS), dtype=np.bool_)
    for i, (b, w, kg, side, jb, clock) in enumerate(states):
        _observe(np.uint64(b), np.uint64(w), np.uint64(kg), side, jb, clock, obs[i], mask[i])
    if n:
        logits, values = agent(torch.from_numpy(obs).to(device))  # (n, A), (n,)
        logp = torch.log_softmax(mask_logits(logits, torch.from_numpy(mask).to(device)), -1).cpu().numpy()
        values_np = values.cpu().numpy()
    out: list[list[tuple[Move, float]]] = []
    board_values = np.zeros(len(boards), dtype=np.float32)
    for bi, items in enumerate(per_board):
        if not items:
            out.append([])
            continue
        board_values[bi] = values_np[items[0][1][0][0]]
        scores = np.array([sum(logp[s, a] for s, a in steps) for _, steps in items]) / temperature
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        out.append([(m, float(p)) for (m, _), p in zip(items, probs)])
    return out, board_values


class PolicyPlayer:
    """A checkers network playing its most probable legal move (or sampling at a temperature)."""

    def __init__(
        self,
        agent: ActorCritic,
        name: str = "policy",
        sample: bool = False,
        temperature: float = 1.0,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.agent = agent
        self.name = name
        self.sample = sample
        self.temperature = temperature
        self.device = device
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def choose(self, board: Board) -> Move:
        return self.choose_batch([board])[0]

    def choose_batch(self, boards: Sequence[Board]) -> list[Move]:
        dists, _ = move_distributions(self.agent, boards, self.temperature if self.sample else 1.0, self.device)
        out = []
        for d in dists:
            if not d:
                raise ValueError("no legal move")
            if self.sample:
                p = np.array([q for _, q in d])
                out.append(d[int(self.rng.choice(len(d), p=p / p.sum()))][0])
            else:
                out.append(max(d, key=lambda mq: mq[1])[0])
        return out

    # hooks used by the web page's analysis
    def move_probabilities(self, board: Board) -> dict[Move, float]:
        """The policy's probability of each legal move of `board` (they sum to one)."""
        return dict(move_distributions(self.agent, [board], 1.0, self.device)[0][0])

    def win_probability(self, board: Board) -> float:
        """The critic's value (expected final reward in [-1, 1], side to move) mapped to [0, 1]."""
        v = float(move_distributions(self.agent, [board], 1.0, self.device)[1][0])
        return min(1.0, max(0.0, (v + 1.0) / 2.0))


def _policy_factory(args: str, seed: int) -> PolicyPlayer:
    spec = parse_policy_spec(args)
    path = resolve_model_path(spec, policy_kind.DEFAULT_MODEL)  # looked up now: tests may move it
    agent, _ = load_model(path)
    torch.set_num_threads(1)
    return PolicyPlayer(agent, f"policy:{args}", spec.sample, spec.temperature, seed)


register_player_kind("policy", _policy_factory, USAGE)
