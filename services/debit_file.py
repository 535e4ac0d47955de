"""The bank's debit file: the debits due on a day, as CSV for the bank.

A day of a national campaign is a hundred thousand lines: they stream from the database
a batch at a time as plain rows (no ORM object, no per-line object of our own) and go to
the file a batch at a time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

from sqlalchemy import select

from db.models import Demande, Echeance
from domain import lifecycle
from extensions import db
from services.backoffice import EN_PRELEVEMENT
from services.schedules import ensure_integral_echeances

DEBIT_HEADER = ("reference", "affiliation", "rib", "montant", "echeance")
DEBIT_BATCH = 5000

# reference, affiliation, rib, montant (two decimals), rang
DebitLine = Sequence  # (str, str, str, Decimal, int)


def debit_batches(on: date) -> Iterator[list[DebitLine]]:
    """The debits due on ``on``, DEBIT_BATCH at a time: échéances still to debit of
    requests being paid, in reference order. The amounts come as the database's
    NUMERIC(14, 2) gives them back (``Money``): Decimals with their two decimals."""
    ensure_integral_echeances()
    query = (
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
    # On the session's connection, its transaction with it, without the ORM's layer.
    yield from db.session.connection().execute(query).partitions()


def write_debit_csv(batches: Iterable[list[DebitLine]], stream) -> int:
    """Write the debit file, every line ended by a line feed (the last one too); return
    the number of debits written."""
    stream.write(",".join(DEBIT_HEADER) + "\n")
    count = 0
    for batch in batches:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(batch)
        stream.write(buffer.getvalue())  # one write a batch: the stream may be a terminal
        count += len(batch)
    return count
