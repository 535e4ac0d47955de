"""What the simulation and validation screens render: the whole page, the panel a move swaps,
the check-your-answers groups, Validation's page and dialog.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.demande.draft import Draft
from blueprints.demande.move import Simulated, move_url, rows_url_of
from blueprints.simulation_form import schedule_of
from common.clock import now
from domain.identifiers import InvalidEmail, mask_email, mask_rib, normalize_email
from domain.simulation import next_debit_date


def simulation_page(here, draft: Draft, result: Simulated):
    """Simulation de la demande de remise, the whole page."""
    return render_template(
        "simulation.html",
        # ?detail=1: the Détail des échéances open (the link shown when its rows could
        # not be fetched).
        open_schedule=request.args.get("detail") == "1",
        **here.context(),
        draft=draft,
        sim=result.sim,
        schedule=schedule_of(result.sim),
        errors=result.errors,
        typed=result.typed,
        compte=draft.compte_of(here.affilie),
        mask_rib=mask_rib,
    ), result.status


def render_panel(numero: str, here, draft: Draft, result: Simulated) -> str:
    """The simulation panel a move swaps in."""
    return render_template(
        "partials/_simulation_panel.html",
        sim=result.sim,
        schedule=schedule_of(result.sim),
        errors=result.errors,
        typed=result.typed,
        draft=draft,
        **here.context(),
        # Full payment has no instalment controls to update (and no count to show).
        oob=draft.acomptes,
        rows_url=rows_url_of(numero, draft, result),
    )


def validation_errors(errors: dict[str, str]):
    """Valider refused (htmx): the errors belong next to the checkbox and the fields."""
    response = make_response(render_template("partials/_validation_errors.html", errors=errors))
    response.headers["HX-Retarget"] = "#validation-erreurs"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


@dataclass(frozen=True)
class NoticeEmail:
    """The address given at Validation for the request's notices: empty, the account's."""

    typed: str = ""
    address: str | None = None
    error: str | None = None

    @classmethod
    def read(cls, form) -> NoticeEmail:
        typed = form.get("email", "")[:254]
        if not typed.strip():
            return cls()
        try:
            return cls(typed, normalize_email(typed.strip()))
        except InvalidEmail:
            return cls(
                typed,
                error=_("Saisissez une adresse électronique valide, par exemple nom@domaine.ma."),
            )


def check_answers(affilie, draft: Draft, sim, notice: NoticeEmail | None = None) -> dict:
    """What Validation shows back before Confirmer, and where each *Modifier* goes.

    The figures are the simulation's (the panel's); the account is the draft's, masked.
    The affilié can be changed only by an account that chose it among several; the
    schedule only for a plan, at the Simulation's address of these very values. A
    refused notice address comes back as typed, with its message.
    """
    numero = affilie.numero
    notice = notice or NoticeEmail()
    return {
        "affilie": affilie,
        "draft": draft,
        "sim": sim,
        "compte": draft.compte_of(affilie),
        "mask_rib": mask_rib,
        # A full payment is debited on the 10th of the month after the confirmation.
        "debit_date": None if draft.acomptes else next_debit_date(now().date()),
        "modifier_affilie": url_for(".nouvelle", modifier=1) if draft.choix_affilie else None,
        "modifier_parametrage": url_for(".parametrage", numero=numero),
        "modifier_simulation": move_url(numero, {"n": sim.nombre_echeances, "avance": draft.avance})
        if draft.acomptes
        else None,
        # Where the notices go (masked), and the other address the affiliate may give.
        "compte_email": mask_email(current_user.email) if current_user.email else None,
        "email_saisi": notice.typed if notice.error else "",
        "errors": {"email": notice.error} if notice.error else {},
    }


def confirmation_page(affilie, draft: Draft, sim, notice: NoticeEmail | None = None):
    """Validation — Est-ce que vous confirmez vos choix ? (the page, without JavaScript)."""
    status = 422 if notice is not None and notice.error else 200
    answers = check_answers(affilie, draft, sim, notice)
    return render_template("confirmation.html", dialog=False, **answers), status


def confirmation_dialog(affilie, draft: Draft, sim):
    return render_template(
        "partials/_confirmation.html", dialog=True, **check_answers(affilie, draft, sim)
    )
