"""Self-play as a `VecEnv`: the learner's view of N checkers games against an opponent pool.

Each of the N games has a learner colour (alternating from game to game) and an opponent drawn
from the pool when the game starts. `step(actions)` applies the learner's actions, then lets the
opponents move (in batched forward passes, one per opponent network) until it is the learner's
turn again in every game, so the learner only ever sees its own decision points, and only its
moves are trained on. A multi-jump is several learner actions in a row.

Reward (to the learner): +1 for a win, -1 for a loss, 0 for a draw, given at the learner's step
during which the game ended (by its own move or the opponent's reply). Optional shaping (off by
default): `capture_reward` per opponent piece the learner captures, and `draw_reward` for a game
drawn by rule (80 plies or threefold repetition; a negative value is "contempt" for draws). Truncation (the ply cap)
bootstraps from `final_obs`, always in the learner's frame.

The opponent pool: the learner itself (its live parameters, sampled), frozen snapshots of earlier
learners, and players named by spec used as a curriculum (any kind the players registry knows:
`random`, `alphabeta:D`, `greedy`, `policy:NAME`, `search:...`, a kind registered by the user;
`kingme.players.registry`). `OpponentPool.sample` draws a game's opponent (a fixed mixture, or
prioritised fictitious self-play over the learner's recent scores), and `OpponentPool.grow` adds
snapshots and bots by rule. `BotMover` plays the bots' moves inside the vectorised env.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from kingme.checkers import Color, Move
from kingme.common import UserError, atomic_write_json, one_line
from kingme.envs.base import VecStep
from kingme.envs.bridge import Position, legal_path, move_to_actions
from kingme.envs.checkers_vec import CheckersVecEnv
from kingme.nets import ActorCritic
from kingme.players import Player, PlayerSpec, build_player, parse_spec
from kingme.ppo.core import mask_logits


def flip_view(obs: np.ndarray) -> np.ndarray:
    """The same positions seen by the other player: swap own/opponent planes, turn the board.

    obs (B, 6, 32) -> (B, 6, 32); the jump plane is cleared (it belongs to the side to move)."""
    out = np.empty_like(obs)
    out[:, 0], out[:, 1] = obs[:, 2, ::-1], obs[:, 3, ::-1]
    out[:, 2], out[:, 3] = obs[:, 0, ::-1], obs[:, 1, ::-1]
    out[:, 4] = 0.0
    out[:, 5] = obs[:, 5]  # the draw clock is the same for both players
    return out


Weighting = Literal["uniform", "hard", "even"]
RANDOM = PlayerSpec("random", "random")  # a bot without a spec plays random legal actions


def pfsp_weights(scores: np.ndarray, weighting: Weighting, power: float = 2.0) -> np.ndarray:
    """Prioritised fictitious self-play (Vinyals et al. 2019): the probability of each opponent,
    from the learner's score x against it (P[learner beats it], draws counting half).

    uniform: all equal; hard: f(x) = (1 - x)^p, the opponents the learner beats least;
    even: f(x) = x (1 - x), the opponents near its level. Weights that are all 0 (every opponent
    beaten, or lost to, outright) fall back to uniform."""
    x = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    if weighting == "uniform":
        w = np.ones_like(x)
    elif weighting == "hard":
        w = (1.0 - x) ** power
    elif weighting == "even":
        w = x * (1.0 - x)
    else:
        raise ValueError(f"unknown weighting {weighting!r}")
    total = w.sum()
    return w / total if total > 0 else np.full_like(x, 1.0 / max(len(x), 1))


@dataclass(eq=False)
class Opponent:
    """One member of the pool: the live learner, a frozen snapshot, or a bot (a registered player).
    Games in flight hold a reference, so a snapshot that leaves the pool still finishes its games."""

    name: str  # "self", "snapshot@U" or the bot's spec
    net: ActorCritic | None = None  # None for a bot
    spec: PlayerSpec | None = None  # a bot's parsed spec (`kingme.players.parse_spec`)


@dataclass
class OpponentPool:
    """The learner, its frozen snapshots and the curriculum bots, with how games pick among them.

    A game's opponent is the live learner with probability `p_self`. Otherwise:
    - ``weighting="uniform"`` (the original mixture): a bot (uniform over the active bots) with
      probability `p_bots`, else a snapshot (uniform), else the learner if there is none;
    - ``"hard"`` / ``"even"``: prioritised fictitious self-play over the snapshots and active
      bots together, each weighted by `pfsp_weights` of the learner's recent score against it
      (`record`, a window of the last `window` games; an opponent not yet played counts 0.5).
    `grow` applies the growth rules after each update: ``snapshot_rule="beat"`` adds a snapshot
    when the learner scores at least `threshold` against the newest one (over `min_games` games;
    the first snapshot is the initial network), ``"every"`` on a fixed schedule; with
    ``bot_rule="beat"`` the bots enter one at a time, the next when the learner scores
    `threshold` against the last one that entered, ``"all"`` starts with every bot.
    """

    make_net: Any  # () -> ActorCritic, to rebuild snapshots
    max_snapshots: int = 10
    p_self: float = 0.5  # probability of playing the live learner
    p_bots: float = 0.0  # uniform weighting only: probability of playing a curriculum bot
    bots: list[str] = field(default_factory=list)  # player specs, e.g. ["random", "alphabeta:1"], easiest first
    weighting: Weighting = "uniform"
    power: float = 2.0  # p of the "hard" weighting
    snapshot_rule: Literal["every", "beat"] = "every"
    snapshot_every: int = 10  # "every": the schedule, in updates
    bot_rule: Literal["all", "beat"] = "all"
    threshold: float = 0.75  # score that adds a snapshot / lets the next bot in ("beat" rules)
    min_games: int = 64  # games against an opponent before its score counts for the rules
    window: int = 256  # recent games kept per opponent for its score
    learner: ActorCritic | None = None
    snapshots: list[ActorCritic] = field(default_factory=list)
    snapshot_updates: list[int] = field(default_factory=list)
    active_bots: int = -1  # bots[:active_bots] are in play (-1: set by bot_rule on first use)
    results: dict[str, deque[float]] = field(default_factory=dict)  # name -> recent scores in [0, 1]
    _snapshot_opps: list[Opponent] = field(default_factory=list, repr=False)
    _bot_opps: dict[str, Opponent] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._specs = {b: bot_spec(b) for b in self.bots}  # a malformed or interactive spec fails here
        if self.active_bots < 0:
            self.active_bots = len(self.bots) if self.bot_rule == "all" else min(1, len(self.bots))
        self._self_opp = Opponent("self")

    # --- members ---------------------------------------------------------------------------------

    @property
    def self_opponent(self) -> Opponent:
        self._self_opp.net = self.learner
        return self._self_opp

    def bot_opponents(self) -> list[Opponent]:
        """The bots in play, as opponents (one object per bot, reused)."""
        return [self._bot_opps.setdefault(b, Opponent(b, spec=self._specs[b])) for b in self.bots[: self.active_bots]]

    def snapshot_opponents(self) -> list[Opponent]:
        if len(self._snapshot_opps) != len(self.snapshots) or any(
            o.net is not n for o, n in zip(self._snapshot_opps, self.snapshots)
        ):
            self._snapshot_opps = [
                Opponent(f"snapshot@{u}", net=n) for n, u in zip(self.snapshots, self.snapshot_updates)
            ]
        return self._snapshot_opps

    def score(self, name: str) -> float:
        """The learner's recent score against `name` (0.5 before any game)."""
        r = self.results.get(name)
        return float(np.mean(r)) if r else 0.5

    def games(self, name: str) -> int:
        r = self.results.get(name)
        return len(r) if r else 0

    def record(self, name: str, learner_result: float) -> None:
        """A finished game against `name`: the learner's result in {-1, 0, +1}."""
        self.results.setdefault(name, deque(maxlen=self.window)).append((learner_result + 1.0) / 2.0)

    # --- drawing a game's opponent ---------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> Opponent:
        u = rng.random()
        bots, snaps = self.bot_opponents(), self.snapshot_opponents()
        if self.weighting == "uniform":
            if bots and u < self.p_bots:
                return bots[int(rng.integers(len(bots)))]
            if not snaps or u < self.p_bots + self.p_self:
                return self.self_opponent
            return snaps[int(rng.integers(len(snaps)))]
        others = snaps + bots
        if not others or u < self.p_self:
            return self.self_opponent
        w = pfsp_weights(np.array([self.score(o.name) for o in others]), self.weighting, self.power)
        return others[int(rng.choice(len(others), p=w))]

    # --- growth ----------------------------------------------------------------------------------

    def add_snapshot(self, agent: ActorCritic, update: int) -> None:
        """Freeze a copy of `agent`; the oldest snapshot goes when the pool is full."""
        net = self.make_net()
        net.load_state_dict({k: v.detach().clone() for k, v in agent.state_dict().items()})
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.snapshots.append(net)
        self.snapshot_updates.append(update)
        if len(self.snapshots) > self.max_snapshots:
            self.snapshots.pop(0)
            gone = self.snapshot_updates.pop(0)
            self.results.pop(f"snapshot@{gone}", None)

    def _beaten(self, name: str) -> bool:
        return self.games(name) >= self.min_games and self.score(name) >= self.threshold

    def grow(self, agent: ActorCritic, update: int) -> list[str]:
        """Apply the growth rules after update `update`; return what entered the pool."""
        added = []
        if self.snapshot_rule == "every":
            due = update % self.snapshot_every == 0
        else:
            due = not self.snapshots or self._beaten(f"snapshot@{self.snapshot_updates[-1]}")
        if due:
            self.add_snapshot(agent, update)
            added.append(f"snapshot@{update}")
        bots_waiting = self.bot_rule == "beat" and 0 < self.active_bots < len(self.bots)
        if bots_waiting and self._beaten(self.bots[self.active_bots - 1]):
            self.active_bots += 1
            added.append(self.bots[self.active_bots - 1])
        return added

    # --- persistence (part of a run's saved state) -------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the snapshots (safetensors), their update numbers, the bots in play and the
        recent scores, atomically."""
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {
            f"{i}/{k}": v.detach().cpu().contiguous()
            for i, net in enumerate(self.snapshots)
            for k, v in net.state_dict().items()
        }
        tmp = folder / ".pool.safetensors.tmp"
        save_file(tensors, str(tmp))
        tmp.replace(folder / "pool.safetensors")
        meta = {
            "snapshot_updates": self.snapshot_updates,
            "active_bots": self.active_bots,
            "results": {k: list(v) for k, v in self.results.items()},
        }
        atomic_write_json(folder / "pool.json", meta)

    def load(self, folder: Path) -> None:
        meta_path, weights_path = folder / "pool.json", folder / "pool.safetensors"
        if not meta_path.exists() or not weights_path.exists():
            return
        try:
            meta = json.loads(meta_path.read_text())
            updates = [int(u) for u in meta["snapshot_updates"]]
            tensors = load_file(str(weights_path))
            self.snapshots, self.snapshot_updates = [], []
            for i, u in enumerate(updates):
                sd = {k.split("/", 1)[1]: v for k, v in tensors.items() if k.split("/", 1)[0] == str(i)}
                net = self.make_net()
                net.load_state_dict(sd)
                net.eval()
                self.snapshots.append(net)
                self.snapshot_updates.append(u)
            if "active_bots" in meta:
                self.active_bots = min(int(meta["active_bots"]), len(self.bots))
            self.results = {
                str(k): deque((float(x) for x in v), maxlen=self.window) for k, v in meta.get("results", {}).items()
            }
        except Exception as e:  # noqa: BLE001 - any corruption is reported the same way
            raise UserError(f"opponent pool in {folder} is corrupt: {one_line(e)}") from None


def bot_spec(text: str) -> PlayerSpec:
    """A curriculum bot's spec, parsed by the players registry (the one grammar of player specs):
    any registered kind that plays by itself; UserError in one line otherwise."""
    spec = parse_spec(text)
    if spec.interactive:
        raise UserError(f"curriculum bot {text!r} reads a terminal: a bot must play by itself")
    return spec


class BotMover:
    """The bots' moves inside the vectorised env: a full move is chosen once, then fed action by
    action (a multi-jump spans several sub-steps).

    Any registered player plays through its `choose(board)`, built once per spec by
    `build_player(spec, seed)` from the spec the pool parsed. Two built-in kinds keep the moves
    they have always made in training, so the default pool plays the same games as before the
    pool went through the registry: ``random`` takes a uniformly random legal action at each
    sub-step, and
    ``alphabeta:D`` (no time limit) searches with the env's one compiled `Searcher` on the
    bitboards, without building a `Board`."""

    def __init__(self, num_envs: int, seed: int) -> None:
        from kingme.players.alphabeta import Searcher

        self.seed = seed
        self.searcher = Searcher(seed)
        self.queue: list[list[int]] = [[] for _ in range(num_envs)]
        self.rng = np.random.default_rng(seed)
        self.players: dict[str, Player] = {}  # spec text -> the player, built on first use

    def act(self, env: CheckersVecEnv, i: int, spec: PlayerSpec) -> int:
        if self.queue[i]:
            return self.queue[i].pop(0)
        if spec.kind == "random" or env.jumping[i] >= 0:
            legal = np.flatnonzero(env.mask[i])
            return int(legal[self.rng.integers(len(legal))])
        black, white, kings, side = int(env.black[i]), int(env.white[i]), int(env.kings[i]), int(env.side[i])
        if spec.kind == "alphabeta" and spec.ms is None and spec.depth is not None:
            r = self.searcher.search(black, white, kings, side, spec.depth)
            path: Move | tuple[int, ...] = legal_path(black, white, kings, side, r.index)
        else:
            player = self.players.get(spec.text)
            if player is None:
                player = self.players[spec.text] = build_player(spec, self.seed)
            board = Position(black, white, kings, Color(side), -1, int(env.clock[i])).board()
            path = player.choose(board)
        actions = move_to_actions(path, side)
        self.queue[i] = actions[1:]
        return actions[0]


class SelfPlayEnv:
    """N games of the learner against the pool (implements `kingme.envs.base.VecEnv`)."""

    def __init__(
        self,
        num_envs: int,
        pool: OpponentPool,
        max_plies: int = 300,
        seed: int = 0,
        capture_reward: float = 0.0,
        draw_reward: float = 0.0,
        device: str = "cpu",
    ) -> None:
        self.num_envs = num_envs
        self.obs_shape: tuple[int, ...] = CheckersVecEnv.obs_shape
        self.num_actions = CheckersVecEnv.num_actions
        self.inner = CheckersVecEnv(num_envs, max_plies=max_plies)
        self.pool = pool
        self.capture_reward = capture_reward
        self.draw_reward = draw_reward
        self.device = torch.device(device)
        self.rng = np.random.default_rng(seed)
        self.torch_gen = torch.Generator().manual_seed(seed)
        self.learner_side = (np.arange(num_envs) % 2).astype(np.int8)
        self.opp: list[Opponent] = [pool.self_opponent] * num_envs  # each game's opponent
        self.bots = BotMover(num_envs, seed)
        self._actions = np.zeros(num_envs, dtype=np.int64)
        # games finished since the caller last cleared it: (opponent name, learner result)
        self.results: list[tuple[str, float]] = []

    # --- the opponents' moves -------------------------------------------------------------------

    @torch.no_grad()
    def _opponents_move(self) -> np.ndarray:
        """Play opponent actions until the learner is to move everywhere; return, per game, the
        result of any game that ended on an opponent's move (-1 loss, 0 draw) or NaN."""
        env = self.inner
        ended = np.full(self.num_envs, np.nan, dtype=np.float32)
        trunc = np.zeros(self.num_envs, dtype=bool)
        for _ in range(10_000):
            rows = np.flatnonzero(env.side != self.learner_side)
            if rows.size == 0:
                return ended
            acts = self._actions
            groups: dict[int, list[int]] = {}  # one batched forward pass per opponent
            for i in rows.tolist():
                groups.setdefault(id(self.opp[i]), []).append(i)
            for members in groups.values():
                sel = np.array(members)
                opp = self.opp[members[0]]
                net = opp.net
                if net is None:
                    for i in members:
                        acts[i] = self.bots.act(env, i, opp.spec or RANDOM)
                    continue
                obs = torch.from_numpy(env.obs[sel]).to(self.device)  # (n, 6, 32)
                mask = torch.from_numpy(env.mask[sel]).to(self.device)  # (n, 128)
                logits = mask_logits(net.logits(obs), mask)
                a = torch.multinomial(torch.softmax(logits, -1).cpu(), 1, generator=self.torch_gen).squeeze(1)
                acts[sel] = a.numpy()
            env.step_rows(rows, acts)
            done = rows[env.terminated[rows] | env.truncated[rows]]
            for i in done:
                ended[i] = -float(env.outcome[i])  # the opponent acted: its win is our loss
                trunc[i] = bool(env.truncated[i])
                self._final_obs[i] = env.final_obs[i]  # the next mover is the learner: our frame
                self._new_game(int(i))
            self._trunc |= trunc
        raise RuntimeError("opponents did not hand the move back")

    def _new_game(self, i: int) -> None:
        self.learner_side[i] ^= 1
        self.opp[i] = self.pool.sample(self.rng)
        self.bots.queue[i] = []

    # --- VecEnv ---------------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self.torch_gen.manual_seed(seed)
        self.inner.reset()
        self.learner_side[:] = np.arange(self.num_envs) % 2
        self.opp = [self.pool.sample(self.rng) for _ in range(self.num_envs)]
        self._final_obs = np.zeros((self.num_envs, *self.obs_shape), dtype=np.float32)
        self._trunc = np.zeros(self.num_envs, dtype=bool)
        self.results = []
        self._opponents_move()
        return self.inner.obs.copy(), self.inner.mask.copy()

    def _opponent_piece_counts(self) -> np.ndarray:
        """(N,) pieces the learner's opponent has in each game."""
        opp = np.where(self.learner_side == Color.BLACK, self.inner.white, self.inner.black)
        return np.array([bin(int(x)).count("1") for x in opp])

    def step(self, actions: np.ndarray) -> VecStep:
        env = self.inner
        n = self.num_envs
        if self.capture_reward:  # only the optional shaping needs the piece counts
            opp_before = self._opponent_piece_counts()
        self._trunc = np.zeros(n, dtype=bool)
        self._final_obs = np.zeros((n, *self.obs_shape), dtype=np.float32)
        reward = np.zeros(n, dtype=np.float32)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        names_before = [o.name for o in self.opp]

        env.step(actions)
        done = env.terminated | env.truncated
        if self.capture_reward:
            captured = np.where(done, 0, opp_before - self._opponent_piece_counts())
            reward += self.capture_reward * captured
        first_results: dict[int, float] = {}
        for row in np.flatnonzero(done):
            i = int(row)
            first_results[i] = float(env.outcome[i])  # the learner acted: +1 win, 0 draw
            truncated[i] = bool(env.truncated[i])
            terminated[i] = bool(env.terminated[i])
            self._final_obs[i] = flip_view(env.final_obs[i : i + 1])[0]  # next mover was the opponent
            self._new_game(int(i))
        ended_by_opp = self._opponents_move()
        for i in range(int(n)):
            if i in first_results:
                reward[i] += first_results[i]
                if first_results[i] == 0.0 and terminated[i]:
                    reward[i] += self.draw_reward
                self.results.append((names_before[i], first_results[i]))
            elif not np.isnan(ended_by_opp[i]):
                reward[i] += ended_by_opp[i]
                terminated[i] = not self._trunc[i]
                if ended_by_opp[i] == 0.0 and terminated[i]:
                    reward[i] += self.draw_reward
                truncated[i] = bool(self._trunc[i])
                self.results.append((names_before[i], float(ended_by_opp[i])))
        return VecStep(env.obs.copy(), reward, terminated, truncated, env.mask.copy(), self._final_obs)

    def close(self) -> None:
        pass
