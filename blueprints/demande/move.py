"""A simulation as the URL, a form or the draft asks for it: the values read once (``Move``),
the simulation run (``Simulated``), the address to bookmark and the schedule's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import request, url_for

from blueprints.demande.draft import Draft
from blueprints.simulation_form import AVANCE_MESSAGES, read_echeances, simulate_plan
from extensions import db
from services import queries
from web.htmx import partial_request

# A move's address holds two short values; anything much longer was not sent by our form.
MAX_QUERY_BYTES = 512
MOVE_FIELDS = ("n", "avance", "curseur", "action", "precedent")


def moves_read_outside_a_transaction() -> None:
    """Before a request: a move only reads (``simulation`` answering htmx): on PostgreSQL it
    runs in autocommit, two round trips (the pool's ping and the user's SELECT) instead of
    four, without the BEGIN and the ROLLBACK around them. Each statement still sees what
    was committed when it began, as READ COMMITTED gives inside a transaction."""
    if (
        request.endpoint == "demande.simulation"
        and request.method == "GET"
        and partial_request()
        and db.engine.dialect.name == "postgresql"
    ):
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@dataclass(frozen=True)
class Move:
    """The count and the avance a simulation is asked for, read once.

    ``n_error``: the count was refused (``n`` is then the count shown before);
    ``n_typed``: that refused count as typed, shown back beside its message;
    ``too_long``: an address longer than our form ever sends.
    """

    n: int
    avance: str
    n_error: str | None = None
    n_typed: str | None = None
    too_long: bool = False

    @property
    def refused(self) -> bool:
        return self.n_error is not None or self.too_long

    @property
    def values(self) -> dict:
        return {"n": self.n, "avance": self.avance}

    @classmethod
    def of_draft(cls, campaign, draft: Draft) -> Move:
        """The draft's last simulation."""
        return cls(draft.previous_count(campaign.max_echeances), draft.avance[:64])

    @classmethod
    def of_form(cls, campaign, draft: Draft, form, previous: int | None = None) -> Move:
        """The values a form or an address submits: the number field (``n`` or
        ``nombre_echeances``), the slider (``curseur``), − / + (``action``), the avance.
        ``previous``: the count the page showed (else the draft's)."""
        count = form.get("n", form.get("nombre_echeances", ""))[:8]
        n, n_error = read_echeances(
            {
                "nombre_echeances": count,
                "curseur": form.get("curseur", "")[:8],
                "action": form.get("action", "")[:8],
            },
            previous if previous is not None else int(draft.n),
            campaign.max_echeances,
        )
        return cls(n, form.get("avance", "")[:64], n_error, count if n_error else None)

    @classmethod
    def of_url(cls, campaign, draft: Draft) -> Move:
        """The values of the address (``?n=…&avance=…``), or the draft's without any.

        The no-JS form says which count its page showed (``precedent``): the slider or
        the number field, whichever differs from it, is the one the user moved."""
        args = request.args
        if not draft.acomptes or not any(name in args for name in MOVE_FIELDS):
            return cls.of_draft(campaign, draft)
        shown = args.get("precedent", "")[:4]
        previous = None
        if shown.isascii() and shown.isdigit():
            previous = min(max(int(shown), 1), campaign.max_echeances)
        move = cls.of_form(campaign, draft, args, previous)
        if len(request.query_string) > MAX_QUERY_BYTES:
            return cls(move.n, move.avance, move.n_error, move.n_typed, too_long=True)
        return move


@dataclass
class Simulated:
    """The server's simulation (None when the values are refused), the errors by field,
    and the values to show back."""

    sim: object | None
    errors: dict[str, str] = field(default_factory=dict)
    typed: dict = field(default_factory=dict)

    @property
    def status(self) -> int:
        return 422 if self.errors else 200


def simulate(here, draft: Draft, move: Move) -> Simulated:
    """The simulation of ``move`` in the situation ``here`` (a full payment has no values)."""
    if not draft.acomptes:
        return Simulated(
            queries.simulation_for(here.affilie, here.campaign, consolidation=here.consolidation)
        )
    sim, errors, typed = simulate_plan(
        here.affilie,
        here.campaign,
        here.consolidation,
        n=move.n,
        n_error=move.n_error,
        avance_text=move.avance,
    )
    if move.n_typed is not None:
        typed["n_saisi"] = move.n_typed
    if move.too_long and not errors:
        sim, errors = None, {"avance": str(AVANCE_MESSAGES["invalid"])}
    return Simulated(sim, errors, typed)


def move_url(numero: str, typed: dict) -> str:
    """The address of a simulation: bookmarked, reloaded, sent back by Back."""
    return url_for(".simulation", numero=numero, n=typed["n"], avance=typed["avance"] or None)


def rows_url_of(numero: str, draft: Draft, result: Simulated) -> str | None:
    """Where the panel's Détail des échéances fetches its rows: the schedule it shows."""
    if result.sim is None or not draft.acomptes:
        return None
    return url_for(
        ".echeances", numero=numero, n=result.typed["n"], avance=result.typed["avance"] or None
    )
