"""`kingme egdb verify`: check the database three independent ways.

1. **Counts**: the number of positions of each number of pieces against the published counts
   (`index.PUBLISHED_COUNTS`), read from the manifest.
2. **Consistency** (`check_table`, every position of every table up to ``--consistency-pieces``):
   the results must satisfy the minimax equations: a WIN has a move to a position that is a LOSS
   for the opponent; a LOSS has no move, or only moves to the opponent's WINs; a DRAW has no move to
   a LOSS and at least one to a DRAW.
3. **Exhaustive search** (`search_check`): on positions sampled uniformly from each result class,
   kingme's own alpha-beta (`kingme.players.alphabeta`, material evaluation, draw rules ignored
   like the database) searched to ``--depth`` plies. A score beyond ``MATE - MAX_PLY`` is a
   forced win or loss proven within the tree; it must agree with the database, and a DRAW must
   never be proven won or lost. The share of wins and losses proven at that depth is reported.

Consistency alone allows a self-justifying cycle of wins and losses that is really a draw; the
searches do not, and the retrograde construction (depths) does not either.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from kingme.checkers.core import MAX_MOVES, generate_children
from kingme.common import UserError, atomic_write_json
from kingme.config import Parser
from kingme.egdb.index import (
    DRAW,
    INVALID,
    LOSS,
    RESULT_NAMES,
    WIN,
    probe,
    read2,
    signatures,
    table_size,
    to_bits,
    unindex,
)
from kingme.egdb.store import Store, open_store, table_name


@njit(cache=True, nogil=True)
def check_table(data: np.ndarray, offsets: np.ndarray, sig: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Violations of the minimax equations at indices lo..hi-1 of a loaded table:
    [WIN without a losing reply, LOSS with a non-winning reply, DRAW with a losing reply,
    DRAW without a drawn reply, positions checked]."""
    nbm, nbk, nwm, nwk = sig[0], sig[1], sig[2], sig[3]
    off = offsets[nbm, nbk, nwm, nwk]
    buf = np.empty((MAX_MOVES, 3), dtype=np.uint64)
    out = np.zeros(5, dtype=np.int64)
    for i in range(lo, hi):
        v = read2(data, off, i)
        if v == INVALID:
            continue
        bm, bk, wm, wk, _ = unindex(i, nbm, nbk, nwm, nwk)
        n = generate_children(to_bits(bm | bk), to_bits(wm | wk), to_bits(bk | wk), 0, buf)
        n_loss = 0
        n_draw = 0
        for j in range(n):
            # after Black's move: White (buf[j, 1]) to move
            c = probe(data, offsets, buf[j, 0], buf[j, 1], buf[j, 2], 1)
            if c == LOSS:
                n_loss += 1
            elif c == DRAW:
                n_draw += 1
        if v == WIN and n_loss == 0:
            out[0] += 1
        elif v == LOSS and n_loss + n_draw > 0:
            out[1] += 1
        elif v == DRAW:
            if n_loss > 0:
                out[2] += 1
            if n_draw == 0:
                out[3] += 1
        out[4] += 1
    return out


def consistency(store: Store, pieces: int, advance: Any = None) -> dict[str, int]:
    """`check_table` over every table with at most ``pieces`` pieces."""
    tot = np.zeros(5, dtype=np.int64)
    for sig in signatures(pieces):
        size = table_size(*sig)
        arr = np.array(sig, dtype=np.int64)
        for lo in range(0, size, 1 << 17):
            hi = min(size, lo + (1 << 17))
            tot += check_table(store.data, store.offsets, arr, lo, hi)
            if advance is not None:
                advance(hi - lo)
    keys = (
        "win_without_losing_reply",
        "loss_with_non_winning_reply",
        "draw_with_losing_reply",
        "draw_without_drawn_reply",
        "positions",
    )
    return {k: int(v) for k, v in zip(keys, tot)}


def sample_positions(
    store: Store, pieces: int, result: int, n: int, rng: np.random.Generator, min_pieces: int = 2
) -> list[tuple[int, int, int, int]]:
    """``n`` positions (black, white, kings as padded bitboards, side 0) drawn uniformly from the
    positions with ``min_pieces``..``pieces`` pieces (both sides on the board) whose result is
    ``result``, by rejection: a uniform index over the concatenated tables, kept if it matches."""
    sigs = [s for s in signatures(pieces) if sum(s) >= min_pieces and s[0] + s[1] > 0 and s[2] + s[3] > 0]
    sizes = np.array([table_size(*s) for s in sigs], dtype=np.int64)
    cum = np.cumsum(sizes)
    out: list[tuple[int, int, int, int]] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 10_000 * max(n, 1):
            raise UserError(f"could not sample {n} positions of result {RESULT_NAMES[result]}")
        g = int(rng.integers(0, int(cum[-1])))
        t = int(np.searchsorted(cum, g, side="right"))
        idx = g - (int(cum[t - 1]) if t else 0)
        sig = sigs[t]
        if read2(store.data, store.offsets[sig], idx) != result:
            continue
        bm, bk, wm, wk, ok = unindex(idx, *sig)
        black, white, kings = int(to_bits(bm | bk)), int(to_bits(wm | wk)), int(to_bits(bk | wk))
        out.append((black, white, kings, 0))
    return out


def search_result(value: int, mate: int, max_ply: int) -> int | None:
    """WIN / LOSS if an alpha-beta score is a proven forced result, else None."""
    if value >= mate - max_ply:
        return WIN
    if value <= -(mate - max_ply):
        return LOSS
    return None


def search_check(store: Store, pieces: int, samples: int, depth: int, seed: int) -> dict[str, Any]:
    """Sampled positions of each class searched by alpha-beta to ``depth``: proven, agreeing, contradicting."""
    from kingme.players.alphabeta import MATE, MAX_PLY, Searcher

    rng = np.random.default_rng(seed)
    searcher = Searcher(seed)
    out: dict[str, Any] = {}
    for result in (WIN, DRAW, LOSS):
        proven = agree = contradict = 0
        t0 = time.perf_counter()
        for black, white, kings, side in sample_positions(store, pieces, result, samples, rng):
            r = search_result(searcher.value(black, white, kings, side, depth), MATE, MAX_PLY)
            if r is None:
                continue
            proven += 1
            if r == result:
                agree += 1
            else:
                contradict += 1
        out[RESULT_NAMES[result]] = {
            "sampled": samples,
            "proven_by_search": proven,
            "agree": agree,
            "contradict": contradict,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return out


@dataclass(frozen=True)
class VerifyConfig:
    """`kingme egdb verify`'s options."""

    dir: str = ""  # database folder ("" = the default)
    pieces: int = 0  # tables to check (0 = all that are built)
    consistency_pieces: int = 4  # check every position of the tables with at most this many pieces
    samples: int = 200  # positions of each result class searched
    depth: int = 12  # alpha-beta depth of those searches (plies)
    seed: int = 0


def verify(cfg: VerifyConfig) -> dict[str, Any]:
    from kingme.progress import progress_bar

    folder = Path(cfg.dir).expanduser() if cfg.dir else None
    store = open_store(folder, cfg.pieces or None)
    pieces = store.max_pieces
    cons_pieces = min(cfg.consistency_pieces, pieces)
    t0 = time.perf_counter()
    total = sum(table_size(*s) for s in signatures(cons_pieces))
    with progress_bar(total, f"consistency, {cons_pieces} pieces") as advance:
        cons = consistency(store, cons_pieces, advance)
    cons_secs = time.perf_counter() - t0
    counts = {
        n: {"positions": r["positions"], "published": r["published"], "matches": r["matches_published"]}
        for n, r in store.manifest["pieces"].items()
        if int(n) <= pieces
    }
    search = search_check(store, pieces, cfg.samples, cfg.depth, cfg.seed)
    return {
        "config": asdict(cfg),
        "dir": str(store.folder),
        "pieces": pieces,
        "counts": counts,
        "consistency": {**cons, "pieces": cons_pieces, "seconds": round(cons_secs, 1)},
        "search": search,
    }


def verify_main(argv: list[str]) -> int:
    p = Parser(
        prog="kingme egdb verify",
        description="Check the endgame database against counts, its own minimax equations, and alpha-beta searches.",
    )
    d = VerifyConfig()
    p.add_argument("--dir", default=d.dir, help="database folder (default $KINGME_EGDB_DIR or ~/.cache/kingme/egdb)")
    p.add_argument(
        "--pieces", type=int, default=d.pieces, help="check tables up to this many pieces (default: all built)"
    )
    p.add_argument(
        "--consistency-pieces",
        type=int,
        default=d.consistency_pieces,
        help="check every position of the tables up to this many pieces (default 4)",
    )
    p.add_argument("--samples", type=int, default=d.samples, help="positions per result class searched (default 200)")
    p.add_argument("--depth", type=int, default=d.depth, help="alpha-beta depth in plies (default 12)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", default="", help="also write the report as JSON here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    if a.samples < 1 or not 1 <= a.depth <= 40 or a.pieces < 0 or a.consistency_pieces < 1:
        raise UserError("--samples must be >= 1, --depth in 1..40, --pieces >= 0, --consistency-pieces >= 1")
    cfg = VerifyConfig(a.dir, a.pieces, a.consistency_pieces, a.samples, a.depth, a.seed)
    out = verify(cfg)
    if a.out:
        atomic_write_json(a.out, out)
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"endgame database in {out['dir']}, up to {out['pieces']} pieces")
    for n, r in out["counts"].items():
        print(
            f"  {n} pieces: {r['positions']:,} positions, published {r['published']:,}: "
            f"{'match' if r['matches'] else 'MISMATCH'}"
        )
    c = out["consistency"]
    bad = sum(v for k, v in c.items() if k not in ("positions", "pieces", "seconds"))
    print(
        f"  consistency, every position up to {c['pieces']} pieces ({c['positions']:,} positions, "
        f"{c['seconds']} s): {bad} violations {'' if bad == 0 else json.dumps(c)}"
    )
    for name, r in out["search"].items():
        print(
            f"  alpha-beta depth {cfg.depth} on {r['sampled']} sampled positions that are a {name}: "
            f"{r['proven_by_search']} proven, "
            f"{r['agree']} agree, {r['contradict']} contradict ({r['seconds']} s)"
        )
    ok = (
        bad == 0
        and all(r["contradict"] == 0 for r in out["search"].values())
        and all(r["matches"] for r in out["counts"].values())
    )
    print("verified" if ok else "FAILED")
    return 0 if ok else 1


__all__ = [
    "VerifyConfig",
    "check_table",
    "consistency",
    "sample_positions",
    "search_check",
    "verify",
    "verify_main",
    "table_name",
]
