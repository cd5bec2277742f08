"""Standard interfaces over the vectorised checkers environment.

`CheckersGymEnv`: a Gymnasium environment for one agent against an opponent given as a callable
`opponent(obs, mask, rng) -> action` (default: a uniformly random legal action). Legal actions are
in `info["action_mask"]` and `action_masks()` (the MaskablePPO convention). Reward +1 win,
-1 loss, 0 draw, at the end of the game. An illegal action forfeits the game (reward -1,
terminated, `info["illegal_action"]`), so unmasked agents and `check_env` can still step it.

`CheckersAECEnv`: a PettingZoo AEC environment with agents "black" and "white", following the
classic board-game conventions (observation dict with `observation` and `action_mask`; the agent
to act keeps the turn during a multi-jump).

Both step one game of `CheckersVecEnv`; observations and actions are the same (see there), and
positions are read and written through `kingme.envs.bridge`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from kingme.checkers import Color
from kingme.envs.bridge import NUM_ACTIONS, OBS_SHAPE, Position, position_from_observation
from kingme.envs.checkers_vec import CheckersVecEnv

Opponent = Callable[[np.ndarray, np.ndarray, np.random.Generator], int]


def random_opponent(obs: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> int:
    return int(rng.choice(np.flatnonzero(mask)))


class CheckersGymEnv(gym.Env):  # type: ignore[type-arg]
    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        opponent: Opponent | None = None,
        agent_color: str = "random",
        max_plies: int = 400,
        render_mode: str | None = None,
    ) -> None:
        if agent_color not in ("black", "white", "random"):
            raise ValueError(f"agent_color must be black, white or random, not {agent_color!r}")
        self.opponent = opponent or random_opponent
        self.agent_color = agent_color
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, OBS_SHAPE, dtype=np.float32)
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        self._env = CheckersVecEnv(1, max_plies=max_plies)
        self._agent_side = 0
        self._last_obs = self._env.obs[0].copy()
        self._last_mask = self._env.mask[0].copy()

    def action_masks(self) -> np.ndarray:
        return self._last_mask.copy()

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self._last_mask.copy(), "side": self._agent_side}

    def _opponent_moves(self) -> tuple[bool, bool, float]:
        """Let the opponent play until it is the agent's turn or the game ends."""
        env = self._env
        while env.side[0] != self._agent_side:
            a = self.opponent(env.obs[0], env.mask[0], self.np_random)
            st = env.step(np.array([a]))
            if st.terminated[0] or st.truncated[0]:
                self._last_obs = st.final_obs[0].copy()
                self._last_mask = np.zeros(NUM_ACTIONS, dtype=bool)
                return bool(st.terminated[0]), bool(st.truncated[0]), -float(env.outcome[0])
        self._last_obs, self._last_mask = env.obs[0].copy(), env.mask[0].copy()
        return False, False, 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._env.reset()
        if self.agent_color == "random":
            self._agent_side = int(self.np_random.integers(2))
        else:
            self._agent_side = 0 if self.agent_color == "black" else 1
        self._opponent_moves()
        return self._last_obs.copy(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not (0 <= int(action) < NUM_ACTIONS) or not self._last_mask[int(action)]:
            # an illegal action (outside info["action_mask"]) forfeits the game
            self._last_mask = np.zeros(NUM_ACTIONS, dtype=bool)
            return self._last_obs.copy(), -1.0, True, False, {**self._info(), "illegal_action": True}
        st = self._env.step(np.array([int(action)]))
        if st.terminated[0] or st.truncated[0]:
            self._last_obs = st.final_obs[0].copy()
            self._last_mask = np.zeros(NUM_ACTIONS, dtype=bool)
            obs, reward = self._last_obs.copy(), float(st.reward[0])
            return obs, reward, bool(st.terminated[0]), bool(st.truncated[0]), self._info()
        term, trunc, reward = self._opponent_moves()
        return self._last_obs.copy(), reward, term, trunc, self._info()

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            from kingme.checkers.board import Board

            return str(Board(self._env.fen(0)))
        return None


def make_aec_env(max_plies: int = 400, render_mode: str | None = None) -> Any:
    """A PettingZoo AEC environment of checkers with agents "black" and "white"."""
    from pettingzoo import AECEnv

    class _CheckersAEC(AECEnv):  # type: ignore[misc]
        metadata = {"name": "kingme_checkers_v0", "render_modes": ["ansi"], "is_parallelizable": False}

        def __init__(self) -> None:
            super().__init__()
            self.possible_agents = ["black", "white"]
            self.render_mode = render_mode
            self._obs_space = spaces.Dict(
                {
                    "observation": spaces.Box(0.0, 1.0, OBS_SHAPE, dtype=np.float32),
                    "action_mask": spaces.Box(0, 1, (NUM_ACTIONS,), dtype=np.int8),
                }
            )
            self._act_space = spaces.Discrete(NUM_ACTIONS)
            self._env = CheckersVecEnv(1, max_plies=max_plies)

        def observation_space(self, agent: str) -> spaces.Space:  # type: ignore[type-arg]
            return self._obs_space

        def action_space(self, agent: str) -> spaces.Space:  # type: ignore[type-arg]
            return self._act_space

        def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
            self._env.reset()
            self.agents = list(self.possible_agents)
            self.rewards = {a: 0.0 for a in self.agents}
            self._cumulative_rewards = {a: 0.0 for a in self.agents}
            self.terminations = {a: False for a in self.agents}
            self.truncations = {a: False for a in self.agents}
            self.infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
            self.agent_selection = "black"
            self._state = (int(self._env.black[0]), int(self._env.white[0]), int(self._env.kings[0]), -1)

        def observe(self, agent: str) -> dict[str, np.ndarray]:
            side = Color(self.possible_agents.index(agent))
            black, white, kings, jumping = self._state
            over = any(self.terminations.values()) or any(self.truncations.values())
            jumper = jumping if agent == self.agent_selection else -1
            obs, mask = Position(black, white, kings, side, jumper, int(self._env.clock[0])).observe()
            if agent != self.agent_selection or over:
                mask[:] = False
            return {"observation": obs, "action_mask": mask.astype(np.int8)}

        def step(self, action: int | None) -> None:
            agent = self.agent_selection
            if self.terminations[agent] or self.truncations[agent]:
                self._was_dead_step(action)
                return
            env = self._env
            if action is None or not env.mask[0, int(action)]:
                raise ValueError(f"illegal action {action} for {agent}")
            self._cumulative_rewards[agent] = 0.0
            st = env.step(np.array([int(action)]))
            self.rewards = {a: 0.0 for a in self.agents}
            if st.terminated[0] or st.truncated[0]:
                other = "white" if agent == "black" else "black"
                if env.outcome[0] == 1:
                    self.rewards[agent], self.rewards[other] = 1.0, -1.0
                for a in self.agents:
                    self.terminations[a] = bool(st.terminated[0])
                    self.truncations[a] = bool(st.truncated[0])
                # keep the final position for observe(): re-derive it from the final observation
                self._state = self._final_state(agent)
                self.agent_selection = other
            else:
                self._state = (int(env.black[0]), int(env.white[0]), int(env.kings[0]), int(env.jumping[0]))
                self.agent_selection = self.possible_agents[int(env.side[0])]
            self._accumulate_rewards()

        def _final_state(self, mover: str) -> tuple[int, int, int, int]:
            nxt = Color(self.possible_agents.index(mover)).other  # final_obs is the next mover's view
            pos = position_from_observation(self._env.final_obs[0], nxt)
            return pos.black, pos.white, pos.kings, -1

        def render(self) -> str | None:
            if self.render_mode == "ansi":
                from kingme.checkers.board import Board

                black, white, kings, _ = self._state
                turn = Color(self.possible_agents.index(self.agent_selection))
                return str(Board(Position(black, white, kings, turn).fen()))
            return None

        def close(self) -> None:
            pass

    return _CheckersAEC()
