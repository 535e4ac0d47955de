"""What differs between the databases: how rows are staged (COPY or executemany),
checked and typed, where temporary tables live, and PostgreSQL's first load and
fingerprints."""

# The statements are assembled from this package's own constants (table names, the
# dialect's expressions); the files' values only ever travel as bound parameters or
# COPY data.
# ruff: noqa: S608

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from domain.creance import NATURES, RUBRIQUES
from extensions import db
from services.csv_lines import (
    BLOCK_BYTES,
    Header,
    lines_of,
    row_problem,
    selected_blocks,
    split_fields,
)
from services.importer import empreintes
from services.importer.controles import UNKNOWN, known
from services.importer.lignes import (
    BATCH_ROWS,
    CREANCES_COLUMNS,
    FILES,
    MAX_REPORTED,
    MONTANT_MAX_INTEGER_DIGITS,
    _csv_row,
    _duplicate_message,
    _FirstLines,
    _line_messages,
    _line_rows,
    _parse_ligne,
    stage_in_batches,
)

# A first load's lines go into this table, which then replaces lignes_creance.
FIRST_LOAD = "lignes_creance_chargement"
# How long the swap waits for its lock at a time (readers queue behind it meanwhile),
# and how many times it asks before copying the lines into the live table instead.
LOCK_WAIT = "1s"
LOCK_ATTEMPTS = 3
# Under this, a plain block is a few affiliés' lines: buffered, not COPYed on its own.
SMALL_BLOCK = BLOCK_BYTES // 4
# What a line of a plain block may hold besides its end: printable ASCII without the quote
# (CSV's) or the backslash (COPY's escape). Anything else sends the block through Python.
_PLAIN_BYTES = bytes(range(0x20, 0x7F)).replace(b'"', b"").replace(b"\\", b"") + b"\n"


def staging_loader() -> _Loader:
    """The loader of this database: how rows are staged (COPY or executemany) and where
    temporary tables live."""
    return _PostgresLoader() if db.engine.dialect.name == "postgresql" else _SqliteLoader()


# ---------------------------------------------------------------- the two databases


class _Loader:
    """What differs between the databases: staging, checking and typing the lines."""

    file_lines: dict[str, int] = {}  # noqa: RUF012 (never written on this class)

    new_jeton = ""
    on_commit = ""
    lines_written = 0  # by the merge
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
            "import_valides",
            *(f"import_groupes_{f}" for f in FILES),
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

    def before_merge(self) -> None:
        """SQLite checks every line of every import: no fingerprint to keep."""

    def after_commit(self) -> None:
        """Nothing to do after the commit."""

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
                       NOT {UNKNOWN} AS connu
                FROM import_lignes i {known("i")}
                WHERE {self._bad()} ORDER BY i.ligne LIMIT :room
                """
            ),
            {"room": room},
        ).all()
        return [(r[0], _line_messages(r[0], tuple(r[1:6]), bool(r[6]))) for r in rows]

    def bad_line_count(self) -> int:
        return db.session.scalar(
            text(f"SELECT count(*) FROM import_lignes i {known('i')} WHERE {self._bad()}")
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
        """COPY the lines of the affiliés whose fingerprint changed (all of them on a
        first load, or when the file is not grouped by affilié); their fields are checked
        in SQL. Return how many lines the file holds.

        A block of plain lines (printable ASCII, no quote, no backslash, no header) goes
        to COPY as the file has it, one text row a line, its line numbers from an identity
        column set to the block's first: Python never looks at its lines one by one.
        Fields are split, stripped and put in order in SQL. Other blocks, and the few
        lines of a nightly export's changed affiliés, are read a line at a time, as on
        SQLite.
        """
        changes = empreintes.compare(path, "creances", CREANCES_COLUMNS, _bytes(progress, path))
        ranges = None
        if changes is not None:
            self.fingerprinted.append("creances")
            if not changes.ranges:
                return changes.lines
            ranges = [(1, changes.header.line), *changes.ranges]
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
            # A COPY a block costs round trips: a few affiliés' lines are cheaper buffered.
            if len(block) < SMALL_BLOCK:
                return False
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

        for number, fields, line in _line_rows(path, structural, progress, take, ranges):
            buffer.append(f"{number},{line}\n" if fields is None else _csv_row(number, fields))
            if len(buffer) >= BATCH_ROWS:
                flush()
        flush()
        # Every line staged: counted before the blocks are split.
        lines = changes.lines if changes is not None else self._staged(bool(taken))
        if taken:
            self._unpack_blocks(path.name, taken[0], structural)
        return lines

    @staticmethod
    def _staged(blocks_taken: bool) -> int:
        """How many lines the staging holds, before the plain blocks are split."""
        lines = db.session.scalar(text("SELECT count(*) FROM import_lignes"))
        if blocks_taken:
            lines += db.session.scalar(text("SELECT count(*) FROM import_brut WHERE brut <> ''"))
        return lines

    # A line of a plain block holds the five fields when it has four commas.
    _FIELDS_OK = "length(brut) - length(replace(brut, ',', '')) = 4"

    def _unpack_blocks(self, name: str, header: Header, structural: _FirstLines) -> None:
        """The lines of the blocks taken whole, as fields; those that are not rows
        reported as the line-by-line reader reports them."""
        fields = ", ".join(f"btrim(split_part(brut, ',', {i + 1}), ' ')" for i in header.positions)
        db.session.execute(
            text(
                f"""
                INSERT INTO import_lignes (ligne, numero, periode, rubrique, nature, montant)
                SELECT ligne, {fields} FROM import_brut
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
        return f"NOT ({self.VALID}) OR {UNKNOWN}"

    def __init__(self) -> None:
        self.file_lines: dict[str, int] = {}
        self.fingerprinted: list[str] = []
        self.first_load = False

    def after_commit(self) -> None:
        """Statistics now, not at autovacuum's next pass, for the tables the import filled
        or grew past autovacuum's own threshold (a tenth): the next statements and each
        affilié's first consolidation are planned with them (for 8 lines, the
        consolidation would sort 12 000; the next night would hash every fingerprint with
        every affilié). A night that changes a few affiliés leaves it to autovacuum."""
        tables = []
        if self.first_load:
            tables = ["lignes_creance", "affilies", "comptes_bancaires", "empreintes_import"]
        elif self.lines_written:
            estimate = db.session.scalar(
                text("SELECT reltuples FROM pg_class WHERE relname = 'lignes_creance'")
            )
            if self.lines_written > 0.1 * max(estimate or 0, 0):
                tables = ["lignes_creance"]
        for table in tables:
            db.session.execute(text(f"ANALYZE {table}"))
        db.session.commit()

    def before_merge(self) -> None:
        if self.fingerprinted:
            empreintes.keep_valid(self.fingerprinted)

    def record_fingerprints(self) -> None:
        if self.fingerprinted:
            empreintes.record(self.fingerprinted)

    def lines_to_check(self, path: Path, columns: tuple[str, ...], read):
        """The header and the lines of the affiliés whose fingerprint changed
        (``services.importer.empreintes``); None (read the file again, every line checked)
        when the file is not grouped by affilié or the reader refuses it."""
        name = path.name
        changes = empreintes.compare(path, path.stem, columns, read)
        if changes is None:
            return None
        self.file_lines[path.stem] = changes.lines
        self.fingerprinted.append(path.stem)
        lines = (
            line
            for first, block in selected_blocks(path, name, changes.ranges)
            for line in lines_of(first, block, name)
        )
        return changes.header, lines

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
        self.first_load = True
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
        return f"NOT valide OR {UNKNOWN}"

    def amount(self, column: str) -> str:
        # The column keeps REALs; the staged text is the amount _parse_ligne printed.
        return f"CAST({column} AS REAL)"


def _bytes(progress, path: Path):
    """The progress of a first reading of ``path``: bytes read, no line counted yet."""
    if progress is None:
        return None
    done = [0]

    def read(count: int) -> None:
        done[0] += count
        progress(path.name, done[0], 0)

    return read
