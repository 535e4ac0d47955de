"""Which affiliés a nightly export changes: one fingerprint per affilié and file, set-based.

A night's export differs from the last one for about 1 % of the affiliés, and checking a
line costs far more than reading it. So, on PostgreSQL, the staged lines of each file
are grouped once by affilié and each group's md5 — of the lines as the file wrote them,
in file order — is compared with the one kept in ``empreintes_import`` by the last
import. Only the groups that differ are split, checked, typed and compared with the
database; the others are left as they are, with their ``lignes_jeton``.

Why skipping a group is safe: the last import accepted exactly these lines for this
affilié, under the same rules and the same header (both are part of the fingerprint),
and nothing wrote the affilié since (its ``lignes_jeton`` is the one kept with the
fingerprint: every write to its lines, fields or RIBs replaces it). Every check of a
line needs only the line and its own affilié: a duplicate key (an affilié twice, a
créance key twice) lives within one affilié, and a numéro never seen has no
fingerprint. A line whose affilié cannot be told from its first bytes has no group:
then every line of that file is checked.
"""

# The statements are assembled from this module's own constants; the files' values only
# travel as bound parameters or staged rows.
# ruff: noqa: S608

from __future__ import annotations

from sqlalchemy import text

from extensions import db

# Part of every fingerprint: change it whenever a line's checks or typing change, and
# the next import checks every line again.
REGLES = "2026-12-07"
# A créance line taken whole from the file, and one the reader split (quotes, accents,
# spaces…): the tab keeps the two apart, a plain line holds none.
_LUE = "E'\\t' || concat_ws(',', numero, periode, rubrique, nature, montant)"
# The numéro of an affilié or RIB line that starts with it, as the reader would read it.
NUMERO_EN_TETE = "substring(brut from '^([0-9]{7}),')"


def _prefix(fichier: str, header: str | None) -> str:
    return f"{REGLES}\n{fichier}\n{header or ''}\n"


def _changes(fichier: str) -> None:
    """``import_changes_<fichier>``: the numéros of the groups whose fingerprint, or
    whose affilié's version, is not the one kept (a group without numéro included)."""
    db.session.execute(
        text(
            f"""
            CREATE TEMP TABLE import_changes_{fichier} ON COMMIT DROP AS
            SELECT g.numero FROM import_groupes_{fichier} g
            LEFT JOIN affilies a ON a.numero = g.numero
            LEFT JOIN empreintes_import e ON e.affilie_id = a.id AND e.fichier = :fichier
            WHERE e.empreinte IS DISTINCT FROM g.empreinte
               OR e.jeton IS DISTINCT FROM a.lignes_jeton
            """
        ),
        {"fichier": fichier},
    )
    db.session.execute(text(f"ANALYZE import_changes_{fichier}"))


def keep_changed_lines(header: str | None, numero_field: int) -> int:
    """creances.csv: reduce the staging to the affiliés whose lines may have changed;
    return how many lines the file holds.

    ``import_brut`` holds the lines taken whole (``header`` is the file's header line
    then, and ``numero_field`` the position of numero_affiliation in it, from 1);
    ``import_lignes`` the lines the reader split. Afterwards ``import_lignes`` holds only
    the lines of ``import_changes_creances``; the lines of ``import_brut`` still to split
    are those whose numéro is there.
    """
    session = db.session
    raw = ""
    if header is not None:
        raw = f"""
            UNION ALL
            SELECT btrim(split_part(brut, ',', {numero_field}), ' '), ligne, brut
            FROM import_brut WHERE brut <> ''
        """
    session.execute(
        text(
            f"""
            CREATE TEMP TABLE import_groupes_creances ON COMMIT DROP AS
            SELECT numero, count(*) AS lignes,
                   md5(:prefix || string_agg(texte, E'\\n' ORDER BY ligne)) AS empreinte
            FROM (
                SELECT numero, ligne, {_LUE} AS texte FROM import_lignes
                {raw}
            ) l
            GROUP BY numero
            """
        ),
        {"prefix": _prefix("creances", header)},
    )
    _changes("creances")
    session.execute(
        text(
            "DELETE FROM import_lignes i WHERE NOT EXISTS "
            "(SELECT 1 FROM import_changes_creances c WHERE c.numero = i.numero)"
        )
    )
    return int(session.scalar(text("SELECT coalesce(sum(lignes), 0) FROM import_groupes_creances")))


def group_raw_lines(fichier: str, raw: str, header_line: int, header: str) -> tuple[int, bool]:
    """affilies.csv or ribs.csv, staged whole in ``raw`` (line number, text): the groups
    and ``import_changes_<fichier>``; return how many lines the file holds, and whether
    only the changed groups need checking (every line starts with its numéro)."""
    session = db.session
    session.execute(
        text(
            f"""
            CREATE TEMP TABLE import_groupes_{fichier} ON COMMIT DROP AS
            SELECT {NUMERO_EN_TETE} AS numero, count(*) AS lignes,
                   md5(:prefix || string_agg(brut, E'\\n' ORDER BY ligne)) AS empreinte
            FROM {raw} WHERE ligne > :header AND rtrim(brut, E'\\r') <> ''
            GROUP BY 1
            """
        ),
        {"prefix": _prefix(fichier, header), "header": header_line},
    )
    _changes(fichier)
    total, irregular = session.execute(
        text(
            f"SELECT coalesce(sum(lignes), 0), "
            f"coalesce(bool_or(numero IS NULL), false) FROM import_groupes_{fichier}"
        )
    ).one()
    return int(total), not irregular


def record(fichier: str) -> None:
    """After the merge: the fingerprint of each affilié of the file whose fingerprint or
    version is not the one kept (a changed affilié, a new one, one whose version this
    import changed through another file)."""
    db.session.execute(
        text(
            f"""
            INSERT INTO empreintes_import (affilie_id, fichier, empreinte, jeton)
            SELECT a.id, :fichier, g.empreinte, a.lignes_jeton
            FROM import_groupes_{fichier} g JOIN affilies a ON a.numero = g.numero
            LEFT JOIN empreintes_import e ON e.affilie_id = a.id AND e.fichier = :fichier
            WHERE e.empreinte IS DISTINCT FROM g.empreinte
               OR e.jeton IS DISTINCT FROM a.lignes_jeton
            ON CONFLICT (affilie_id, fichier) DO UPDATE
            SET empreinte = excluded.empreinte, jeton = excluded.jeton
            """
        ),
        {"fichier": fichier},
    )
