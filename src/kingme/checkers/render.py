"""Pictures of a position: ASCII for the terminal, SVG for notebooks and web pages."""

from __future__ import annotations

from kingme.checkers.board import Board, Color


def square_coords(square: int) -> tuple[int, int]:
    """(row, col) of a square, row 0 at the top (Black's side), col 0 at the left."""
    row = (square - 1) // 4
    idx = (square - 1) % 4
    col = 2 * idx + 1 if row % 2 == 0 else 2 * idx
    return row, col


def ascii_board(board: Board, numbers: bool = False) -> str:
    """Rows top (Black's home) to bottom; `b`/`w` men, `B`/`W` kings, `.` empty dark squares."""
    grid = [[" "] * 8 for _ in range(8)]
    for sq in range(1, 33):
        r, c = square_coords(sq)
        p = board.piece_at(sq)
        grid[r][c] = p.symbol() if p else "."
    lines = []
    for r in range(8):
        first = 4 * r + 1
        label = f"{first:>2}-{first + 3:<2} " if numbers else ""
        lines.append(label + " ".join(grid[r]))
    lines.append(f"{board.turn.title} to move")
    return "\n".join(lines)


def svg_board(
    board: Board,
    size: int = 400,
    arrows: list[tuple[int, int, float]] | None = None,
    highlight: list[int] | None = None,
    numbers: bool = True,
) -> str:
    """An SVG picture. `arrows` are (from, to, width in [0, 1]) drawn over the board."""
    cell = size / 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{size}" height="{size}">']
    for r in range(8):
        for c in range(8):
            fill = "#b58863" if (r + c) % 2 else "#f0d9b5"
            out.append(f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" fill="{fill}"/>')
    for sq in highlight or []:
        r, c = square_coords(sq)
        out.append(f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" fill="#7fc97f" opacity="0.6"/>')
    for sq in range(1, 33):
        r, c = square_coords(sq)
        if numbers:
            out.append(f'<text x="{c * cell + 3}" y="{r * cell + 12}" font-size="10" fill="#eee">{sq}</text>')
        p = board.piece_at(sq)
        if p is None:
            continue
        cx, cy = c * cell + cell / 2, r * cell + cell / 2
        fill, stroke = ("#222", "#000") if p.color is Color.BLACK else ("#eee", "#555")
        out.append(f'<circle cx="{cx}" cy="{cy}" r="{cell * 0.38}" fill="{fill}" stroke="{stroke}" stroke-width="2"/>')
        if p.king:
            out.append(
                f'<text x="{cx}" y="{cy + cell * 0.12}" font-size="{cell * 0.35}" text-anchor="middle" '
                f'fill="#d4af37">K</text>'
            )
    for frm, to, w in arrows or []:
        (r1, c1), (r2, c2) = square_coords(frm), square_coords(to)
        x1, y1 = c1 * cell + cell / 2, r1 * cell + cell / 2
        x2, y2 = c2 * cell + cell / 2, r2 * cell + cell / 2
        width = 2 + 10 * max(0.0, min(1.0, w))
        out.append(
            f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#1f77b4" stroke-width="{width:.1f}" '
            f'stroke-opacity="0.7" stroke-linecap="round"/>'
        )
    out.append("</svg>")
    return "".join(out)
