"""The database on disk and in memory: one file of 2-bit results per signature, a JSON manifest.

Folder (`default_dir`: ``$KINGME_EGDB_DIR``, else ``$XDG_CACHE_HOME/kingme/egdb``, else
``~/.cache/kingme/egdb``)::

    egdb.json          the manifest: per table its size, CRC-32, result counts, deepest conversion,
                       seconds; per number of pieces the totals and the published count
    b2k0w0k1.wdl       Black 2 men 0 kings, White 0 men 1 king, Black to move: 4 entries a byte

Every file is written to a temporary name and renamed, and the manifest names a table only once
its file is complete, so a killed build leaves no partial table and resumes from the last one. A
table whose size or CRC-32 does not match the manifest is reported (`UserError`, with the command
that rebuilds it) when the store is opened for reading, and rebuilt when `kingme egdb build` runs.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from kingme.common import UserError, atomic_write_bytes, atomic_write_json
from kingme.egdb.index import DIM, PUBLISHED_COUNTS, probe, signatures, table_size

FORMAT = "kingme-egdb"
VERSION = 1
MANIFEST = "egdb.json"
ENV_DIR = "KINGME_EGDB_DIR"


def default_dir() -> Path:
    """``$KINGME_EGDB_DIR``, else ``$XDG_CACHE_HOME/kingme/egdb``, else ``~/.cache/kingme/egdb``."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "kingme" / "egdb"


def table_name(sig: tuple[int, int, int, int]) -> str:
    bm, bk, wm, wk = sig
    return f"b{bm}k{bk}w{wm}k{wk}"


def packed_bytes(sig: tuple[int, int, int, int]) -> int:
    return (table_size(*sig) + 3) // 4


def rebuild_hint(folder: Path, pieces: int) -> str:
    where = "" if folder == default_dir() else f" --dir {folder}"
    return f"rebuild it with `kingme egdb build --pieces {pieces}{where}` (only missing or bad tables are rebuilt)"


class Store:
    """The tables of every signature up to ``max_pieces`` pieces in one packed byte array
    (``data``), with ``offsets[bm, bk, wm, wk]`` the byte where each table starts (-1: not loaded)."""

    def __init__(self, folder: Path, max_pieces: int) -> None:
        self.folder = folder
        self.max_pieces = max_pieces
        self.offsets = np.full((DIM, DIM, DIM, DIM), -1, dtype=np.int64)
        self._starts: dict[tuple[int, int, int, int], int] = {}
        total = 0
        for sig in signatures(max_pieces):
            self._starts[sig] = total
            total += packed_bytes(sig)
        self.data = np.zeros(total, dtype=np.uint8)
        self.manifest = read_manifest(folder)

    # -- tables --------------------------------------------------------------------------------

    def put(self, sig: tuple[int, int, int, int], packed: np.ndarray) -> None:
        """Place a table's packed bytes in memory and mark it loaded."""
        start = self._starts[sig]
        self.data[start : start + packed.size] = packed
        self.offsets[sig] = start

    def has(self, sig: tuple[int, int, int, int]) -> bool:
        return bool(self.offsets[sig] >= 0)

    def file_problem(self, sig: tuple[int, int, int, int]) -> str | None:
        """Why the table's file cannot be used (missing, wrong size, wrong checksum), or None."""
        entry = self.manifest["tables"].get(table_name(sig))
        if entry is None:
            return "not built"
        path = self.folder / f"{table_name(sig)}.wdl"
        if not path.exists():
            return f"{path.name} is missing"
        raw = path.read_bytes()
        if len(raw) != packed_bytes(sig) or len(raw) != entry["bytes"]:
            return f"{path.name} has {len(raw)} bytes, expected {packed_bytes(sig)} (a partial or foreign file)"
        if zlib.crc32(raw) != entry["crc32"]:
            return f"{path.name} does not match its checksum (corrupt)"
        self.put(sig, np.frombuffer(raw, dtype=np.uint8))
        return None

    def save_table(self, sig: tuple[int, int, int, int], packed: np.ndarray, entry: dict[str, Any]) -> None:
        """Write a solved table's file, then record it in the manifest (both atomically)."""
        raw = packed.tobytes()
        atomic_write_bytes(self.folder / f"{table_name(sig)}.wdl", raw)
        entry = {"bytes": len(raw), "crc32": zlib.crc32(raw), **entry}
        self.manifest["tables"][table_name(sig)] = entry
        self.put(sig, packed)
        write_manifest(self.folder, self.manifest)

    def load_all(self) -> None:
        """Load and check every table up to ``max_pieces``; UserError naming the first bad one."""
        for sig in signatures(self.max_pieces):
            problem = self.file_problem(sig)
            if problem is not None:
                raise UserError(
                    f"endgame database in {self.folder}: table {table_name(sig)}: {problem}; "
                    + rebuild_hint(self.folder, self.max_pieces)
                )

    # -- probing -------------------------------------------------------------------------------

    def probe(self, black: int, white: int, kings: int, side: int) -> int:
        """WIN / DRAW / LOSS for the side to move (padded bitboards), -1 if not covered."""
        return int(probe(self.data, self.offsets, np.uint64(black), np.uint64(white), np.uint64(kings), side))


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.exists():
        return {"format": FORMAT, "version": VERSION, "tables": {}, "pieces": {}}
    try:
        m = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(
            f"{path}: not a readable endgame-database manifest ({e}); delete the folder and rebuild"
        ) from None
    if not isinstance(m, dict) or m.get("format") != FORMAT or m.get("version") != VERSION:
        raise UserError(f"{path}: not a kingme endgame database of version {VERSION}; delete the folder and rebuild")
    return m


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    atomic_write_json(folder / MANIFEST, manifest)


def built_pieces(manifest: dict[str, Any]) -> int:
    """The largest n such that every signature with at most n pieces is in the manifest."""
    n = 0
    while n < max(PUBLISHED_COUNTS) and all(table_name(s) in manifest["tables"] for s in signatures(n + 1)):
        n += 1
    return n


def open_store(folder: Path | None = None, pieces: int | None = None) -> Store:
    """The database in ``folder`` (default `default_dir`), loaded and checked up to ``pieces``
    (default: as many as are built); UserError if it is missing or a table is bad."""
    folder = folder or default_dir()
    manifest = read_manifest(folder)
    have = built_pieces(manifest)
    if have == 0 or (pieces is not None and pieces > have):
        want = pieces or 5
        raise UserError(
            f"no endgame database of {want} pieces in {folder} (built: {have}); "
            f"build it with `kingme egdb build --pieces {want}"
            + ("" if folder == default_dir() else f" --dir {folder}")
            + "`"
        )
    store = Store(folder, pieces or have)
    store.load_all()
    return store
