"""`kingme egdb`: build, inspect, probe, verify the endgame database and grade players with it.

kingme egdb build [--pieces 5] [--dir DIR]     solve every position with at most N pieces
kingme egdb info [--dir DIR]                   what is built: counts, size, build time
kingme egdb probe --fen FEN [--dir DIR]        the true result of one position
kingme egdb verify [--samples N] [--depth D]   check tables against exhaustive searches
kingme egdb grade [...]                        the critic's calibration, players' move rates
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from kingme.common import UserError
from kingme.config import Parser
from kingme.egdb.index import PUBLISHED_COUNTS, RESULT_NAMES

MAX_BUILD_PIECES = 6

USAGE = """usage: kingme egdb {build,info,probe,verify,grade} [options]   (kingme egdb SUB --help)

  build    solve every position with at most N pieces (retrograde analysis), into the cache folder
  info     what is built: positions of each result, size on disk, build time
  probe    the true result (perfect play) of a position
  verify   check tables against exhaustive game-tree searches and their own consistency
  grade    the shipped critic's calibration and players' value-preserving move rates"""


def _folder(text: str | None) -> Path:
    from kingme.egdb.store import default_dir

    return Path(text).expanduser() if text else default_dir()


def _pieces(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise UserError(f"--pieces must be a whole number in 1..{MAX_BUILD_PIECES}, not {value!r}") from None
    if not 1 <= n <= MAX_BUILD_PIECES:
        raise UserError(f"--pieces must be in 1..{MAX_BUILD_PIECES}, not {n}")
    return n


def _table(m: dict[str, Any]) -> str:
    lines = [
        f"{'pieces':>6} {'positions':>13} {'published':>13} {'match':>5} {'win':>12} {'draw':>12} "
        f"{'loss':>12} {'MB':>7} {'max conv.':>9} {'max zero.':>9} {'> 80':>6} {'solve s':>8}"
    ]
    for n, r in sorted(m.get("pieces", {}).items(), key=lambda kv: int(kv[0])):
        lines.append(
            f"{n:>6} {r['positions']:>13,} {r['published']:>13,} {'yes' if r['matches_published'] else 'NO':>5} "
            f"{r['win']:>12,} {r['draw']:>12,} {r['loss']:>12,} {r['bytes'] / 1e6:>7.2f} "
            f"{r['max_depth']:>9} {r['max_zeroing']:>9} {r['beyond_80_plies']:>6,} {r['seconds']:>8.1f}"
        )
    lines.append(
        "(max conv.: the longest win or loss to a capture or crowning, in plies; max zero.: to a capture, "
        "crowning or man's step, the moves that reset the 80-ply clock; > 80: positions beyond 80 plies)"
    )
    return "\n".join(lines)


def build_main(argv: list[str]) -> int:
    p = Parser(prog="kingme egdb build", description="Solve every position with at most N pieces.")
    p.add_argument("--pieces", default="5", help="at most this many pieces on the board (1..6; default 5)")
    p.add_argument("--dir", help="database folder (default $KINGME_EGDB_DIR or ~/.cache/kingme/egdb)")
    p.add_argument("--json", action="store_true", help="print the manifest's summary as JSON")
    a = p.parse_args(argv)
    pieces = _pieces(a.pieces)
    folder = _folder(a.dir)
    from kingme.egdb.build import build, pending_work
    from kingme.progress import progress_bar

    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with progress_bar(pending_work(folder, pieces), f"egdb {pieces} pieces") as advance:
        m = build(folder, pieces, advance)
    secs = time.perf_counter() - t0
    if a.json:
        print(json.dumps({"dir": str(folder), "seconds": round(secs, 1), "pieces": m["pieces"], "bytes": m["bytes"]}))
        return 0
    print(f"endgame database of up to {pieces} pieces in {folder}")
    print(_table(m))
    print(
        f"this run: {m['last_build']['tables_built']} tables built in {secs:.1f} s; "
        f"total size {m['bytes'] / 1e6:.2f} MB; manifest {folder / 'egdb.json'}"
    )
    return 0


def info_main(argv: list[str]) -> int:
    p = Parser(prog="kingme egdb info", description="What the endgame database holds.")
    p.add_argument("--dir", help="database folder (default $KINGME_EGDB_DIR or ~/.cache/kingme/egdb)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    a = p.parse_args(argv)
    from kingme.egdb.store import built_pieces, read_manifest

    folder = _folder(a.dir)
    m = read_manifest(folder)
    if built_pieces(m) == 0:
        raise UserError(f"no endgame database in {folder}; build one with `kingme egdb build`")
    if a.json:
        print(json.dumps({"dir": str(folder), "pieces": m["pieces"], "bytes": m["bytes"]}))
    else:
        print(f"endgame database in {folder} (complete up to {built_pieces(m)} pieces)")
        print(_table(m))
    return 0


def probe_main(argv: list[str]) -> int:
    p = Parser(prog="kingme egdb probe", description="The true result of a position under perfect play.")
    p.add_argument("--fen", required=True, help="the position (PDN FEN)")
    p.add_argument("--dir", help="database folder (default $KINGME_EGDB_DIR or ~/.cache/kingme/egdb)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    from kingme.checkers.commands import _board
    from kingme.egdb.probe import board_result, move_results

    board = _board(a.fen)
    from kingme.egdb.store import open_store

    store = open_store(_folder(a.dir))
    v = board_result(store, board)
    if v < 0:
        raise UserError(
            f"{board.fen()}: {bin(board.black | board.white).count('1')} pieces, "
            f"the database covers at most {store.max_pieces}"
        )
    moves = {str(mv): RESULT_NAMES[r] for mv, r in move_results(store, board)}
    side = "Black" if board.turn == 0 else "White"
    if a.json:
        print(json.dumps({"fen": board.fen(), "result": RESULT_NAMES[v], "side_to_move": side, "moves": moves}))
    else:
        print(f"{board.fen()}: {RESULT_NAMES[v]} for {side} (the side to move) with perfect play")
        for mv, r in moves.items():
            print(f"  {mv:<12} leaves the opponent a {r}")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    sub, rest = argv[0], argv[1:]
    if sub == "build":
        return build_main(rest)
    if sub == "info":
        return info_main(rest)
    if sub == "probe":
        return probe_main(rest)
    if sub == "verify":
        from kingme.egdb.verify import verify_main

        return verify_main(rest)
    if sub == "grade":
        from kingme.egdb.grade import grade_main

        return grade_main(rest)
    sys.stderr.write(f"kingme egdb: error: unknown subcommand {sub!r}; expected build, info, probe, verify or grade\n")
    return 2


__all__ = ["PUBLISHED_COUNTS", "main"]
