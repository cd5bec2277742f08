"""N checkers games stepped together in one compiled call: the environment learning code sees.

Actions. One action is one step or one *single* jump, encoded as ``4 * square + direction`` in a
fixed space of 128, in the frame of the side to move (see below). A multi-jump is a sequence of
actions by the same player, who keeps the move (``side`` does not change and the mask then only
allows the jumping piece's next jumps). Captures are compulsory, as in the rules.

The side-to-move frame, the action index and the observation's planes are defined in
`kingme.envs.planes`: the board is rotated 180 degrees for White, so the side to move always sits
on squares 1-12 at the start and moves towards square 32; action = ``4 * frame index +
direction``; the observation, shape (6, 32) float32 (a network may view the 32 squares as 8 rows x
4), holds the own men, own kings, opponent men, opponent kings, the piece that must continue a
multi-jump, and the draw clock (plies since the last capture or man move, divided by 80). Without
the clock a deterministic policy cannot tell a position from its repetition, and shuffles into
draws.

Rewards and ends. ``reward`` goes to the player who acted at this step: +1 if its move left the
opponent without a legal move (a win), else 0. A game is *terminated* when won, or drawn by the
80-ply rule or threefold repetition; it is *truncated* at ``max_plies`` complete moves. After
each step, ``acting_side`` says who acted and ``outcome`` (for ended games) says +1 (the actor
won) or 0 (draw or truncation); ``side`` is the side to move next. Finished games reset
automatically; ``final_obs`` holds the last observation of each finished game (from the view of
the side that would move next), as the `VecEnv` protocol asks.

Converting between these actions and observations and the engine's `Board` and `Move`s is the
job of `kingme.envs.bridge`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from kingme.checkers import Color, core
from kingme.checkers.core import (
    _ONE,
    _ZERO,
    BLACK_START,
    U64,
    VALID,
    crown_row,
    is_forward,
    jumpers,
    lsb_index,
    shift,
)
from kingme.envs.base import VecStep
from kingme.envs.planes import (
    CLOCK,
    JUMPING,
    NUM_ACTIONS,
    OBS_SHAPE,
    OPP_KINGS,
    OPP_MEN,
    OWN_KINGS,
    OWN_MEN,
    action,
    bit_of_frame_index,
    frame_direction,
    frame_index_of_bit,
)

if TYPE_CHECKING:
    from kingme.envs.bridge import Position

HIST = core.DRAW_PLIES + 2  # positions kept for the repetition rule (none survives an irreversible move)


@njit(inline="always", cache=True)
def _movable(P: np.uint64, O: np.uint64, K: np.uint64, side: int, jumping: int, d: int) -> np.uint64:
    """Pieces of the side to move with a legal single action in real direction ``d``."""
    empty = VALID & ~(P | O)
    movers = P if is_forward(d, side) else (P & K)
    if jumping >= 0:
        movers &= _ONE << U64(jumping)
    must_jump = jumping >= 0 or jumpers(P, O, K, side) != _ZERO
    if must_jump:
        land = shift(shift(movers, d) & O, d) & empty
        return shift(shift(land, d ^ 2), d ^ 2)
    return shift(shift(movers, d) & empty, d ^ 2)


@njit(cache=True)
def write_observation(
    black: np.uint64,
    white: np.uint64,
    kings: np.uint64,
    side: int,
    jumping: int,
    clock: int,
    obs: np.ndarray,
    mask: np.ndarray,
) -> int:
    """Write one game's observation and legal-action mask; return the number of legal actions."""
    P, O = (black, white) if side == 0 else (white, black)
    obs[:] = 0.0
    for plane, bb in ((OWN_MEN, P & ~kings), (OWN_KINGS, P & kings), (OPP_MEN, O & ~kings), (OPP_KINGS, O & kings)):
        while bb != _ZERO:
            b = lsb_index(bb)
            bb &= bb - _ONE
            obs[plane, frame_index_of_bit(int(b), side)] = 1.0
    if jumping >= 0:
        obs[JUMPING, frame_index_of_bit(jumping, side)] = 1.0
    obs[CLOCK, :] = clock / core.DRAW_PLIES
    mask[:] = False
    n = 0
    for d in range(4):
        cd = frame_direction(d, side)
        bb = _movable(P, O, kings, side, jumping, d)
        while bb != _ZERO:
            b = lsb_index(bb)
            bb &= bb - _ONE
            mask[action(frame_index_of_bit(int(b), side), cd)] = True
            n += 1
    return n


@njit(cache=True)
def _reset_one(
    i: int,
    black: np.ndarray,
    white: np.ndarray,
    kings: np.ndarray,
    side: np.ndarray,
    clock: np.ndarray,
    plies: np.ndarray,
    jumping: np.ndarray,
    hist: np.ndarray,
    hlen: np.ndarray,
    obs: np.ndarray,
    mask: np.ndarray,
    starts: np.ndarray,
    rng: np.ndarray,
) -> None:
    """A new game in row i: the start position, or a row of ``starts`` (black, white, kings, side)
    drawn uniformly when it has any."""
    if starts.shape[0] == 0:
        b, w, k, s = BLACK_START, core.WHITE_START, _ZERO, 0
    else:
        j = core.rand_below(rng, starts.shape[0])
        b, w, k, s = starts[j, 0], starts[j, 1], starts[j, 2], int(starts[j, 3])
    black[i], white[i], kings[i], side[i] = b, w, k, s
    clock[i], plies[i], jumping[i] = 0, 0, -1
    hist[i, 0, 0], hist[i, 0, 1], hist[i, 0, 2] = b, w, k
    hlen[i] = 1
    write_observation(b, w, k, s, -1, 0, obs[i], mask[i])


@njit(cache=True)
def _reset_all(black, white, kings, side, clock, plies, jumping, hist, hlen, obs, mask, starts, rng):  # type: ignore[no-untyped-def]
    for i in range(black.shape[0]):
        _reset_one(i, black, white, kings, side, clock, plies, jumping, hist, hlen, obs, mask, starts, rng)


@njit(cache=True)
def _step_all(
    rows: np.ndarray,
    actions: np.ndarray,
    black: np.ndarray,
    white: np.ndarray,
    kings: np.ndarray,
    side: np.ndarray,
    clock: np.ndarray,
    plies: np.ndarray,
    jumping: np.ndarray,
    hist: np.ndarray,
    hlen: np.ndarray,
    obs: np.ndarray,
    mask: np.ndarray,
    reward: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    final_obs: np.ndarray,
    outcome: np.ndarray,
    acting: np.ndarray,
    max_plies: int,
    starts: np.ndarray,
    rng: np.ndarray,
) -> int:
    """Step the games listed in ``rows`` with ``actions[row]``; return the first game given an
    illegal action, or -1. Games are checked before anything is changed, so an illegal action
    leaves every game as it was. The output flags of games not listed are left untouched.
    """
    for k in range(rows.shape[0]):
        i = rows[k]
        a = actions[i]
        if a < 0 or a >= NUM_ACTIONS or not mask[i, a]:
            return i
    for k in range(rows.shape[0]):
        i = rows[k]
        a = actions[i]
        s = int(side[i])
        csq, cdir = a >> 2, a & 3
        b = bit_of_frame_index(csq, s)
        d = frame_direction(cdir, s)
        P, O = (black[i], white[i]) if s == 0 else (white[i], black[i])
        K = kings[i]
        frm = _ONE << U64(b)
        was_king = (K & frm) != _ZERO
        step = shift(frm, d)
        captured = False
        if step & O != _ZERO:  # a single jump
            captured = True
            O &= ~step
            K &= ~step
            to = shift(step, d)
        else:
            to = step
        P = (P ^ frm) | to
        if was_king:
            K = (K ^ frm) | to
        crowned = (not was_king) and (to & crown_row(s)) != _ZERO
        if crowned:
            K |= to
        acting[i] = s
        reward[i] = 0.0
        terminated[i] = False
        truncated[i] = False
        outcome[i] = 0
        # does the same piece keep the move?
        more = False
        if captured and not crowned:
            jb = int(lsb_index(to))
            for dd in range(4):
                if (was_king or is_forward(dd, s)) and _movable(P, O, K, s, jb, dd) != _ZERO:
                    more = True
                    break
        if s == 0:
            black[i], white[i] = P, O
        else:
            white[i], black[i] = P, O
        kings[i] = K
        if more:
            jumping[i] = int(lsb_index(to))
            write_observation(black[i], white[i], kings[i], s, jumping[i], clock[i], obs[i], mask[i])
            continue
        # the move is complete: the other side is to move
        jumping[i] = -1
        ns = 1 - s
        side[i] = ns
        plies[i] += 1
        irreversible = captured or not was_king
        if irreversible:
            clock[i] = 0
            hlen[i] = 0
        else:
            clock[i] += 1
        nlegal = write_observation(black[i], white[i], kings[i], ns, -1, clock[i], obs[i], mask[i])
        done = False
        if nlegal == 0:
            reward[i] = 1.0
            outcome[i] = 1
            terminated[i] = True
            done = True
        elif clock[i] >= core.DRAW_PLIES:
            terminated[i] = True
            done = True
        else:
            reps = 0
            j = hlen[i] - 2
            while j >= 0:
                if hist[i, j, 0] == black[i] and hist[i, j, 1] == white[i] and hist[i, j, 2] == kings[i]:
                    reps += 1
                j -= 2
            if reps >= 2:
                terminated[i] = True
                done = True
            elif plies[i] >= max_plies:
                truncated[i] = True
                done = True
        if done:
            final_obs[i] = obs[i]
            _reset_one(i, black, white, kings, side, clock, plies, jumping, hist, hlen, obs, mask, starts, rng)
        else:
            h = hlen[i]
            hist[i, h, 0], hist[i, h, 1], hist[i, h, 2] = black[i], white[i], kings[i]
            hlen[i] = h + 1
    return -1


@njit(cache=True)
def random_legal_actions(mask: np.ndarray, rng_state: np.ndarray, out: np.ndarray) -> None:
    """One uniformly random legal action per row of ``mask`` (compiled, for benchmarks and tests)."""
    for i in range(mask.shape[0]):
        cnt = 0
        for a in range(NUM_ACTIONS):
            cnt += mask[i, a]
        k = core.rand_below(rng_state, cnt)
        for a in range(NUM_ACTIONS):
            if mask[i, a]:
                if k == 0:
                    out[i] = a
                    break
                k -= 1


class CheckersVecEnv:
    """N checkers games as batched arrays (implements `kingme.envs.base.VecEnv`).

    All arrays are preallocated and reused: `step` returns views that the next call overwrites,
    so copy what you keep.
    """

    num_actions = NUM_ACTIONS
    obs_shape = OBS_SHAPE

    def __init__(self, num_envs: int, max_plies: int = 400, starts: np.ndarray | None = None, seed: int = 0) -> None:
        """`starts`: optional (M, 4) uint64 rows (black, white, kings, side) from which each new
        game starts, drawn uniformly (e.g. the 3-move openings); the start position otherwise."""
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, not {num_envs}")
        if max_plies < 1:
            raise ValueError(f"max_plies must be >= 1, not {max_plies}")
        n = num_envs
        self.num_envs = n
        self.max_plies = max_plies
        self.black = np.zeros(n, dtype=np.uint64)
        self.white = np.zeros(n, dtype=np.uint64)
        self.kings = np.zeros(n, dtype=np.uint64)
        self.side = np.zeros(n, dtype=np.int8)  # side to move: 0 Black, 1 White
        self.clock = np.zeros(n, dtype=np.int32)  # plies since capture or man move
        self.plies = np.zeros(n, dtype=np.int32)  # complete moves played in this game
        self.jumping = np.full(n, -1, dtype=np.int64)  # bit of the piece continuing a jump, or -1
        self.hist = np.zeros((n, HIST, 3), dtype=np.uint64)
        self.hlen = np.zeros(n, dtype=np.int64)
        self.obs = np.zeros((n, *OBS_SHAPE), dtype=np.float32)
        self.mask = np.zeros((n, NUM_ACTIONS), dtype=np.bool_)
        self.reward = np.zeros(n, dtype=np.float32)
        self.terminated = np.zeros(n, dtype=np.bool_)
        self.truncated = np.zeros(n, dtype=np.bool_)
        self.final_obs = np.zeros((n, *OBS_SHAPE), dtype=np.float32)
        self.outcome = np.zeros(n, dtype=np.int8)
        self.acting_side = np.zeros(n, dtype=np.int8)
        self._all_rows = np.arange(n, dtype=np.int64)
        self.starts = np.zeros((0, 4), dtype=np.uint64) if starts is None else np.ascontiguousarray(starts, np.uint64)
        if self.starts.ndim != 2 or self.starts.shape[1] != 4:
            raise ValueError("starts must have shape (M, 4): black, white, kings, side")
        self.rng = np.array([(seed * 0x9E3779B97F4A7C15 + 1) % 2**64 or 1], dtype=np.uint64)
        self.reset()

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.black,
            self.white,
            self.kings,
            self.side,
            self.clock,
            self.plies,
            self.jumping,
            self.hist,
            self.hlen,
            self.obs,
            self.mask,
        )

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every game back to a start position (`seed` reseeds the choice among `starts`)."""
        if seed is not None:
            self.rng[0] = (seed * 0x9E3779B97F4A7C15 + 1) % 2**64 or 1
        _reset_all(*self._arrays(), self.starts, self.rng)
        return self.obs, self.mask

    def step(self, actions: np.ndarray) -> VecStep:
        self.step_rows(self._all_rows, actions)
        return VecStep(self.obs, self.reward, self.terminated, self.truncated, self.mask, self.final_obs)

    def step_rows(self, rows: np.ndarray, actions: np.ndarray) -> None:
        """Step only the games in ``rows`` (int64 indices) with ``actions[rows]``; ``actions`` has
        one entry per game. The output arrays of the other games keep their previous values."""
        actions = np.ascontiguousarray(actions, dtype=np.int64)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected actions of shape ({self.num_envs},), got {actions.shape}")
        bad = _step_all(
            np.ascontiguousarray(rows, dtype=np.int64),
            actions,
            *self._arrays(),
            self.reward,
            self.terminated,
            self.truncated,
            self.final_obs,
            self.outcome,
            self.acting_side,
            self.max_plies,
            self.starts,
            self.rng,
        )
        if bad >= 0:
            raise ValueError(f"illegal action {int(actions[bad])} in game {bad}; no game was changed")

    def action_masks(self) -> np.ndarray:
        return self.mask

    def close(self) -> None:
        pass

    def fen(self, i: int) -> str:
        """The FEN of game ``i`` (mid-jump positions show the pieces as they stand)."""
        return self.position(i).fen()

    def position(self, i: int) -> Position:
        """Game ``i`` as a `kingme.envs.bridge.Position` (mid-jump states included)."""
        from kingme.envs.bridge import Position

        return Position(
            int(self.black[i]),
            int(self.white[i]),
            int(self.kings[i]),
            Color(int(self.side[i])),
            int(self.jumping[i]),
            int(self.clock[i]),
        )
