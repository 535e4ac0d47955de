"""What the simulation and validation screens render: the whole page, the panel a move swaps,
the check-your-answers groups.
"""

from __future__ import annotations

from flask import (
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from blueprints.demande.draft import (
    compte_of,
)
from blueprints.demande.move import (
    move_url,
)
from blueprints.simulation_form import (
    schedule_of,
)
from common.clock import now
from domain import lifecycle
from domain.identifiers import mask_email, mask_rib
from domain.simulation import next_debit_date


def simulation_page(affilie, campaign, consolidation, draft, sim, errors, typed, status=200):
    compte = compte_of(affilie, draft)
    return render_template(
        "simulation.html",
        # ?detail=1: the Détail des échéances open (the link shown when its rows could
        # not be fetched).
        open_schedule=request.args.get("detail") == "1",
        affilie=affilie,
        campaign=campaign,
        consolidation=consolidation,
        draft=draft,
        sim=sim,
        schedule=schedule_of(sim),
        errors=errors,
        typed=typed,
        compte=compte,
        mask_rib=mask_rib,
    ), status


def render_panel(affilie, campaign, consolidation, draft, sim, errors, typed, rows_url):
    return render_template(
        "partials/_simulation_panel.html",
        sim=sim,
        schedule=schedule_of(sim),
        consolidation=consolidation,
        errors=errors,
        typed=typed,
        draft=draft,
        campaign=campaign,
        affilie=affilie,
        # Full payment has no instalment controls to update (and no count to show).
        oob=draft["modalite"] == lifecycle.ACOMPTES,
        rows_url=rows_url,
    )


def check_answers(affilie, draft, sim) -> dict:
    """What Validation shows back before Confirmer, and where each *Modifier* goes.

    The figures are the simulation's (the panel's); the account is the draft's, masked.
    The affilié can be changed only by an account that chose it among several; the
    schedule only for a plan, at the Simulation's address of these very values.
    """
    numero = affilie.numero
    acomptes = draft["modalite"] == lifecycle.ACOMPTES
    return {
        "affilie": affilie,
        "draft": draft,
        "sim": sim,
        "compte": compte_of(affilie, draft),
        "mask_rib": mask_rib,
        # A full payment is debited on the 10th of the month after the confirmation.
        "debit_date": None if acomptes else next_debit_date(now().date()),
        "modifier_affilie": url_for(".nouvelle", modifier=1)
        if draft.get("choix_affilie")
        else None,
        "modifier_parametrage": url_for(".parametrage", numero=numero),
        "modifier_simulation": move_url(
            numero, {"n": sim.nombre_echeances, "avance": draft.get("avance", "")}
        )
        if acomptes
        else None,
        # Where the notices go (masked), and the other address the affiliate may give.
        "compte_email": mask_email(current_user.email) if current_user.email else None,
        "email_saisi": "",
        "errors": {},
    }


def confirmation_dialog(affilie, draft, sim):
    return render_template(
        "partials/_confirmation.html", dialog=True, **check_answers(affilie, draft, sim)
    )
