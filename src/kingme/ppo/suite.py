"""`kingme bench ppo-suite`: kingme's PPO defaults on environments nobody tuned them for, beside
Stable-Baselines3's PPO defaults measured in the same run.

    kingme bench ppo-suite                                   # every environment, seeds 1-5
    kingme bench ppo-suite --envs cartpole acrobot --seeds 1 2
    kingme bench ppo-suite --envs deepsea --skip-sb3         # kingme's side only
    kingme bench ppo-suite --skip-sb3 --set learning_rate=2.5e-3 num_steps=32   # other settings

For each environment and seed, each learner trains until the mean return of its last `window`
finished episodes reaches the environment's threshold (then the seed is *solved*) or its step
budget is spent. The table gives, per environment, the seeds solved and the median steps and wall
seconds to the threshold over the solved seeds.

The learners:
- kingme: `PPOConfig`'s defaults, exactly as `kingme train gym:ENV_ID --seed S` runs them (a run
  folder, in a temporary directory, with metrics, TensorBoard events and a checkpoint per update);
- SB3: `PPO("MlpPolicy", env, seed=S)` with every hyperparameter at its default (one environment,
  n_steps 2048, batch 64, 10 epochs, lr 3e-4, γ 0.99, λ 0.95, no entropy bonus), on
  `make_vec_env(ENV_ID, n_envs=1, seed=S)`.
Both see the same Gymnasium environments (kingme's deep sea and grid world through their
`kingme/...` registrations), run on one torch thread, and alternate which goes first from seed to
seed. SB3 is checked after every environment step, kingme after every update, which can only
flatter SB3's step counts. Each clock covers building the environments and the model, and training;
imports are warmed up first. SB3 is optional (the kingme[sb3] extra): without it the suite says so
and prints kingme's side only.

LunarLander-v3 is in the suite only where its Box2D dependency imports (`pip install "gymnasium[box2d]"`:
Box2D and pygame).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kingme.common import UserError
from kingme.config import Parser
from kingme.envs.gym_adapter import parse_env_kwargs
from kingme.ppo.config import GymPPOConfig

# ---------------------------------------------------------------------------------------------
# The environments
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteEnv:
    name: str  # what --envs calls it
    env_id: str  # the Gymnasium id
    threshold: float  # solved: the mean return of the last `window` episodes reaches this
    window: int
    budget: int  # environment steps per learner and seed
    kwargs: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def env_kwargs(self) -> tuple[str, ...]:
        return tuple(f"{k}={v!r}" for k, v in self.kwargs.items())


SUITE: tuple[SuiteEnv, ...] = (
    SuiteEnv("cartpole", "CartPole-v1", 475.0, 20, 100_000, note="Gymnasium's reward threshold"),
    SuiteEnv("acrobot", "Acrobot-v1", -100.0, 20, 100_000, note="Gymnasium's reward threshold"),
    SuiteEnv("mountaincar", "MountainCar-v0", -110.0, 20, 200_000, note="Gymnasium's reward threshold; sparse"),
    SuiteEnv(
        "frozenlake",
        "FrozenLake-v1",
        0.7,
        100,
        100_000,
        note="4x4, slippery; Gymnasium's threshold, over 100 episodes (the best policy succeeds ~74-82%)",
    ),
    SuiteEnv(
        "deepsea",
        "kingme/DeepSea-v0",
        0.9,
        20,
        100_000,
        {"size": 8},
        note="N = 8: a random policy is rewarded once in 128 episodes; all-right returns 0.99",
    ),
    SuiteEnv(
        "grid",
        "kingme/GridWorld-v0",
        0.95,
        20,
        50_000,
        {"shaping": "true"},
        note="5x5, +1 at the far corner, 50-step limit",
    ),
    SuiteEnv("lunarlander", "LunarLander-v3", 200.0, 20, 500_000, note="Gymnasium's threshold; needs Box2D"),
)
BY_NAME = {e.name: e for e in SUITE}


def box2d_available() -> bool:
    """Whether LunarLander can be built here (Gymnasium's box2d extra: Box2D and pygame)."""
    try:
        import Box2D  # type: ignore[import-not-found]  # noqa: F401
        import pygame  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# One learner, one seed
# ---------------------------------------------------------------------------------------------


@dataclass
class SeedResult:
    env: str
    learner: str
    seed: int
    steps: int | None  # environment steps when the threshold was first met (None: not met)
    seconds: float  # wall seconds to the threshold, or of the whole run when it was not met
    final: float | None  # the last `window`-episode mean when the run stopped

    @property
    def solved(self) -> bool:
        return self.steps is not None


def run_kingme(spec: SuiteEnv, seed: int, overrides: dict[str, Any] | None = None) -> SeedResult:
    """kingme's PPO with its defaults (plus `overrides`, for probing) on one seed."""
    from kingme.ppo.eval import StopAtReturn, gym_env
    from kingme.ppo.train import UpdateInfo, train

    cfg = GymPPOConfig(
        env=f"gym:{spec.env_id}",
        env_kwargs=spec.env_kwargs,
        seed=seed,
        device="cpu",
        torch_threads=1,
        return_window=spec.window,
        total_steps=spec.budget,
        **(overrides or {}),
    )
    stop = StopAtReturn(spec.threshold, spec.window)
    hit_at: list[float] = []

    def clock(info: UpdateInfo) -> None:  # runs after `stop`: the moment the threshold was met
        if stop.hit is not None and not hit_at:
            hit_at.append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        env = gym_env(cfg)
        try:
            result = train(cfg, env, run_dir=run_dir, callbacks=[stop, clock])
        finally:
            env.close()
        total = time.perf_counter() - start
    final = result.history[-1].get("charts/recent_return") if result.history else None
    steps = None if stop.hit is None else stop.hit[1]
    return SeedResult(spec.name, "kingme", seed, steps, hit_at[0] if hit_at else total, final)


def run_sb3(spec: SuiteEnv, seed: int) -> SeedResult:
    """Stable-Baselines3's PPO with every hyperparameter at its default, on one seed."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    hit: dict[str, Any] = {}
    last: deque[float] = deque(maxlen=spec.window)

    class StopAtThreshold(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                if "episode" in info:  # written by the Monitor wrapper when an episode ends
                    last.append(float(info["episode"]["r"]))
            if len(last) >= spec.window and statistics.fmean(last) >= spec.threshold:
                hit["steps"], hit["seconds"] = self.num_timesteps, time.perf_counter() - start
                return False
            return True

    start = time.perf_counter()
    env = make_vec_env(spec.env_id, n_envs=1, seed=seed, env_kwargs=spec.kwargs or None)
    model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=spec.budget, callback=StopAtThreshold())
    total = time.perf_counter() - start
    env.close()
    final = statistics.fmean(last) if last else None
    return SeedResult(spec.name, "sb3", seed, hit.get("steps"), hit.get("seconds", total), final)


# ---------------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------------


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def summary_row(spec: SuiteEnv, results: list[SeedResult], learners: list[str]) -> str:
    cells = [f"{spec.name} ({spec.env_id})", f"{spec.threshold:g} / {spec.window}", f"{spec.budget:,}"]
    for learner in learners:
        rs = [r for r in results if r.env == spec.name and r.learner == learner]
        ok = [r for r in rs if r.solved]
        steps = [float(r.steps) for r in ok if r.steps is not None]
        secs = [r.seconds for r in ok]
        cells.append(f"{len(ok)}/{len(rs)}")
        cells.append(f"{_median(steps):,.0f}" if ok else "-")
        cells.append(f"{_median(secs):.1f}" if ok else "-")
    return "| " + " | ".join(cells) + " |"


def warm_up(with_sb3: bool) -> None:
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # imports torch._dynamo (~1.5 s)
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401

    if with_sb3:
        import stable_baselines3  # noqa: F401
        from stable_baselines3.common.env_util import make_vec_env  # noqa: F401


def run_suite(
    envs: list[SuiteEnv],
    seeds: list[int],
    with_sb3: bool,
    out: Callable[[str], object] = print,
    overrides: dict[str, Any] | None = None,
    with_kingme: bool = True,
) -> list[SeedResult]:
    """Every (environment, seed, learner); per-run lines, then the summary table, through `out`."""
    import torch

    torch.set_num_threads(1)
    warm_up(with_sb3)
    learners = (["kingme"] if with_kingme else []) + (["sb3"] if with_sb3 else [])
    out("| environment | learner | seed | steps to threshold | seconds | last mean return |")
    out("|---|---|---:|---:|---:|---:|")
    results: list[SeedResult] = []
    for spec in envs:
        for i, seed in enumerate(seeds):
            for learner in learners if i % 2 == 0 else learners[::-1]:
                r = run_kingme(spec, seed, overrides) if learner == "kingme" else run_sb3(spec, seed)
                torch.set_num_threads(1)  # SB3 sets its own
                results.append(r)
                steps = f"{r.steps:,}" if r.steps is not None else f"not in {spec.budget:,}"
                final = "-" if r.final is None else f"{r.final:.2f}"
                out(f"| {spec.name} | {learner} | {seed} | {steps} | {r.seconds:.1f} | {final} |")
    out("")
    head = ["environment", "threshold / window", "budget"]
    for learner in learners:
        head += [f"{learner} solved", f"{learner} median steps", f"{learner} median s"]
    out("| " + " | ".join(head) + " |")
    out("|" + "---|" * len(head))
    for spec in envs:
        out(summary_row(spec, results, learners))
    return results


def main(argv: list[str]) -> int:
    p = Parser(prog="kingme bench ppo-suite", description="kingme's PPO defaults against SB3's on a suite of tasks.")
    p.add_argument(
        "--envs", nargs="+", default=None, metavar="ENV", help=f"Environments (default: all): {', '.join(BY_NAME)}."
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5], help="Seeds (default: 1 2 3 4 5).")
    p.add_argument("--skip-sb3", action="store_true", help="Run kingme's side only.")
    p.add_argument("--skip-kingme", action="store_true", help="Run SB3's side only (to split a long suite).")
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE",
        help="Change kingme's PPOConfig fields from their defaults (e.g. learning_rate=2.5e-3), to try settings.",
    )
    p.add_argument("--json", action="store_true", help="After the tables, one JSON line with every run.")
    a = p.parse_args(argv)
    overrides = parse_env_kwargs(a.set)
    fields = {f.name for f in dataclasses.fields(GymPPOConfig)} - {"env", "env_kwargs", "seed", "total_steps"}
    bad = sorted(set(overrides) - fields)
    if bad:
        raise UserError(f"--set {bad[0]}: not a PPOConfig field the suite lets you change")
    names = a.envs or list(BY_NAME)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise UserError(f"unknown suite environment {unknown[0]!r}: expected some of {', '.join(BY_NAME)}")
    envs = [BY_NAME[n] for n in dict.fromkeys(names)]
    if any(e.name == "lunarlander" for e in envs) and not box2d_available():
        if a.envs:
            raise UserError('LunarLander-v3 needs Box2D, which is not installed (pip install "gymnasium[box2d]")')
        print('LunarLander-v3 left out: Box2D is not installed (pip install "gymnasium[box2d]")')
        envs = [e for e in envs if e.name != "lunarlander"]
    with_sb3 = not a.skip_sb3
    if with_sb3:
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            print("stable-baselines3 is not installed (the kingme[sb3] extra): kingme's side only")
            with_sb3 = False
    if a.skip_kingme and not with_sb3:
        raise UserError("nothing to run: --skip-kingme without SB3")
    if overrides:
        print("kingme with " + ", ".join(f"{k}={v!r}" for k, v in overrides.items()))
    results = run_suite(envs, a.seeds, with_sb3, overrides=overrides, with_kingme=not a.skip_kingme)
    if a.json:
        print(json.dumps([r.__dict__ for r in results]))
    sys.stdout.flush()
    return 0
