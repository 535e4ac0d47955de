"""The bank's files: the debits due on a day (CSV out) and its return file (CSV in).

The return file is recorded whole or not at all: every line is checked first, against
the same rules as an agent's entry (``backoffice.check_result``), then applied.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from db.models import Demande, Echeance, User
from domain import lifecycle
from domain.money import money_str
from extensions import db
from services.backoffice import (
    EN_PRELEVEMENT,
    Refused,
    apply_result,
    check_result,
    commit_or_refuse,
    ensure_integral_echeances,
    find_echeance,
    settle,
)
from web import observability
from web.clock import now

DEBIT_HEADER = ("reference", "affiliation", "rib", "montant", "echeance")
RETURN_HEADER = ("reference", "echeance", "statut")
MAX_RETURN_ROWS = 20_000
DEBIT_BATCH = 5000


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
    """The return file has bad lines; nothing was recorded."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ReturnSummary:
    payees: int
    rejetees: int
    soldees: list[str]
    annulees: list[str]


def import_return(data: bytes, *, actor: User, perception_id: int) -> ReturnSummary:
    """Record every result of the bank's return file in one transaction, or none.

    ``reference,echeance,statut`` with statut payee|rejetee. Every line is checked
    before anything is written; a request of another perception is "unknown".
    """
    rows = _result_rows(_decode(data))
    ensure_integral_echeances(perception_id)
    accepted = _check_lines(rows, _demandes_named(rows, perception_id), now().date())
    return _apply(accepted, actor)


def _decode(data: bytes) -> list[tuple[int, list[str]]]:
    """The file's non-empty CSV rows with their line numbers (UTF-8, BOM or not)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReturnFileError([_("Le fichier doit être un fichier CSV encodé en UTF-8.")]) from None
    return [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if row]


def _result_rows(lines: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """The rows after the expected header, within the size a perception sends."""
    if not lines:
        raise ReturnFileError([_("Le fichier est vide.")])
    header_line, header = lines[0]
    if tuple(h.strip().lower() for h in header) != RETURN_HEADER:
        raise ReturnFileError(
            [
                _(
                    "Ligne %(ligne)s : en-tête attendu « %(attendu)s ».",
                    ligne=header_line,
                    attendu=",".join(RETURN_HEADER),
                )
            ]
        )
    rows = lines[1:]
    if not rows:
        raise ReturnFileError([_("Le fichier ne contient aucun résultat de prélèvement.")])
    if len(rows) > MAX_RETURN_ROWS:
        raise ReturnFileError(
            [_("Le fichier dépasse %(max)s lignes : découpez-le.", max=MAX_RETURN_ROWS)]
        )
    return rows


def _demandes_named(rows, perception_id: int) -> dict[str, Demande]:
    """The perception's requests the file names, in one query."""
    references = {row[0].strip() for _n, row in rows if row and row[0].strip()}
    return {
        d.reference: d
        for d in db.session.scalars(
            select(Demande).where(
                Demande.reference.in_(references), Demande.perception_id == perception_id
            )
        )
    }


Accepted = tuple[Demande, Echeance, str]


def _check_lines(rows, demandes: dict[str, Demande], today: date) -> list[Accepted]:
    """Each line's (request, échéance, result), or ReturnFileError naming every bad line."""
    errors: list[str] = []
    accepted: list[Accepted] = []
    seen: dict[tuple[str, int], int] = {}
    for number, row in rows:
        line_errors, found = _check_line(number, row, demandes, seen, today)
        if found is not None and not line_errors:
            accepted.append(found)
        errors.extend(line_errors)
    if errors:
        db.session.rollback()
        raise ReturnFileError(errors)
    return accepted


def _check_line(
    number: int,
    row: list[str],
    demandes: dict[str, Demande],
    seen: dict[tuple[str, int], int],
    today: date,
) -> tuple[list[str], Accepted | None]:
    """One line's errors, and what it records when it has none."""
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
        ], None
    reference, rang_text, statut = (cell.strip() for cell in row)
    statut = statut.lower()
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
    rang = None
    if not (rang_text.isascii() and rang_text.isdigit() and len(rang_text) <= 4):
        errors.append(
            _(
                "Ligne %(ligne)s, champ echeance : « %(valeur)s » n'est pas un numéro "
                "d'échéance (0 pour l'avance, puis 1, 2, 3…).",
                ligne=number,
                valeur=rang_text[:20],
            )
        )
    else:
        rang = int(rang_text)
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
        return errors, None
    earlier = seen.get((reference, rang))
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
        return errors, None
    seen[(reference, rang)] = number
    echeance = find_echeance(demande, rang)
    try:
        check_result(demande, echeance, rang, today)
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
        return errors, None
    return errors, (demande, echeance, statut)


def _apply(accepted: list[Accepted], actor: User) -> ReturnSummary:
    """Write the checked results, then settle or cancel each request they complete."""
    for demande, echeance, statut in accepted:
        apply_result(demande, echeance, statut, actor, "fichier retour de la banque")
    soldees, annulees = [], []
    for demande in dict.fromkeys(d for d, _e, _s in accepted):
        outcome = settle(demande, actor)
        if outcome == lifecycle.SOLDEE:
            soldees.append(demande.reference)
        elif outcome == lifecycle.ANNULEE:
            annulees.append(demande.reference)
    commit_or_refuse()
    observability.event("import.retour_banque", lignes=len(accepted))
    return ReturnSummary(
        payees=sum(1 for _d, _e, s in accepted if s == lifecycle.PAYEE),
        rejetees=sum(1 for _d, _e, s in accepted if s == lifecycle.REJETEE),
        soldees=soldees,
        annulees=annulees,
    )
