"""kingme's PPO against Stable-Baselines3's PPO on CartPole-v1, in the same process.

For each seed, both learners train until the mean return of their last 20 finished episodes
reaches 475 (or a step budget runs out), and the script reports the environment steps and the wall
time each needed. kingme runs with its defaults, exactly as `kingme train gym:CartPole-v1 --seed S`
would (metrics.jsonl, TensorBoard events and a checkpoint after every update, into a temporary run
folder); SB3 runs with the RL Baselines3 Zoo's tuned CartPole-v1 hyperparameters (hyperparams/
ppo.yml): n_envs 8, n_steps 32, batch_size 256, gae_lambda 0.8, gamma 0.98, n_epochs 20,
ent_coef 0.0, learning_rate lin_0.001, clip_range lin_0.2, over n_timesteps 1e5.

Fairness:
- imports (torch, torch's optimiser machinery, TensorBoard, SB3) are warmed up before any clock
  starts; each clock covers building the environments and the model, and training;
- both run on one torch thread (`--threads`), the faster setting for these small networks;
- the order alternates between seeds, so slow phases of a shared machine hit both;
- kingme checks the target once per update (every 256 steps), SB3 after every vector step (every 8
  steps), which can only flatter SB3's step count.

    .venv/bin/python benchmarks/cartpole_vs_sb3.py                # 5 seeds, both learners
    .venv/bin/python benchmarks/cartpole_vs_sb3.py --seeds 1 2 --skip-sb3

SB3 is optional (`pip install -e ".[sb3]"` or `pip install stable-baselines3`); without it the
script says so and runs kingme alone if --skip-sb3 is given.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass
class Result:
    learner: str
    seed: int
    steps: int | None  # environment steps when the target was first met (None: not met)
    seconds: float  # wall time to the target, or of the whole run if it was not met
    final_return: float | None  # the last-20 mean when the run stopped


def warm_up(with_sb3: bool) -> None:
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # imports torch._dynamo (~1.5 s)
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401

    if with_sb3:
        import stable_baselines3  # noqa: F401
        from stable_baselines3.common.env_util import make_vec_env  # noqa: F401


def run_kingme(seed: int, target: float, window: int, max_steps: int) -> Result:
    from kingme.envs.gym_adapter import GymVecEnv
    from kingme.ppo.config import PPOConfig
    from kingme.ppo.train import UpdateInfo, train

    cfg = PPOConfig(env="gym:CartPole-v1", seed=seed, device="cpu", return_window=window)
    hit: dict[str, Any] = {}

    def stop_at_target(info: UpdateInfo) -> None:
        recent = info.metrics.get("charts/recent_return")
        if recent is not None and info.metrics["charts/total_episodes"] >= window and recent >= target:
            hit["steps"], hit["seconds"] = info.global_step, time.perf_counter() - start
            info.stop = True
        elif info.global_step >= max_steps:
            info.stop = True

    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        env = GymVecEnv("CartPole-v1", cfg.num_envs)
        result = train(cfg, env, run_dir=run_dir, callbacks=[stop_at_target])
        env.close()
        total = time.perf_counter() - start
    final = result.history[-1].get("charts/recent_return") if result.history else None
    return Result("kingme", seed, hit.get("steps"), hit.get("seconds", total), final)


def run_sb3(seed: int, target: float, window: int, max_steps: int) -> Result:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    hit: dict[str, Any] = {}
    last: deque[float] = deque(maxlen=window)

    class StopAtTarget(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                if "episode" in info:  # written by the Monitor wrapper when an episode ends
                    last.append(float(info["episode"]["r"]))
            if len(last) >= window and statistics.fmean(last) >= target:
                hit["steps"], hit["seconds"] = self.num_timesteps, time.perf_counter() - start
                return False
            return self.num_timesteps < max_steps

    def lin(initial: float):  # the zoo's lin_X: X times the fraction of training remaining
        return lambda progress_remaining: progress_remaining * initial

    start = time.perf_counter()
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=lin(1e-3),
        clip_range=lin(0.2),
        seed=seed,
        device="cpu",
        verbose=0,
    )
    model.learn(total_timesteps=100_000, callback=StopAtTarget())
    total = time.perf_counter() - start
    env.close()
    final = statistics.fmean(last) if last else None
    return Result("sb3", seed, hit.get("steps"), hit.get("seconds", total), final)


def _median(xs: list[float] | list[int]) -> float:
    return statistics.median(xs) if xs else float("nan")


def summarise(results: list[Result], learner: str, budget: int) -> str:
    rs = [r for r in results if r.learner == learner]
    ok = [r for r in rs if r.steps is not None and r.steps <= budget]
    reached = [r for r in rs if r.steps is not None]
    steps = sorted(r.steps for r in reached if r.steps is not None)
    secs = sorted(r.seconds for r in reached)
    return (
        f"| {learner} | {len(ok)}/{len(rs)} | "
        f"{min(steps, default=0):,}-{max(steps, default=0):,} (median {_median(steps):,.0f}) | "
        f"{min(secs, default=0):.1f}-{max(secs, default=0):.1f} (median {_median(secs):.1f}) |"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--target", type=float, default=475.0, help="mean return to reach")
    p.add_argument("--window", type=int, default=20, help="episodes in the mean")
    p.add_argument("--budget", type=int, default=50_000, help="steps within which to reach it")
    p.add_argument("--max-steps", type=int, default=100_000, help="stop a run that has not reached it")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for both learners")
    p.add_argument("--skip-sb3", action="store_true", help="run kingme only")
    args = p.parse_args(argv)

    with_sb3 = not args.skip_sb3
    if with_sb3:
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            sys.stderr.write(
                "stable-baselines3 is not installed: pip install stable-baselines3 "
                "(or the kingme[sb3] extra), or pass --skip-sb3\n"
            )
            return 2
    import torch

    torch.set_num_threads(args.threads)
    warm_up(with_sb3)
    print(
        f"CartPole-v1, target: mean of the last {args.window} episodes >= {args.target:g}; "
        f"torch {torch.__version__}, {args.threads} thread(s)"
    )
    print("| learner | seed | steps to target | wall seconds to target | last mean return |")
    print("|---|---|---|---|---|")
    results: list[Result] = []
    for i, seed in enumerate(args.seeds):
        order = ["kingme", "sb3"] if i % 2 == 0 else ["sb3", "kingme"]
        for learner in order:
            if learner == "sb3" and not with_sb3:
                continue
            run = run_kingme if learner == "kingme" else run_sb3
            r = run(seed, args.target, args.window, args.max_steps)
            torch.set_num_threads(args.threads)
            results.append(r)
            steps = f"{r.steps:,}" if r.steps is not None else f"not reached in {args.max_steps:,}"
            final = f"{r.final_return:.1f}" if r.final_return is not None else "-"
            print(f"| {learner} | {seed} | {steps} | {r.seconds:.1f} | {final} |", flush=True)
    print()
    print(
        f"| learner | reached within {args.budget:,} steps | steps to target (range) | wall seconds to target (range) |"
    )
    print("|---|---|---|---|")
    for learner in ("kingme", "sb3"):
        if learner == "sb3" and not with_sb3:
            continue
        print(summarise(results, learner, args.budget))
    return 0


if __name__ == "__main__":
    sys.exit(main())
