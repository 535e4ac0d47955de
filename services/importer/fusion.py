"""The merge: the staged rows written into the real tables, set-based, and the
lines' version of exactly the affiliés that changed."""

# The statements are assembled from this package's own constants (table names, the
# dialect's expressions); the files' values only ever travel as bound parameters or
# COPY data.
# ruff: noqa: S608

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text

from extensions import db

if TYPE_CHECKING:
    from services.importer import ImportReport
    from services.importer.bases import _Loader

# ---------------------------------------------------------------- the merge


def _merge(loader: _Loader, report: ImportReport) -> None:
    """Write the staged rows into the real tables, set-based."""
    session = db.session
    loader.before_merge()
    # The affiliés this import creates: they get their lignes_jeton as they are inserted,
    # so their lines need no second write of the row (and of its search index) below.
    session.execute(
        text(
            f"""
            CREATE TEMP TABLE import_nouveaux{loader.on_commit} AS
            SELECT numero FROM import_affilies i
            WHERE NOT EXISTS (SELECT 1 FROM affilies a WHERE a.numero = i.numero)
            """
        )
    )
    session.execute(text("ANALYZE import_nouveaux"))
    session.execute(
        text(
            """
            INSERT INTO perceptions (name)
            SELECT DISTINCT perception FROM import_affilies
            WHERE NOT EXISTS (SELECT 1 FROM perceptions p WHERE p.name = perception)
            """
        )
    )
    # An affilié already there is rewritten only if one of its fields changed, and then
    # gets new versions: its name and dates are part of what a kept panel shows (``jeton``,
    # read by every move) and of what the nightly pass compares (``lignes_jeton``). An
    # UPDATE of those rows and an INSERT of the new ones, rather than an upsert, which
    # would lock (and write WAL for) every unchanged row of the file too.
    fields = (
        "raison_sociale",
        "regime",
        "ice",
        "date_situation",
        "date_arret_penalites",
        "arrangement",
        "recherche",
    )
    differs = " OR ".join(
        [f"affilies.{f}{loader.is_distinct}i.{f}" for f in fields]
        + [f"affilies.perception_id{loader.is_distinct}p.id"]
    )
    session.execute(
        text(
            f"""
            UPDATE affilies SET {", ".join(f"{f} = i.{f}" for f in fields)},
                perception_id = p.id, lignes_jeton = {loader.new_jeton},
                jeton = {loader.new_jeton}
            FROM import_affilies i JOIN perceptions p ON p.name = i.perception
            WHERE affilies.numero = i.numero AND ({differs})
            """
        )
    )
    session.execute(
        text(
            f"""
            INSERT INTO affilies (numero, raison_sociale, regime, ice, perception_id,
                date_situation, date_arret_penalites, arrangement, recherche, lignes_jeton,
                jeton)
            SELECT i.numero, i.raison_sociale, i.regime, i.ice, p.id,
                i.date_situation, i.date_arret_penalites, i.arrangement, i.recherche,
                {loader.new_jeton}, {loader.new_jeton}
            FROM import_affilies i JOIN perceptions p ON p.name = i.perception
            WHERE i.numero IN (SELECT numero FROM import_nouveaux)
            """
        )
    )
    # The same RIB twice in the file: the last line's bank wins, as when the rows were
    # written one after the other.
    ribs = """
        FROM import_ribs r JOIN affilies a ON a.numero = r.numero
        WHERE r.ligne IN (SELECT max(ligne) FROM import_ribs GROUP BY numero, rib)
    """
    # An affilié already there with a new RIB, or a new bank for one, gets a new version
    # (the RIBs are part of what a kept panel shows); a new affilié has its own already.
    session.execute(
        text(
            f"""
            UPDATE affilies SET lignes_jeton = {loader.new_jeton}, jeton = {loader.new_jeton}
            WHERE id IN (
                SELECT a.id {ribs} AND NOT EXISTS (
                    SELECT 1 FROM comptes_bancaires c
                    WHERE c.affilie_id = a.id AND c.rib = r.rib AND c.banque = r.banque
                )
                -- The new ones left out first, before the file's RIBs are joined and
                -- grouped (a first load's are all new: 1.9 s for nothing at 3 M lines).
                -- NOT EXISTS, not NOT IN: an anti-join PostgreSQL hashes at any size,
                -- where a NOT IN over 300 000 new numéros ran as a nested loop.
                AND NOT EXISTS (SELECT 1 FROM import_nouveaux n WHERE n.numero = r.numero)
            )
            """
        )
    )
    session.execute(
        text(
            f"""
            UPDATE comptes_bancaires SET banque = r.banque {ribs}
            AND comptes_bancaires.affilie_id = a.id AND comptes_bancaires.rib = r.rib
            AND comptes_bancaires.banque <> r.banque
            """
        )
    )
    session.execute(
        text(
            f"""
            INSERT INTO comptes_bancaires (affilie_id, rib, banque)
            SELECT a.id, r.rib, r.banque {ribs} AND NOT EXISTS (
                SELECT 1 FROM comptes_bancaires c WHERE c.affilie_id = a.id AND c.rib = r.rib
            )
            """
        )
    )
    report.affilies_modifies = _replace_changed_lines(loader)


def _replace_changed_lines(loader: _Loader) -> int:
    """A new file of lines is a new situation: it replaces the lines of each affilié it
    names. Only the affiliés whose lines differ are rewritten and get a new lignes_jeton.
    """
    session = db.session
    amount = loader.amount("i.montant")
    # The file's affiliés, and whether they have lines already.
    session.execute(
        text(
            f"""
            CREATE TEMP TABLE import_cibles{loader.on_commit} AS
            SELECT a.id AS affilie_id, a.numero,
                   EXISTS (SELECT 1 FROM lignes_creance l WHERE l.affilie_id = a.id) AS deja,
                   n.numero IS NOT NULL AS nouveau
            FROM affilies a LEFT JOIN import_nouveaux n ON n.numero = a.numero
            WHERE a.numero IN (SELECT numero FROM import_lignes)
            """
        )
    )
    # Those without any line yet all change.
    session.execute(
        text(
            f"""
            CREATE TEMP TABLE import_modifies{loader.on_commit} AS
            SELECT affilie_id FROM import_cibles WHERE NOT deja
            """
        )
    )
    # The others are compared with what the database holds (the file has no duplicate key).
    fichier = f"""
        SELECT c.affilie_id, i.periode, i.rubrique, i.nature, {amount} AS montant
        FROM import_lignes i JOIN import_cibles c ON c.numero = i.numero WHERE c.deja
    """
    base = f"""
        SELECT l.affilie_id, l.periode, l.rubrique, l.nature,
               {loader.amount("l.montant")} AS montant
        FROM lignes_creance l JOIN import_cibles c ON c.affilie_id = l.affilie_id WHERE c.deja
    """
    if session.scalar(text("SELECT count(*) FROM import_cibles WHERE deja")):
        session.execute(text(f"INSERT INTO import_modifies {loader.changed(fichier, base)}"))
    target = loader.lines_target()
    if target == "lignes_creance":
        session.execute(
            text(
                """
                DELETE FROM lignes_creance
                WHERE affilie_id IN (SELECT affilie_id FROM import_modifies)
                """
            )
        )
    # In the index's order: each affilié's lines land side by side in its pages, and the
    # foreign key finds the same affilié row again and again.
    loader.lines_written = session.execute(
        text(
            f"""
            INSERT INTO {target} (affilie_id, periode, rubrique, nature, montant)
            SELECT c.affilie_id, i.periode, i.rubrique, i.nature, {amount}
            FROM import_lignes i JOIN import_cibles c ON c.numero = i.numero
            WHERE c.affilie_id IN (SELECT affilie_id FROM import_modifies)
            ORDER BY c.affilie_id, i.periode
            """
        )
    ).rowcount
    session.execute(
        text(
            f"""
            UPDATE affilies SET lignes_jeton = {loader.new_jeton}
            WHERE id IN (
                SELECT m.affilie_id FROM import_modifies m
                JOIN import_cibles c ON c.affilie_id = m.affilie_id WHERE NOT c.nouveau
            )
            """
        )
    )
    changed = session.scalar(text("SELECT count(*) FROM import_modifies"))
    loader.record_fingerprints()
    if target != "lignes_creance":
        loader.swap_lines(target)
    return changed
