"""Reading an import file a line at a time, refusing what is not a clean CSV export.

The files can be tens of millions of lines: nothing here holds more than one line, and
no line is read past ``MAX_LINE_BYTES`` (a 100 MB "line" is refused after 8 KB, never
read whole). A field never holds a line break in these exports, so each physical line is
one row: a quote left open at the end of a line is refused, whether the file ends there
or the next line was meant to continue it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# The longest legitimate line (an affilié: 200-character name, 120-character perception,
# all in 3-byte UTF-8) stays under 2 KB; a line longer than this is not an export's.
MAX_LINE_BYTES = 8192
BOM = b"\xef\xbb\xbf"
# Bytes read between two calls of the progress callback.
PROGRESS_EVERY = 1 << 20


class FileRefused(Exception):
    """The file cannot be read further; ``message`` says where and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Header:
    """The header's columns as named, and where each expected column sits."""

    line: int
    names: tuple[str, ...]
    positions: tuple[int, ...]  # of the expected columns, in their expected order

    @property
    def canonical(self) -> bool:
        """The columns are exactly the expected ones, in the expected order."""
        return self.positions == tuple(range(len(self.names)))


def physical_lines(
    path: Path, name: str, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, str]]:
    """(line number, text without its end of line) of a UTF-8 file, BOM or not, LF or CRLF.

    Raises FileRefused for what makes the rest of the file unreadable: another encoding
    (Latin-1, Windows-1252) or a line longer than MAX_LINE_BYTES.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise FileRefused(f"{name} : lecture impossible ({exc.strerror})") from None
    with handle:
        number = 0
        done = 0
        reported = 0
        readline = handle.readline
        while True:
            raw = readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            number += 1
            done += len(raw)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise FileRefused(
                    f"{name}, ligne {number} : ligne de plus de {MAX_LINE_BYTES} octets "
                    "(le fichier n'est pas un export CSV ligne à ligne)"
                )
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                # The message of the whole-file reader this one replaced.
                raise FileRefused(f"{name} : le fichier n'est pas en UTF-8") from None
            if progress is not None and done - reported >= PROGRESS_EVERY:
                progress(done - reported)
                reported = done
            yield number, text.rstrip("\r\n")
        if progress is not None and done > reported:
            progress(done - reported)


def split_fields(text: str) -> list[str] | None:
    """The fields of one line, stripped; None when a quote is left open at its end."""
    if '"' not in text:
        return [field.strip() for field in text.split(",")]
    try:
        row = next(csv.reader([text], strict=True))
    except csv.Error:
        return None
    return [field.strip() for field in row]


def read_header(lines: Iterator[tuple[int, str]], name: str, columns: tuple[str, ...]) -> Header:
    """The first non-empty line, which must name every expected column and no other."""
    for number, text in lines:
        if not text.strip():
            continue
        fields = split_fields(text)
        if fields is None:
            raise FileRefused(f"{name}, ligne {number} : en-tête illisible (guillemet non fermé)")
        missing = [c for c in columns if c not in fields]
        if missing:
            raise FileRefused(f"{name}, ligne {number} : colonne manquante : {', '.join(missing)}")
        unknown = [f for f in fields if f not in columns]
        if unknown:
            raise FileRefused(
                f"{name}, ligne {number} : colonne inattendue : {', '.join(unknown)} "
                f"(colonnes attendues : {','.join(columns)})"
            )
        if len(set(fields)) != len(fields):
            raise FileRefused(f"{name}, ligne {number} : colonne en double dans l'en-tête")
        return Header(number, tuple(fields), tuple(fields.index(c) for c in columns))
    raise FileRefused(f"{name} : fichier vide (pas même la ligne d'en-tête)")


def row_problem(name: str, number: int, text: str, fields: list[str] | None, header: Header):
    """Why this line is not a row of the file, or None."""
    where = f"{name}, ligne {number}"
    if fields is None:
        return (
            f"{where} : guillemet non fermé (un champ ne peut pas contenir de saut de ligne "
            "ni de guillemet seul)"
        )
    if "\x00" in text:
        return f"{where} : caractère nul (le fichier n'est pas un texte CSV)"
    if len(fields) != len(header.names):
        return f"{where} : nombre de champs incorrect"
    if tuple(fields) == header.names:
        return f"{where} : ligne d'en-tête répétée au milieu du fichier"
    return None
