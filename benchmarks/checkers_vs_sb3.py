"""kingme's self-play PPO against sb3-contrib's MaskablePPO on checkers, in the same process.

Both learners play the same opponent (uniformly random legal moves), with the same network size
(two hidden layers of 256, separate actor and critic), on one torch thread. Reported for each:
- learner environment steps per second (the learner's own moves; opponent moves are inside the
  environment step for both);
- the wall time until the greedy policy scores at least 95% against `random` (evaluated every
  `--eval-every` seconds over `--eval-games` games from the 3-move openings, colours swapped, with
  kingme's arena; the evaluation's own time is not counted), or "not reached" within the budget.

kingme trains on its `SelfPlayEnv` (128 games in lockstep, the opponent moving inside the step);
MaskablePPO trains with its default settings on the project's Gymnasium environment
(`CheckersGymEnv`, one game, `action_masks()`), as its users would.

    .venv/bin/python benchmarks/checkers_vs_sb3.py --minutes 5
    .venv/bin/python benchmarks/checkers_vs_sb3.py --skip-sb3

sb3-contrib is optional (`pip install -e ".[sb3]"`).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

from kingme.nets import make_network
from kingme.ppo.train import UpdateInfo, train
from kingme.selfplay.env import OpponentPool, SelfPlayEnv
from kingme.selfplay.train import SelfPlayConfig, evaluate, opening_starts


class Clock:
    """Training wall time with the evaluation pauses taken out."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.paused = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused


def run_kingme(minutes: float, eval_every: float, eval_games: int, seed: int) -> dict[str, Any]:
    cfg = SelfPlayConfig(
        p_self=0.0,
        p_bots=1.0,
        bots=("random",),
        minutes=0.0,
        tensorboard=False,
        checkpoint_every=0,
        eval_every_minutes=0.0,
        seed=seed,
    )
    cfg.total_steps = 10**10

    def make_net() -> Any:
        return make_network("mlp", (256, 256), 64, (6, 32), 128)

    pool = OpponentPool(make_net=make_net, p_self=0.0, p_bots=1.0, bots=["random"])
    env = SelfPlayEnv(cfg.num_envs, pool, max_plies=cfg.max_plies, seed=seed)
    env.inner.starts = opening_starts()
    clock = Clock()
    out: dict[str, Any] = {"learner": "kingme PPO", "time_to_95": None, "evals": []}
    last = [0.0]

    def cb(info: UpdateInfo) -> None:
        t = clock.now()
        out["steps"], out["seconds"] = info.global_step, t
        if t - last[0] >= eval_every:
            t0 = time.perf_counter()
            score = evaluate(info.agent, ["random"], eval_games, seed)["opponents"]["random"]["score"]
            clock.paused += time.perf_counter() - t0
            last[0] = t
            out["evals"].append((round(t, 1), info.global_step, score))
            if score >= 0.95 and out["time_to_95"] is None:
                out["time_to_95"], out["steps_to_95"] = round(t, 1), info.global_step
                info.stop = True
        if t >= minutes * 60:
            info.stop = True

    def make_agent(*_: Any) -> Any:
        pool.learner = make_net()
        return pool.learner

    train(cfg, env, make_agent=make_agent, callbacks=[cb])
    out["sps"] = round(out["steps"] / out["seconds"])
    return out


def run_sb3(minutes: float, eval_every: float, eval_games: int, seed: int) -> dict[str, Any]:
    try:
        from sb3_contrib import MaskablePPO
        from stable_baselines3.common.callbacks import BaseCallback
    except ImportError:
        raise SystemExit("sb3-contrib is not installed: pip install -e '.[sb3]' (or use --skip-sb3)") from None
    from kingme.envs.checkers_gym import CheckersGymEnv
    from kingme.nets import ActorCritic

    class SB3Agent(ActorCritic):
        """MaskablePPO's policy behind kingme's ActorCritic interface, for the shared evaluation."""

        def __init__(self, policy: Any) -> None:
            super().__init__()
            self.policy = policy

        def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            features = self.policy.extract_features(obs.reshape(obs.shape[0], -1), self.policy.pi_features_extractor)
            latent_pi, latent_vf = self.policy.mlp_extractor(features)
            return self.policy.action_net(latent_pi), self.policy.value_net(latent_vf).squeeze(-1)

    clock = Clock()
    out: dict[str, Any] = {"learner": "sb3-contrib MaskablePPO", "time_to_95": None, "evals": []}
    env = CheckersGymEnv(agent_color="random")
    model = MaskablePPO("MlpPolicy", env, seed=seed, policy_kwargs={"net_arch": [256, 256]}, device="cpu")

    class CB(BaseCallback):
        last = 0.0

        def _on_step(self) -> bool:
            t = clock.now()
            out["steps"], out["seconds"] = self.num_timesteps, t
            if t - self.last >= eval_every:
                t0 = time.perf_counter()
                with torch.no_grad():
                    score = evaluate(SB3Agent(model.policy), ["random"], eval_games, seed)
                score = score["opponents"]["random"]["score"]
                clock.paused += time.perf_counter() - t0
                self.last = t
                out["evals"].append((round(t, 1), self.num_timesteps, score))
                if score >= 0.95:
                    out["time_to_95"], out["steps_to_95"] = round(t, 1), self.num_timesteps
                    return False
            return t < minutes * 60

    model.learn(total_timesteps=10**9, callback=CB())
    out["sps"] = round(out["steps"] / out["seconds"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=5.0, help="training budget per learner")
    p.add_argument("--eval-every", type=float, default=15.0, help="seconds of training between evaluations")
    p.add_argument("--eval-games", type=int, default=64, help="games per evaluation against random")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skip-sb3", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    results = [run_kingme(a.minutes, a.eval_every, a.eval_games, a.seed)]
    if not a.skip_sb3:
        results.append(run_sb3(a.minutes, a.eval_every, a.eval_games, a.seed))
    for r in results:
        print(json.dumps(r))
    if len(results) == 2:
        print(f"SPS ratio kingme / MaskablePPO: {results[0]['sps'] / results[1]['sps']:.1f}x")


if __name__ == "__main__":
    main()
