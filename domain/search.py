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
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def search_text(*parts: str | None) -> str:
    """The folded fields side by side (numéro, ICE, référence, raison sociale)."""
    return fold(" ".join(p for p in parts if p))
