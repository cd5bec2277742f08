"""`policy:NAME_OR_PATH[:sample][:T]`: a trained checkers network as a player, batched across boards.

Spec grammar (options come after the model, in any order):
- ``policy:PATH``            the most probable legal move of the network stored at PATH (a model
                             file, a self-play checkpoint, or a run folder: its latest checkpoint);
- ``policy:PATH:sample``     a move sampled from the policy (temperature 1);
- ``policy:PATH:T``          a move sampled at temperature T > 0 (``:sample:T`` says the same);
- ``policy:default``         the model shipped with the package (`DEFAULT_MODEL`, see its model
                             card in docs/selfplay.md); ``policy:v2`` and ``policy:v1`` the ones shipped
                             before it.

Scoring complete moves. A complete move may take several network actions (one per single jump).
The player scores every legal complete move by the product of the policy's probabilities of its
actions, each taken in the position the previous jumps leave (`kingme.envs.bridge.after_actions`),
and evaluates every such position of every board in ONE forward pass (`move_distributions`). It
then plays the most probable move, or samples at a temperature. It implements ``choose_batch``
(`kingme.players.BatchPlayer`), so the arena plays its games in lockstep.

Model files. `save_model` writes one safetensors file: the weights, plus in its metadata the
format tag `kingme-checkers-policy` and the network's description (kind, sizes). `load_model`
reads that, or a self-play PPO checkpoint (file or run folder). Nothing is unpickled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

from kingme.checkers import Board, Move
from kingme.common import UserError, atomic_write_bytes
from kingme.envs.bridge import NUM_ACTIONS, OBS_SHAPE, Position, after_actions, move_to_actions
from kingme.nets import ActorCritic, make_network
from kingme.players.limits import check
from kingme.players.specs import POLICY_USAGE as USAGE
from kingme.players.specs import PlayerSpec, PolicySpec, parse_policy, parse_policy_spec
from kingme.ppo.core import mask_logits

# The model shipped with the package (`policy:default`).
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "policy_default.safetensors"

FORMAT = "kingme-checkers-policy"


__all__ = [
    "DEFAULT_MODEL",
    "FORMAT",
    "USAGE",
    "PolicyPlayer",
    "PolicySpec",
    "load_model",
    "load_policy_player",
    "move_distributions",
    "net_from_description",
    "parse_policy_spec",
    "resolve_model_path",
    "save_model",
    "win_draw_loss",
]


# ------------------------------------------------------------------------------------------------
# The model a spec names (the spec itself is parsed by `kingme.players.specs.parse_policy`)


def resolve_model_path(spec: PolicySpec) -> Path:
    """The model file (or folder) a spec names; UserError if it does not exist. A shipped model
    NAME (`SHIPPED_MODELS`) is the package's data file policy_NAME.safetensors."""
    if spec.is_shipped:
        path = DEFAULT_MODEL.with_name(f"policy_{spec.model}.safetensors")
        if not path.exists():
            raise UserError(f"policy:{spec.model}: the shipped model file is missing ({path})")
        return path
    path = Path(spec.model).expanduser()
    if not path.exists():
        raise UserError(f"model file not found: {spec.model}")
    return path


# ------------------------------------------------------------------------------------------------
# Model files


def save_model(path: str | Path, agent: ActorCritic, net: dict[str, Any], info: dict[str, Any] | None = None) -> None:
    """Write the network and its description to one safetensors file (atomically)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in agent.state_dict().items()}
    meta = {"format": FORMAT, "net": json.dumps(net), "info": json.dumps(info or {})}
    atomic_write_bytes(path, safetensors_save(tensors, metadata=meta))


def net_from_description(net: Mapping[str, Any]) -> ActorCritic:
    """An untrained network of the kind and sizes a model file describes."""
    hidden = net.get("hidden", (256, 256))
    if isinstance(hidden, str):  # "256,256" in older configs
        hidden = [int(h) for h in hidden.split(",") if h.strip()]
    return make_network(
        net["kind"],
        tuple(int(h) for h in hidden),
        int(net.get("channels", 64)),
        OBS_SHAPE,
        NUM_ACTIONS,
        net.get("value_head", "scalar"),
        float(net.get("draw_value", 0.0)),
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
            "hidden": cfg["hidden_sizes"],
            "channels": cfg["channels"],
            "value_head": cfg.get("value_head", "scalar"),
            "draw_value": float(cfg.get("draw_reward", 0.0)),
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


@torch.no_grad()
def move_distributions(
    agent: ActorCritic, boards: Sequence[Board], temperature: float = 1.0, device: str = "cpu"
) -> tuple[list[list[tuple[Move, float]]], np.ndarray]:
    """For each board: [(legal move, probability)] and the critic's value of the position (from
    the side to move's view), with one forward pass over every decision point (`Stopped` if the
    current `Limit` is already spent: one pass is a few milliseconds, so it is checked only here)."""
    check()
    keys: dict[tuple[int, tuple[int, ...]], int] = {}
    states: list[Position] = []  # one Position per distinct decision point
    per_board: list[list[tuple[Move, list[tuple[int, int]]]]] = []
    for bi, board in enumerate(boards):
        items = []
        for m in board.legal_moves():
            steps = []
            for k, a in enumerate(move_to_actions(m, board.turn)):
                key = (bi, m.path[: k + 1])
                if key not in keys:
                    keys[key] = len(states)
                    states.append(after_actions(board, m, k))
                steps.append((keys[key], a))
            items.append((m, steps))
        per_board.append(items)
    # every k = 0 state of a board is its root position; the value is read from the first one
    n = len(states)
    obs = np.zeros((max(n, 1), *OBS_SHAPE), dtype=np.float32)
    mask = np.zeros((max(n, 1), NUM_ACTIONS), dtype=np.bool_)
    for i, pos in enumerate(states):
        pos.observe_into(obs[i], mask[i])
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


@torch.no_grad()
def win_draw_loss(agent: ActorCritic, board: Board) -> tuple[float, float, float] | None:
    """(win, draw, loss) probabilities of `board` for the side to move, from a win / draw / loss
    critic (`--value-head wdl`); None for a scalar critic, whose value is no probability."""
    check()
    if agent.value_support is None:
        return None
    obs = np.zeros((1, *OBS_SHAPE), dtype=np.float32)
    Position.from_board(board).observe_into(obs[0], np.zeros(NUM_ACTIONS, dtype=np.bool_))
    loss, draw, win = (float(x) for x in agent.value_distribution(torch.from_numpy(obs))[0])
    return win, draw, loss


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

    def value(self, board: Board) -> float:
        """The critic's value of `board` for the side to move: its estimate of the final reward, in
        [-1, 1] (win +1, loss -1, a draw 0 or the draw reward it was trained with). Not a win
        probability."""
        return float(move_distributions(self.agent, [board], 1.0, self.device)[1][0])

    def wdl(self, board: Board) -> tuple[float, float, float] | None:
        """(win, draw, loss) for the side to move (`win_draw_loss`)."""
        return win_draw_loss(self.agent, board)


def load_policy_player(spec: PlayerSpec | str, seed: int = 0) -> PolicyPlayer:
    """The player of a parsed ``policy:`` spec (the `policy` kind's factory), or of ``policy:ARGS``
    given ARGS."""
    if isinstance(spec, str):
        spec = parse_policy(f"policy:{spec}", spec)
    assert spec.model is not None
    agent, _ = load_model(resolve_model_path(PolicySpec(spec.model, spec.sample, spec.temperature)))
    torch.set_num_threads(1)  # one core per player: the arena runs its games in lockstep
    return PolicyPlayer(agent, spec.text, spec.sample, spec.temperature, seed)
