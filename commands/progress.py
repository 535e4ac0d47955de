"""The import commands' progress line on a terminal."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import click


class ImportProgress:
    """One line on the terminal, redrawn: file, lines, rate, ETA (by bytes read)."""

    def __init__(self, files: Iterable[Path]) -> None:
        self.sizes = {p.name: p.stat().st_size for p in files if p.exists()}
        self.started = time.monotonic()
        self.drawn = 0.0

    def __call__(self, name: str, done_bytes: int, lines: int) -> None:
        now = time.monotonic()
        if not name:
            self._draw("écriture en base…")
            return
        if now - self.drawn < 0.2:
            return
        self.drawn = now
        elapsed = max(now - self.started, 1e-6)
        size = self.sizes.get(name, 0)
        share = min(done_bytes / size, 1.0) if size else 1.0
        rate = f"  {lines / elapsed:,.0f} lignes/s".replace(",", " ") if lines else ""
        eta = elapsed * (1 - share) / share if share else 0
        self._draw(
            f"{name} {'#' * int(share * 20):<20} {share:4.0%}"
            f"  {lines:,} lignes{rate}  reste {eta:.0f} s".replace(",", " ")
        )

    def _draw(self, text: str) -> None:
        click.echo(f"\r{text[:100]:<100}", nl=False, err=True)

    def close(self) -> None:
        click.echo("\r" + " " * 100 + "\r", nl=False, err=True)
