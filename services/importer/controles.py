"""The checks that need the other files or the whole file, in SQL over the staged rows:
unknown affiliés, bad and duplicate lines, reported in file order."""

# The statements are assembled from this package's own constants (table names, the
# dialect's expressions); the files' values only ever travel as bound parameters or
# COPY data.
# ruff: noqa: S608

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from sqlalchemy import text

from extensions import db
from services.importer.lignes import (
    _Errors,
    _FirstLines,
)

if TYPE_CHECKING:
    from services.importer.bases import _Loader

# ---------------------------------------------------------------- checks in SQL


def known(alias: str) -> str:
    """The affiliés a RIB or a line may name: those of the database and those of the
    file, each numéro once on either side. Two joins the planner sizes to the staging
    (an index lookup each for a night's few thousand lines, hashes for a first load),
    where a UNION of the two deduplicated every affilié every time."""
    return (
        f"LEFT JOIN affilies ka ON ka.numero = {alias}.numero "
        f"LEFT JOIN import_affilies kf ON kf.numero = {alias}.numero"
    )


# Named by neither.
UNKNOWN = "(ka.numero IS NULL AND kf.numero IS NULL)"


def _check_staged(loader: _Loader, errors: _Errors, structural: _FirstLines) -> None:
    """What needs the other files or the whole file: unknown affiliés, bad and duplicate
    lines. Reported in file order, and in line order within a file."""
    session = db.session
    bad_rib = f"erreur IS NOT NULL OR {UNKNOWN}"
    room = max(errors.room, 0)
    rib_rows = session.execute(
        text(
            f"""
            SELECT r.ligne, r.numero, r.erreur, NOT {UNKNOWN} AS connu
            FROM import_ribs r {known("r")}
            WHERE {bad_rib} ORDER BY r.ligne LIMIT :room
            """
        ),
        {"room": room},
    ).all()
    for number, numero, erreur, connu in rib_rows:
        if not connu:
            erreur = (
                f"ribs.csv, ligne {number}, champ numero_affiliation : affilié inconnu « {numero} »"
            )
        errors.line([erreur])
    if len(rib_rows) == room:
        errors.more += session.scalar(
            text(f"SELECT count(*) FROM import_ribs r {known('r')} WHERE {bad_rib}")
        ) - len(rib_rows)

    room = max(errors.room, 0)
    bad = loader.bad_lines(room)
    duplicates = loader.duplicate_lines(room)
    found: dict[int, list[str]] = {}
    for number, messages in heapq.merge(structural.items, bad, duplicates):
        found.setdefault(number, []).extend(messages)
    for messages in found.values():
        errors.line(messages)
    errors.more += structural.more
    if len(bad) == room:
        errors.more += loader.bad_line_count() - len(bad)
    if len(duplicates) == room:
        errors.more += loader.duplicate_count() - len(duplicates)
