"""`kingme egdb grade`: the shipped critic and the players against perfect play.

Two measurements on positions drawn from the database (2..N pieces, both sides on the board; half
of them turned into their White-to-move twin, so both frames of the network are graded):

1. **The critic's calibration.** ``--critic-samples`` positions drawn uniformly from all positions
   (so the classes come in their natural proportions). The shipped model's win / draw / loss head
   (`kingme.players.policy.win_draw_loss`, the side to move's probabilities p) is compared with
   the true result y (one-hot):

       accuracy = share of positions with argmax p = y        (Wilson interval)
       Brier    = mean over positions of Σ_k (p_k - y_k)^2    (0 = perfect, 2 = worst; t-interval)

   beside the Brier score of always predicting the sample's class frequencies (the no-skill
   baseline), per true class, and a reliability diagram (predicted p_k in 10 bins against the
   observed frequency of class k).
2. **The value-preserving move rate** of each player: ``--move-samples`` won and as many drawn
   positions (a lost position's every move keeps the loss), the player's move, and whether the
   move keeps the position's true result (a win stays a win, a draw a draw); Wilson intervals.
   Beside it the rate a uniformly random legal move would get (the mean share of preserving moves,
   t-interval), and the rate on the *critical* positions alone (some legal move throws the result).

The critic was trained on the outcomes of its own games, with the 80-ply rule and a ply cap, not
on perfect play: its error here is a distance from the truth, not a training loss.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kingme.checkers import Board
from kingme.checkers.core import BIT_SQUARES
from kingme.common import UserError, atomic_write_json
from kingme.config import Parser
from kingme.egdb.index import DRAW, LOSS, RESULT_NAMES, WIN, rotate
from kingme.egdb.probe import KEEPS, board_result, move_results
from kingme.egdb.store import Store, open_store
from kingme.egdb.verify import sample_positions
from kingme.stats import Interval, share_ci, summarise

DEFAULT_PLAYERS = ("policy:default", "search:default::100", "alphabeta:2", "alphabeta:4", "alphabeta:6", "alphabeta:8")
CLASS_ORDER = (WIN, DRAW, LOSS)  # columns of the probability arrays below


@dataclass(frozen=True)
class GradeConfig:
    """`kingme egdb grade`'s options."""

    dir: str = ""  # database folder ("" = the default)
    pieces: int = 0  # positions with at most this many pieces (0 = all that are built)
    model: str = "default"  # the critic graded: a shipped model's name or a model file
    critic_samples: int = 3000  # positions for the critic's calibration (natural class mix)
    move_samples: int = 1000  # won positions, and as many drawn ones, for the move rates
    players: tuple[str, ...] = field(default=DEFAULT_PLAYERS)  # player specs graded
    seed: int = 0
    endings: int = 0  # won positions each player plays out against `defender` (0 = none)
    defender: str = "alphabeta:6"  # the losing side in those endings
    out: str = ""  # write the JSON report here ("" = none)
    plot: str = ""  # write the calibration / move-rate figure here ("" = none)


def fen_of(black: int, white: int, kings: int, side: int) -> str:
    """The PDN FEN of a position given as padded bitboards."""

    def part(bb: int) -> str:
        out = []
        b = bb
        while b:
            low = b & -b
            b ^= low
            sq = int(BIT_SQUARES[low.bit_length() - 1])
            out.append(("K" if kings & low else "") + str(sq))
        return ",".join(out)

    return f"{'BW'[side]}:W{part(white)}:B{part(black)}"


def boards_from(positions: list[tuple[int, int, int, int]], rng: np.random.Generator) -> list[Board]:
    """Boards of sampled Black-to-move positions, each turned into its White-to-move twin with
    probability 1/2 (same result for the side to move)."""
    out = []
    for black, white, kings, _ in positions:
        if rng.random() < 0.5:
            rb, rw, rk = (int(rotate(np.uint64(x))) for x in (white, black, kings))
            out.append(Board(fen_of(rb, rw, rk, 1)))
        else:
            out.append(Board(fen_of(black, white, kings, 0)))
    return out


# ------------------------------------------------------------------------------------------------
# The critic


def critic_probabilities(agent: Any, boards: list[Board]) -> np.ndarray:
    """(N, 3) the critic's probabilities in `CLASS_ORDER` (win, draw, loss) for the side to move."""
    import torch

    from kingme.envs.bridge import NUM_ACTIONS, OBS_SHAPE, Position

    if agent.value_support is None:
        raise UserError("this model's critic is a scalar value, not win / draw / loss probabilities")
    obs = np.zeros((len(boards), *OBS_SHAPE), dtype=np.float32)
    mask = np.zeros(NUM_ACTIONS, dtype=np.bool_)
    for i, b in enumerate(boards):
        Position.from_board(b).observe_into(obs[i], mask)
    with torch.no_grad():
        p = agent.value_distribution(torch.from_numpy(obs)).numpy()  # (N, 3): loss, draw, win
    return np.stack([p[:, 2], p[:, 1], p[:, 0]], axis=1)


def brier(probs: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per position Σ_k (p_k - y_k)^2, with y the one-hot of the true class; (N, 3), (N,) -> (N,)."""
    onehot = np.eye(3)[truth]  # (N, 3)
    return ((probs - onehot) ** 2).sum(axis=1)


def reliability(probs: np.ndarray, truth: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Per class and bin of predicted probability: mean prediction, observed frequency, count."""
    out = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    for k in range(3):
        which = np.clip(np.digitize(probs[:, k], edges) - 1, 0, bins - 1)
        for b in range(bins):
            sel = which == b
            if sel.any():
                out.append(
                    {
                        "class": RESULT_NAMES[CLASS_ORDER[k]],
                        "bin": b,
                        "n": int(sel.sum()),
                        "predicted": float(probs[sel, k].mean()),
                        "observed": float((truth[sel] == k).mean()),
                    }
                )
    return out


def iv(i: Interval) -> dict[str, float]:
    return {"mean": i.mean, "lo": i.lo, "hi": i.hi, "n": i.n}


def grade_critic(store: Store, cfg: GradeConfig, rng: np.random.Generator) -> dict[str, Any]:
    from kingme.players.policy import load_model, resolve_model_path
    from kingme.players.specs import parse_policy_spec

    agent, _ = load_model(resolve_model_path(parse_policy_spec(cfg.model)))
    # the natural mix: draw positions uniformly, then read their class
    pos: list[tuple[int, int, int, int]] = []
    shares = class_shares(store, store.max_pieces)
    counts = rng.multinomial(cfg.critic_samples, [shares[r] for r in CLASS_ORDER])
    truth_list: list[int] = []
    for k, (r, c) in enumerate(zip(CLASS_ORDER, counts)):
        pos += sample_positions(store, store.max_pieces, r, int(c), rng)
        truth_list += [k] * int(c)
    boards = boards_from(pos, rng)
    truth = np.array(truth_list, dtype=np.int64)
    probs = critic_probabilities(agent, boards)
    b = brier(probs, truth)
    freq = np.bincount(truth, minlength=3) / len(truth)
    base = brier(np.tile(freq, (len(truth), 1)), truth)
    pred = probs.argmax(axis=1)
    per_class = {}
    for k, r in enumerate(CLASS_ORDER):
        sel = truth == k
        per_class[RESULT_NAMES[r]] = {
            "n": int(sel.sum()),
            "accuracy": iv(share_ci((pred[sel] == k).astype(float).tolist())),
            "brier": iv(summarise(b[sel].tolist(), bounds=(0.0, 2.0))),
            "mean_probabilities": [float(x) for x in probs[sel].mean(axis=0)] if sel.any() else None,
        }
    return {
        "model": cfg.model,
        "n": len(truth),
        "class_shares": {RESULT_NAMES[r]: float(f) for r, f in zip(CLASS_ORDER, freq)},
        "accuracy": iv(share_ci((pred == truth).astype(float).tolist())),
        "brier": iv(summarise(b.tolist(), bounds=(0.0, 2.0))),
        "brier_base_rates": iv(summarise(base.tolist(), bounds=(0.0, 2.0))),
        "confusion": {
            RESULT_NAMES[r]: [int(((truth == k) & (pred == j)).sum()) for j in range(3)]
            for k, r in enumerate(CLASS_ORDER)
        },
        "per_class": per_class,
        "reliability": reliability(probs, truth),
    }


def class_shares(store: Store, pieces: int) -> dict[int, float]:
    """Share of each result among the positions `sample_positions` draws from (2..pieces pieces,
    both sides present), from the manifest's per-table counts."""
    from kingme.egdb.index import signatures
    from kingme.egdb.store import table_name

    tot = {WIN: 0, DRAW: 0, LOSS: 0}
    for s in signatures(pieces):
        if sum(s) >= 2 and s[0] + s[1] > 0 and s[2] + s[3] > 0:
            t = store.manifest["tables"][table_name(s)]
            tot[WIN] += t["win"]
            tot[DRAW] += t["draw"]
            tot[LOSS] += t["loss"]
    n = sum(tot.values())
    return {r: c / n for r, c in tot.items()}


# ------------------------------------------------------------------------------------------------
# The players


def grade_players(store: Store, cfg: GradeConfig, rng: np.random.Generator, log: Any = None) -> dict[str, Any]:
    from kingme.players import parse_spec
    from kingme.players.base import choose_many
    from kingme.progress import progress_bar

    boards: list[Board] = []
    for r in (WIN, DRAW):
        boards += boards_from(sample_positions(store, store.max_pieces, r, cfg.move_samples, rng), rng)
    truth = [board_result(store, b) for b in boards]
    keeps = [[mv for mv, res in move_results(store, b) if res == KEEPS[t]] for b, t in zip(boards, truth)]
    n_moves = [len(b.legal_moves()) for b in boards]
    random_share = [len(k) / n for k, n in zip(keeps, n_moves)]
    critical = [len(k) < n for k, n in zip(keeps, n_moves)]
    out: dict[str, Any] = {
        "positions": {RESULT_NAMES[r]: cfg.move_samples for r in (WIN, DRAW)},
        "critical": {RESULT_NAMES[r]: int(sum(c for c, t in zip(critical, truth) if t == r)) for r in (WIN, DRAW)},
        "random_move": {
            RESULT_NAMES[r]: iv(summarise([s for s, t in zip(random_share, truth) if t == r], bounds=(0.0, 1.0)))
            for r in (WIN, DRAW)
        },
        "random_move_critical": {
            RESULT_NAMES[r]: iv(
                summarise([s for s, t, c in zip(random_share, truth, critical) if t == r and c], bounds=(0.0, 1.0))
            )
            for r in (WIN, DRAW)
        },
        "players": {},
    }
    specs = [parse_spec(s) for s in cfg.players]  # a bad spec fails here, before any work
    with progress_bar(len(specs) * len(boards), "grading players") as advance:
        for spec in specs:
            t0 = time.perf_counter()
            player = make_player(store, spec, cfg.seed)
            moves = []
            for lo in range(0, len(boards), 64):
                moves += choose_many(player, boards[lo : lo + 64])
                advance(min(64, len(boards) - lo))
            kept = [m in k for m, k in zip(moves, keeps)]
            row: dict[str, Any] = {}
            for r in (WIN, DRAW):
                sel = [x for x, t in zip(kept, truth) if t == r]
                crit = [x for x, t, c in zip(kept, truth, critical) if t == r and c]
                row[RESULT_NAMES[r]] = iv(share_ci([float(x) for x in sel]))
                row[f"{RESULT_NAMES[r]}_critical"] = iv(share_ci([float(x) for x in crit]))
            row["all"] = iv(share_ci([float(x) for x in kept]))
            row["seconds"] = round(time.perf_counter() - t0, 1)
            out["players"][spec.text] = row
            if log is not None:
                log(
                    f"  {spec.text:<22} keeps {fmt(row['all'])} (wins {fmt(row['win'])}, draws {fmt(row['draw'])}; "
                    f"critical wins {fmt(row['win_critical'])}, critical draws {fmt(row['draw_critical'])}) "
                    f"[{row['seconds']} s]"
                )
    return out


def make_player(store: Store, spec: Any, seed: int) -> Any:
    """The player of a parsed spec; ``egdb:SPEC`` over the database being graded."""
    from kingme.egdb.player import EgdbPlayer
    from kingme.players import build_player, load_player

    if spec.kind == "egdb":
        return EgdbPlayer(load_player(spec.args, seed), store, seed, spec.text)
    return build_player(spec, seed)


MAX_ENDING_PLIES = 300  # an ending still running after this many plies counts as not won


def play_ending(board: Board, winner: Any, defender: Any) -> bool:
    """Play a won position out (kingme's rules: the 80-ply rule and threefold repetition draw);
    whether the side to move at the start wins."""
    side = board.turn
    for _ in range(MAX_ENDING_PLIES):
        if board.outcome() is not None:
            break
        player = winner if board.turn == side else defender
        board.push(player.choose(board))
    outcome = board.outcome()
    return outcome is not None and outcome.winner == side


def grade_endings(store: Store, cfg: GradeConfig, rng: np.random.Generator, log: Any = None) -> dict[str, Any]:
    """Each player on the winning side of ``cfg.endings`` won positions against ``cfg.defender``:
    the share it actually wins (Wilson)."""
    from kingme.players import parse_spec
    from kingme.progress import progress_bar

    fens = [b.fen() for b in boards_from(sample_positions(store, store.max_pieces, WIN, cfg.endings, rng), rng)]
    specs = [parse_spec(s) for s in cfg.players]
    defender_spec = parse_spec(cfg.defender)
    out: dict[str, Any] = {"positions": len(fens), "defender": cfg.defender, "players": {}}
    with progress_bar(len(specs) * len(fens), "playing endings out") as advance:
        for spec in specs:
            t0 = time.perf_counter()
            player = make_player(store, spec, cfg.seed)
            defender = make_player(store, defender_spec, cfg.seed + 1)
            won = []
            for fen in fens:
                won.append(float(play_ending(Board(fen), player, defender)))
                advance()
            out["players"][spec.text] = {**iv(share_ci(won)), "seconds": round(time.perf_counter() - t0, 1)}
            if log is not None:
                log(
                    f"  {spec.text:<22} wins {fmt(out['players'][spec.text])} of the won endings "
                    f"[{out['players'][spec.text]['seconds']} s]"
                )
    return out


def fmt(d: dict[str, float]) -> str:
    return Interval(d["mean"], d["lo"], d["hi"], int(d["n"])).fmt(3)


# ------------------------------------------------------------------------------------------------
# Plot and command


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    colours = {"win": "tab:green", "draw": "tab:gray", "loss": "tab:red"}
    rel = report["critic"]["reliability"]
    for cls, c in colours.items():
        pts = [r for r in rel if r["class"] == cls and r["n"] >= 10]
        ax1.plot([r["predicted"] for r in pts], [r["observed"] for r in pts], "o-", color=c, label=f"P({cls})")
    ax1.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfect calibration")
    cr = report["critic"]
    ax1.set_title(
        f"critic policy:{cr['model']} vs perfect play ({cr['n']} positions)\n"
        f"accuracy {fmt(cr['accuracy'])}, Brier {fmt(cr['brier'])}",
        fontsize=9,
    )
    ax1.set_xlabel("critic's predicted probability (bins of 0.1, n >= 10)")
    ax1.set_ylabel("observed frequency of that true result")
    ax1.legend(fontsize=8)
    pl = report["moves"]["players"]
    names = list(pl)
    y = np.arange(len(names))
    for off, cls, c in ((-0.2, "win", "tab:green"), (0.2, "draw", "tab:gray")):
        key = f"{cls}_critical"
        m = np.array([pl[n][key]["mean"] for n in names])
        lo = m - np.array([pl[n][key]["lo"] for n in names])
        hi = np.array([pl[n][key]["hi"] for n in names]) - m
        n_crit = report["moves"]["critical"][cls]
        ax2.barh(y + off, m, height=0.4, xerr=[lo, hi], color=c, label=f"critical {cls} positions (n={n_crit})")
        ax2.axvline(report["moves"]["random_move_critical"][cls]["mean"], color=c, ls=":", lw=1.2)
    ax2.set_yticks(y, names, fontsize=8)
    ax2.set_xlim(0, 1)
    ax2.set_xlabel("share of moves keeping the true result (95% Wilson)\ndotted: a uniformly random legal move")
    ax2.set_title("value-preserving move rate where some move throws the result", fontsize=9)
    ax2.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def grade(cfg: GradeConfig, log: Any = print) -> dict[str, Any]:
    import kingme.egdb.player  # noqa: F401 - registers the egdb:SPEC kind for --players

    folder = Path(cfg.dir).expanduser() if cfg.dir else None
    store = open_store(folder, cfg.pieces or None)
    rng = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    critic = grade_critic(store, cfg, rng)
    log(
        f"critic policy:{cfg.model} on {critic['n']} positions (2..{store.max_pieces} pieces, natural mix "
        + ", ".join(f"{k} {v:.3f}" for k, v in critic["class_shares"].items())
        + ")"
    )
    log(
        f"  accuracy {fmt(critic['accuracy'])}; Brier {fmt(critic['brier'])} "
        f"(base rates alone: {fmt(critic['brier_base_rates'])})"
    )
    for name, r in critic["per_class"].items():
        mp = ", ".join(f"{x:.2f}" for x in r["mean_probabilities"] or [])
        log(
            f"  true {name:<4} n={r['n']:<5} accuracy {fmt(r['accuracy'])}  Brier {fmt(r['brier'])}  "
            f"mean P(win, draw, loss) = ({mp})"
        )
    log(f"value-preserving move rate on {cfg.move_samples} won and {cfg.move_samples} drawn positions")
    moves = grade_players(store, cfg, rng, log)
    log(
        "  a random legal move: "
        + ", ".join(f"{k} {fmt(v)}" for k, v in moves["random_move"].items())
        + "; critical positions: "
        + ", ".join(f"{k} {v}" for k, v in moves["critical"].items())
        + "; a random move there: "
        + ", ".join(f"{k} {fmt(v)}" for k, v in moves["random_move_critical"].items())
    )
    endings = None
    if cfg.endings:
        log(
            f"won endings played out against {cfg.defender} ({cfg.endings} positions, 80-ply rule and repetition apply)"
        )
        endings = grade_endings(store, cfg, rng, log)
    report = {
        "endings": endings,
        "config": asdict(cfg),
        "dir": str(store.folder),
        "pieces": store.max_pieces,
        "critic": critic,
        "moves": moves,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if cfg.out:
        atomic_write_json(cfg.out, report)
    if cfg.plot:
        plot(report, Path(cfg.plot))
    return report


def grade_main(argv: list[str]) -> int:
    d = GradeConfig()
    p = Parser(prog="kingme egdb grade", description="Grade the shipped critic and players against perfect play.")
    p.add_argument("--dir", default=d.dir, help="database folder (default $KINGME_EGDB_DIR or ~/.cache/kingme/egdb)")
    p.add_argument(
        "--pieces", type=int, default=d.pieces, help="positions with at most this many pieces (default: all built)"
    )
    p.add_argument(
        "--model", default=d.model, help="the critic: a shipped model name or a model file (default: default)"
    )
    p.add_argument(
        "--critic-samples", type=int, default=d.critic_samples, help="positions for the critic (default 3000)"
    )
    p.add_argument(
        "--move-samples",
        type=int,
        default=d.move_samples,
        help="won positions, and as many drawn, per player (default 1000)",
    )
    p.add_argument("--players", default=",".join(d.players), help="comma-separated player specs")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--endings",
        type=int,
        default=d.endings,
        help="also play this many won positions out with each player against --defender (default 0)",
    )
    p.add_argument("--defender", default=d.defender, help="the losing side in those endings (default alphabeta:6)")
    p.add_argument("--out", default=d.out, help="write the JSON report here")
    p.add_argument("--plot", default=d.plot, help="write the figure (PNG) here")
    p.add_argument("--json", action="store_true", help="print the report as JSON (instead of the summary)")
    a = p.parse_args(argv)
    if a.critic_samples < 10 or a.move_samples < 1 or a.pieces < 0 or a.endings < 0:
        raise UserError("--critic-samples must be >= 10, --move-samples >= 1, --pieces >= 0, --endings >= 0")
    players = tuple(s.strip() for s in a.players.split(",") if s.strip())
    if not players:
        raise UserError("--players is empty: give at least one player spec")
    cfg = GradeConfig(
        a.dir,
        a.pieces,
        a.model,
        a.critic_samples,
        a.move_samples,
        players,
        a.seed,
        a.endings,
        a.defender,
        a.out,
        a.plot,
    )
    report = grade(cfg, (lambda *_: None) if a.json else print)
    if a.json:
        print(json.dumps(report))
    return 0
