"""The situation a step works in: the affilié, the campaign and the consolidated créance, or
the redirect with the reason the request cannot be made (services.demandes.refusal_for); the
slider move's reads the per-process caches.
"""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.demande.access import (
    own_affilie,
)
from blueprints.demande.draft import (
    DRAFT,
    ready_draft,
)
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


def situation(numero: str):
    """The affilié, the campaign and the consolidated créance, or a refusal redirect."""
    affilie = own_affilie(numero, comptes=True)
    campaign = queries.active_campaign()
    refusal = demandes.refusal_for(affilie, campaign)
    if refusal is None:
        consolidation = demandes.current_consolidation(affilie, campaign)
        refusal = demandes.refusal_for_creance(consolidation)
    if refusal is not None:
        return None, refused_redirect(refusal)
    return (affilie, campaign, consolidation), None


def refused_redirect(refusal: demandes.Refusal):
    """Back where the affilié was chosen, with the reason."""
    message = (
        _("Aucune créance éligible à la remise pour cet affilié.")
        if refusal.code == "aucune_creance"
        else refusal_message(refusal)
    )
    flash(message, "error")
    session.pop(DRAFT, None)
    target = url_for(".home") if len(current_user.affilies) == 1 else url_for(".nouvelle")
    return redirect(target)


def simulation_situation(numero: str):
    """(affilié, campaign, consolidation), the draft, or where to send the user instead:
    back with the reason when the affilié may not file now, to Paramétrage without a draft."""
    ctx, refused = situation(numero)
    if refused:
        return None, None, refused
    draft = ready_draft(numero)
    if draft is None:
        return None, None, redirect(url_for(".parametrage", numero=numero))
    return ctx, draft, None


def move_situation(numero: str):
    """What a move of the slider reads, as ``simulation_situation`` answers it, from the
    per-process caches kept under the versions read with the user (services/caches.py):
    no statement beyond the user's own.

    The request in progress is not part of a move (htmx): Paramétrage checked it on entry
    and *Confirmer* is held by the unique index; a whole page (one more statement) says it
    at once. Everything else is checked on every move: the link to the account, the
    arrangement, the campaign's dates, a créance to pay.
    """
    affilie = caches.affilie_of(current_user, numero)
    if affilie is None:
        abort(404)
    campaign = caches.active_campaign(current_user)
    refusal = demandes.refusal_for(affilie, campaign, en_cours=not partial_request())
    if refusal is None:
        consolidation = queries.consolidation_for(affilie, campaign.rules().last_eligible_period)
        refusal = demandes.refusal_for_creance(consolidation)
    if refusal is not None:
        return None, None, refused_redirect(refusal)
    draft = ready_draft(numero)
    if draft is None:
        return None, None, redirect(url_for(".parametrage", numero=numero))
    return (affilie, campaign, consolidation), draft, None
