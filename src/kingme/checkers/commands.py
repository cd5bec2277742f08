"""CLI commands of the engine: `kingme perft`, `kingme moves`, `kingme show`."""

from __future__ import annotations

import json
import time

from kingme.checkers.board import Board, BoardError, perft, perft_divide
from kingme.common import UserError
from kingme.config import Parser


def _board(fen: str | None) -> Board:
    """The position `--fen` names; the initial one when the option is left out (an empty `--fen ""`
    is refused, not read as the start: a script's empty variable should not analyse the wrong position)."""
    if fen is None:
        return Board()
    if not fen.strip():
        raise UserError("--fen is empty: give a position (e.g. --fen B:W21,22:B9,10) or leave --fen out for the start")
    try:
        return Board(fen)
    except BoardError as e:
        raise UserError(str(e)) from None


def perft_main(argv: list[str]) -> int:
    p = Parser(prog="kingme perft", description="Count the leaves of the legal-move tree.")
    p.add_argument("depth", type=int, help="plies to search (>= 0)")
    p.add_argument("--fen", help="start from this position (PDN FEN) instead of the initial one")
    p.add_argument("--divide", action="store_true", help="show the count below each first move")
    p.add_argument("--no-bulk", action="store_true", help="generate the last ply instead of counting it")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    if a.depth < 0:
        raise UserError(f"depth must be >= 0, not {a.depth}")
    board = _board(a.fen)
    perft(board, 1, bulk=not a.no_bulk)  # load the compiled kernel first, so the timing is the search's
    t0 = time.perf_counter()
    if a.divide:
        if a.depth < 1:
            raise UserError("--divide needs depth >= 1")
        div = perft_divide(board, a.depth)
        nodes = sum(div.values())
    else:
        div = None
        nodes = perft(board, a.depth, bulk=not a.no_bulk)
    secs = time.perf_counter() - t0
    if a.json:
        out = {
            "fen": board.fen(),
            "depth": a.depth,
            "nodes": nodes,
            "seconds": round(secs, 6),
            "nodes_per_second": round(nodes / secs) if secs > 0 else None,
        }
        if div is not None:
            out["divide"] = div
        print(json.dumps(out))
    else:
        if div is not None:
            for m, n in div.items():
                print(f"{m:<12} {n}")
        print(f"perft({a.depth}) = {nodes}  [{secs:.3f} s, {nodes / max(secs, 1e-9) / 1e6:.1f} M nodes/s]")
    return 0


def moves_main(argv: list[str]) -> int:
    p = Parser(prog="kingme moves", description="List the legal moves of a position in PDN.")
    p.add_argument("--fen", help="the position (PDN FEN); the initial position by default")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    board = _board(a.fen)
    moves = board.legal_moves()
    if a.json:
        print(json.dumps({"fen": board.fen(), "moves": [str(m) for m in moves], "result": board.result()}))
    else:
        print(" ".join(str(m) for m in moves) if moves else f"no legal move: {board.result()}")
    return 0


def show_main(argv: list[str]) -> int:
    p = Parser(prog="kingme show", description="Print a position as ASCII art.")
    p.add_argument("--fen", help="the position (PDN FEN); the initial position by default")
    p.add_argument("--svg", action="store_true", help="print SVG instead of ASCII")
    a = p.parse_args(argv)
    board = _board(a.fen)
    if a.svg:
        print(board._repr_svg_())
    else:
        from kingme.checkers.render import ascii_board

        print(ascii_board(board, numbers=True))
        print(board.fen())
    return 0
