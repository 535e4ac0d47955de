"""Draw bench/scale.py's results as a PNG without a plotting library.

    python bench/scale_chart.py results.json [more.json ...] --out docs/scale.png

Two panels against the number of lines: seconds (import, dry run, raw COPY) and peak
resident memory of the import (MB). Written with zlib alone: matplotlib is not a
dependency of the project, and two line charts do not need it.
"""

from __future__ import annotations

import argparse
import json
import struct
import zlib
from pathlib import Path

W, H = 900, 380
PANEL_W = 400
COLOURS = {
    "import": (200, 40, 40),
    "dry run": (230, 140, 20),
    "raw COPY": (40, 90, 200),
    "peak RSS": (40, 150, 70),
}
# 3×5 digits and the few letters the axes need.
FONT = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
    ".": "000000000000010",
    "k": "100101110101101",
    "M": "101111111101101",
    "B": "110101110101110",
    "s": "011100010001110",
    " ": "000000000000000",
}


class Canvas:
    def __init__(self) -> None:
        self.pixels = bytearray(b"\xff" * (W * H * 3))

    def dot(self, x: int, y: int, colour, size: int = 1) -> None:
        for dx in range(size):
            for dy in range(size):
                px, py = x + dx, y + dy
                if 0 <= px < W and 0 <= py < H:
                    i = (py * W + px) * 3
                    self.pixels[i : i + 3] = bytes(colour)

    def line(self, x0, y0, x1, y1, colour, width: int = 2) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for k in range(steps + 1):
            self.dot(
                round(x0 + (x1 - x0) * k / steps), round(y0 + (y1 - y0) * k / steps), colour, width
            )

    def text(self, x: int, y: int, s: str, colour=(0, 0, 0), scale: int = 2) -> None:
        for n, char in enumerate(s):
            glyph = FONT.get(char, FONT[" "])
            for i, bit in enumerate(glyph):
                if bit == "1":
                    self.dot(
                        x + n * 4 * scale + (i % 3) * scale, y + (i // 3) * scale, colour, scale
                    )

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.pixels[y * W * 3 : (y + 1) * W * 3]) for y in range(H))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return (
                struct.pack(">I", len(data))
                + kind
                + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
            )

        header = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def panel(canvas: Canvas, left: int, series: dict[str, list[tuple[float, float]]], unit: str):
    top, bottom, right = 40, H - 50, left + PANEL_W
    xmax = max(x for points in series.values() for x, _ in points) or 1
    ymax = max(y for points in series.values() for _, y in points) or 1
    canvas.line(left, bottom, right, bottom, (0, 0, 0), 1)
    canvas.line(left, top, left, bottom, (0, 0, 0), 1)
    canvas.text(left - 5, top - 25, f"{ymax:.0f} {unit}")
    canvas.text(left - 5, bottom + 10, "0")
    canvas.text(right - 40, bottom + 10, f"{xmax / 1000:.0f}k")
    for name, points in series.items():
        colour = COLOURS[name]
        xy = [
            (left + round(x / xmax * PANEL_W), bottom - round(y / ymax * (bottom - top)))
            for x, y in sorted(points)
        ]
        for (x0, y0), (x1, y1) in zip(xy, xy[1:]):
            canvas.line(x0, y0, x1, y1, colour)
        for x, y in xy:
            canvas.dot(x - 3, y - 3, colour, 7)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [r for path in args.results for r in json.loads(path.read_text())]
    canvas = Canvas()
    panel(
        canvas,
        60,
        {
            "import": [(r["lines"], r["import_s"]) for r in rows],
            "dry run": [(r["lines"], r["dry_run_s"]) for r in rows if "dry_run_s" in r],
            "raw COPY": [(r["lines"], r["copy_s"]) for r in rows],
        },
        "s",
    )
    panel(canvas, 480, {"peak RSS": [(r["lines"], r["import_rss_mb"]) for r in rows]}, "MB")
    args.out.write_bytes(canvas.png())


if __name__ == "__main__":
    main()
