"""What a line of each file must be, and the bad lines' report: the rows read, checked
in Python where they are (affiliés, RIBs, SQLite's créance lines) and staged."""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from db.models import LigneCreance
from domain.creance import NATURES, RUBRIQUES, is_valid_period
from domain.identifiers import is_valid_affiliation, is_valid_ice, is_valid_rib, normalize_rib
from domain.money import AmountError, parse_csv_amount
from domain.search import search_text
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
    selected_blocks,
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
BATCH_ROWS = 5000
Progress = Callable[[str, int, int], None]  # (file name, bytes read so far, lines so far)


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


def _line_rows(
    path: Path,
    structural: _FirstLines,
    progress: Progress | None,
    take: Callable[[int, bytes, Header], bool] | None = None,
    ranges: list[tuple[int, int]] | None = None,
):
    """(line number, fields, None) of each well-formed créance line, or (line number,
    None, line) when the line can go to COPY as it is: nothing to strip, unquote or
    reorder. The other lines are reported. After the header, ``take`` may take a whole
    block of lines as it is (it answers True), and reports them itself. With ``ranges``,
    only the lines numbered within them are read (the header's among them)."""
    name = path.name
    total = [0, 0]

    def read(count: int) -> None:
        total[0] += count
        progress(name, total[0], total[1])

    try:
        header = None
        counted = read if progress is not None else None
        if ranges is None:
            source = blocks(path, name, counted)
        else:
            source = selected_blocks(path, name, ranges, counted)
        for first, block in source:
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


def _csv_row(number: int, fields) -> str:
    return ",".join([str(number), *(_csv_field(f) for f in fields)]) + "\n"


def _csv_field(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value
