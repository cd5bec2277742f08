"""`build(folder, pieces)`: solve every signature up to ``pieces`` pieces that is not yet on disk.

The driver of `kingme.egdb.solve`: for each signature pair in build order, allocate its result,
counter and depth arrays, run the initialisation and then the propagation level by level in
chunks of `CHUNK` indices (each a fraction of a second, so Ctrl-C stops the build within about a
second and the progress bar moves), and save the packed table. Tables already on disk with the
right size and checksum are loaded, not rebuilt: a killed build resumes.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kingme.checkers.core import DRAW_PLIES
from kingme.egdb.index import DRAW, INVALID, LOSS, PUBLISHED_COUNTS, WIN, flip_signature, signatures, table_size
from kingme.egdb.solve import init_chunk, pack_chunk, propagate_chunk
from kingme.egdb.store import Store, table_name, write_manifest

CHUNK = 1 << 17  # indices per compiled call (about 0.1 s of initialisation on this machine)

Sig = tuple[int, int, int, int]


@dataclass(frozen=True)
class BuildConfig:
    """`kingme egdb build`'s options."""

    pieces: int = 5  # every position with at most this many pieces (1..6)
    dir: str = ""  # the database folder ("" = `store.default_dir()`)


@dataclass
class Solved:
    """One solved table, before packing."""

    values: np.ndarray  # (size,) uint8: DRAW / WIN / LOSS / INVALID
    max_depth: int  # the longest conversion, in plies, of a won or lost position
    seconds: float
    depth: np.ndarray  # (size,) uint16: plies to conversion (0xFFFF: a draw or no position)


def solve_pair(store: Store, sig: Sig, advance: Callable[[int], None], zeroing: bool = False) -> dict[Sig, Solved]:
    """Solve ``sig`` and its flip together (one table if they are the same), reading earlier
    tables from ``store``; ``advance(n)`` is told of the work done (2 units per index). With
    ``zeroing``, the 80-ply rule's analysis (`kingme.egdb.solve`): the depths are distances to
    the next zeroing move, and the store must hold this pair's solved tables."""
    t0 = time.perf_counter()
    flip = flip_signature(sig)
    sigs = [sig] if flip == sig else [sig, flip]
    val = {s: np.zeros(table_size(*s), dtype=np.uint8) for s in sigs}
    cnt = {s: np.zeros(table_size(*s), dtype=np.uint8) for s in sigs}
    dep = {s: np.full(table_size(*s), 0xFFFF, dtype=np.uint16) for s in sigs}
    arr = {s: np.array(s, dtype=np.int64) for s in sigs}
    for s in sigs:
        other = flip_signature(s)
        size = table_size(*s)
        for lo in range(0, size, CHUNK):
            hi = min(size, lo + CHUNK)
            init_chunk(val[s], cnt[s], dep[s], arr[s], arr[other], store.data, store.offsets, lo, hi, zeroing)
            advance(hi - lo)
    level, top = 0, 1
    while level <= top:
        for s in sigs:
            other = flip_signature(s)
            size = table_size(*s)
            for lo in range(0, size, CHUNK):
                hi = min(size, lo + CHUNK)
                new = propagate_chunk(
                    val[s], dep[s], arr[s], val[other], cnt[other], dep[other], level, lo, hi, zeroing
                )
                if new:
                    top = max(top, level + 1)
                    advance(int(new))
        level += 1
    secs = time.perf_counter() - t0
    out = {}
    for s in sigs:
        resolved = dep[s] != 0xFFFF
        out[s] = Solved(val[s], int(dep[s][resolved].max()) if resolved.any() else 0, secs / len(sigs), dep[s])
        advance(int(np.count_nonzero(~resolved & (val[s] != INVALID))))
    return out


def zeroing(store: Store, sig: Sig, advance: Callable[[int], None]) -> dict[Sig, dict[str, int]]:
    """The 80-ply rule's analysis of a solved pair (`kingme.egdb.solve`): per table the longest
    distance to a zeroing move of a won or lost position, how many exceed `DRAW_PLIES` (for those
    the rule could turn the result into a draw), and how many positions the analysis classifies
    differently from the table (it must be none: a check of the tables)."""
    out = {}
    for s, z in solve_pair(store, sig, advance, zeroing=True).items():
        stored = np.zeros(z.values.size, dtype=np.uint8)
        unpack_into(store, s, stored)
        out[s] = {
            "max_zeroing": z.max_depth,
            "beyond_80_plies": int(np.count_nonzero((z.depth != 0xFFFF) & (z.depth > DRAW_PLIES))),
            "zeroing_disagreements": int(np.count_nonzero(stored != z.values)),
        }
    return out


def unpack_into(store: Store, sig: Sig, out: np.ndarray) -> None:
    """The 2-bit entries of a loaded table as one byte each."""
    start = int(store.offsets[sig])
    raw = store.data[start : start + (out.size + 3) // 4]
    for k in range(4):
        part = (raw >> np.uint8(2 * k)) & np.uint8(3)
        out[k::4] = part[: (out.size - k + 3) // 4]


def pack(values: np.ndarray) -> np.ndarray:
    out = np.zeros((values.size + 3) // 4, dtype=np.uint8)
    pack_chunk(values, out, 0, values.size)
    return out


def table_entry(sig: Sig, solved: Solved) -> dict[str, Any]:
    counts = np.bincount(solved.values, minlength=4)
    return {
        "signature": list(sig),
        "indices": table_size(*sig),
        "positions": int(counts[WIN] + counts[DRAW] + counts[LOSS]),
        "win": int(counts[WIN]),
        "draw": int(counts[DRAW]),
        "loss": int(counts[LOSS]),
        "max_depth": solved.max_depth,
        "seconds": round(solved.seconds, 3),
    }


def summarise_pieces(manifest: dict[str, Any], pieces: int) -> dict[str, Any]:
    """Per number of pieces: positions, wins, draws, losses (side to move's view), bytes, the
    published count and whether it matches."""
    out: dict[str, Any] = {}
    for n in range(1, pieces + 1):
        rows = [manifest["tables"][table_name(s)] for s in signatures(n) if sum(s) == n]
        tot = {k: sum(r[k] for r in rows) for k in ("positions", "win", "draw", "loss", "bytes", "seconds")}
        tot["max_depth"] = max(r["max_depth"] for r in rows)
        tot["max_zeroing"] = max(r["max_zeroing"] for r in rows)
        tot["beyond_80_plies"] = sum(r["beyond_80_plies"] for r in rows)
        tot["zeroing_disagreements"] = sum(r["zeroing_disagreements"] for r in rows)
        tot["published"] = PUBLISHED_COUNTS[n]
        tot["matches_published"] = tot["positions"] == PUBLISHED_COUNTS[n]
        tot["tables"] = len(rows)
        out[str(n)] = tot
    return out


def build(folder: Path, pieces: int, advance: Callable[..., None] | None = None) -> dict[str, Any]:
    """Build (or finish) the database of ``pieces`` pieces in ``folder``; return the manifest."""
    store = Store(folder, pieces)
    todo: list[Sig] = []
    for sig in signatures(pieces):
        if store.file_problem(sig) is not None and sig not in todo and flip_signature(sig) not in todo:
            todo.append(sig)
    step = advance or (lambda n=1, **kw: None)
    t0 = time.perf_counter()
    for sig in todo:
        for s in {sig, flip_signature(sig)}:
            if store.has(s):  # a flip solved again with its pair: drop the stale copy first
                store.offsets[s] = -1
        step(0, description=f"egdb {table_name(sig)}")
        solved = solve_pair(store, sig, step)
        packed = {s: pack(sol.values) for s, sol in solved.items()}
        for s, p in packed.items():
            store.put(s, p)
        rule = zeroing(store, sig, step)
        for s, sol in solved.items():
            store.save_table(s, packed[s], {**table_entry(s, sol), **rule[s]})
    for sig in signatures(pieces):  # tables built before the 80-ply analysis existed
        if "max_zeroing" not in store.manifest["tables"][table_name(sig)]:
            for s, extra in zeroing(store, sig, step).items():
                store.manifest["tables"][table_name(s)].update(extra)
            write_manifest(folder, store.manifest)
    m = store.manifest
    m["pieces"] = summarise_pieces(m, pieces)
    m["max_pieces"] = max(pieces, int(m.get("max_pieces", 0)))
    m["bytes"] = sum(t["bytes"] for t in m["tables"].values())
    m["build_seconds"] = round(sum(t["seconds"] for t in m["tables"].values()), 1)
    m["last_build"] = {
        "pieces": pieces,
        "tables_built": sum(1 if s == flip_signature(s) else 2 for s in todo),
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    write_manifest(folder, m)
    return m


def build_work(pieces: int, store_missing: list[Sig]) -> int:
    """Progress units of building the given signatures (2 per index of each pair)."""
    total = 0
    for s in store_missing:
        f = flip_signature(s)
        total += 2 * table_size(*s) + (2 * table_size(*f) if f != s else 0)
    return total


def machine() -> str:
    """The processor's model name and core count (Linux's /proc/cpuinfo), else the architecture."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        names = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
        return f"{names[0]}, {len(names)} logical cores" if names else platform.machine()
    except OSError:
        return platform.machine()


def pending_work(folder: Path, pieces: int) -> int:
    """Progress units (`solve_pair`'s: 2 per index) of what `build` still has to solve."""
    store = Store(folder, pieces)
    todo: list[Sig] = []
    for sig in signatures(pieces):
        if store.file_problem(sig) is not None and sig not in todo and flip_signature(sig) not in todo:
            todo.append(sig)
    upgrade = [
        s
        for s in signatures(pieces)
        if s not in todo
        and flip_signature(s) not in todo
        and table_name(s) in store.manifest["tables"]
        and s <= flip_signature(s)
        and "max_zeroing" not in store.manifest["tables"][table_name(s)]
    ]
    return 2 * build_work(pieces, todo) + build_work(pieces, upgrade)  # the 80-ply analysis repeats the work
