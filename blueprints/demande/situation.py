"""The situation a step works in: the affilié, the campaign and the consolidated créance, or
the redirect with the reason the request cannot be made (services.demandes.refusal_for); a
slider move reads it from the per-process caches.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.demande.access import own_affilie
from blueprints.demande.draft import Draft
from domain.creance import Consolidation
from services import caches, demandes, queries
from web.htmx import partial_request


def refusal_message(refusal: demandes.Refusal) -> str:
    if refusal.code == "arrangement":
        return _(
            "Cet affilié dispose d'un arrangement : veuillez vous adresser à votre "
            "perception (%(perception)s).",
            perception=refusal.perception,
        )
    if refusal.code == "en_cours":
        return _(
            "Une demande de remise est déjà en cours pour cet affilié (référence "
            "%(reference)s). Ce service est dédié aux affiliés n'ayant aucune demande de "
            "remise en cours.",
            reference=refusal.reference,
        )
    return _("La campagne de remise n'est pas ouverte à cette date.")


@dataclass(frozen=True)
class Situation:
    """Where a step works: the affilié (with its bank accounts), the campaign new
    simulations use, and the créance consolidated at its last eligible period."""

    affilie: object
    campaign: object
    consolidation: Consolidation

    def context(self) -> dict:
        """The three as the templates name them."""
        return {
            "affilie": self.affilie,
            "campaign": self.campaign,
            "consolidation": self.consolidation,
        }


def situation(numero: str, *, move: bool = False) -> Situation:
    """The situation of ``numero`` for the signed-in account, or the answer that says why
    it may not file now (``refused_redirect``); a 404 for an affilié it is not linked to.

    ``move``: a slider move's read (the simulation's GETs), from the per-process caches kept
    under the versions read with the user (services/caches.py): no statement beyond the
    user's own. The request in progress is not part of a move (htmx): Paramétrage checked
    it on entry and *Confirmer* is held by the unique index; a whole page (one more
    statement) says it at once. Everything else is checked on every move: the link to
    the account, the arrangement, the campaign's dates, a créance to pay.
    """
    if move:
        affilie = caches.affilie_of(current_user, numero)
        if affilie is None:
            abort(404)
        campaign = caches.active_campaign(current_user)
    else:
        affilie = own_affilie(numero, comptes=True)
        campaign = queries.active_campaign()
    refusal = demandes.refusal_for(affilie, campaign, en_cours=not (move and partial_request()))
    if refusal is None:
        consolidation = queries.consolidation_for(affilie, campaign.rules().last_eligible_period)
        refusal = demandes.refusal_for_creance(consolidation)
    if refusal is not None:
        abort(refused_redirect(refusal))
    return Situation(affilie, campaign, consolidation)


def refused_redirect(refusal: demandes.Refusal):
    """Back where the affilié was chosen, with the reason."""
    message = (
        _("Aucune créance éligible à la remise pour cet affilié.")
        if refusal.code == "aucune_creance"
        else refusal_message(refusal)
    )
    flash(message, "error")
    Draft.forget()
    target = url_for(".home") if len(current_user.affilies) == 1 else url_for(".nouvelle")
    return redirect(target)
