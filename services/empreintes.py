"""Which affiliés a nightly creances.csv changes: one fingerprint per affilié, set-based.

A night's export differs from the last one for about 1 % of the affiliés, and checking a
line costs far more than reading it. So, on PostgreSQL, the staged lines are grouped
once by affilié and each group's md5 — of the lines as the file wrote them, in file
order — is compared with the one kept in ``empreintes_import`` by the last import. Only
the groups that differ are split, checked, typed and compared with the database; the
others are left as they are, with their ``lignes_jeton``.

Why skipping a group is safe: the last import accepted exactly these lines for this
affilié, under the same rules and the same header (both are part of the fingerprint),
and nothing wrote the affilié since (its ``lignes_jeton`` is the one kept with the
fingerprint: every write to its lines, fields or RIBs replaces it). Every check of a
line needs only the line and its own affilié: a duplicate key lives within one affilié,
and a numéro never seen has no fingerprint.
"""

# The statements are assembled from this module's own constants; the file's values only
# travel as bound parameters or staged rows.
# ruff: noqa: S608

from __future__ import annotations

from sqlalchemy import text

from extensions import db

FICHIER = "creances"
# Part of every fingerprint: change it whenever a line's checks or typing change, and
# the next import checks every line again.
REGLES = "creances-2026-12-07"
# A line taken whole from the file, and a line the reader split (quotes, accents,
# spaces…): the tab keeps the two apart, a plain line holds none.
_BRUT = "brut"
_LUE = "E'\\t' || concat_ws(',', numero, periode, rubrique, nature, montant)"


def keep_changed_groups(header: str | None, numero_field: int) -> int:
    """Reduce the staging to the affiliés whose lines may have changed; return how many
    lines the file holds.

    ``import_brut`` holds the lines taken whole (``header`` is the file's header line
    then, and ``numero_field`` the position of numero_affiliation in it, from 1);
    ``import_lignes`` the lines the reader split. Afterwards ``import_groupes`` holds
    each affilié's fingerprint, ``import_changes`` the numéros to check, and
    ``import_lignes`` only their lines; the lines of ``import_brut`` still to split are
    those whose numéro is in ``import_changes``.
    """
    session = db.session
    prefix = f"{REGLES}\n{header or ''}\n"
    raw = ""
    if header is not None:
        raw = f"""
            UNION ALL
            SELECT btrim(split_part(brut, ',', {numero_field}), ' '), ligne, {_BRUT}
            FROM import_brut WHERE brut <> ''
        """
    session.execute(
        text(
            f"""
            CREATE TEMP TABLE import_groupes ON COMMIT DROP AS
            SELECT numero, count(*) AS lignes,
                   md5(:prefix || string_agg(texte, E'\\n' ORDER BY ligne)) AS empreinte
            FROM (
                SELECT numero, ligne, {_LUE} AS texte FROM import_lignes
                {raw}
            ) l
            GROUP BY numero
            """
        ),
        {"prefix": prefix},
    )
    session.execute(
        text(
            """
            CREATE TEMP TABLE import_changes ON COMMIT DROP AS
            SELECT g.numero FROM import_groupes g
            LEFT JOIN affilies a ON a.numero = g.numero
            LEFT JOIN empreintes_import e ON e.affilie_id = a.id AND e.fichier = :fichier
            WHERE e.empreinte IS DISTINCT FROM g.empreinte
               OR e.jeton IS DISTINCT FROM a.lignes_jeton
            """
        ),
        {"fichier": FICHIER},
    )
    session.execute(text("ALTER TABLE import_changes ADD PRIMARY KEY (numero)"))
    session.execute(text("ANALYZE import_changes"))
    session.execute(
        text(
            "DELETE FROM import_lignes i WHERE NOT EXISTS "
            "(SELECT 1 FROM import_changes c WHERE c.numero = i.numero)"
        )
    )
    return session.scalar(text("SELECT coalesce(sum(lignes), 0) FROM import_groupes"))


def record() -> None:
    """After the merge: the fingerprint of each affilié of the file whose fingerprint or
    version is not the one kept (a changed affilié, a new one, one whose version this
    import changed through its fields or RIBs)."""
    db.session.execute(
        text(
            """
            INSERT INTO empreintes_import (affilie_id, fichier, empreinte, jeton)
            SELECT a.id, :fichier, g.empreinte, a.lignes_jeton
            FROM import_groupes g JOIN affilies a ON a.numero = g.numero
            LEFT JOIN empreintes_import e ON e.affilie_id = a.id AND e.fichier = :fichier
            WHERE e.empreinte IS DISTINCT FROM g.empreinte
               OR e.jeton IS DISTINCT FROM a.lignes_jeton
            ON CONFLICT (affilie_id, fichier) DO UPDATE
            SET empreinte = excluded.empreinte, jeton = excluded.jeton
            """
        ),
        {"fichier": FICHIER},
    )
