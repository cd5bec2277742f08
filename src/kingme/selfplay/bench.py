"""`kingme bench train`: the self-play training loop's speed against the bound its network sets.

1. The loop: `train_checkers` with the default network, timed over a few updates after a warm-up
   update, in learner steps per second (SPS). Two opponent mixes are measured: pure self-play
   (network opponents only) and the default mix (which adds curriculum search bots).
2. The bound: the network work one learner step needs, timed alone in the same process on the same
   shapes: the learner's forward pass at each step (batch N), one opponent forward pass per
   learner step (batch N; each learner move is answered by about one opponent move), the θ_old
   evaluation of the whole batch, and the update epochs (forward and backward over minibatches).
   bound SPS = T·N / (T·(t_learner + t_opponent) + t_eval + t_update).
The ratio loop / bound says how much the environment, the bookkeeping and Python cost on top of
the network. Both run with the torch threads training uses (one per usable core unless --threads
says otherwise).
"""

from __future__ import annotations

import platform
import time
from typing import Any

import torch

from kingme.envs.planes import NUM_ACTIONS, OBS_SHAPE
from kingme.nets import make_network
from kingme.ppo.core import mask_logits
from kingme.ppo.train import make_optimizer
from kingme.selfplay.config import SelfPlayConfig
from kingme.selfplay.train import train_checkers


def _time(fn: Any, repeats: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def network_bound(cfg: SelfPlayConfig) -> dict[str, float]:
    torch.set_num_threads(cfg.threads)
    net = make_network(cfg.net, cfg.hidden_sizes, cfg.channels, OBS_SHAPE, NUM_ACTIONS, cfg.value_head, cfg.draw_reward)
    opt = make_optimizer(net, cfg, torch.device("cpu"))
    N, T = cfg.num_envs, cfg.num_steps
    B = N * T
    obs = torch.rand(N, 6, 32).round()
    mask = torch.rand(N, NUM_ACTIONS) < 0.1
    big = torch.rand(B, 6, 32).round()
    with torch.no_grad():
        t_step = _time(lambda: mask_logits(net.logits(obs), mask).softmax(-1), 20)
        t_eval = _time(lambda: net(big), 3)
    mb = B // cfg.num_minibatches

    def update() -> None:
        for _ in range(cfg.update_epochs):
            for k in range(cfg.num_minibatches):
                logits, v = net(big[k * mb : (k + 1) * mb])
                loss = logits.logsumexp(-1).mean() + v.pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()

    t_update = _time(update, 2)
    per_batch = T * 2 * t_step + t_eval + t_update
    return {
        "learner_forward_ms": 1e3 * t_step,
        "opponent_forward_ms": 1e3 * t_step,
        "old_policy_eval_ms": 1e3 * t_eval,
        "update_ms": 1e3 * t_update,
        "bound_sps": B / per_batch,
    }


def loop_sps(cfg: SelfPlayConfig, updates: int) -> float:
    cfg.total_steps = cfg.batch_size * (updates + 1)
    result = train_checkers(cfg, None, quiet=True)
    rows = result.history
    # SPS over the updates after the first (compilation, allocation warm-up)
    dt = rows[-1]["time"] - rows[0]["time"]
    return (rows[-1]["global_step"] - rows[0]["global_step"]) / dt


def bench_train(quick: bool = False, threads: int = 0) -> dict[str, Any]:
    updates = 2 if quick else 8
    base = dict(
        minutes=0.0,
        eval_every_minutes=0.0,
        eval_games=2,
        eval_ladder=("random",),
        tensorboard=False,
        checkpoint_every=0,
        torch_threads=threads,
    )
    if quick:
        base.update(num_envs=16, num_steps=16)
    selfplay_cfg = SelfPlayConfig(**base, p_bots=0.0, bots=())  # type: ignore[arg-type]  # no search bots
    default_cfg = SelfPlayConfig(**base)  # type: ignore[arg-type]
    selfplay_cfg.validate()  # a bad value (e.g. --threads -1) fails here in one line, before any timing
    bound = network_bound(selfplay_cfg)
    sps_self = loop_sps(selfplay_cfg, updates)
    sps_default = loop_sps(default_cfg, updates)
    return {
        "machine": f"{platform.machine()}, {selfplay_cfg.threads} torch thread(s)",
        "network": f"{selfplay_cfg.net} {selfplay_cfg.hidden_sizes}",
        "batch": {
            "num_envs": selfplay_cfg.num_envs,
            "num_steps": selfplay_cfg.num_steps,
            "update_epochs": selfplay_cfg.update_epochs,
            "num_minibatches": selfplay_cfg.num_minibatches,
        },
        "network_bound": {k: round(v, 3) for k, v in bound.items()},
        "loop_sps_pure_selfplay": round(sps_self),
        "loop_sps_default_mix": round(sps_default),
        "fraction_of_bound_pure_selfplay": round(sps_self / bound["bound_sps"], 3),
        "fraction_of_bound_default_mix": round(sps_default / bound["bound_sps"], 3),
        "target_fraction": 0.7,
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(bench_train(), indent=2))
