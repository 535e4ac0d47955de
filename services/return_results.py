"""What the bank's return file records, once every line is checked: each debit's result
and its trail row, then the requests it settles or cancels, with what an agent's entry
writes for them (``backoffice.apply_result``, ``backoffice.settle``), set-based whatever
their number: a few statements over the checked lines' temporary table, the trail's
texts (amounts and dates written as the trail writes them) built a batch at a time in
Python and staged (COPY on PostgreSQL).
"""

# The statements below are assembled from this module's own constants (table names);
# the file's values only ever travel as bound parameters or staged rows.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    Text,
    column,
    exists,
    func,
    insert,
    literal,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import aliased

from common.clock import now
from db.models import Demande, Echeance, Money, Reintegration, User
from domain import lifecycle
from extensions import db
from services import audit, demandes
from services.backoffice import EN_PRELEVEMENT, concurrent_change, debit_reason, default_reason
from services.importer import stage_in_batches
from services.notices import outbox

# The trail's rows built at a time.
BATCH = 5000
# What the trail says recorded a debit.
SOURCE = "fichier retour de la banque"
# The requests a summary names; the others are counted.
SUMMARY_REFERENCES = 20


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


# Each line checked against the perception's requests and their definitive schedules
# (return_file.py fills it): refusee 0 for the lines recorded.
CHECKED = "retour_verifiees"
_checked = table(
    CHECKED,
    column("ligne", Integer),
    column("demande_id", Integer),
    column("echeance_id", Integer),
    column("statut"),
    column("refusee", Integer),
)
# The requests the file cancels: the first debit rejected, the amounts reinstated.
_CANCELLED = "retour_annulees"
_cancelled = table(
    _CANCELLED,
    column("demande_id", Integer),
    column("rang", Integer),
    column("date_prevue", Date),
    column("remise", Money),
    column("majorations", Money),
)
# The reason each one's trail gives.
_REASONS = "retour_motifs"
_reasons = table(_REASONS, column("demande_id", Integer), column("motif", Text))


def create_tables(loader) -> None:
    """This module's temporary tables, on the session's connection (see return_file)."""
    db.session.execute(
        text(
            f"""CREATE TEMP TABLE {_CANCELLED} (
                demande_id integer PRIMARY KEY, rang integer, date_prevue date,
                remise numeric(14, 2), majorations numeric(14, 2)
            ){loader.on_commit}"""
        )
    )
    db.session.execute(
        text(f"CREATE TEMP TABLE {_REASONS} (demande_id integer, motif text){loader.on_commit}")
    )


def drop_tables(loader) -> None:
    for name in (_CANCELLED, _REASONS):
        db.session.execute(text(f"DROP TABLE IF EXISTS {loader.temp_schema}{name}"))


def record(loader, checked: ReturnSummary, actor: User | None) -> ReturnSummary:
    """Write the checked results, then settle or cancel each request they complete, as
    an agent's entry does (``backoffice.settle``), set-based whatever their number."""
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
    annulees, references_annulees = _cancel_rejected(loader, at, actor)
    # Their "soldée" and "annulée" notices, in the same transaction.
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
            .limit(BATCH)
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
                    debit_reason(r.rang, r.date_prevue, r.montant, r.statut, SOURCE),
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


def _cancel_rejected(loader, at, actor: User | None) -> tuple[int, tuple[str, ...]]:
    """Every request with a debit rejected is cancelled and its amounts reinstated, with
    what ``backoffice.settle`` writes for an agent's entry, set-based: the requests and
    their first rejected debit by one INSERT … SELECT, the trail's reason of each (its
    amounts written as the trail writes them) built a batch at a time and staged, then
    per status it leaves one UPDATE and its trail rows by INSERT … SELECT
    (``transition_all``), and the reinstatements by one INSERT … SELECT."""
    first = _per_request(lambda e: func.min(e.rang), lifecycle.REJETEE, _results(lifecycle.REJETEE))
    db.session.execute(
        insert(_cancelled).from_select(
            ("demande_id", "rang", "date_prevue", "remise", "majorations"),
            select(
                Demande.id,
                Echeance.rang,
                Echeance.date_prevue,
                Demande.remise,
                Demande.majorations_generees,
            )
            .join(first, first.c.demande_id == Demande.id)
            .join(
                Echeance,
                (Echeance.demande_id == Demande.id)
                & Echeance.definitive.is_(True)
                & (Echeance.rang == first.c.valeur),
            ),
        )
    )
    # (psycopg gives no row count for an INSERT … SELECT)
    staged = db.session.scalar(select(func.count()).select_from(_cancelled))
    if not staged:
        return 0, ()
    stage_in_batches(loader, _REASONS, _cancellation_reasons())
    db.session.execute(text(f"ANALYZE {_CANCELLED}"))
    db.session.execute(text(f"ANALYZE {_REASONS}"))
    cancelled = Demande.id.in_(select(_cancelled.c.demande_id))
    count = 0
    for from_status in EN_PRELEVEMENT:
        count += demandes.transition_all(
            cancelled,
            from_status,
            lifecycle.ANNULEE,
            actor=actor,
            action="defaut",
            reason=lambda moved: (
                _reasons.c.motif,
                moved.join(_reasons, _reasons.c.demande_id == moved.c.id),
            ),
            at=at,
        )
    if count != staged:
        raise concurrent_change()  # an agent settled or cancelled one of them meanwhile
    _reinstate(at, actor)
    references = db.session.scalars(
        select(Demande.reference).where(cancelled).order_by(Demande.id).limit(SUMMARY_REFERENCES)
    ).all()
    return count, tuple(references)


def _cancellation_reasons() -> Iterator[tuple[int, str]]:
    """(request, reason) of each request cancelled, a batch at a time."""
    last = 0
    while True:
        batch = db.session.execute(
            select(_cancelled)
            .where(_cancelled.c.demande_id > last)
            .order_by(_cancelled.c.demande_id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        for r in batch:
            yield r.demande_id, default_reason(r.rang, r.date_prevue, r.remise, r.majorations)
        last = batch[-1].demande_id


def _reinstate(at, actor: User | None) -> None:
    """The reinstatement of each request cancelled: its remise and majorations générées,
    and what it had paid (summed in SQL: to the centime on SQLite's REAL too)."""
    paid = _per_request(
        lambda e: func.sum(e.montant), lifecycle.PAYEE, select(_cancelled.c.demande_id)
    )
    db.session.execute(
        insert(Reintegration).from_select(
            (
                "demande_id",
                "affilie_id",
                "montant_remise",
                "montant_majorations",
                "montant_paye",
                "at",
                "by_id",
                "by_label",
            ),
            select(
                Demande.id,
                Demande.affilie_id,
                Demande.remise,
                Demande.majorations_generees,
                func.coalesce(func.round(paid.c.valeur, 2), 0),
                literal(at, DateTime()),
                literal(actor.id if actor else None, Integer()),
                literal(actor.display_name if actor else audit.SYSTEM),
            )
            .join(_cancelled, _cancelled.c.demande_id == Demande.id)
            .outerjoin(paid, paid.c.demande_id == Demande.id)
            .order_by(Demande.id),
        )
    )


def _per_request(aggregate, statut: str, requests):
    """(demande_id, valeur): ``aggregate`` of the definitive échéances in ``statut`` of
    each of ``requests`` (a subquery of their ids) that has one."""
    e = aliased(Echeance)
    return (
        select(e.demande_id, aggregate(e).label("valeur"))
        .where(e.demande_id.in_(requests), e.definitive.is_(True), e.statut == statut)
        .group_by(e.demande_id)
        .subquery()
    )
