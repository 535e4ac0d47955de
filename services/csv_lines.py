"""Reading an import file a line at a time, refusing what is not a clean CSV export.

The files can be tens of millions of lines: nothing here holds more than one line, and
no line is read past ``MAX_LINE_BYTES`` (a 100 MB "line" is refused after 8 KB, never
read whole). A field never holds a line break in these exports, so each physical line is
one row: a quote left open at the end of a line is refused, whether the file ends there
or the next line was meant to continue it.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

# Control (C0, C1), format (zero-width, bidirectional overrides) and line or paragraph
# separators: no tab or line break belongs in a name, and a calendar file or a CSV would
# carry them raw.
_CONTROL_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp"))
# The longest legitimate line (an affilié: 200-character name, 120-character perception,
# all in 3-byte UTF-8) stays under 2 KB; a line longer than this is not an export's.
MAX_LINE_BYTES = 8192
BOM = b"\xef\xbb\xbf"
# What is read at a time: whole lines, about a megabyte (some 25 000 créance lines).
BLOCK_BYTES = 1 << 20


class FileRefused(Exception):
    """The file cannot be read further; ``message`` says where and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LineTooLong(FileRefused):
    """A line longer than MAX_LINE_BYTES: ``number`` says which."""

    def __init__(self, name: str, number: int) -> None:
        super().__init__(_too_long(name, number))
        self.number = number


class NotUtf8(FileRefused):
    """A line that is not UTF-8 (a Latin-1 or Windows-1252 export)."""


@dataclass(frozen=True)
class Header:
    """The header's columns as named, and where each expected column sits."""

    line: int
    names: tuple[str, ...]
    positions: tuple[int, ...]  # of the expected columns, in their expected order

    @cached_property
    def canonical(self) -> bool:
        """The columns are exactly the expected ones, in the expected order."""
        return self.positions == tuple(range(len(self.names)))


def blocks(
    path: Path, name: str, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, bytes]]:
    """(number of its first line, bytes) of whole lines, about BLOCK_BYTES at a time,
    the BOM dropped; the last line of the file may come without its end of line.

    Raises FileRefused for a line longer than MAX_LINE_BYTES: no more than a block and
    one line is ever held.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise FileRefused(f"{name} : lecture impossible ({exc.strerror})") from None
    with handle:
        number = 1
        carry = b""
        data = handle.read(BLOCK_BYTES)
        if data.startswith(BOM):
            data = data[len(BOM) :]
        while data:
            if progress is not None:
                progress(len(data))
            data = carry + data
            cut = data.rfind(b"\n") + 1
            block, carry = data[:cut], data[cut:]
            if block:
                if (at := _too_long_at(block)) is not None:
                    raise LineTooLong(name, number + block.count(b"\n", 0, at))
                yield number, block
                number += block.count(b"\n")
            if len(carry) > MAX_LINE_BYTES:
                raise LineTooLong(name, number)
            data = handle.read(BLOCK_BYTES)
        if carry:
            yield number, carry


def _too_long_at(block: bytes) -> int | None:
    """Where the first line longer than MAX_LINE_BYTES starts in ``block``, or None.

    Such a line holds a whole stretch of MAX_LINE_BYTES // 2 bytes without a line end
    at a multiple of that, so only those stretches are looked at: a ``find`` that stops
    at the first line end, a few hundred a megabyte (splitting the block into lines to
    measure them took as long as the rest of the fingerprint pass's reading).
    """
    step = MAX_LINE_BYTES // 2
    for at in range(0, len(block), step):
        if block.find(b"\n", at, at + step) == -1:
            start = block.rfind(b"\n", 0, at) + 1
            end = block.find(b"\n", at)
            if (len(block) if end == -1 else end) - start > MAX_LINE_BYTES:
                return start
    return None


def selected_blocks(
    path: Path,
    name: str,
    ranges: Iterable[tuple[int, int]],
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """(number of its first line, bytes) of the lines numbered within ``ranges`` — (first,
    last) pairs, in order and apart — as ``blocks`` gives a file's: a range within a
    block comes as its own block, a block wholly within a range as it is."""
    wanted = iter(ranges)
    first, last = next(wanted, (0, -1))
    for number, block in blocks(path, name, progress):
        lines = block.split(b"\n")
        if block.endswith(b"\n"):
            lines.pop()
        end = number + len(lines)  # one past the block's last line
        if first <= number and end - 1 <= last:
            yield number, block
        while first < end and last >= first:
            start, stop = max(first, number), min(last + 1, end)
            if start < stop and not (first <= number and end - 1 <= last):
                yield start, b"\n".join(lines[start - number : stop - number]) + b"\n"
            if last >= end:
                break  # the range goes on in the next block
            first, last = next(wanted, (0, -1))
        if last < first:
            return


def _too_long(name: str, number: int) -> str:
    return (
        f"{name}, ligne {number} : ligne de plus de {MAX_LINE_BYTES} octets "
        "(le fichier n'est pas un export CSV ligne à ligne)"
    )


def lines_of(number: int, block: bytes, name: str) -> Iterator[tuple[int, str]]:
    """(line number, text without its end of line) of a block of UTF-8 lines."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        # The message of the whole-file reader this one replaced.
        raise NotUtf8(f"{name} : le fichier n'est pas en UTF-8") from None
    lines = text.split("\n")
    if block.endswith(b"\n"):
        lines.pop()
    for offset, line in enumerate(lines):
        yield number + offset, line.rstrip("\r")


def physical_lines(
    path: Path, name: str, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, str]]:
    """(line number, text without its end of line) of a UTF-8 file, BOM or not, LF or CRLF.

    Raises FileRefused for what makes the rest of the file unreadable: another encoding
    (Latin-1, Windows-1252) or a line longer than MAX_LINE_BYTES.
    """
    for number, block in blocks(path, name, progress):
        yield from lines_of(number, block, name)


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
        if text.strip():
            return header_of(number, text, name, columns)
    raise FileRefused(empty_file(name))


def empty_file(name: str) -> str:
    return f"{name} : fichier vide (pas même la ligne d'en-tête)"


def header_of(number: int, text: str, name: str, columns: tuple[str, ...]) -> Header:
    """The header a line names, or FileRefused."""
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


def control_character(value: str) -> str | None:
    """The first control character of a text field, as U+XXXX, or None."""
    if value.isprintable():  # the usual case, in C; it also refuses no-break spaces
        return None
    for char in value:
        if unicodedata.category(char) in _CONTROL_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None


def control_message(where: str, column: str, code: str) -> str:
    return (
        f"{where}, champ {column} : caractère de contrôle {code} "
        "(ni tabulation ni saut de ligne dans un texte)"
    )
