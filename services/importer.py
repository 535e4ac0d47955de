"""``flask import-data DIR``: affiliés, RIBs and créance lines from CSV, all or nothing.

A national export is tens of millions of lines, so nothing here holds a file in memory:
each file is read a line at a time (``csv_lines``) into a staging table of the import's
own transaction, checked there, and merged into the real tables by a few set-based
statements. On PostgreSQL the créance lines go through ``COPY`` and are checked in SQL;
on SQLite they are checked in Python and inserted in batches. Either way:

- one transaction: readers see the previous situation until the commit, and a bad row
  anywhere, the last line of the file included, leaves the database as it was;
- the first ``MAX_REPORTED`` bad lines are reported in full (file, line, field), the
  others counted;
- ``lignes_jeton`` changes, in the same transaction, for exactly the affiliés whose lines,
  own fields (raison sociale, dates…) or RIBs changed: what a kept panel shows; an
  unchanged affilié keeps its version and its workers' consolidated table.
"""

# The statements below are assembled from this module's own constants (table names, the
# dialect's expressions); the files' values only ever travel as bound parameters or COPY data.
# ruff: noqa: S608

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from db.models import LigneCreance
from domain.creance import NATURES, RUBRIQUES, is_valid_period
from domain.identifiers import is_valid_affiliation, is_valid_ice, is_valid_rib, normalize_rib
from domain.money import AmountError, parse_csv_amount
from domain.search import search_text
from extensions import db
from services import empreintes
from services.csv_lines import (
    FileRefused,
    Header,
    blocks,
    control_character,
    control_message,
    empty_file,
    header_of,
    lines_of,
    physical_lines,
    read_header,
    row_problem,
    split_fields,
)

AFFILIES_COLUMNS = (
    "numero_affiliation",
    "raison_sociale",
    "regime",
    "ice",
    "perception",
    "date_situation",
    "date_arret_penalites",
    "arrangement",
)
RIBS_COLUMNS = ("numero_affiliation", "rib", "banque")
CREANCES_COLUMNS = ("numero_affiliation", "periode", "rubrique", "nature", "montant")
FILES = ("affilies", "ribs", "creances")
TRUE_WORDS = {"1", "true", "oui", "vrai", "yes"}
FALSE_WORDS = {"0", "false", "non", "faux", "no", ""}
# date.fromisoformat also takes "20231108" and "2023-W45-3"; the files use AAAA-MM-JJ only.
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# NUMERIC(14, 2): a longer amount overflows on PostgreSQL and loses centimes in SQLite's REAL.
MONTANT_MAX_INTEGER_DIGITS = LigneCreance.__table__.c.montant.type.precision - 2
# "1 000.00", "1.000,00", "1,000.00": an amount written for people, not for a file.
_THOUSANDS_RE = re.compile(r"-?[0-9]{1,3}(?:[  .,'][0-9]{3})+(?:[.,][0-9]{1,2})?")
MAX_REPORTED = 100
# A first load's lines go into this table, which then replaces lignes_creance.
FIRST_LOAD = "lignes_creance_chargement"
# How long the swap waits for its lock at a time (readers queue behind it meanwhile),
# and how many times it asks before copying the lines into the live table instead.
LOCK_WAIT = "1s"
LOCK_ATTEMPTS = 3
BATCH_ROWS = 5000
# What a line of a plain block may hold besides its end: printable ASCII without the quote
# (CSV's) or the backslash (COPY's escape). Anything else sends the block through Python.
_PLAIN_BYTES = bytes(range(0x20, 0x7F)).replace(b'"', b"").replace(b"\\", b"") + b"\n"

Progress = Callable[[str, int, int], None]  # (file name, bytes read so far, lines so far)


class ImportError_(Exception):
    """The import was refused; ``errors`` lists the bad rows shown, ``more`` counts the
    bad lines beyond them."""

    def __init__(self, errors: list[str], more: int = 0):
        super().__init__("\n".join(errors))
        self.errors = errors
        self.more = more


@dataclass
class ImportReport:
    affilies: int = 0
    ribs: int = 0
    lignes: int = 0
    # Affiliés whose créance lines the import changed (their lignes_jeton is new).
    affilies_modifies: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)


class _Errors:
    """The bad lines of an import: the first MAX_REPORTED in full, the others counted."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.lines_shown = 0
        self.more = 0

    def line(self, messages: list[str]) -> None:
        if self.lines_shown < MAX_REPORTED:
            self.shown.extend(messages)
            self.lines_shown += 1
        else:
            self.more += 1

    def file(self, message: str) -> None:
        """A problem with a whole file: always shown."""
        self.shown.append(message)

    def __bool__(self) -> bool:
        return bool(self.shown) or bool(self.more)

    @property
    def room(self) -> int:
        return MAX_REPORTED - self.lines_shown


def import_directory(
    directory: Path, *, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Check every file, then write everything in one transaction (or, dry, nothing)."""
    started = time.perf_counter()
    files = {name: directory / f"{name}.csv" for name in FILES}
    if not any(p.exists() for p in files.values()):
        raise ImportError_(
            [f"{directory} : aucun des fichiers affilies.csv, ribs.csv, creances.csv"]
        )
    report = ImportReport(dry_run=dry_run)
    errors = _Errors()
    structural = _FirstLines()
    loader = staging_loader()
    try:
        loader.create_staging()
        if files["affilies"].exists():
            report.affilies = _stage_affilies(files["affilies"], loader, errors, progress)
        if files["ribs"].exists():
            report.ribs = _stage_ribs(files["ribs"], loader, errors, progress)
        if files["creances"].exists():
            report.lignes = loader.stage_lignes(files["creances"], structural, progress)
        loader.analyze()
        _check_staged(loader, errors, structural)
        if errors:
            raise ImportError_(errors.shown, errors.more)
        if progress is not None:
            progress("", 0, 0)
        _merge(loader, report)
        if progress is not None:
            progress("", 1, 0)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        loader.drop_staging()
    if report.lignes and not dry_run and db.engine.dialect.name == "postgresql":
        # Statistics for the new lines now, not at autovacuum's next pass: each affilié's
        # first consolidation plans its GROUP BY with them (for 8 rows, it would sort
        # 12 000).
        db.session.execute(text("ANALYZE lignes_creance"))
        db.session.commit()
    report.seconds = time.perf_counter() - started
    return report


# ---------------------------------------------------------------- reading the files


def _rows(
    path: Path, columns: tuple[str, ...], errors: _Errors, progress: Progress | None, loader
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: stripped value}) of each well-formed row to check; the
    others are reported as bad lines. The loader may know that only some lines need
    checking (the affiliés whose lines changed since the last import)."""
    name = path.name
    done = [0]

    def read(count: int) -> None:
        done[0] += count
        progress(name, done[0], 0)

    try:
        found = loader.lines_to_check(path, columns, read if progress is not None else None)
        if found is None:
            lines = physical_lines(path, name, read if progress is not None else None)
            header = read_header(lines, name, columns)
        else:
            header, lines = found
        for number, line in lines:
            if not line:
                continue
            fields = split_fields(line)
            problem = row_problem(name, number, line, fields, header)
            if problem is not None:
                errors.line([problem])
                continue
            yield number, dict(zip(columns, _in_order(fields, header), strict=True))
    except FileRefused as exc:
        errors.file(exc.message)


def _in_order(fields: list[str], header: Header) -> list[str]:
    return fields if header.canonical else [fields[i] for i in header.positions]


def _iso_date(value: str) -> date | None:
    if not _ISO_DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


# ---------------------------------------------------------------- affiliés and RIBs


def _stage_affilies(path: Path, loader, errors: _Errors, progress) -> int:
    """Check each affilié in Python (a few hundred thousand rows) and stage the good ones."""
    seen: set[str] = set()

    def good_rows():
        for number, row in _rows(path, AFFILIES_COLUMNS, errors, progress, loader):
            where = f"affilies.csv, ligne {number}"
            messages: list[str] = []
            parsed = _parse_affilie(row, where, messages)
            if parsed and parsed["numero"] in seen:
                messages.append(f"{where}, champ numero_affiliation : affilié en double")
            if messages:
                errors.line(messages)
                continue
            seen.add(parsed["numero"])
            search = search_text(parsed["numero"], parsed["ice"], parsed["raison_sociale"])
            yield (number, *parsed.values(), search)

    staged = stage_in_batches(loader, "import_affilies", good_rows())
    return loader.file_lines.get("affilies", staged)


def staging_loader() -> _Loader:
    """The loader of this database: how rows are staged (COPY or executemany) and where
    temporary tables live."""
    return _PostgresLoader() if db.engine.dialect.name == "postgresql" else _SqliteLoader()


def stage_in_batches(loader, table: str, rows) -> int:
    """Stage rows BATCH_ROWS at a time; return how many."""
    staged = 0
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            loader.stage(table, batch)
            staged += len(batch)
            batch.clear()
    if batch:
        loader.stage(table, batch)
        staged += len(batch)
    return staged


def _parse_affilie(row: dict, where: str, errors: list[str]) -> dict | None:
    before = len(errors)
    if not is_valid_affiliation(row["numero_affiliation"]):
        errors.append(f"{where}, champ numero_affiliation : 7 chiffres attendus")
    if not row["raison_sociale"] or len(row["raison_sociale"]) > 200:
        errors.append(f"{where}, champ raison_sociale : obligatoire (200 caractères au plus)")
    _clean_text(row, "raison_sociale", where, errors)
    if not row["regime"] or len(row["regime"]) > 80:
        errors.append(f"{where}, champ regime : obligatoire (80 caractères au plus)")
    _clean_text(row, "regime", where, errors)
    # stdnum accepts "00153 4287000041"; store the 15 digits, as the column expects.
    ice = "".join(row["ice"].split())
    if ice and not is_valid_ice(ice):
        errors.append(f"{where}, champ ice : ICE invalide (15 chiffres, clé ISO 7064)")
    if not row["perception"] or len(row["perception"]) > 120:
        errors.append(f"{where}, champ perception : obligatoire (120 caractères au plus)")
    _clean_text(row, "perception", where, errors)
    situation = _iso_date(row["date_situation"])
    if situation is None:
        errors.append(f"{where}, champ date_situation : date invalide (AAAA-MM-JJ)")
    arret = _iso_date(row["date_arret_penalites"])
    if arret is None:
        errors.append(f"{where}, champ date_arret_penalites : date invalide (AAAA-MM-JJ)")
    flag = row["arrangement"].lower()
    if flag not in TRUE_WORDS | FALSE_WORDS:
        errors.append(f"{where}, champ arrangement : attendu 1/0, oui/non ou true/false")
    if len(errors) > before:
        return None
    return {
        "numero": row["numero_affiliation"],
        "raison_sociale": row["raison_sociale"],
        "regime": row["regime"],
        "ice": ice or None,
        "perception": row["perception"],
        "date_situation": situation,
        "date_arret_penalites": arret,
        "arrangement": flag in TRUE_WORDS,
    }


def _clean_text(row: dict, column: str, where: str, errors: list[str]) -> None:
    """Imported text is clean text: a control character in a name is refused."""
    if code := control_character(row[column]):
        errors.append(control_message(where, column, code))


def _stage_ribs(path: Path, loader, errors: _Errors, progress) -> int:
    """Stage every RIB row with its own error, if any; the affilié is checked in SQL."""

    def staged_rows():
        for number, row in _rows(path, RIBS_COLUMNS, errors, progress, loader):
            where = f"ribs.csv, ligne {number}"
            rib = normalize_rib(row["rib"])
            problem = None
            if not is_valid_rib(rib):
                problem = f"{where}, champ rib : RIB invalide (24 chiffres, clé modulo 97)"
            elif not row["banque"] or len(row["banque"]) > 120:
                problem = f"{where}, champ banque : obligatoire (120 caractères au plus)"
            elif code := control_character(row["banque"]):
                problem = control_message(where, "banque", code)
            yield (number, row["numero_affiliation"], rib[:24], row["banque"][:120], problem)

    staged = stage_in_batches(loader, "import_ribs", staged_rows())
    return loader.file_lines.get("ribs", staged)


# ---------------------------------------------------------------- créance lines


def _parse_ligne(row: dict, where: str, known: bool, errors: list[str]) -> dict | None:
    """Every error of one créance line, in the columns' order (the messages of the file's
    report, on both databases)."""
    before = len(errors)
    if not known:
        errors.append(
            f"{where}, champ numero_affiliation : affilié inconnu « {row['numero_affiliation']} »"
        )
    if not is_valid_period(row["periode"]):
        errors.append(f"{where}, champ periode : période invalide « {row['periode']} » (AAAAMM)")
    if row["rubrique"] not in RUBRIQUES:
        errors.append(
            f"{where}, champ rubrique : rubrique inconnue « {row['rubrique']} » "
            f"(attendu {' '.join(RUBRIQUES)})"
        )
    if row["nature"] not in NATURES:
        errors.append(
            f"{where}, champ nature : nature inconnue « {row['nature']} » "
            f"(attendu {' '.join(NATURES)})"
        )
    try:
        montant = parse_csv_amount(row["montant"])
    except AmountError as exc:
        if exc.code == "too_many_decimals":
            reason = "2 décimales au plus"
        elif _THOUSANDS_RE.fullmatch(row["montant"]):
            reason = "séparateur de milliers (écrire 1234567.89)"
        else:
            reason = "montant invalide"
        errors.append(f"{where}, champ montant : {reason} « {row['montant'][:64]} »")
        montant = None
    if montant is not None and abs(montant) >= 10**MONTANT_MAX_INTEGER_DIGITS:
        errors.append(
            f"{where}, champ montant : montant trop grand « {row['montant']} » "
            f"({MONTANT_MAX_INTEGER_DIGITS} chiffres avant la virgule au plus)"
        )
    if len(errors) > before:
        return None
    return {
        "periode": row["periode"],
        "rubrique": row["rubrique"],
        "nature": row["nature"],
        "montant": montant,
    }


def _line_messages(number: int, fields: tuple, known: bool) -> list[str]:
    messages: list[str] = []
    _parse_ligne(
        dict(zip(CREANCES_COLUMNS, fields, strict=True)),
        f"creances.csv, ligne {number}",
        known,
        messages,
    )
    return messages


# ---------------------------------------------------------------- checks in SQL


# The affiliés a RIB or a line may name: those of the database and those of the file,
# joined (one hash) rather than looked up row by row.
_KNOWN = "LEFT JOIN (SELECT numero FROM affilies UNION SELECT numero FROM import_affilies) k"


def _check_staged(loader: _Loader, errors: _Errors, structural: _FirstLines) -> None:
    """What needs the other files or the whole file: unknown affiliés, bad and duplicate
    lines. Reported in file order, and in line order within a file."""
    session = db.session
    bad_rib = "erreur IS NOT NULL OR k.numero IS NULL"
    room = max(errors.room, 0)
    rib_rows = session.execute(
        text(
            f"""
            SELECT r.ligne, r.numero, r.erreur, k.numero IS NOT NULL AS connu
            FROM import_ribs r {_KNOWN} ON k.numero = r.numero
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
            text(
                f"SELECT count(*) FROM import_ribs r {_KNOWN} ON k.numero = r.numero "
                f"WHERE {bad_rib}"
            )
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


class _FirstLines:
    """The first MAX_REPORTED (line number, messages) of a file read in order; a count of
    the others."""

    def __init__(self) -> None:
        self.items: list[tuple[int, list[str]]] = []
        self.more = 0

    def add(self, number: int, message: str) -> None:
        if len(self.items) < MAX_REPORTED:
            self.items.append((number, [message]))
        else:
            self.more += 1

    def absorb(self, found: list[tuple[int, str]], count: int) -> None:
        """The first lines (in order) of ``count`` found apart from the reading."""
        merged = list(heapq.merge(self.items, [(n, [m]) for n, m in found]))
        self.more += max(0, len(merged) - MAX_REPORTED) + count - len(found)
        self.items = merged[:MAX_REPORTED]


def _duplicate_message(number: int, first: int) -> list[str]:
    return [
        f"creances.csv, ligne {number} : ligne en double (même affilié, période, rubrique "
        f"et nature qu'à la ligne {first})"
    ]


# ---------------------------------------------------------------- the merge


def _merge(loader: _Loader, report: ImportReport) -> None:
    """Write the staged rows into the real tables, set-based."""
    session = db.session
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
    # gets a new version: its name and dates are part of what a kept panel shows. An
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
                perception_id = p.id, lignes_jeton = {loader.new_jeton}
            FROM import_affilies i JOIN perceptions p ON p.name = i.perception
            WHERE affilies.numero = i.numero AND ({differs})
            """
        )
    )
    session.execute(
        text(
            f"""
            INSERT INTO affilies (numero, raison_sociale, regime, ice, perception_id,
                date_situation, date_arret_penalites, arrangement, recherche, lignes_jeton)
            SELECT i.numero, i.raison_sociale, i.regime, i.ice, p.id,
                i.date_situation, i.date_arret_penalites, i.arrangement, i.recherche,
                {loader.new_jeton}
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
            UPDATE affilies SET lignes_jeton = {loader.new_jeton}
            WHERE id IN (
                SELECT a.id {ribs} AND NOT EXISTS (
                    SELECT 1 FROM comptes_bancaires c
                    WHERE c.affilie_id = a.id AND c.rib = r.rib AND c.banque = r.banque
                )
            ) AND numero NOT IN (SELECT numero FROM import_nouveaux)
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
    session.execute(
        text(
            f"""
            INSERT INTO {target} (affilie_id, periode, rubrique, nature, montant)
            SELECT c.affilie_id, i.periode, i.rubrique, i.nature, {amount}
            FROM import_lignes i JOIN import_cibles c ON c.numero = i.numero
            WHERE c.affilie_id IN (SELECT affilie_id FROM import_modifies)
            ORDER BY c.affilie_id, i.periode
            """
        )
    )
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


# ---------------------------------------------------------------- the two databases


class _Loader:
    """What differs between the databases: staging, checking and typing the lines."""

    file_lines: dict[str, int] = {}  # noqa: RUF012 (never written on this class)

    new_jeton = ""
    on_commit = ""
    temp_schema = ""
    is_distinct = " IS NOT "
    lines_table = ""

    def create_staging(self) -> None:
        self.drop_staging()
        for statement in (
            f"""CREATE TEMP TABLE import_affilies (
                ligne integer, numero varchar(7), raison_sociale varchar(200),
                regime varchar(80), ice varchar(15), perception varchar(120),
                date_situation date, date_arret_penalites date, arrangement boolean,
                recherche text
            ){self.on_commit}""",
            f"""CREATE TEMP TABLE import_ribs (
                ligne integer, numero text, rib varchar(24), banque varchar(120), erreur text
            ){self.on_commit}""",
            self.lines_table,
        ):
            db.session.execute(text(statement))

    def drop_staging(self) -> None:
        for table in (
            "import_affilies",
            "import_ribs",
            "import_lignes",
            "import_brut",
            "import_nouveaux",
            "import_cibles",
            "import_modifies",
            *(f"import_{t}_{f}" for t in ("groupes", "changes", "brut") for f in FILES),
        ):
            db.session.execute(text(f"DROP TABLE IF EXISTS {self.temp_schema}{table}"))
        if self.temp_schema == "temp.":
            db.session.commit()

    def amount(self, column: str) -> str:
        raise NotImplementedError

    def lines_target(self) -> str:
        """The table the lines are inserted into."""
        return "lignes_creance"

    def swap_lines(self, table: str) -> None:
        raise NotImplementedError

    def record_fingerprints(self) -> None:
        """SQLite checks every line of every import: nothing to keep."""

    def lines_to_check(self, path: Path, columns: tuple[str, ...], read):
        """(header, lines) of the lines of affilies.csv or ribs.csv to check, or None:
        every line of the file, read from it."""
        return None

    def changed(self, fichier: str, base: str) -> str:
        """The affiliés whose lines differ, as sets: equal counts and nothing on either
        side of an EXCEPT means the same lines."""
        return f"""
            SELECT affilie_id FROM ({fichier} EXCEPT {base}) plus
            UNION
            SELECT affilie_id FROM ({base} EXCEPT {fichier}) moins
            UNION
            SELECT affilie_id FROM (
                SELECT affilie_id, count(*) FROM ({base}) b GROUP BY affilie_id
                EXCEPT
                SELECT affilie_id, count(*) FROM ({fichier}) f GROUP BY affilie_id
            ) compte
        """

    def analyze(self) -> None:
        """Statistics of the staged rows, so the checks and the merge are planned for
        their size (nothing analyses a temporary table on its own)."""
        db.session.execute(text("ANALYZE import_affilies"))
        db.session.execute(text("ANALYZE import_ribs"))
        db.session.execute(text("ANALYZE import_lignes"))

    def duplicate_lines(self, room: int) -> list[tuple[int, list[str]]]:
        if not room or not self.duplicate_count(limit=1):
            return []
        rows = db.session.execute(
            text(
                """
                SELECT ligne, premiere FROM (
                    SELECT ligne, min(ligne) OVER (PARTITION BY numero, periode, rubrique,
                        nature) AS premiere
                    FROM import_lignes
                ) d WHERE ligne <> premiere ORDER BY ligne LIMIT :room
                """
            ),
            {"room": room},
        ).all()
        return [(number, _duplicate_message(number, first)) for number, first in rows]

    def duplicate_count(self, limit: int | None = None) -> int:
        """Lines whose key an earlier line has (up to ``limit``)."""
        return db.session.scalar(
            text(
                f"""
                SELECT coalesce(sum(n - 1), 0) FROM (
                    SELECT count(*) AS n FROM import_lignes
                    GROUP BY numero, periode, rubrique, nature HAVING count(*) > 1
                    {"LIMIT :limit" if limit else ""}
                ) d
                """
            ),
            {"limit": limit} if limit else {},
        )

    # The lines a loader's ``_bad()`` refuses, read back for their messages; and how many.
    def bad_lines(self, room: int) -> list[tuple[int, list[str]]]:
        rows = db.session.execute(
            text(
                f"""
                SELECT i.ligne, i.numero, periode, rubrique, nature, montant,
                       k.numero IS NOT NULL AS connu
                FROM import_lignes i {_KNOWN} ON k.numero = i.numero
                WHERE {self._bad()} ORDER BY i.ligne LIMIT :room
                """
            ),
            {"room": room},
        ).all()
        return [(r[0], _line_messages(r[0], tuple(r[1:6]), bool(r[6]))) for r in rows]

    def bad_line_count(self) -> int:
        return db.session.scalar(
            text(
                f"SELECT count(*) FROM import_lignes i {_KNOWN} ON k.numero = i.numero "
                f"WHERE {self._bad()}"
            )
        )


class _PostgresLoader(_Loader):
    new_jeton = "md5(random()::text || clock_timestamp()::text)"
    on_commit = " ON COMMIT DROP"
    temp_schema = "pg_temp."
    is_distinct = " IS DISTINCT FROM "
    lines_table = """CREATE TEMP TABLE import_lignes (
        ligne integer, numero text, periode text, rubrique text, nature text, montant text
    ) ON COMMIT DROP"""
    # A créance line as _parse_ligne accepts it, in one expression over the staged text.
    VALID = (
        "periode ~ '^(19|2[0-9])[0-9]{2}(0[1-9]|1[0-2])$'"
        f" AND rubrique IN ({', '.join(repr(r) for r in RUBRIQUES)})"
        f" AND nature IN ({', '.join(repr(n) for n in NATURES)})"
        " AND length(montant) <= 64"
        f" AND montant ~ '^-?0*[0-9]{{1,{MONTANT_MAX_INTEGER_DIGITS}}}(\\.[0-9]{{1,2}})?$'"
    )

    def _cursor(self):
        return db.session.connection().connection.driver_connection.cursor()

    def stage(self, table: str, rows: list[tuple], columns: tuple[str, ...] = ()) -> None:
        named = f" ({', '.join(columns)})" if columns else ""
        with self._cursor().copy(f"COPY {table}{named} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def stage_lignes(self, path: Path, structural: _FirstLines, progress) -> int:
        """COPY the lines; their fields are checked in SQL.

        A block of plain lines (printable ASCII, no quote, no backslash, no header) goes
        to COPY as the file has it, one text row a line, its line numbers from an identity
        column set to the block's first: Python never looks at its lines one by one.
        Fields are split, stripped and put in order in SQL. Other blocks are read a line
        at a time, as on SQLite.
        """
        cursor = self._cursor()
        buffer: list[str] = []
        taken: list[Header] = []

        def flush() -> None:
            if buffer:
                with cursor.copy(
                    "COPY import_lignes FROM STDIN (FORMAT csv, FORCE_NOT_NULL "
                    "(numero, periode, rubrique, nature, montant))"
                ) as copy:
                    copy.write("".join(buffer))
                buffer.clear()

        def take(first: int, block: bytes, header: Header) -> bool:
            if b"\r" in block:
                block = block.replace(b"\r\n", b"\n")
            if block.translate(None, _PLAIN_BYTES) or b"numero_affiliation" in block:
                return False
            if not taken:
                cursor.execute(
                    "CREATE TEMP TABLE import_brut (ligne integer GENERATED BY DEFAULT AS "
                    "IDENTITY, brut text) ON COMMIT DROP"
                )
                taken.append(header)
            flush()
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('pg_temp.import_brut', 'ligne'), %s, false)",
                (first,),
            )
            with cursor.copy("COPY import_brut (brut) FROM STDIN") as copy:
                copy.write(block)
            return True

        for number, fields, line in _line_rows(path, structural, progress, take):
            buffer.append(f"{number},{line}\n" if fields is None else _csv_row(number, fields))
            if len(buffer) >= BATCH_ROWS:
                flush()
        flush()
        self.fingerprinted.append("creances")
        header = taken[0] if taken else None
        total = empreintes.keep_changed_lines(
            ",".join(header.names) if header else None,
            header.positions[0] + 1 if header else 1,
        )
        if header is not None:
            self._unpack_blocks(path.name, header, structural)
        return total

    # A line of a plain block holds the five fields when it has four commas.
    _FIELDS_OK = "length(brut) - length(replace(brut, ',', '')) = 4"

    def _unpack_blocks(self, name: str, header: Header, structural: _FirstLines) -> None:
        """The lines of the blocks taken whole, as fields; those that are not rows
        reported as the line-by-line reader reports them."""
        fields = ", ".join(f"btrim(split_part(brut, ',', {i + 1}), ' ')" for i in header.positions)
        # Only the affiliés whose fingerprint changed (services.empreintes).
        db.session.execute(
            text(
                f"""
                INSERT INTO import_lignes (ligne, numero, periode, rubrique, nature, montant)
                SELECT ligne, {fields} FROM import_brut b
                JOIN import_changes_creances c ON c.numero = btrim(
                    split_part(brut, ',', {header.positions[0] + 1}), ' ')
                WHERE brut <> '' AND {self._FIELDS_OK}
                """
            )
        )
        bad = f"brut <> '' AND NOT {self._FIELDS_OK}"
        rows = db.session.execute(
            text(f"SELECT ligne, brut FROM import_brut WHERE {bad} ORDER BY ligne LIMIT :n"),
            {"n": MAX_REPORTED},
        ).all()
        if not rows:
            return
        count = db.session.scalar(text(f"SELECT count(*) FROM import_brut WHERE {bad}"))
        structural.absorb(
            [(n, row_problem(name, n, brut, split_fields(brut), header)) for n, brut in rows],
            count,
        )

    def _bad(self) -> str:
        return f"NOT ({self.VALID}) OR k.numero IS NULL"

    def __init__(self) -> None:
        self.file_lines: dict[str, int] = {}
        self.fingerprinted: list[str] = []

    def record_fingerprints(self) -> None:
        for fichier in self.fingerprinted:
            empreintes.record(fichier)

    def lines_to_check(self, path: Path, columns: tuple[str, ...], read):
        """The file's lines COPYed whole into one text column (escaped for COPY), grouped
        by affilié and compared with the last import's fingerprints: the lines of the
        affiliés that changed, read back from the table. None (read the file again, every
        line checked) for a file the reader refuses or whose numéro is not first."""
        fichier, name = path.stem, path.name
        raw = f"import_brut_{fichier}"
        cursor = self._cursor()
        cursor.execute(
            f"CREATE TEMP TABLE {raw} (ligne integer GENERATED BY DEFAULT AS IDENTITY, "
            "brut text) ON COMMIT DROP"
        )
        header = None
        whole = True
        with cursor.copy(f"COPY {raw} (brut) FROM STDIN") as copy:
            try:
                for first, block in blocks(path, name, read):
                    if header is None:
                        for number, line in lines_of(first, block, name):
                            if line.strip():
                                header = header_of(number, line, name, columns)
                                break
                    if b"\x00" in block:
                        whole = False
                        break
                    block.decode("utf-8")
                    copy.write(_copy_text(block))
            except (FileRefused, UnicodeDecodeError):
                whole = False
        if not whole or header is None or header.positions[0] != 0:
            cursor.execute(f"DROP TABLE {raw}")
            return None
        cursor.execute(f"ALTER TABLE {raw} ADD PRIMARY KEY (ligne)")
        total, grouped = empreintes.group_raw_lines(
            fichier, raw, header.line, ",".join(header.names)
        )
        self.file_lines[fichier] = total
        self.fingerprinted.append(fichier)
        where = f"AND {empreintes.NUMERO_EN_TETE} IN (SELECT numero FROM import_changes_{fichier})"
        return header, self._read_back(raw, header.line, where if grouped else "")

    def _read_back(self, raw: str, after: int, where: str):
        """(number, text) of the staged lines past ``after`` that ``where`` keeps, in
        order, BATCH_ROWS at a time."""
        while True:
            rows = db.session.execute(
                text(
                    f"SELECT ligne, brut FROM {raw} WHERE ligne > :after {where} "
                    "ORDER BY ligne LIMIT :n"
                ),
                {"after": after, "n": BATCH_ROWS},
            ).all()
            for number, line in rows:
                yield number, line.rstrip("\r")
            if len(rows) < BATCH_ROWS:
                return
            after = rows[-1][0]

    def lines_target(self) -> str:
        """An empty ``lignes_creance`` is a first load: the lines go into a new table
        without key, index or foreign key, built afterwards as ``pg_restore`` does (the
        foreign key checked row by row was a third of a first load), and the new table
        takes the old one's place at the end of the import (``swap_lines``).

        The SHARE lock, held until the commit, lets readers read and keeps writers from
        adding lines the swap would drop."""
        db.session.execute(text("LOCK TABLE lignes_creance IN SHARE MODE"))
        if db.session.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM lignes_creance) "
                "OR NOT EXISTS (SELECT 1 FROM import_modifies)"
            )
        ):
            return "lignes_creance"
        db.session.execute(
            text(f"CREATE TABLE {FIRST_LOAD} (LIKE lignes_creance INCLUDING DEFAULTS)")
        )
        return FIRST_LOAD

    def swap_lines(self, table: str) -> None:
        """Key, index and foreign key built on the loaded table, then the swap: an
        ACCESS EXCLUSIVE lock on the empty ``lignes_creance`` for a few catalogue
        statements, held to the commit that follows at once. Readers see the old (empty)
        table until then; the lock is asked for at most LOCK_WAIT at a time, so that a
        long reader does not queue the others behind the import. When it cannot be had,
        the lines are copied into the live table instead."""
        session = db.session
        for statement in (
            f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)",
            f"CREATE INDEX ix_{table} ON {table} (affilie_id, periode)",
            # NOT VALID then VALIDATE: the check is one scan of the new table joined to
            # the affiliés, under a lock that leaves the affiliés readable and writable.
            f"ALTER TABLE {table} ADD CONSTRAINT fk_lignes_creance_affilie_id_affilies "
            "FOREIGN KEY (affilie_id) REFERENCES affilies (id) ON DELETE CASCADE NOT VALID",
            f"ALTER TABLE {table} VALIDATE CONSTRAINT fk_lignes_creance_affilie_id_affilies",
        ):
            session.execute(text(statement))
        for attempt in range(LOCK_ATTEMPTS):
            try:
                with session.begin_nested():
                    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
                    session.execute(text("LOCK TABLE lignes_creance IN ACCESS EXCLUSIVE MODE"))
                    for statement in (
                        "ALTER SEQUENCE lignes_creance_id_seq OWNED BY NONE",
                        "DROP TABLE lignes_creance",
                        f"ALTER TABLE {table} RENAME TO lignes_creance",
                        f"ALTER TABLE lignes_creance RENAME CONSTRAINT pk_{table} "
                        "TO pk_lignes_creance",
                        f"ALTER INDEX ix_{table} RENAME TO ix_lignes_creance_affilie_periode",
                        "ALTER SEQUENCE lignes_creance_id_seq OWNED BY lignes_creance.id",
                        "SET LOCAL lock_timeout TO DEFAULT",
                    ):
                        session.execute(text(statement))
                return
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                    raise
                time.sleep(attempt + 1)
        session.execute(
            text(
                f"""
                INSERT INTO lignes_creance (id, affilie_id, periode, rubrique, nature, montant)
                SELECT id, affilie_id, periode, rubrique, nature, montant FROM {table}
                ORDER BY id
                """
            )
        )
        session.execute(text(f"DROP TABLE {table}"))

    def amount(self, column: str) -> str:
        return f"{column}::numeric(14, 2)"

    def changed(self, fichier: str, base: str) -> str:
        """The affiliés whose lines differ: one fingerprint per affilié and side, the md5
        of its lines in key order (a key is unique on each side), compared by a join —
        two passes over the lines where the EXCEPTs took six (38 of the 97 seconds of a
        3 M-line re-import)."""
        line = "periode || ' ' || rubrique || ' ' || nature || ' ' || montant::text"
        order = "ORDER BY periode, rubrique, nature"

        def prints(rows: str) -> str:
            return (
                f"SELECT affilie_id, md5(string_agg({line}, ',' {order})) AS empreinte "
                f"FROM ({rows}) r GROUP BY affilie_id"
            )

        return f"""
            SELECT coalesce(f.affilie_id, b.affilie_id) FROM ({prints(fichier)}) f
            FULL JOIN ({prints(base)}) b ON b.affilie_id = f.affilie_id
            WHERE f.empreinte IS DISTINCT FROM b.empreinte
        """


def _sqlite_value(value):
    """A value as SQLAlchemy writes it in SQLite (its text formats for dates and times)."""
    if isinstance(value, datetime):
        return value.isoformat(" ", "microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


class _SqliteLoader(_Loader):
    new_jeton = "lower(hex(randomblob(16)))"
    temp_schema = "temp."
    lines_table = """CREATE TEMP TABLE import_lignes (
        ligne integer, numero text, periode text, rubrique text, nature text, montant text,
        valide boolean
    )"""

    def stage(self, table: str, rows: list[tuple], columns: tuple[str, ...] = ()) -> None:
        named = f" ({', '.join(columns)})" if columns else ""
        placeholders = ", ".join("?" * len(rows[0]))
        values = [tuple(_sqlite_value(v) for v in r) for r in rows]
        db.session.connection().exec_driver_sql(
            f"INSERT INTO {table}{named} VALUES ({placeholders})", values
        )

    def stage_lignes(self, path: Path, structural: _FirstLines, progress) -> int:
        """Check each line's own fields in Python; whether its affilié exists, in SQL."""

        def checked_rows():
            for number, fields, line in _line_rows(path, structural, progress):
                if fields is None:
                    fields = line.split(",")
                row = dict(zip(CREANCES_COLUMNS, fields, strict=True))
                parsed = _parse_ligne(row, "", True, [])
                montant = str(parsed["montant"]) if parsed else fields[4]
                yield (number, *fields[:4], montant, parsed is not None)

        return stage_in_batches(self, "import_lignes", checked_rows())

    def _bad(self) -> str:
        return "NOT valide OR k.numero IS NULL"

    def amount(self, column: str) -> str:
        # The column keeps REALs; the staged text is the amount _parse_ligne printed.
        return f"CAST({column} AS REAL)"


def _line_rows(
    path: Path,
    structural: _FirstLines,
    progress: Progress | None,
    take: Callable[[int, bytes, Header], bool] | None = None,
):
    """(line number, fields, None) of each well-formed créance line, or (line number,
    None, line) when the line can go to COPY as it is: nothing to strip, unquote or
    reorder. The other lines are reported. After the header, ``take`` may take a whole
    block of lines as it is (it answers True), and reports them itself."""
    name = path.name
    total = [0, 0]

    def read(count: int) -> None:
        total[0] += count
        progress(name, total[0], total[1])

    try:
        header = None
        for first, block in blocks(path, name, read if progress is not None else None):
            if header is not None and take is not None and take(first, block, header):
                total[1] = first + block.count(b"\n")
                continue
            for number, line in lines_of(first, block, name):
                total[1] = number
                if header is None:
                    if line.strip():
                        header = header_of(number, line, name, CREANCES_COLUMNS)
                        header_text = ",".join(header.names)
                    continue
                if (
                    header.canonical
                    and line.count(",") == 4
                    and line.isascii()
                    and line.isprintable()
                    and " " not in line
                    and '"' not in line
                    and line != header_text
                ):
                    yield number, None, line
                    continue
                if not line:
                    continue
                fields = split_fields(line)
                problem = row_problem(name, number, line, fields, header)
                if problem is not None:
                    structural.add(number, problem)
                    continue
                yield number, _in_order(fields, header), None
        if header is None:
            raise FileRefused(empty_file(name))
    except FileRefused as exc:
        structural.add(0, exc.message)


def _copy_text(block: bytes) -> bytes:
    """Lines as COPY's text format reads them into one column: each line its row, as
    the file wrote it (CRLF taken as LF, as the reader does)."""
    block = block.replace(b"\r\n", b"\n").replace(b"\\", b"\\\\")
    return block.replace(b"\t", b"\\t").replace(b"\r", b"\\r")


def _csv_row(number: int, fields) -> str:
    return ",".join([str(number), *(_csv_field(f) for f in fields)]) + "\n"


def _csv_field(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value
