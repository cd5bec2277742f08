"""`kingme compute-curves RUN`: what compute buys a self-play run (issue 28, part 1).

From a run trained with `--keep-models K` (a model file at K, 2K, 4K, ... learner steps,
runs/NAME/models/), one command rates and fits:

1. **Training compute**: each kept model, as the raw policy (its most probable move, no search),
   on the ladder (`kingme.arena.ladder.run_ladder`) with `games` games a rung on the rungs around
   its level (`next_rung`: the rung nearest the previous model's rating first, then up or down
   until its scores bracket 0.5, at most `max_rungs`); the Elo per doubling of learner steps is
   the slope of a weighted least-squares line through (log2 steps, Elo) (`fit_line`), with its
   95% interval; the learner steps per second come from the kept files' metadata.
2. **Play-time compute**: for three kept models, the learned search player
   (`search:policy:MODEL:DEPTH`: alpha-beta with the network's critic at the leaves and its policy
   ordering the moves) at depths 1..D, each rated the same way; its cost is the positions through
   the network per move (``evals``), measured on a fixed set of positions (`probe_positions`), so
   the x axis is log2 of positions examined per move; the raw policy is the depth-0 point (one
   position). Beside it the hand-written alpha-beta (`alphabeta:D`, nodes per move on the same
   positions): the even depths are the ladder's fixed ratings, the odd ones are rated here.
3. **The exchange rate**: (Elo per doubling of search) / (Elo per doubling of training) is the
   number of doublings of training one doubling of search is worth (`exchange_rate`, interval by
   the delta method).
4. An **extrapolation** (labelled as one): the learner steps a day on a T4-class GPU would give,
   from the network's FLOPs per learner step (`flops_per_learner_step`) and the card's published
   FP32 throughput at an assumed utilisation, and the Elo the fitted line gives there.

Every match result is appended to RUN/compute/matches.jsonl and every cost probe to
RUN/compute/costs.json as soon as it is done, so the command resumes: it skips what is there.
The report is RUN/compute/report.md with RUN/compute/compute_curves.png. A full run takes hours
on one core (mostly the depth-4 searches); `--parts train` rates the kept models alone.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kingme.arena.elo import Z95, fit_rating, score
from kingme.arena.ladder import LADDER, RUNG_RATINGS, check_games
from kingme.common import UserError, atomic_write_text
from kingme.config import Parser, add_config_args, arg, config_from_args, require

OUT_DIR = "compute"
PARTS = ("train", "search", "alphabeta")


@dataclass
class CurvesConfig:
    """`kingme compute-curves RUN`: the training- and play-time compute curves of a run's kept models."""

    games: int = arg(200, "Games against each rung (even: every opening twice, colours swapped).")
    max_rungs: int = arg(2, "Rungs at most per rated point, chosen around its level (next_rung).")
    search_models: tuple[int, ...] = arg(
        (), "Milestones (learner steps) of the three kept models given the search curve (empty: first, middle, last)."
    )
    search_depths: tuple[int, ...] = arg((1, 2, 3, 4), "Depths of the learned search player (plies).")
    alphabeta_depths: tuple[int, ...] = arg((1, 2, 3, 4, 5, 6, 7, 8), "Depths of the alpha-beta curve.")
    probe_positions: int = arg(100, "Positions on which each player's cost (positions examined per move) is measured.")
    parts: tuple[str, ...] = arg(
        PARTS, "What to rate: train (kept models), search, alphabeta; the report uses all there is."
    )
    seed: int = arg(0, "Seed of the ladder games.")
    gpu_tflops: float = arg(8.1, "Published FP32 throughput of the GPU of the extrapolation (T4: 8.1 TFLOPS).")
    gpu_utilisation: float = arg(0.05, "Assumed share of that throughput the loop would use (an assumption).")
    gpu_hours: float = arg(24.0, "Hours of the extrapolation.")
    host_steps_per_s: float = arg(
        24_500.0,
        "Learner steps/s of the loop's work outside the network (environment, bots, Python) on one host core: "
        "1/(1/loop - 1/network bound) of `kingme bench train --threads 1` (14,236 and 33,921 on 2026-12-01).",
    )

    def validate(self) -> None:
        check_games(self.games)
        require(self.max_rungs >= 1, f"max-rungs must be >= 1, got {self.max_rungs}")
        require(all(1 <= d <= 12 for d in self.search_depths), "search-depths must be in 1..12")
        require(all(1 <= d <= 12 for d in self.alphabeta_depths), "alphabeta-depths must be in 1..12")
        require(self.probe_positions >= 1, f"probe-positions must be >= 1, got {self.probe_positions}")
        bad = [p for p in self.parts if p not in PARTS]
        require(not bad, f"unknown part(s) {', '.join(bad)}: expected some of {', '.join(PARTS)}")
        require(
            self.gpu_tflops > 0 and 0 < self.gpu_utilisation <= 1 and self.gpu_hours > 0 and self.host_steps_per_s > 0,
            "gpu-tflops, gpu-hours and host-steps-per-s must be > 0 and gpu-utilisation in (0, 1]",
        )


# ------------------------------------------------------------------------------------------------
# Pure functions (tested against hand values)


@dataclass(frozen=True)
class Line:
    """A fitted line y = intercept + slope x, the slope's standard error and 95% interval."""

    slope: float
    slope_se: float
    intercept: float
    n: int

    @property
    def interval(self) -> tuple[float, float]:
        return self.slope - Z95 * self.slope_se, self.slope + Z95 * self.slope_se

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def fit_line(x: Sequence[float], y: Sequence[float], se: Sequence[float] | None = None) -> Line:
    """Least squares through (x, y): weighted by 1/se^2 when `se` is given (the slope's standard
    error then sqrt(1 / sum w (x - xbar)^2), inflated by sqrt(chi2 / (n - 2)) when the points
    scatter more than their errors say), else ordinary (the standard error from the residuals).
    Needs two distinct x; with two points and no se the standard error is nan."""
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    n = len(xa)
    if n < 2 or len(set(xa.tolist())) < 2:
        raise ValueError("a line needs at least two distinct x")
    w = np.ones(n) if se is None else 1.0 / np.asarray(se, float) ** 2
    xbar, ybar = np.sum(w * xa) / w.sum(), np.sum(w * ya) / w.sum()
    sxx = float(np.sum(w * (xa - xbar) ** 2))
    slope = float(np.sum(w * (xa - xbar) * (ya - ybar)) / sxx)
    intercept = float(ybar - slope * xbar)
    chi2 = float(np.sum(w * (ya - intercept - slope * xa) ** 2))
    if se is None:
        slope_se = math.sqrt(chi2 / (n - 2) / sxx) if n > 2 else math.nan
    else:
        slope_se = math.sqrt(1.0 / sxx) * (math.sqrt(max(1.0, chi2 / (n - 2))) if n > 2 else 1.0)
    return Line(slope, slope_se, intercept, n)


def pooled_slope(lines: Sequence[Line]) -> tuple[float, float]:
    """The inverse-variance mean of several lines' slopes and its standard error."""
    w = np.array([1.0 / ln.slope_se**2 for ln in lines])
    s = np.array([ln.slope for ln in lines])
    return float(np.sum(w * s) / w.sum()), float(math.sqrt(1.0 / w.sum()))


def exchange_rate(search: float, search_se: float, train: float, train_se: float) -> tuple[float, float, float]:
    """Doublings of training one doubling of search is worth: search / train (both Elo per
    doubling), with a 95% interval by the delta method (independent estimates)."""
    r = search / train
    se = abs(r) * math.sqrt((search_se / search) ** 2 + (train_se / train) ** 2)
    return r, r - Z95 * se, r + Z95 * se


def elo_se(low: float, high: float) -> float:
    """The standard error a 95% interval [low, high] implies (inf when an end is infinite)."""
    return (high - low) / (2 * Z95) if math.isfinite(low) and math.isfinite(high) else math.inf


def next_rung(prior: float, scores: Mapping[str, float], max_rungs: int, ladder: Sequence[str] = LADDER) -> str | None:
    """The next rung to play for a player expected near `prior` that has scored `scores` so far:
    first the rung whose rating is nearest the prior; then, while its scores do not bracket 0.5
    (one >= 0.5 and one <= 0.5), the next rung up (all above 0.5) or down (all below); None when
    bracketed, at `max_rungs`, or at the end of the ladder."""
    rungs = sorted(ladder, key=lambda r: RUNG_RATINGS[r])
    if len(scores) >= max_rungs:
        return None
    if not scores:
        return min(rungs, key=lambda r: (abs(RUNG_RATINGS[r] - prior), RUNG_RATINGS[r]))
    vals = list(scores.values())
    if min(vals) <= 0.5 <= max(vals):
        return None
    played = [rungs.index(r) for r in scores]
    k = max(played) + 1 if min(vals) > 0.5 else min(played) - 1
    return rungs[k] if 0 <= k < len(rungs) else None


def flops_per_learner_step(macs: int, update_epochs: int, opponent_passes: float = 1.0) -> float:
    """FLOPs of the network per learner step: a forward pass is 2 * MACs; each step has one in the
    rollout, one for the frozen policy's log-probabilities, `opponent_passes` for the network
    opponents' replies, and `update_epochs` forward + backward passes (3 forward passes' worth)."""
    forward = 2.0 * macs
    return forward * (2.0 + opponent_passes + 3.0 * update_epochs)


def network_macs(weight_shapes: Sequence[tuple[int, ...]]) -> int:
    """Multiply-accumulates of one forward pass of a fully connected network: the entries of its
    2-D weight matrices (each is used once per input; biases and activations are not counted)."""
    return sum(int(np.prod(s)) for s in weight_shapes if len(s) == 2)


# ------------------------------------------------------------------------------------------------
# The store: every match and cost as soon as it is done (the command resumes from it)


class Store:
    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.matches: list[dict[str, Any]] = []
        path = out / "matches.jsonl"
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    self.matches.append(json.loads(line))
                except ValueError:
                    continue  # a half-written row of a killed run
        cpath = out / "costs.json"
        self.costs: dict[str, Any] = json.loads(cpath.read_text()) if cpath.is_file() else {}

    def results(self, label: str, games: int, seed: int) -> dict[str, dict[str, Any]]:
        return {m["rung"]: m for m in self.matches if m["label"] == label and m["games"] == games and m["seed"] == seed}

    def add_match(self, row: dict[str, Any]) -> None:
        self.matches.append(row)
        with open(self.out / "matches.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def add_cost(self, label: str, cost: dict[str, Any]) -> None:
        cpath = self.out / "costs.json"
        if cpath.is_file():  # another process rating other players may have added some
            self.costs = {**json.loads(cpath.read_text()), **self.costs}
        self.costs[label] = cost
        atomic_write_text(self.out / "costs.json", json.dumps(self.costs, indent=1) + "\n")


def rating(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The Elo (with its 95% interval) of a player's match rows, by rung."""
    fit = [
        (RUNG_RATINGS[r], m["wins"] + 0.5 * m["draws"], m["wins"] + m["draws"] + m["losses"]) for r, m in rows.items()
    ]
    elo, lo, hi = fit_rating(fit)
    return {
        "elo": elo,
        "low": lo,
        "high": hi,
        "rungs": {r: round(score(m["wins"], m["draws"], m["losses"]), 3) for r, m in rows.items()},
        "games": sum(n for _, _, n in fit),
    }


def rate(
    store: Store, label: str, spec: str, prior: float, cfg: CurvesConfig, say: Callable[[str], None]
) -> dict[str, Any]:
    """Rate `spec` (stored under `label`) on the rungs around its level, playing only the matches
    not already stored."""
    from kingme.arena.ladder import run_ladder

    while True:
        rows = store.results(label, cfg.games, cfg.seed)
        scores = {r: score(m["wins"], m["draws"], m["losses"]) for r, m in rows.items()}
        rung = next_rung(prior, scores, cfg.max_rungs)
        if rung is None:
            break
        t0 = time.perf_counter()
        res = run_ladder(spec, cfg.games, [rung], cfg.seed, workers=1)
        st = res.rungs[0].stats
        row = {
            "label": label,
            "spec": spec,
            "rung": rung,
            "games": cfg.games,
            "seed": cfg.seed,
            "wins": st.wins,
            "draws": st.draws,
            "losses": st.losses,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        store.add_match(row)
        say(f"{label} vs {rung}: +{st.wins} ={st.draws} -{st.losses} ({row['seconds']} s)")
    return rating(store.results(label, cfg.games, cfg.seed))


# ------------------------------------------------------------------------------------------------
# Cost: positions examined per move on a fixed set of positions


def probe_positions(count: int, seed: int = 0) -> list[Any]:
    """`count` positions with at least two legal moves, from games of alphabeta:2 against itself
    from the ACF openings (every 5th ply): the fixed set every player's cost is measured on."""
    from kingme.arena.openings import acf_openings
    from kingme.players import load_player

    bot = load_player("alphabeta:2", seed)
    out = []
    for op in acf_openings():
        b = op.board()
        for ply in range(80):
            moves = b.legal_moves()
            if not moves:
                break
            if ply % 5 == 0 and len(moves) > 1:
                out.append(b.copy())
                if len(out) >= count:
                    return out
            b.push(bot.choose(b))
    return out


def measure_cost(spec: str, boards: Sequence[Any]) -> dict[str, Any]:
    """Mean positions examined per move (network evaluations for `search:`, nodes for `alphabeta:`,
    1 for `policy:`) and milliseconds per move (on this machine, loaded or not) over `boards`."""
    from kingme.players import load_player

    p = load_player(spec)
    p.choose(boards[0])  # compile and warm up
    counts, t0 = [], time.perf_counter()
    for b in boards:
        p.choose(b)
        last = getattr(p, "last", None)
        if spec.startswith("search:"):
            counts.append(last.evals if last is not None else 0)
        elif spec.startswith("alphabeta:"):
            counts.append(last.nodes if last is not None else 0)
        else:
            counts.append(1)
    ms = 1000 * (time.perf_counter() - t0) / len(boards)
    return {"per_move": float(np.mean(counts)), "ms_per_move": round(ms, 2), "positions": len(boards)}


# ------------------------------------------------------------------------------------------------
# The command


def kept(run: Path) -> dict[int, Path]:
    from kingme.selfplay.train import kept_models

    models = kept_models(run)
    if not models:
        raise UserError(f"{run} has no kept models (train it with --keep-models 1048576)")
    return models


def model_info(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    return json.loads(meta.get("info", "{}"))


def choose_search_models(milestones: Sequence[int], wanted: Sequence[int]) -> list[int]:
    """The milestones given the search curve: `wanted` (each must be kept), else the first, the
    middle and the last kept."""
    if wanted:
        missing = [m for m in wanted if m not in milestones]
        if missing:
            raise UserError(f"--search-models {','.join(map(str, missing))}: not kept (kept: {list(milestones)})")
        return list(wanted)
    ms = list(milestones)
    return sorted({ms[0], ms[len(ms) // 2], ms[-1]})


def compute_curves(run: Path, cfg: CurvesConfig, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Rate what `cfg.parts` asks (resuming from RUN/compute/), then fit and write the report."""
    import torch

    cfg.validate()
    torch.set_num_threads(1)
    models = kept(run)
    search_models = choose_search_models(list(models), cfg.search_models)
    store = Store(run / OUT_DIR)
    boards: list[Any] = []

    def cost(label: str, spec: str) -> None:
        nonlocal boards
        if label not in store.costs:
            boards = boards or probe_positions(cfg.probe_positions)
            store.add_cost(label, measure_cost(spec, boards))
            say(f"cost {label}: {store.costs[label]}")

    prior = RUNG_RATINGS["alphabeta:2"]
    if "train" in cfg.parts:
        for m, path in models.items():
            r = rate(store, f"raw@{m}", f"policy:{path}", prior, cfg, say)
            prior = r["elo"] if math.isfinite(r["elo"]) else prior
            say(f"raw@{m}: Elo {r['elo']:.0f} [{r['low']:.0f}, {r['high']:.0f}]")
    if "alphabeta" in cfg.parts:
        for d in cfg.alphabeta_depths:
            cost(f"alphabeta:{d}", f"alphabeta:{d}")
            if f"alphabeta:{d}" not in RUNG_RATINGS:
                lo, hi = RUNG_RATINGS.get(f"alphabeta:{d - 1}", 800.0), RUNG_RATINGS.get(f"alphabeta:{d + 1}", 2000.0)
                rate(store, f"alphabeta:{d}", f"alphabeta:{d}", (lo + hi) / 2, cfg, say)
    if "search" in cfg.parts:
        for m in search_models:
            path = models[m]
            raw = store.results(f"raw@{m}", cfg.games, cfg.seed)
            prior = rating(raw)["elo"] if raw else RUNG_RATINGS["alphabeta:2"]
            for d in cfg.search_depths:
                label = f"search{d}@{m}"
                cost(label, f"search:policy:{path}:{d}")
                r = rate(store, label, f"search:policy:{path}:{d}", prior + 100, cfg, say)
                prior = r["elo"] if math.isfinite(r["elo"]) else prior
                say(f"{label}: Elo {r['elo']:.0f} [{r['low']:.0f}, {r['high']:.0f}]")
    summary = summarise(run, cfg, store, models, search_models)
    write_report(run, cfg, summary)
    return summary


def _point(r: dict[str, Any], x: float, **extra: Any) -> dict[str, Any]:
    return {
        "x": x,
        "elo": r["elo"],
        "low": r["low"],
        "high": r["high"],
        "se": elo_se(r["low"], r["high"]),
        **r,
        **extra,
    }


def _fit(points: Sequence[dict[str, Any]], weighted: bool = True) -> Line | None:
    pts = [p for p in points if math.isfinite(p["elo"]) and (not weighted or math.isfinite(p["se"]))]
    if len({p["x"] for p in pts}) < 2 or (weighted and len(pts) < 2):
        return None
    return fit_line([p["x"] for p in pts], [p["elo"] for p in pts], [p["se"] for p in pts] if weighted else None)


def summarise(
    run: Path, cfg: CurvesConfig, store: Store, models: Mapping[int, Path], search_models: Sequence[int]
) -> dict[str, Any]:
    """The points, the fitted lines, the exchange rate and the extrapolation, from the store."""
    from kingme.runs import read_config
    from kingme.selfplay.config import SelfPlayConfig

    train_pts = []
    for m, path in models.items():
        rows = store.results(f"raw@{m}", cfg.games, cfg.seed)
        if rows:
            info = model_info(path)
            sps = m / info["elapsed"] if info.get("elapsed") else math.nan
            train_pts.append(_point(rating(rows), math.log2(m), steps=m, steps_per_s=sps, model=str(path)))
    train_line = _fit(train_pts)
    late_line = _fit(train_pts[-3:]) if len(train_pts) > 3 else None  # the last two doublings alone
    search: dict[str, Any] = {}
    for m in search_models:
        pts = []
        raw = store.results(f"raw@{m}", cfg.games, cfg.seed)
        if raw:
            pts.append(_point(rating(raw), 0.0, depth=0, per_move=1.0))
        for d in cfg.search_depths:
            label = f"search{d}@{m}"
            rows = store.results(label, cfg.games, cfg.seed)
            if rows and label in store.costs:
                c = store.costs[label]
                pts.append(_point(rating(rows), math.log2(c["per_move"]), depth=d, **c))
        line = _fit([p for p in pts if p["depth"] > 0])
        search[str(m)] = {"points": pts, "line": line}
    ab_pts = []
    for d in cfg.alphabeta_depths:
        label = f"alphabeta:{d}"
        if label not in store.costs:
            continue
        c = store.costs[label]
        if label in RUNG_RATINGS:
            r = {"elo": RUNG_RATINGS[label], "low": RUNG_RATINGS[label], "high": RUNG_RATINGS[label], "fixed": True}
        else:
            rows = store.results(label, cfg.games, cfg.seed)
            if not rows:
                continue
            r = rating(rows)
        ab_pts.append(
            {
                **_point(r, math.log2(c["per_move"]), depth=d, **c),
                "se": 1.0 if r.get("fixed") else elo_se(r["low"], r["high"]),
            }
        )
    ab_line = _fit(ab_pts, weighted=False)
    lines = [s["line"] for s in search.values() if s["line"] is not None and math.isfinite(s["line"].slope_se)]
    exchange: dict[str, Any] = {}
    if train_line is not None and lines:
        s, s_se = pooled_slope(lines)
        exchange["pooled"] = {
            "search": s,
            "search_se": s_se,
            "rate": exchange_rate(s, s_se, train_line.slope, train_line.slope_se),
        }
        for key, sr in search.items():
            ln = sr["line"]
            if ln is not None and math.isfinite(ln.slope_se):
                exchange[key] = {
                    "search": ln.slope,
                    "search_se": ln.slope_se,
                    "rate": exchange_rate(ln.slope, ln.slope_se, train_line.slope, train_line.slope_se),
                }
    scfg = read_config(run, SelfPlayConfig)
    from kingme.players.policy import load_model

    agent, _ = load_model(next(iter(models.values())))
    macs = network_macs([tuple(v.shape) for v in agent.state_dict().values()])
    flops = flops_per_learner_step(macs, scfg.update_epochs)
    gpu_sps = cfg.gpu_tflops * 1e12 * cfg.gpu_utilisation / flops
    sps = min(gpu_sps, cfg.host_steps_per_s)
    day_steps = sps * cfg.gpu_hours * 3600
    extrap = {
        "macs": macs,
        "flops_per_step": flops,
        "gpu_steps_per_s": gpu_sps,
        "steps_per_s": sps,
        "steps": day_steps,
        "elo": train_line.at(math.log2(day_steps)) if train_line is not None else math.nan,
        "elo_late": late_line.at(math.log2(day_steps)) if late_line is not None else math.nan,
        "doublings_past_last": math.log2(day_steps / max(models)) if models else math.nan,
    }
    cpu_sps = [p["steps_per_s"] for p in train_pts if math.isfinite(p["steps_per_s"])]
    return {
        "train": {"points": train_pts, "line": train_line, "late_line": late_line},
        "search": search,
        "alphabeta": {"points": ab_pts, "line": ab_line},
        "exchange": exchange,
        "extrapolation": extrap,
        "cpu_steps_per_s": cpu_sps[-1] if cpu_sps else math.nan,
        "config": scfg.net_description,
    }


# ------------------------------------------------------------------------------------------------
# Report and plot


def _ci(p: Mapping[str, Any]) -> str:
    return f"{p['elo']:.0f} [{p['low']:.0f}, {p['high']:.0f}]"


def _line(ln: Line | None, unit: str) -> str:
    if ln is None:
        return "not enough points"
    lo, hi = ln.interval
    return f"{ln.slope:+.0f} Elo per doubling of {unit} [{lo:+.0f}, {hi:+.0f}] ({ln.n} points)"


def write_report(run: Path, cfg: CurvesConfig, s: dict[str, Any]) -> None:
    out = run / OUT_DIR
    plot(out / "compute_curves.png", s)
    L = [f"# What compute buys: {run.name}", ""]
    L += ["## Training compute (raw policy, most probable move, no search)", ""]
    L += [
        "| learner steps | steps/s (whole run so far) | rungs: score | Elo [95%] | gain over the previous doubling |",
        "|---:|---:|---|---|---|",
    ]
    prev = None
    for p in s["train"]["points"]:
        rungs = ", ".join(f"{r} {v:.3f}" for r, v in p["rungs"].items())
        gain = "-"
        if prev is not None and p["steps"] == 2 * prev["steps"] and math.isfinite(p["se"] + prev["se"]):
            half = Z95 * math.hypot(p["se"], prev["se"])
            d = p["elo"] - prev["elo"]
            gain = f"{d:+.0f} [{d - half:+.0f}, {d + half:+.0f}]"
        L.append(f"| {p['steps']:,} | {p['steps_per_s']:,.0f} | {rungs} | {_ci(p)} | {gain} |")
        prev = p
    L += ["", f"Fit: {_line(s['train']['line'], 'learner steps')}."]
    late = s["train"].get("late_line")
    if late is not None:
        L += [f"The last three milestones alone: {_line(late, 'learner steps')}."]
    L += [""]
    L += ["## Play-time compute (learned search `search:policy:MODEL:DEPTH`; depth 0 = the raw policy)", ""]
    L += [
        "| model (steps) | depth | positions / move | ms / move | rungs: score | Elo [95%] |",
        "|---:|---:|---:|---:|---|---|",
    ]
    for m, sr in s["search"].items():
        for p in sr["points"]:
            rungs = ", ".join(f"{r} {v:.3f}" for r, v in p["rungs"].items())
            ms = f"{p['ms_per_move']:.1f}" if "ms_per_move" in p else "-"
            L.append(f"| {int(m):,} | {p['depth']} | {p['per_move']:.0f} | {ms} | {rungs} | {_ci(p)} |")
        L.append(f"| {int(m):,} | fit | | | {_line(sr['line'], 'positions per move')} (depths >= 1) | |")
    L += ["", "Hand-written alpha-beta (even depths: the ladder's fixed ratings; odd: rated here):", ""]
    L += ["| depth | nodes / move | ms / move | Elo |", "|---:|---:|---:|---|"]
    for p in s["alphabeta"]["points"]:
        elo = f"{p['elo']:.0f} (fixed)" if p.get("fixed") else _ci(p)
        L.append(f"| {p['depth']} | {p['per_move']:.0f} | {p['ms_per_move']:.1f} | {elo} |")
    L += ["", f"Fit (ordinary least squares): {_line(s['alphabeta']['line'], 'nodes')}.", ""]
    L += ["## Exchange rate: doublings of training one doubling of search is worth", ""]
    for k, e in s["exchange"].items():
        r, lo, hi = e["rate"]
        who = "pooled over the models" if k == "pooled" else f"model at {int(k):,} steps"
        L.append(
            f"- {who}: search {e['search']:+.0f} ± {Z95 * e['search_se']:.0f} Elo per doubling -> "
            f"**{r:.2f}** [{lo:.2f}, {hi:.2f}]"
        )
    late_m = [k for k in s["exchange"] if k != "pooled"]
    if late is not None and late_m and late.slope > 0:
        e = s["exchange"][late_m[-1]]
        r, lo, hi = exchange_rate(e["search"], e["search_se"], late.slope, late.slope_se)
        L.append(
            f"- the last model against the last three milestones' training slope ({late.slope:+.0f} Elo per doubling): "
            f"**{r:.1f}** [{lo:.1f}, {hi:.1f}]"
        )
    x = s["extrapolation"]
    L += ["", "## Extrapolation (not a measurement)", ""]
    L += [
        f"The network ({s['config']['hidden']}, {s['config']['value_head']}) costs {x['macs']:,} multiply-adds "
        "a forward pass, "
        f"{x['flops_per_step'] / 1e6:.2f} MFLOP per learner step (rollout, frozen policy, an opponent's reply, "
        f"4 epochs of forward + backward). At {cfg.gpu_tflops} TFLOPS (published FP32) x {cfg.gpu_utilisation:.0%} "
        f"(assumed utilisation) the network alone would allow {x['gpu_steps_per_s']:,.0f} steps/s; the loop's "
        f"other work (environment, bots, Python) on one host core allows {cfg.host_steps_per_s:,.0f} "
        "(--host-steps-per-s, from `kingme bench train --threads 1` on this machine, 2026-12-01). "
        f"The lesser, {x['steps_per_s']:,.0f} steps/s, gives "
        f"{x['steps']:.3g} steps in {cfg.gpu_hours:g} h, {x['doublings_past_last']:.1f} doublings past the last kept "
        f"model; the fitted line there: Elo {x['elo']:.0f}, the last three milestones' line: {x['elo_late']:.0f} "
        "(straight lines in log steps, extended past their data)."
    ]
    L += [
        "",
        f"This CPU: {s['cpu_steps_per_s']:,.0f} learner steps/s (the last kept model's steps / its elapsed time).",
        "",
    ]
    atomic_write_text(out / "report.md", "\n".join(L) + "\n")
    clean = json.loads(json.dumps(s, default=lambda o: o.__dict__ if isinstance(o, Line) else str(o)))
    atomic_write_text(out / "results.json", json.dumps(clean, indent=1) + "\n")


def plot(path: Path, s: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.8))

    def bars(ax: Any, pts: Sequence[dict[str, Any]], **kw: Any) -> None:
        pts = [p for p in pts if math.isfinite(p["elo"])]
        if not pts:
            return
        x = [p["x"] for p in pts]
        y = [p["elo"] for p in pts]
        lo = [p["elo"] - p["low"] if math.isfinite(p["low"]) else 0 for p in pts]
        hi = [p["high"] - p["elo"] if math.isfinite(p["high"]) else 0 for p in pts]
        ax.errorbar(x, y, yerr=[lo, hi], capsize=3, **kw)

    tr = s["train"]
    bars(a, tr["points"], fmt="o", label="raw policy (kept models)")
    if tr["line"] is not None:
        ln = tr["line"]
        xs = np.array([p["x"] for p in tr["points"]])
        a.plot(xs, ln.intercept + ln.slope * xs, "--", color="grey", label=f"fit: {ln.slope:+.0f} Elo / doubling")
    a.set_xlabel("log2 learner steps")
    a.set_ylabel("ladder Elo (alphabeta:4 = 1500)")
    a.set_title("training compute")
    if a.get_legend_handles_labels()[0]:
        a.legend()
    for m, sr in s["search"].items():
        bars(b, sr["points"], fmt="o-", label=f"learned search, model at {int(m) / 2**20:g} Mi steps")
    bars(b, s["alphabeta"]["points"], fmt="s-", color="black", label="alpha-beta (hand-written eval)")
    b.set_xlabel("log2 positions examined per move (network evaluations / alpha-beta nodes)")
    b.set_title("play-time compute (depth 0 = raw policy)")
    if b.get_legend_handles_labels()[0]:
        b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> int:
    """`kingme compute-curves RUN [options]`."""
    from kingme.runs import find_run

    p = Parser(prog="kingme compute-curves", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("run", help="the run (a folder, or a name under --runs-dir) trained with --keep-models")
    p.add_argument("--runs-dir", default="runs", help="where run names are looked up")
    add_config_args(p, CurvesConfig)
    a = p.parse_args(argv)
    cfg = config_from_args(CurvesConfig, a)
    run = Path(a.run) if Path(a.run).is_dir() else find_run(a.runs_dir, a.run)
    kept(run)  # no kept models: one line, before anything is played
    compute_curves(run, cfg, lambda t: print(t, flush=True))
    sys.stdout.write(f"{run / OUT_DIR / 'report.md'} and compute_curves.png\n")
    return 0
