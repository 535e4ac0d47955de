"""Which affiliés a nightly export changes: one fingerprint per affilié and file, read
with the file.

A night's export differs from the last one for about 1 % of the affiliés, and checking a
line costs far more than reading it. So, on PostgreSQL, each file is first read once in
Python, a line at a time, its lines grouped by affilié as they come (an export lists an
affilié's lines together, in numéro order), and the md5 of each group — its lines as the
file wrote them — compared with the one the last import kept in ``empreintes_import``,
read in the same order from its index. Only the lines of the groups that differ are then read again,
split, checked, typed and compared with the database; the others are left as they are,
with their ``lignes_jeton``. A file whose affiliés are all unchanged is read once and
nothing of it is staged.

Why skipping a group is safe: the last import accepted exactly these lines for this
affilié, under the same rules and the same header (both are part of the fingerprint),
and nothing wrote the affilié since: a fingerprint exists only while it holds. Every
write to an affilié's lines, fields or RIBs gives it a new ``lignes_jeton``, and the
database then deletes its fingerprints (a trigger, revision 0012), whatever wrote it;
the import itself puts back, after its writes, those of the files it wrote nothing of
for the affilié (``keep_valid``, ``record``). Every check of a
line needs only the line and its own affilié: a duplicate key (an affilié twice, a
créance key twice) lives within one affilié, and a numéro never seen has no
fingerprint. A group is all the lines of its affilié only when every line names its
affilié by seven plain digits and each affilié's lines come together, in increasing
numéro order: a file that is otherwise (a quoted or spaced numéro, a line with too few
fields, lines out of order, a repeated header) is checked line by line, every line.
"""

# The statements are assembled from this module's own constants; the files' values only
# travel as bound parameters or COPY data.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from sqlalchemy import text

from extensions import db
from services.csv_lines import FileRefused, Header, blocks, header_of

# Part of every fingerprint: change it whenever a line's checks or typing change, and
# the next import checks every line again.
REGLES = "2026-12-08"
# Fingerprints written (and kept ones read) this many at a time.
BATCH = 5000


@dataclass
class Changes:
    """What the first reading of a file found: its header, how many lines it holds, and
    the lines to check — (first, last) line numbers of the groups that changed, side by
    side groups in one range."""

    header: Header
    lines: int = 0
    ranges: list[tuple[int, int]] = field(default_factory=list)


class _Irregular(Exception):
    """The file's groups are not each affilié's lines: check every line."""


def compare(
    path: Path, fichier: str, columns: tuple[str, ...], progress: Callable[[int], None] | None
) -> Changes | None:
    """Read the file once, group its lines by affilié, and keep in ``import_groupes_<fichier>``
    (numero, empreinte) the groups whose fingerprint is not the one kept (or whose affilié
    was written since). None when the groups cannot speak for the file: then every line
    is checked."""
    connection = db.session.connection().connection.driver_connection
    connection.execute(
        f"CREATE TEMP TABLE import_groupes_{fichier} (numero text, empreinte text) ON COMMIT DROP"
    )
    try:
        return _read(path, fichier, columns, progress, connection)
    except (_Irregular, FileRefused, UnicodeDecodeError):
        connection.execute(f"TRUNCATE import_groupes_{fichier}")
        return None


def _read(path, fichier, columns, progress, connection) -> Changes:
    name = path.name
    line_blocks = _line_blocks(path, name, progress)
    header_line, lines = next(line_blocks, (0, [b""]))
    header = header_of(header_line, lines[0].decode("utf-8"), name, columns)
    after_header = (header_line + 1, lines[1:])
    prefix = f"{REGLES}\n{fichier}\n{','.join(header.names)}\n".encode()
    column = header.positions[0]
    changes = Changes(header)
    kept = _kept(connection, fichier)
    last_kept = next(kept, None)
    changed: list[tuple[str, str]] = []
    group: list[bytes] = []
    numero, start, previous_changed = b"", 0, False

    def close(end: int) -> None:
        """The group of ``numero``, lines ``start`` to ``end``, is complete."""
        nonlocal last_kept, previous_changed
        key = numero.decode()
        empreinte = hashlib.md5(prefix + b"\n".join(group), usedforsecurity=False).hexdigest()
        while last_kept is not None and last_kept[0] < key:
            last_kept = next(kept, None)
        if last_kept == (key, empreinte):
            previous_changed = False
            return
        changed.append((key, empreinte))
        if len(changed) >= BATCH:
            _write(connection, fichier, changed)
        if previous_changed:
            changes.ranges[-1] = (changes.ranges[-1][0], end)
        else:
            changes.ranges.append((start, end))
        previous_changed = True

    end = header_line
    for first, lines in chain([after_header], line_blocks):
        changes.lines += len(lines) - lines.count(b"")
        for number, line in enumerate(lines, first):
            if not line:
                continue
            found = line.partition(b",")[0] if column == 0 else _field(line, column)
            if found != numero:
                if len(found) != 7 or not found.isdigit() or found <= numero:
                    raise _Irregular
                if group:
                    close(number - 1)  # a blank line before the next group: in the range
                numero, start, group = found, number, []
            group.append(line)
        end = first + len(lines) - 1
    if group:
        close(end)
    _write(connection, fichier, changed)
    return changes


def _line_blocks(
    path: Path, name: str, progress: Callable[[int], None] | None
) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first, lines without their end) of the file a block at a time,
    from its first non-blank line (the header's) on."""
    header_seen = False
    for first, block in blocks(path, name, progress):
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
        lines = block.split(b"\n")
        if block.endswith(b"\n"):
            lines.pop()
        if not header_seen:
            skipped = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
            first, lines = first + skipped, lines[skipped:]
            header_seen = bool(lines)
            if not lines:
                continue
        yield first, lines


def _field(line: bytes, column: int) -> bytes:
    fields = line.split(b",", column + 1)
    return fields[column] if len(fields) > column else b""


def _kept(connection, fichier: str) -> Iterator[tuple[str, str]]:
    """(numero, empreinte) of the fingerprints kept for this file, in numéro order (the
    column's byte order: its index's)."""
    with connection.cursor(name=f"empreintes_{fichier}") as cursor:
        cursor.execute(
            "SELECT numero, empreinte FROM empreintes_import WHERE fichier = %s ORDER BY numero",
            (fichier,),
        )
        while rows := cursor.fetchmany(BATCH):
            yield from rows


def _write(connection, fichier: str, rows: list[tuple[str, str]]) -> None:
    with connection.cursor().copy(f"COPY import_groupes_{fichier} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    rows.clear()


def keep_valid(fichiers: list[str]) -> None:
    """Before the merge: the fingerprints, in the files just read, of the affiliés whose
    rows this import may write, which its writes will delete (``import_valides``) —
    but for the groups that changed, whose new fingerprints replace them."""
    session = db.session
    session.execute(
        text("CREATE TEMP TABLE import_valides (LIKE empreintes_import) ON COMMIT DROP")
    )
    for fichier in fichiers:
        session.execute(
            text(
                f"""
                INSERT INTO import_valides SELECT e.* FROM empreintes_import e
                WHERE e.fichier = :fichier AND e.numero IN (
                    SELECT numero FROM import_affilies UNION SELECT numero FROM import_ribs
                    UNION SELECT numero FROM import_lignes
                ) AND NOT EXISTS (
                    SELECT 1 FROM import_groupes_{fichier} g WHERE g.numero = e.numero
                )
                """
            ),
            {"fichier": fichier},
        )


def record(fichiers: list[str]) -> None:
    """After the merge: a fingerprint that held before it still holds for a file whose
    lines of that affilié were not staged (the import wrote nothing of that file for it);
    then the fingerprints of the groups that changed."""
    session = db.session
    session.execute(
        text("INSERT INTO empreintes_import SELECT * FROM import_valides ON CONFLICT DO NOTHING")
    )
    for fichier in fichiers:
        # Replaced, not upserted: on a first load every affilié's is new, and an INSERT
        # … ON CONFLICT pays a speculative insertion for each (2.7 s a file at 300 000).
        session.execute(
            text(
                f"""
                DELETE FROM empreintes_import e USING import_groupes_{fichier} g
                WHERE e.fichier = :fichier AND e.numero = g.numero
                """
            ),
            {"fichier": fichier},
        )
        session.execute(
            text(
                f"""
                INSERT INTO empreintes_import (affilie_id, fichier, numero, empreinte)
                SELECT a.id, :fichier, a.numero, g.empreinte
                FROM import_groupes_{fichier} g JOIN affilies a ON a.numero = g.numero
                """
            ),
            {"fichier": fichier},
        )
