"""The bank's files: the debits due on a day (CSV out) and its return file (CSV in).

The return file is recorded whole or not at all: every line is checked first, against
the same rules as an agent's entry (``backoffice.check_result``), then applied. Both
files are a day of a national campaign, a hundred thousand lines: both stream, and the
return file is checked and written by set-based SQL over a temporary table.
"""

# The statements below are assembled from this module's own constants (table names, the
# statuses); the file's values only ever travel as bound parameters or staged rows.
# ruff: noqa: S608

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import (
    Date,
    Integer,
    bindparam,
    column,
    exists,
    literal,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import selectinload

from db.models import Demande, Echeance, User
from domain import lifecycle
from domain.money import money_str
from extensions import db
from services import audit, demandes
from services.backoffice import (
    EN_PRELEVEMENT,
    Refused,
    check_result,
    commit_or_refuse,
    concurrent_change,
    echeance_label,
    ensure_integral_echeances,
    find_echeance,
    settle,
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
from services.notices import outbox
from web import observability
from web.clock import now
from web.formatting import day, plain_mad

DEBIT_HEADER = ("reference", "affiliation", "rib", "montant", "echeance")
RETURN_HEADER = ("reference", "echeance", "statut")
DEBIT_BATCH = 5000
# The requests a summary names; the others are counted.
SUMMARY_REFERENCES = 20


# ---------------------------------------------------------------- the debit file


@dataclass(frozen=True)
class DebitLine:
    reference: str
    affiliation: str
    rib: str
    montant: Decimal
    echeance: int


def debit_lines(on: date) -> Iterator[DebitLine]:
    """The debits due on ``on``: échéances still to debit of requests being paid.

    Streamed from the database a batch at a time, in reference order: a day of a national
    campaign is a hundred thousand lines, and none of them needs an ORM object.
    """
    ensure_integral_echeances()
    rows = db.session.execute(
        select(
            Demande.reference,
            Demande.numero_affiliation,
            Demande.rib,
            Echeance.montant,
            Echeance.rang,
        )
        .join(Echeance, Echeance.demande_id == Demande.id)
        .where(
            Demande.status.in_(EN_PRELEVEMENT),
            Echeance.definitive.is_(True),
            Echeance.statut == lifecycle.A_PRELEVER,
            Echeance.date_prevue == on,
        )
        .order_by(Demande.reference, Echeance.rang)
        .execution_options(yield_per=DEBIT_BATCH)
    )
    for row in rows:
        yield DebitLine(*row)


def write_debit_csv(lines: Iterable[DebitLine], stream) -> int:
    """Write the debit file a batch at a time; return the number of debits written."""
    stream.write(",".join(DEBIT_HEADER) + "\n")
    count = 0
    for batch in _batches(lines, DEBIT_BATCH):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(
            (line.reference, line.affiliation, line.rib, money_str(line.montant), line.echeance)
            for line in batch
        )
        stream.write(buffer.getvalue())
        count += len(batch)
    return count


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------- the bank's return file


class ReturnFileError(Exception):
    """The return file is refused; nothing was recorded. ``errors`` holds the messages of
    the first MAX_REPORTED bad lines, then how many other lines are refused."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ReturnSummary:
    payees: int
    rejetees: int
    soldees: int = 0
    annulees: int = 0
    # The first SUMMARY_REFERENCES requests settled and cancelled, by reference.
    references_soldees: tuple[str, ...] = ()
    references_annulees: tuple[str, ...] = ()

    @property
    def lignes(self) -> int:
        return self.payees + self.rejetees


Progress = Callable[[str, int, int], None]  # (file name, bytes read so far, lines so far)

# The file's lines as read: ``colonnes`` is -1 for a quote left open; reference, rang and
# statut are the cells stripped (statut in lower case), cut to what a message shows.
_LINES = "retour_lignes"
# Each line checked against the perception's requests and their definitive schedules.
_CHECKED = "retour_verifiees"
_checked = table(
    _CHECKED,
    column("ligne", Integer),
    column("demande_id", Integer),
    column("echeance_id", Integer),
    column("statut"),
    column("refusee", Integer),
)


def import_return(
    path: Path,
    *,
    actor: User | None,
    perception_id: int,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ReturnSummary:
    """Record every result of the bank's return file in one transaction, or none.

    ``reference,echeance,statut`` with statut payee|rejetee, a line a debit; a request of
    another perception is "unknown". The file is read a line at a time into a temporary
    table (COPY on PostgreSQL), checked by one query against the requests and their
    schedules, and written by set-based statements: memory stays the same whatever the
    file's size. Without ``actor`` the trail names the system (the command line).
    """
    loader = staging_loader()
    try:
        _create_tables(loader)
        ensure_integral_echeances(perception_id)
        _stage(path, loader, progress)
        if progress is not None:
            progress("", 0, 0)
        summary = _check(perception_id, now().date())
        if dry_run:
            db.session.rollback()
            return summary
        summary = _apply(loader, summary, actor)
        _drop_tables(loader)  # PostgreSQL drops them at the commit; SQLite would keep them
        commit_or_refuse()
    except BaseException:
        db.session.rollback()
        raise
    observability.event("import.retour_banque", lignes=summary.lignes)
    return summary


def _drop_tables(loader) -> None:
    for name in (_LINES, _CHECKED):
        db.session.execute(text(f"DROP TABLE IF EXISTS {loader.temp_schema}{name}"))


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
            f"""CREATE TEMP TABLE {_CHECKED} (
                ligne integer, colonnes integer, reference text, rang_texte text,
                statut text, demande_id integer, echeance_id integer, premiere integer,
                refusee integer
            ){loader.on_commit}"""
        )
    )


def _stage(path: Path, loader, progress: Progress | None) -> None:
    """Stage the file's lines after its header, or ReturnFileError for a file that is
    not a return file at all (empty, not UTF-8, no header, no line)."""
    rows = _file_rows(path, progress)
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


def _file_rows(path: Path, progress: Progress | None) -> Iterator[tuple]:
    """The staged rows of the file's lines, after checking its header."""
    read = 0
    header = None

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
            INSERT INTO {_CHECKED}
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
    db.session.execute(text(f"CREATE INDEX {_CHECKED}_ligne ON {_CHECKED} (ligne)"))
    db.session.execute(text(f"ANALYZE {_CHECKED}"))
    refused, payees, rejetees = db.session.execute(
        text(
            f"""
            SELECT coalesce(sum(refusee), 0),
                   coalesce(sum(CASE WHEN refusee = 0 AND statut = :payee THEN 1 END), 0),
                   coalesce(sum(CASE WHEN refusee = 0 AND statut = :rejetee THEN 1 END), 0)
            FROM {_CHECKED}
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
            SELECT ligne, colonnes, reference, rang_texte, statut, premiere FROM {_CHECKED}
            WHERE refusee = 1 ORDER BY ligne LIMIT :n
            """
        ),
        {"n": MAX_REPORTED},
    ).all()
    demandes = _demandes_named({r.reference for r in rows if r.reference}, perception_id)
    messages: list[str] = []
    for r in rows:
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


def _apply(loader, checked: ReturnSummary, actor: User | None) -> ReturnSummary:
    """Write the checked results, then settle or cancel each request they complete."""
    at = now()
    written = 0
    for statut in lifecycle.DEBIT_RESULTS:
        # Only if still to debit, in the UPDATE itself: an agent who recorded one of these
        # debits since the check makes the whole file refused, not recorded twice.
        written += db.session.execute(
            update(Echeance)
            .where(
                Echeance.id.in_(
                    select(_checked.c.echeance_id).where(
                        _checked.c.refusee == 0, _checked.c.statut == statut
                    )
                ),
                Echeance.statut == lifecycle.A_PRELEVER,
            )
            .values(statut=statut, resultat_at=at)
            .execution_options(synchronize_session=False)
        ).rowcount
    if written != checked.lignes:
        raise concurrent_change()
    db.session.expire_all()  # the échéances the session holds are no longer to debit
    _record_debits(loader, at, actor)
    soldees, references_soldees = _settle_paid(at, actor)
    annulees, references_annulees = _cancel_rejected(actor)
    outbox.queue_after_return_file(select(_checked.c.demande_id).where(_checked.c.refusee == 0))
    return ReturnSummary(
        payees=checked.payees,
        rejetees=checked.rejetees,
        soldees=soldees,
        annulees=annulees,
        references_soldees=references_soldees,
        references_annulees=references_annulees,
    )


def _record_debits(loader, at, actor: User | None) -> None:
    """The trail's row of each debit, as an agent's entry writes it, a batch at a time."""
    source = "fichier retour de la banque"
    last = 0
    while True:
        batch = db.session.execute(
            select(
                _checked.c.ligne,
                _checked.c.demande_id,
                _checked.c.statut,
                Echeance.rang,
                Echeance.date_prevue,
                Echeance.montant,
            )
            .join(Echeance, Echeance.id == _checked.c.echeance_id)
            .where(_checked.c.refusee == 0, _checked.c.ligne > last)
            .order_by(_checked.c.ligne)
            .limit(DEBIT_BATCH)
        ).all()
        if not batch:
            return
        loader.stage(
            "audit_events",
            [
                audit.row(
                    r.demande_id,
                    actor,
                    "prelevement",
                    f"Prélèvement de l'{echeance_label(r.rang)} du {day(r.date_prevue)} "
                    f"({plain_mad(r.montant)}) : "
                    f"{'payée' if r.statut == lifecycle.PAYEE else 'rejetée'} ({source})",
                    at=at,
                )
                for r in batch
            ],
            audit.COLUMNS,
        )
        last = batch[-1].ligne


def _results(statut: str):
    """The requests the file gives a debit result ``statut``."""
    return (
        select(_checked.c.demande_id)
        .where(_checked.c.refusee == 0, _checked.c.statut == statut)
        .distinct()
    )


def _settle_paid(at, actor: User | None) -> tuple[int, tuple[str, ...]]:
    """Every request the file leaves with all its échéances paid is settled: per status
    it leaves, one UPDATE and its audit rows by INSERT … SELECT."""
    unpaid = exists().where(
        Echeance.demande_id == Demande.id,
        Echeance.definitive.is_(True),
        Echeance.statut != lifecycle.PAYEE,
    )
    count = 0
    for from_status in EN_PRELEVEMENT:
        paid = Demande.id.in_(_results(lifecycle.PAYEE)) & ~unpaid
        count += demandes.transition_all(
            paid,
            from_status,
            lifecycle.SOLDEE,
            actor=actor,
            action="solde",
            reason=lambda moved: (literal("Toutes les échéances ont été payées"), moved),
            at=at,
        )
    references = db.session.scalars(
        select(Demande.reference)
        .where(Demande.id.in_(_results(lifecycle.PAYEE)), Demande.status == lifecycle.SOLDEE)
        .order_by(Demande.reference)
        .limit(SUMMARY_REFERENCES)
    ).all()
    return count, tuple(references)


def _cancel_rejected(actor: User | None) -> tuple[int, tuple[str, ...]]:
    """Every request with a debit rejected is cancelled and its amounts reinstated, as
    an agent's entry does it (``settle``), a batch at a time: rejections are the few."""
    rejected = _results(lifecycle.REJETEE).subquery()
    count, references, last = 0, [], 0
    while True:
        ids = db.session.scalars(
            select(rejected.c.demande_id)
            .where(rejected.c.demande_id > last)
            .order_by(rejected.c.demande_id)
            .limit(500)
        ).all()
        if not ids:
            return count, tuple(references)
        batch = db.session.scalars(
            select(Demande)
            .where(Demande.id.in_(ids))
            .order_by(Demande.id)
            .options(selectinload(Demande.echeances), selectinload(Demande.events))
        ).all()
        for demande in batch:
            if settle(demande, actor) == lifecycle.ANNULEE:
                count += 1
                if len(references) < SUMMARY_REFERENCES:
                    references.append(demande.reference)
        last = ids[-1]
        db.session.flush()
        db.session.expunge_all()  # what the batch loaded is written: memory stays flat
        if actor is not None:
            db.session.add(actor)
