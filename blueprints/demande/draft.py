"""The session's draft of a request (modalité, account, guarantees, count, avance, conditions):
a copy to change, the draft a step may use, and the count and avance a simulation is run
with.
"""

from __future__ import annotations

from flask import (
    session,
)

from blueprints.simulation_form import (
    DEFAULT_ECHEANCES,
    read_echeances,
)

DRAFT = "brouillon"


def draft_copy(numero: str) -> dict:
    """A copy of the session's draft for ``numero``: a form refused with errors changes
    the copy it shows back, never the draft (the permanent session is saved on every
    request, in-place changes included)."""
    draft = session.get(DRAFT)
    if not draft or draft.get("numero") != numero:
        return {"numero": numero}
    return dict(draft)


def ready_draft(numero: str):
    """The draft must have passed the paramétrage step."""
    draft = session.get(DRAFT)
    if not draft or draft.get("numero") != numero or "token" not in draft:
        return None
    return draft


def previous_count(draft: dict, maximum: int) -> int:
    """The count of the draft's last simulation, within the campaign's bounds."""
    return min(max(int(draft.get("n", DEFAULT_ECHEANCES)), 1), maximum)


def count_fields(source) -> dict:
    """The count's fields as ``read_echeances`` reads them: the number field is ``n``."""
    return {
        "nombre_echeances": source.get("n", source.get("nombre_echeances", ""))[:8],
        "curseur": source.get("curseur", "")[:8],
        "action": source.get("action", "")[:8],
    }


def compte_of(affilie, draft: dict):
    """The bank account the draft chose, among the affilié's (None if it is gone)."""
    return next((c for c in affilie.comptes if str(c.id) == draft.get("compte")), None)


def count_and_avance(campaign, draft: dict, form=None, previous=None):
    """(count, its error, avance as typed, the count's fields): what an instalments
    simulation is run with, read from the draft or from submitted values."""
    maximum = campaign.max_echeances
    avance_text = (form.get("avance", "") if form is not None else draft.get("avance", ""))[:64]
    if form is None:
        return previous_count(draft, maximum), None, avance_text, None
    fields = count_fields(form)
    before = previous if previous is not None else int(draft.get("n", DEFAULT_ECHEANCES))
    n, n_error = read_echeances(fields, before, maximum)
    return n, n_error, avance_text, fields
