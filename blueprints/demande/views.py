"""The affiliate's journey, in the guide's order.

Home → Choisir un affilié → Paramétrage de la remise → Simulation → Validation →
accusé de réception → récapitulatif. Every step is a real form with post/redirect/get;
htmx only re-renders the parts that change (the affiliés table, the simulation panel)
and turns the confirmation page into a dialog.
"""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException

from blueprints.demande.access import affiliate_only, own_affilie, own_demande
from blueprints.demande.caching import move_panel
from blueprints.demande.downloads import EcheancierFile, echeancier_file, simulation_file
from blueprints.demande.draft import Draft
from blueprints.demande.move import (
    Move,
    move_url,
    moves_read_outside_a_transaction,
    simulate,
)
from blueprints.demande.rendering import (
    NoticeEmail,
    confirmation_dialog,
    confirmation_page,
    render_panel,
    simulation_page,
    validation_errors,
)
from blueprints.demande.situation import situation
from blueprints.simulation_form import schedule_of
from common import labels
from common.clock import now
from db.models import Demande
from domain import lifecycle
from domain.identifiers import mask_rib
from services import backoffice, demandes, queries, schedules
from services.pagination import Page, paginate_list
from web.htmx import browser_redirect, partial_request

bp = Blueprint("demande", __name__)

PAGE_SIZES = (10, 25, 50)


bp.before_request(moves_read_outside_a_transaction)


@bp.after_request
def redirect_the_browser(response):
    """htmx follows a redirect itself and would swap the next page into the panel (a
    refusal, a lost draft, an expired session): make the browser go there instead."""
    if response.status_code in (301, 302, 303) and partial_request():
        return browser_redirect(response.headers["Location"])
    return response


# ---------------------------------------------------------------- home and requests


@bp.get("/")
@login_required
def home():
    """Nouvelle demande de remise, and the account's requests (Mes demandes)."""
    if current_user.is_agent:
        if "perception.demandes" in current_app.view_functions:
            return redirect(url_for("perception.demandes"))
        abort(403)
    today = now().date()
    rows = [
        (d, d.effective_status(today))
        for d in queries.demandes_of([a.id for a in current_user.affilies])
    ]
    return render_template("home.html", rows=rows)


@bp.get("/demandes/<reference>")
@login_required
def recapitulatif(reference: str):
    """The request's récapitulatif: its snapshot, schedule and accepted conditions."""
    demande = own_demande(reference)
    schedule = schedules.request_schedule(demande)
    return render_template(
        "recapitulatif.html",
        demande=demande,
        consolidation=demandes.consolidation_of(demande),
        schedule=schedule.dated,
        indicative=schedule.indicative,
        definitive=schedules.schedule_rows(demande, planned=False),
        reintegration=backoffice.reintegration_of(demande),
        status=demande.effective_status(now().date()),
        confirmee=request.args.get("confirmee") == "1",
        debit_date=schedule.first_debit,
        # One instalment has one date, said as such (the one after the avance's).
        single_debit_date=schedule.rows[-1].date_prevue,
        deadline=demande.guarantee_deadline,
        mask_rib=mask_rib,
    )


# ---------------------------------------------------------------- choisir un affilié


@bp.get("/demande/nouvelle")
@affiliate_only
def nouvelle():
    """Choisir un affilié (group accounts); a single-affilié account goes straight on.

    A new request starts here (the bare address, from the home page): the draft is
    forgotten. The search, the pager and Validation's *Modifier* (``?modifier=1``) keep
    it, so that choosing the same affilié again comes back with every answer.
    """
    if not request.args:
        Draft.forget()
    affilies = current_user.affilies
    if len(affilies) == 1 and not request.args:
        return redirect(url_for(".parametrage", numero=affilies[0].numero))
    table = _affilies_table()
    if partial_request():
        return render_template("partials/_affilies_table.html", table=table)
    return render_template("choisir_affilie.html", table=table)


def _affilies_table() -> Page:
    query = request.args.get("q", "").strip()[:60]
    try:
        size = int(request.args.get("taille", "10"))
    except ValueError:
        size = 10
    size = size if size in PAGE_SIZES else 10
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 1
    needle = query.casefold()
    rows = [
        a
        for a in current_user.affilies
        if not needle
        or needle in a.numero
        or needle in a.raison_sociale.casefold()
        or needle in (a.ice or "")
        or needle in a.regime.casefold()
    ]
    table = paginate_list(rows, page, size, q=query, taille=size, sizes=PAGE_SIZES)
    table.extra["en_cours"] = queries.en_cours_among([a.id for a in table.rows], now().date())
    return table


# ---------------------------------------------------------------- paramétrage


@bp.route("/demande/<numero>/parametrage", methods=["GET", "POST"])
@affiliate_only
def parametrage(numero: str):
    """Paramétrage de la remise: créance globale, modalité de paiement, compte bancaire."""
    here = situation(numero)
    draft = Draft.of(numero)
    errors: dict[str, str] = {}
    if request.method == "POST":
        several = len(current_user.affilies) > 1
        errors = draft.answer_parametrage(request.form, here.affilie, several_affilies=several)
        if not errors:
            return redirect(url_for(".simulation", numero=numero))
    page = render_template(
        "parametrage.html", **here.context(), draft=draft, errors=errors, mask_rib=mask_rib
    )
    return page, (422 if errors else 200)


@bp.post("/demande/annuler")
@affiliate_only
def annuler():
    """Annuler at any step: forget the draft, create nothing, go home."""
    Draft.forget()
    return redirect(url_for(".home"))


# ---------------------------------------------------------------- simulation


@bp.get("/demande/<numero>/simulation")
@affiliate_only
def simulation(numero: str):
    """Simulation de la demande de remise: the page, or the panel for htmx.

    A move of the slider, − / + or Simuler is this read, its parameters in the URL
    (``?n=…&avance=…``): with or without JavaScript, bookmarked, reloaded, Back. It writes
    nothing (no session, no CSRF): *Valider* posts the values to keep.
    """
    here = situation(numero, move=True)
    draft = Draft.ready(numero)
    if partial_request():
        return move_panel(numero, here, draft)
    result = simulate(here, draft, Move.of_url(here.campaign, draft))
    if result.sim is not None and request.args.keys() - {"n", "avance", "detail"}:
        # The no-JS form's buttons and fields: its result at its own short address.
        return redirect(move_url(numero, result.typed) + "#simulation-panel", code=303)
    return simulation_page(here, draft, result)


@bp.post("/demande/<numero>/simulation")
@affiliate_only
def simuler(numero: str):
    """Valider: the simulation's values and the conditions, checked again and kept.

    An older form's Simuler, − / + posted here are answered as the read they are.
    """
    here = situation(numero)
    draft = Draft.ready(numero)
    result = simulate(here, draft, Move.of_form(here.campaign, draft, request.form))
    if request.form.get("action", "simuler") != "valider":
        return _simulated(numero, here, draft, result)
    if result.sim is not None and draft.acomptes:
        draft.keep(result.typed)
    result.errors.update(draft.answer_conditions(request.form.get("cgu") == "1"))
    draft.save()
    if not result.errors:
        if partial_request():
            return confirmation_dialog(here.affilie, draft, result.sim)
        return redirect(url_for(".confirmation", numero=numero))
    if partial_request():
        return validation_errors(result.errors)
    return simulation_page(here, draft, result)


def _simulated(numero: str, here, draft: Draft, result):
    """An older form's Simuler, − / + posted: the panel (htmx), or the page at its address."""
    if partial_request():
        return render_panel(numero, here, draft, result), result.status
    if result.errors:
        return simulation_page(here, draft, result)
    if not draft.acomptes:
        return redirect(url_for(".simulation", numero=numero) + "#simulation-panel")
    return redirect(move_url(numero, result.typed) + "#simulation-panel")


@bp.get("/demande/<numero>/simulation/echeances")
@affiliate_only
def echeances(numero: str):
    """The Détail des échéances rows of one simulation (n, avance), when the user opens it."""
    here = situation(numero, move=True)
    draft = Draft.ready(numero)
    if not draft.acomptes:
        abort(404)
    # The count is read as the form's number field is, with the same limits.
    asked = {"n": request.args.get("n", ""), "avance": request.args.get("avance", "")}
    result = simulate(here, draft, Move.of_form(here.campaign, draft, asked))
    schedule = schedule_of(result.sim)
    rows = render_template("partials/_echeances_rows.html", echeances=schedule, sim=result.sim)
    return rows, (200 if result.sim else 422)


@bp.get("/demande/<numero>/simulation/echeancier.csv", defaults={"fmt": "csv"})
@bp.get("/demande/<numero>/simulation/echeancier.ics", defaults={"fmt": "ics"})
@affiliate_only
def echeancier(numero: str, fmt: str):
    """The échéancier shown (``?n=…&avance=…``) to keep: CSV or an .ics calendar."""
    here = situation(numero, move=True)
    draft = Draft.ready(numero)
    if not draft.acomptes:
        abort(404)
    result = simulate(here, draft, Move.of_url(here.campaign, draft))
    if result.sim is None:
        return " ".join(result.errors.values()), 422, {"Content-Type": "text/plain; charset=utf-8"}
    return simulation_file(fmt, here.affilie, result.sim)


@bp.get("/demandes/<reference>/echeancier.csv", defaults={"fmt": "csv"})
@bp.get("/demandes/<reference>/echeancier.ics", defaults={"fmt": "ics"})
@affiliate_only
def echeancier_demande(reference: str, fmt: str):
    """The request's échéancier, as its récapitulatif shows it: indicative dates before
    validation, the definitive ones after, under the same event UIDs (a calendar that
    imports it again updates them). A cancelled or expired request's file says so: its
    debits still to come are CANCELLED events, a "cancelled" status in the CSV, so that
    a calendar holding them drops them rather than keep reminding of debits that will
    never be made."""
    demande = own_demande(reference)
    if demande.modalite != lifecycle.ACOMPTES:
        abort(404)
    schedule = schedules.request_schedule(demande)
    status = demande.effective_status(now().date())
    plan = EcheancierFile(
        demande.numero_affiliation,
        demande.raison_sociale,
        demande.nombre_echeances,
        demande.reference,
        demande=f"{demande.reference} — {labels.status_label(status)}",
    )
    return echeancier_file(fmt, schedule.file_rows, plan, indicative=schedule.indicative)


@bp.route("/demande/<numero>/conditions", methods=["GET", "POST"])
@affiliate_only
def conditions(numero: str):
    """Conditions générales as a page (the dialog's fallback without JavaScript)."""
    own_affilie(numero)
    draft = Draft.ready(numero)
    if request.method == "POST":
        if request.form.get("decision") == "accepter":
            draft.answer_conditions(True)
            draft.save()
        return redirect(url_for(".simulation", numero=numero))
    return render_template("conditions.html", numero=numero, modalite=draft.modalite)


# ---------------------------------------------------------------- validation


@bp.get("/demande/<numero>/validation")
@affiliate_only
def confirmation(numero: str):
    """Validation — Est-ce que vous confirmez vos choix ? (page without JavaScript)."""
    here = situation(numero)
    draft = Draft.saved(numero)
    if draft is None or not draft.cgu:
        return redirect(url_for(".simulation", numero=numero))
    result = simulate(here, draft, Move.of_draft(here.campaign, draft))
    if result.errors:
        return redirect(url_for(".simulation", numero=numero))
    return confirmation_page(here.affilie, draft, result.sim)


@bp.post("/demande/<numero>/confirmer")
@affiliate_only
def confirmer(numero: str):
    """Confirmer: create the request from the server's simulation, exactly once."""
    token = request.form.get("token", "")
    _show_if_confirmed(token, numero)
    here = _situation_or_confirmed(token, numero)
    draft = Draft.saved(numero)
    if draft is None or not draft.confirms(token):
        flash(
            _("Cette confirmation n'est plus valable : veuillez reprendre votre simulation."),
            "error",
        )
        return redirect(url_for(".simulation", numero=numero))
    result = simulate(here, draft, Move.of_draft(here.campaign, draft))
    compte = draft.compte_of(here.affilie)
    if result.errors or compte is None:
        return redirect(url_for(".simulation", numero=numero))
    notice = NoticeEmail.read(request.form)
    if notice.error:
        return confirmation_page(here.affilie, draft, result.sim, notice)
    try:
        demande = _confirm(here, draft, result.sim, compte, notice)
    except demandes.AlreadyInProgress:
        flash(_("Une demande de remise est déjà en cours pour cet affilié."), "error")
        return redirect(url_for(".home"))
    return _after_confirmation(demande)


def _confirm(here, draft: Draft, sim, compte, notice: NoticeEmail) -> Demande:
    return demandes.confirm(
        user=current_user._get_current_object(),
        affilie=here.affilie,
        campaign=here.campaign,
        compte=compte,
        consolidation=here.consolidation,
        sim=sim,
        token=draft.token,
        conditions_accepted_at=datetime.fromisoformat(draft.cgu_at),
        email=notice.address,
        langue=str(get_locale() or "fr"),
    )


def _show_if_confirmed(token: str, numero: str, *, refused: bool = False) -> None:
    """A second submission of a Validation screen (a double click, Back then Confirmer):
    answer with the request the first one created. ``refused``: the situation's refusal
    was flashed meanwhile; the request is the answer, not that refusal."""
    if (demande := demandes.confirmed_with(token, numero)) is not None:
        own_affilie(numero)
        if refused:
            session.pop("_flashes", None)
        abort(_after_confirmation(demande))


def _situation_or_confirmed(token: str, numero: str):
    """The situation, or, when it refuses, the request this screen created meanwhile: on a
    double click the other submission may have committed between the look-up above and
    the check of the affilié. Show its result, not a refusal."""
    try:
        return situation(numero)
    except HTTPException:
        _show_if_confirmed(token, numero, refused=True)
        raise


def _after_confirmation(demande: Demande):
    Draft.forget()
    target = url_for(".recapitulatif", reference=demande.reference, confirmee=1)
    if partial_request():
        return browser_redirect(target)
    return redirect(target, code=303)
