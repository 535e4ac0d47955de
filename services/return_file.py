"""The bank's return file (CSV in): the result of each debit of the debit file.

It is recorded whole or not at all: every line is checked first, against the same rules
as an agent's entry (``backoffice.check_result``), then applied with what the agent's
entry writes (``backoffice.settle``), by set-based SQL over temporary tables. A day of
a national campaign is a hundred thousand lines: the file streams.
"""

# The statements below are assembled from this module's own constants (table names, the
# statuses); the file's values only ever travel as bound parameters or staged rows.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import Date, bindparam, select, text

from common import formatting
from common.clock import now
from db.models import Demande, User
from domain import lifecycle
from extensions import db
from services import return_results
from services.backoffice import (
    EN_PRELEVEMENT,
    Refused,
    check_result,
    commit_or_refuse,
    find_echeance,
)
from services.csv_lines import (
    MAX_LINE_BYTES,
    FileRefused,
    LineTooLong,
    NotUtf8,
    blocks,
    lines_of,
    split_fields,
)
from services.importer import MAX_REPORTED, stage_in_batches, staging_loader
from services.return_results import CHECKED, ReturnSummary
from services.schedules import ensure_integral_echeances
from web import observability

RETURN_HEADER = ("reference", "echeance", "statut")


class ReturnFileError(Exception):
    """The return file is refused; nothing was recorded. ``errors`` holds the messages of
    the first MAX_REPORTED bad lines, then how many other lines are refused."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class TooManyLines(ReturnFileError):
    """The file has more lines than its reader takes (the upload's limit)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            [
                _(
                    "Le fichier compte plus de %(max)s lignes : aucun résultat n'a été "
                    "enregistré. Un fichier plus long s'enregistre par la commande "
                    "flask import-retour.",
                    max=formatting.number(limit),
                )
            ]
        )


Progress = Callable[[str, int, int], None]  # (file name, bytes read so far, lines so far)

# The file's lines as read: ``colonnes`` is -1 for a quote left open, _NUL for a line
# with a NUL byte (PostgreSQL's text cannot hold one: nothing of it is staged); reference,
# rang and statut are the cells stripped (statut in lower case), cut to what a message
# shows.
_LINES = "retour_lignes"
_NUL = -2


def import_return(
    path: Path,
    *,
    actor: User | None,
    perception_id: int,
    dry_run: bool = False,
    progress: Progress | None = None,
    max_lines: int | None = None,
) -> ReturnSummary:
    """Record every result of the bank's return file in one transaction, or none.

    ``reference,echeance,statut`` with statut payee|rejetee, a line a debit; a request of
    another perception is "unknown". The file is read a line at a time into a temporary
    table (COPY on PostgreSQL), checked by one query against the requests and their
    schedules, and written by set-based statements: memory stays the same whatever the
    file's size. Without ``actor`` the trail names the system (the command line).
    ``max_lines``: TooManyLines, nothing recorded, past that many results (lines other
    than the header and blank ones), read no further.
    """
    loader = staging_loader()
    try:
        _create_tables(loader)
        ensure_integral_echeances(perception_id)
        _stage(path, loader, progress, max_lines)
        if progress is not None:
            progress("", 0, 0)
        summary = _check(perception_id, now().date())
        if dry_run:
            db.session.rollback()
            return summary
        summary = return_results.record(loader, summary, actor)
        _drop_tables(loader)  # PostgreSQL drops them at the commit; SQLite would keep them
        commit_or_refuse()
    except BaseException:
        db.session.rollback()
        raise
    observability.event("import.retour_banque", lignes=summary.lignes)
    return summary


def _drop_tables(loader) -> None:
    for name in (_LINES, CHECKED):
        db.session.execute(text(f"DROP TABLE IF EXISTS {loader.temp_schema}{name}"))
    return_results.drop_tables(loader)


def _create_tables(loader) -> None:
    # On the session's connection, as what follows: SQLite keeps a temporary table a
    # rolled-back import created outside its transaction, on that connection alone.
    _drop_tables(loader)
    db.session.execute(
        text(
            f"""CREATE TEMP TABLE {_LINES} (
                ligne integer, colonnes integer, reference text, rang_texte text,
                rang integer, statut text
            ){loader.on_commit}"""
        )
    )
    db.session.execute(
        text(
            f"""CREATE TEMP TABLE {CHECKED} (
                ligne integer, colonnes integer, reference text, rang_texte text,
                statut text, demande_id integer, echeance_id integer, premiere integer,
                refusee integer
            ){loader.on_commit}"""
        )
    )
    return_results.create_tables(loader)


def _stage(path: Path, loader, progress: Progress | None, max_lines: int | None) -> None:
    """Stage the file's lines after its header, or ReturnFileError for a file that is
    not a return file at all (empty, not UTF-8, no header, no line, too many lines)."""
    rows = _file_rows(path, progress, max_lines)
    try:
        staged = stage_in_batches(loader, _LINES, rows)
    except LineTooLong as exc:
        raise ReturnFileError(
            [
                _(
                    "Ligne %(ligne)s : ligne de plus de %(max)s octets (ce n'est pas un "
                    "fichier retour CSV).",
                    ligne=exc.number,
                    max=MAX_LINE_BYTES,
                )
            ]
        ) from None
    except NotUtf8:
        raise ReturnFileError([_("Le fichier doit être un fichier CSV encodé en UTF-8.")]) from None
    except FileRefused as exc:
        raise ReturnFileError([exc.message]) from None
    if not staged:
        raise ReturnFileError([_("Le fichier ne contient aucun résultat de prélèvement.")])
    db.session.execute(text(f"ANALYZE {_LINES}"))


def _file_rows(path: Path, progress: Progress | None, max_lines: int | None) -> Iterator[tuple]:
    """The staged rows of the file's lines, after checking its header."""
    read = 0
    header = None
    rows = 0

    def count(size: int) -> None:
        nonlocal read
        read += size

    for first, block in blocks(path, path.name, count if progress else None):
        for number, line in lines_of(first, block, path.name):
            if not line:
                continue
            if header is None:
                header = number
                _check_header(number, line)
                continue
            rows += 1
            if max_lines is not None and rows > max_lines:
                raise TooManyLines(max_lines)
            yield _row(number, line)
        if progress is not None:
            progress(path.name, read, number)
    if header is None:
        raise ReturnFileError([_("Le fichier est vide.")])


def _check_header(number: int, line: str) -> None:
    fields = split_fields(line)
    if fields is None or tuple(f.lower() for f in fields) != RETURN_HEADER:
        raise ReturnFileError(
            [
                _(
                    "Ligne %(ligne)s : en-tête attendu « %(attendu)s ».",
                    ligne=number,
                    attendu=",".join(RETURN_HEADER),
                )
            ]
        )


def _row(number: int, line: str) -> tuple:
    if "\x00" in line:
        return (number, _NUL, None, None, None, None)
    fields = split_fields(line)
    if fields is None:
        return (number, -1, None, None, None, None)
    if len(fields) != len(RETURN_HEADER):
        return (number, len(fields), None, None, None, None)
    reference, rang_text, statut = fields
    rang = int(rang_text) if _is_rang(rang_text) else None
    # A reference is 20 characters: a longer one is unknown, and shown cut at 40.
    return (number, 3, reference[:41], rang_text[:21], rang, statut.lower()[:21])


def _is_rang(text_: str) -> bool:
    return text_.isascii() and text_.isdigit() and len(text_) <= 4


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# Why a line is refused, in SQL: the same rules as _check_line, over the joined line.
_REFUSED = f"""
    l.colonnes <> {len(RETURN_HEADER)} OR l.demande_id IS NULL OR l.rang IS NULL
    OR l.statut NOT IN ({_sql_list(lifecycle.DEBIT_RESULTS)})
    OR l.premiere <> l.ligne
    OR l.demande_status NOT IN ({_sql_list(EN_PRELEVEMENT)})
    OR l.echeance_id IS NULL OR l.echeance_statut <> '{lifecycle.A_PRELEVER}'
    OR l.date_prevue > :today
"""


def _check(perception_id: int, today: date) -> ReturnSummary:
    """Check every staged line in one statement; ReturnFileError naming the first
    MAX_REPORTED bad lines and counting the others."""
    db.session.execute(
        text(
            f"""
            INSERT INTO {CHECKED}
            SELECT l.ligne, l.colonnes, l.reference, l.rang_texte, l.statut, l.demande_id,
                   l.echeance_id, l.premiere, CASE WHEN {_REFUSED} THEN 1 ELSE 0 END
            FROM (
                SELECT r.ligne, r.colonnes, r.reference, r.rang_texte, r.rang, r.statut,
                       d.id AS demande_id, d.status AS demande_status,
                       e.id AS echeance_id, e.statut AS echeance_statut, e.date_prevue,
                       CASE WHEN d.id IS NOT NULL AND r.rang IS NOT NULL
                            THEN min(r.ligne) OVER (PARTITION BY d.id, r.rang) END AS premiere
                FROM {_LINES} r
                LEFT JOIN demandes d
                    ON d.reference = r.reference AND d.perception_id = :perception
                LEFT JOIN echeances e
                    ON e.demande_id = d.id AND e.definitive AND e.rang = r.rang
            ) l
            """
        ).bindparams(bindparam("today", type_=Date())),
        {"perception": perception_id, "today": today},
    )
    db.session.execute(text(f"CREATE INDEX {CHECKED}_ligne ON {CHECKED} (ligne)"))
    db.session.execute(text(f"ANALYZE {CHECKED}"))
    refused, payees, rejetees = db.session.execute(
        text(
            f"""
            SELECT coalesce(sum(refusee), 0),
                   coalesce(sum(CASE WHEN refusee = 0 AND statut = :payee THEN 1 END), 0),
                   coalesce(sum(CASE WHEN refusee = 0 AND statut = :rejetee THEN 1 END), 0)
            FROM {CHECKED}
            """
        ),
        {"payee": lifecycle.PAYEE, "rejetee": lifecycle.REJETEE},
    ).one()
    if refused:
        raise ReturnFileError(_refused_lines(perception_id, today, refused))
    return ReturnSummary(payees=payees, rejetees=rejetees)


def _refused_lines(perception_id: int, today: date, refused: int) -> list[str]:
    """The messages of the first MAX_REPORTED bad lines (from the same checks as an
    agent's entry), then the count of the others."""
    rows = db.session.execute(
        text(
            f"""
            SELECT ligne, colonnes, reference, rang_texte, statut, premiere FROM {CHECKED}
            WHERE refusee = 1 ORDER BY ligne LIMIT :n
            """
        ),
        {"n": MAX_REPORTED},
    ).all()
    demandes = _demandes_named({r.reference for r in rows if r.reference}, perception_id)
    messages: list[str] = []
    for r in rows:
        if r.colonnes == _NUL:
            messages.append(
                _(
                    "Ligne %(ligne)s : caractère nul (ce n'est pas un fichier retour CSV).",
                    ligne=r.ligne,
                )
            )
            continue
        if r.colonnes < 0:
            messages.append(
                _(
                    "Ligne %(ligne)s : guillemet non fermé (un champ ne peut contenir ni saut "
                    "de ligne ni guillemet seul).",
                    ligne=r.ligne,
                )
            )
            continue
        cells = [r.reference, r.rang_texte, r.statut] if r.colonnes == 3 else [""] * r.colonnes
        earlier = r.premiere if r.premiere is not None and r.premiere != r.ligne else None
        messages.extend(_check_line(r.ligne, cells, demandes, earlier, today))
    if refused > len(rows):
        messages.append(
            _("… et %(nombre)s autre(s) ligne(s) refusée(s).", nombre=refused - len(rows))
        )
    return messages


def _demandes_named(references: set[str], perception_id: int) -> dict[str, Demande]:
    """The perception's requests among ``references``, in one query."""
    return {
        d.reference: d
        for d in db.session.scalars(
            select(Demande).where(
                Demande.reference.in_(references), Demande.perception_id == perception_id
            )
        )
    }


def _check_line(
    number: int,
    row: list[str],
    demandes: dict[str, Demande],
    earlier: int | None,
    today: date,
) -> list[str]:
    """One line's errors: ``earlier`` is the line that already names its échéance."""
    if len(row) != len(RETURN_HEADER):
        return [
            _(
                "Ligne %(ligne)s : %(attendu)s colonnes attendues (%(entete)s), "
                "%(trouve)s trouvée(s).",
                ligne=number,
                attendu=len(RETURN_HEADER),
                entete=",".join(RETURN_HEADER),
                trouve=len(row),
            )
        ]
    reference, rang_text, statut = row
    errors = []
    demande = demandes.get(reference)
    if not reference:
        errors.append(_("Ligne %(ligne)s, champ reference : valeur manquante.", ligne=number))
    elif demande is None:
        errors.append(
            _(
                "Ligne %(ligne)s, champ reference : demande « %(valeur)s » inconnue dans "
                "votre perception.",
                ligne=number,
                valeur=reference[:40],
            )
        )
    rang = int(rang_text) if _is_rang(rang_text) else None
    if rang is None:
        errors.append(
            _(
                "Ligne %(ligne)s, champ echeance : « %(valeur)s » n'est pas un numéro "
                "d'échéance (0 pour l'avance, puis 1, 2, 3…).",
                ligne=number,
                valeur=rang_text[:20],
            )
        )
    if statut not in lifecycle.DEBIT_RESULTS:
        errors.append(
            _(
                "Ligne %(ligne)s, champ statut : « %(valeur)s » n'est pas un résultat "
                "reconnu (payee ou rejetee).",
                ligne=number,
                valeur=statut[:20],
            )
        )
    if demande is None or rang is None:
        return errors
    if earlier is not None:
        errors.append(
            _(
                "Ligne %(ligne)s, champ echeance : l'échéance n° %(rang)s de la "
                "demande %(reference)s figure déjà à la ligne %(autre)s.",
                ligne=number,
                rang=rang,
                reference=reference,
                autre=earlier,
            )
        )
        return errors
    try:
        check_result(demande, find_echeance(demande, rang), rang, today)
    except Refused as exc:
        field = "reference" if exc.code == "statut" else "echeance"
        errors.append(
            _(
                "Ligne %(ligne)s, champ %(champ)s : %(message)s",
                ligne=number,
                champ=field,
                message=exc.message,
            )
        )
    return errors
