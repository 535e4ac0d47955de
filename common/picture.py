"""The panel's picture: the créance split into remise and montant à payer, and the
schedule as bars (avance, then each instalment), as SVG coordinates.

Drawn by the server from the simulation the panel shows, so it follows the slider with
the rest of the panel and costs no script. Bars are one ``<path>`` per kind, which keeps
60 instalments under 1 KB; right-to-left pages draw from the right.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

WIDTH = 300
SPLIT_HEIGHT = 16
BARS_TOP = 26
BARS_HEIGHT = 40


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    remise: tuple[int, int]  # x, width of the remise's part of the split bar
    payer: tuple[int, int]  # x, width of the montant à payer's part
    avance_path: str
    echeances_path: str


def _x(x: int, width: int, rtl: bool) -> int:
    return WIDTH - x - width if rtl else x


def picture_of(sim, rtl: bool = False) -> Picture | None:
    """The coordinates for ``sim`` (a Simulation), or None when there is nothing to draw."""
    total = sim.remise + sim.montant_a_payer
    if total <= 0:
        return None
    remise_w = int((sim.remise / total * WIDTH).to_integral_value())
    split_remise = (_x(0, remise_w, rtl), remise_w)
    split_payer = (_x(remise_w, WIDTH - remise_w, rtl), WIDTH - remise_w)
    amounts = [(e.rang, e.montant) for e in sim.echeances]
    if not amounts or sim.modalite != "acomptes":
        return Picture(WIDTH, SPLIT_HEIGHT, split_remise, split_payer, "", "")
    tallest = max(m for _, m in amounts) or Decimal(1)
    step = WIDTH / len(amounts)
    bar = max(1, int(step * 0.7))
    avance, echeances = [], []
    for i, (rang, montant) in enumerate(amounts):
        h = max(1, int((montant / tallest * BARS_HEIGHT).to_integral_value()))
        x = _x(int(i * step), bar, rtl)
        (avance if rang == 0 else echeances).append(
            f"M{x} {BARS_TOP + BARS_HEIGHT}v-{h}h{bar}v{h}z"
        )
    return Picture(
        WIDTH,
        BARS_TOP + BARS_HEIGHT,
        split_remise,
        split_payer,
        "".join(avance),
        "".join(echeances),
    )
