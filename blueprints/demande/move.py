"""A simulation as the URL or the form asks for it: the count and avance read, the simulation
run, the address to bookmark and the schedule's rows.
"""

from __future__ import annotations

from flask import (
    request,
    url_for,
)

from blueprints.demande.draft import (
    count_and_avance,
)
from blueprints.simulation_form import (
    AVANCE_MESSAGES,
    simulate_plan,
)
from domain import lifecycle
from services import queries


def simulate_draft(affilie, campaign, consolidation, draft: dict, form=None, previous=None):
    """Run the server's simulation from the draft, or from submitted values (``form``).

    Returns (simulation or None, errors, typed values to show back).
    """
    errors: dict[str, str] = {}
    if draft["modalite"] == lifecycle.INTEGRAL:
        sim = queries.simulation_for(affilie, campaign, consolidation=consolidation)
        return sim, errors, {}
    n, n_error, avance_text, fields = count_and_avance(campaign, draft, form, previous)
    sim, errors, typed = simulate_plan(
        affilie, campaign, consolidation, n=n, n_error=n_error, avance_text=avance_text
    )
    if n_error and form is not None:
        # Show the refused count back as typed, beside its message.
        typed["n_saisi"] = fields["nombre_echeances"]
    return sim, errors, typed


# A move's address holds two short values; anything much longer was not sent by our form.
MAX_QUERY_BYTES = 512
MOVE_FIELDS = ("n", "avance", "curseur", "action", "precedent")


def move_form(campaign, draft):
    """The values the URL moves to (``?n=…&avance=…``) and the count its page showed, or
    (None, None): the draft's simulation."""
    args = request.args
    if draft["modalite"] != lifecycle.ACOMPTES or not any(k in args for k in MOVE_FIELDS):
        return None, None
    # The no-JS form says which count its page showed (``precedent``): the slider or the number
    # field, whichever differs from it, is the one the user moved.
    shown = args.get("precedent", "")[:4]
    previous = int(shown) if shown.isascii() and shown.isdigit() else None
    if previous is not None:
        previous = min(max(previous, 1), campaign.max_echeances)
    return args, previous


def read_move(affilie, campaign, consolidation, draft):
    """The simulation the URL asks for (``?n=…&avance=…``), or the draft's without one."""
    form, previous = move_form(campaign, draft)
    sim, errors, typed = simulate_draft(affilie, campaign, consolidation, draft, form, previous)
    if form is not None and len(request.query_string) > MAX_QUERY_BYTES and not errors:
        sim, errors = None, {"avance": str(AVANCE_MESSAGES["invalid"])}
    return sim, errors, typed


def move_url(numero: str, typed: dict) -> str:
    """The address of a simulation: bookmarked, reloaded, sent back by Back."""
    return url_for(".simulation", numero=numero, n=typed["n"], avance=typed["avance"] or None)


def rows_url_of(numero: str, draft: dict, sim, typed: dict) -> str | None:
    """Where the panel's Détail des échéances fetches its rows: the schedule it shows."""
    if sim is None or draft["modalite"] != lifecycle.ACOMPTES:
        return None
    return url_for(".echeances", numero=numero, n=typed["n"], avance=typed["avance"] or None)
