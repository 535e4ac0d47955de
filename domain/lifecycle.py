"""Request lifecycle: statuses, allowed transitions, the guarantee deadline."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

ACCEPTEE = "acceptee"
EN_ATTENTE = "en_attente_garanties"
VALIDEE = "validee"
EXPIREE = "expiree"
SOLDEE = "soldee"
ANNULEE = "annulee"

STATUSES = (ACCEPTEE, EN_ATTENTE, VALIDEE, EXPIREE, SOLDEE, ANNULEE)

# The two payment modes (modalités de paiement) a request is filed under.
INTEGRAL = "integral"
ACOMPTES = "acomptes"
MODALITES = (INTEGRAL, ACOMPTES)

# A definitive échéance waits for its bank debit, then the bank says paid or rejected.
A_PRELEVER = "a_prelever"
PAYEE = "payee"
REJETEE = "rejetee"
DEBIT_RESULTS = (PAYEE, REJETEE)
# Shown, never written: a debit still to come of a request that ended without it.
ECHEANCE_ANNULEE = "annulee"

# A request in progress blocks a new one for the same affilié.
IN_PROGRESS = frozenset({ACCEPTEE, EN_ATTENTE, VALIDEE})

TRANSITIONS: dict[str, frozenset[str]] = {
    EN_ATTENTE: frozenset({VALIDEE, EXPIREE}),
    ACCEPTEE: frozenset({SOLDEE, ANNULEE}),
    VALIDEE: frozenset({SOLDEE, ANNULEE}),
}

GUARANTEE_DAYS = 30

# Requests that ended before their debits were all made: what remained is not debited.
ENDED_UNPAID = frozenset({ANNULEE, EXPIREE})


class TransitionError(ValueError):
    """A status change the lifecycle does not allow."""


def check_transition(frm: str, to: str) -> None:
    """Raise TransitionError unless `frm` → `to` is allowed."""
    if to not in TRANSITIONS.get(frm, frozenset()):
        raise TransitionError(f"transition {frm!r} → {to!r} not allowed")


def initial_status(modalite: str) -> str:
    """Full payment is accepted at once; a plan first waits for guarantees."""
    if modalite == INTEGRAL:
        return ACCEPTEE
    if modalite == ACOMPTES:
        return EN_ATTENTE
    raise ValueError(f"unknown modalite {modalite!r}")


def guarantee_deadline(confirmed_on: date, days: int = GUARANTEE_DAYS) -> date:
    """Last day to deposit the guarantees at the perception."""
    return confirmed_on + timedelta(days=days)


def effective_status(
    status: str, confirmed_on: date, today: date, days: int = GUARANTEE_DAYS
) -> str:
    """The status as of `today`: a plan left without guarantees has expired.

    Day 30 after confirmation is still within the deadline; day 31 is not.
    Computed on read so that no scheduled job is needed for expiry.
    """
    if status == EN_ATTENTE and today > guarantee_deadline(confirmed_on, days):
        return EXPIREE
    return status


def days_left(confirmed_on: date, today: date, days: int = GUARANTEE_DAYS) -> int:
    """Days left to deposit the guarantees (0 once the deadline is past)."""
    return max(0, (guarantee_deadline(confirmed_on, days) - today).days)


def reinstated_amounts(sim_snapshot_remise: Decimal, majorations_generees: Decimal) -> Decimal:
    """What goes back on the debt on default: the remise and waived surcharges."""
    return sim_snapshot_remise + majorations_generees


def echeance_status(statut: str, demande_status: str) -> str:
    """An échéance as every page and file shows it.

    A debit still to come of a cancelled (or expired) request will never be made: the
    debit file leaves it out, and it is shown cancelled. Paid and rejected stay as the
    bank said. ``demande_status`` is the request's status as of today.
    """
    if statut == A_PRELEVER and demande_status in ENDED_UNPAID:
        return ECHEANCE_ANNULEE
    return statut
