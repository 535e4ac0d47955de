"""The text the back office searches: one folded string per affilié and per request."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case, without accents, spaces collapsed: "Bâtiment  ÉTÉ" -> "batiment ete".

    What is stored and what is typed are folded the same way, so a plain LIKE finds
    "atlas batiment" in "ATLAS BÂTIMENT" on SQLite and PostgreSQL alike.
    """
    if text.isascii():  # most names: ~10 times faster than the general case
        return " ".join(text.lower().split())
    return " ".join(text.translate(_FOLDED).split())


class _Folded(dict):
    """str.translate's table, filled as characters come: each one decomposed (NFKD),
    without its combining marks, case-folded. Folding a string character by character is
    folding it whole: decomposition is per character, the canonical reordering only moves
    the combining marks that are dropped, and case folding has no context."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFKD", chr(code))
        folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
        self[code] = folded
        return folded


_FOLDED = _Folded()


def search_text(*parts: str | None) -> str:
    """The folded fields side by side (numéro, ICE, référence, raison sociale)."""
    return fold(" ".join(p for p in parts if p))
