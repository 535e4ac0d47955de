"""The affiliate's journey, in the guide's order.

Home → Choisir un affilié → Paramétrage de la remise → Simulation → Validation →
accusé de réception → récapitulatif. Every step is a real form with post/redirect/get;
htmx only re-renders the parts that change (the affiliés table, the simulation panel)
and turns the confirmation page into a dialog.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.demande.access import (
    affiliate_only,
    own_affilie,
    own_demande,
)
from blueprints.demande.caching import (
    move_panel,
)
from blueprints.demande.downloads import (
    EcheancierFile,
    echeancier_file,
)
from blueprints.demande.draft import (
    DRAFT,
    compte_of,
    draft_copy,
    ready_draft,
)
from blueprints.demande.move import (
    move_url,
    read_move,
    rows_url_of,
    simulate_draft,
)
from blueprints.demande.rendering import (
    check_answers,
    confirmation_dialog,
    render_panel,
    simulation_page,
)
from blueprints.demande.situation import (
    move_situation,
    simulation_situation,
    situation,
)
from blueprints.simulation_form import (
    DEFAULT_ECHEANCES,
    read_echeances,
    schedule_of,
    simulate_plan,
)
from common import echeancier_files, labels
from common.clock import now
from db.models import Demande
from domain import lifecycle
from domain.identifiers import InvalidEmail, mask_rib, normalize_email
from extensions import db
from services import backoffice, demandes, queries, schedules
from services.pagination import Page, paginate_list
from web.htmx import browser_redirect, partial_request

bp = Blueprint("demande", __name__)

PAGE_SIZES = (10, 25, 50)


@bp.before_request
def moves_read_outside_a_transaction():
    """A move only reads (``simulation`` answering htmx): on PostgreSQL it runs in
    autocommit, two round trips (the pool's ping and the user's SELECT) instead of four,
    without the BEGIN and the ROLLBACK around them. Each statement still sees what was
    committed when it began, as READ COMMITTED gives inside a transaction."""
    if (
        request.endpoint == "demande.simulation"
        and request.method == "GET"
        and partial_request()
        and db.engine.dialect.name == "postgresql"
    ):
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


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
        session.pop(DRAFT, None)
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
    ctx, refused = situation(numero)
    if refused:
        return refused
    affilie, campaign, consolidation = ctx
    draft = draft_copy(numero)
    errors: dict[str, str] = {}
    if request.method == "POST":
        before = draft.get("modalite") if "token" in draft else None
        modalite = request.form.get("modalite", "")
        compte_id = request.form.get("compte", "")
        garanties = request.form.get("garanties") == "1"
        if modalite not in lifecycle.MODALITES:
            errors["modalite"] = _("Veuillez choisir la modalité de paiement.")
        if not any(str(c.id) == compte_id for c in affilie.comptes):
            errors["compte"] = _("Veuillez choisir le compte bancaire à utiliser.")
        if modalite == lifecycle.ACOMPTES and not garanties:
            errors["garanties"] = _(
                "Pour continuer, vous devez accepter de déposer les garanties suffisantes "
                "auprès de votre perception dans un délai de 30 jours."
            )
        draft.update(modalite=modalite, compte=compte_id, garanties=garanties)
        if not errors:
            # A new token: a Validation shown before this answer can no longer confirm.
            draft["token"] = secrets.token_urlsafe(24)
            if modalite != before:
                # The conditions are those of the modalité: another one, read them again.
                # The same one (Modifier from Validation, then Suivant): still accepted.
                draft["cgu"] = False
            draft.setdefault("cgu", False)
            # Validation offers to change the affilié only when there was a choice.
            draft["choix_affilie"] = len(current_user.affilies) > 1
            draft.setdefault("n", DEFAULT_ECHEANCES)
            draft.setdefault("avance", "")
            session[DRAFT] = draft
            return redirect(url_for(".simulation", numero=numero))
    return render_template(
        "parametrage.html",
        affilie=affilie,
        campaign=campaign,
        consolidation=consolidation,
        draft=draft,
        errors=errors,
        mask_rib=mask_rib,
    ), (422 if errors else 200)


@bp.post("/demande/annuler")
@affiliate_only
def annuler():
    """Annuler at any step: forget the draft, create nothing, go home."""
    session.pop(DRAFT, None)
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
    ctx, draft, elsewhere = move_situation(numero)
    if elsewhere:
        return elsewhere
    affilie, campaign, consolidation = ctx
    if partial_request():
        return move_panel(numero, affilie, campaign, consolidation, draft)
    sim, errors, typed = read_move(affilie, campaign, consolidation, draft)
    status = 422 if errors else 200
    if sim is not None and request.args and request.args.keys() - {"n", "avance", "detail"}:
        # The no-JS form's buttons and fields: its result at its own short address.
        return redirect(move_url(numero, typed) + "#simulation-panel", code=303)
    return simulation_page(affilie, campaign, consolidation, draft, sim, errors, typed, status)


@bp.post("/demande/<numero>/simulation")
@affiliate_only
def simuler(numero: str):
    """Valider: the simulation's values and the conditions, checked again and kept.

    An older form's Simuler, − / + posted here are answered as the read they are.
    """
    ctx, draft, elsewhere = simulation_situation(numero)
    if elsewhere:
        return elsewhere
    affilie, campaign, consolidation = ctx
    action = request.form.get("action", "simuler")
    sim, errors, typed = simulate_draft(affilie, campaign, consolidation, draft, request.form)
    if action != "valider":
        if partial_request():
            rows_url = rows_url_of(numero, draft, sim, typed)
            panel = render_panel(
                affilie, campaign, consolidation, draft, sim, errors, typed, rows_url
            )
            return panel, (422 if errors else 200)
        if errors:
            return simulation_page(affilie, campaign, consolidation, draft, sim, errors, typed, 422)
        if draft["modalite"] != lifecycle.ACOMPTES:
            return redirect(url_for(".simulation", numero=numero) + "#simulation-panel")
        return redirect(move_url(numero, typed) + "#simulation-panel")
    if sim is not None and draft["modalite"] == lifecycle.ACOMPTES:
        draft.update(avance=typed["avance"], n=typed["n"])
    if request.form.get("cgu") == "1":
        draft["cgu"] = True
        draft["cgu_at"] = now().isoformat()
    else:
        # The box is in the form: unticked after Accepter is a refusal, not a consent.
        draft["cgu"] = False
        errors["cgu"] = _("Veuillez lire et accepter les conditions générales d'utilisation.")
    session[DRAFT] = draft
    if not errors:
        if partial_request():
            return confirmation_dialog(affilie, draft, sim)
        return redirect(url_for(".confirmation", numero=numero))
    if partial_request():
        # The errors belong next to the checkbox and the fields: reload the page part.
        response = make_response(render_template("partials/_validation_errors.html", errors=errors))
        response.headers["HX-Retarget"] = "#validation-erreurs"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return simulation_page(affilie, campaign, consolidation, draft, sim, errors, typed, 422)


@bp.get("/demande/<numero>/simulation/echeances")
@affiliate_only
def echeances(numero: str):
    """The Détail des échéances rows of one simulation (n, avance), when the user opens it."""
    ctx, draft, elsewhere = move_situation(numero)
    if elsewhere:
        return elsewhere
    if draft["modalite"] != lifecycle.ACOMPTES:
        abort(404)
    affilie, campaign, consolidation = ctx
    # The count is read as the form's number field is, with the same limits.
    n, n_error = read_echeances(
        {"nombre_echeances": request.args.get("n", "")},
        int(draft.get("n", DEFAULT_ECHEANCES)),
        campaign.max_echeances,
    )
    sim, _errors, _typed = simulate_plan(
        affilie,
        campaign,
        consolidation,
        n=n,
        n_error=n_error,
        avance_text=request.args.get("avance", "")[:64],
    )
    rows = render_template("partials/_echeances_rows.html", echeances=schedule_of(sim), sim=sim)
    return rows, (200 if sim else 422)


@bp.get("/demande/<numero>/simulation/echeancier.csv", defaults={"fmt": "csv"})
@bp.get("/demande/<numero>/simulation/echeancier.ics", defaults={"fmt": "ics"})
@affiliate_only
def echeancier(numero: str, fmt: str):
    """The échéancier shown (``?n=…&avance=…``) to keep: CSV or an .ics calendar."""
    if fmt not in ("csv", "ics"):
        abort(404)
    ctx, draft, elsewhere = move_situation(numero)
    if elsewhere:
        return elsewhere
    if draft["modalite"] != lifecycle.ACOMPTES:
        abort(404)
    affilie, campaign, consolidation = ctx
    sim, errors, _typed = read_move(affilie, campaign, consolidation, draft)
    if sim is None:
        return " ".join(errors.values()), 422, {"Content-Type": "text/plain; charset=utf-8"}
    rows = [echeancier_files.Row(e.rang, e.date, e.montant) for e in sim.echeances]
    plan = EcheancierFile(
        affilie.numero,
        affilie.raison_sociale,
        sim.nombre_echeances,
        f"{affilie.numero}-{sim.nombre_echeances}",
    )
    return echeancier_file(fmt, rows, plan, indicative=True)


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
    if fmt not in ("csv", "ics"):
        abort(404)
    demande = own_demande(reference)
    if demande.modalite != lifecycle.ACOMPTES:
        abort(404)
    schedule = schedules.request_schedule(demande)
    rows = schedule.file_rows
    status = demande.effective_status(now().date())
    plan = EcheancierFile(
        demande.numero_affiliation,
        demande.raison_sociale,
        demande.nombre_echeances,
        demande.reference,
        demande=f"{demande.reference} — {labels.status_label(status)}",
    )
    return echeancier_file(fmt, rows, plan, indicative=schedule.indicative)


@bp.route("/demande/<numero>/conditions", methods=["GET", "POST"])
@affiliate_only
def conditions(numero: str):
    """Conditions générales as a page (the dialog's fallback without JavaScript)."""
    own_affilie(numero)
    draft = ready_draft(numero)
    if draft is None:
        return redirect(url_for(".parametrage", numero=numero))
    if request.method == "POST":
        if request.form.get("decision") == "accepter":
            draft["cgu"] = True
            draft["cgu_at"] = now().isoformat()
            session[DRAFT] = draft
        return redirect(url_for(".simulation", numero=numero))
    return render_template("conditions.html", numero=numero, modalite=draft["modalite"])


# ---------------------------------------------------------------- validation


def _notice_email():
    """The address given at Validation for this request's notices: (address or None,
    error message or None). Empty: the account's own address."""
    typed = request.form.get("email", "").strip()[:254]
    if not typed:
        return None, None
    try:
        return normalize_email(typed), None
    except InvalidEmail:
        return None, _("Saisissez une adresse électronique valide, par exemple nom@domaine.ma.")


@bp.get("/demande/<numero>/validation")
@affiliate_only
def confirmation(numero: str):
    """Validation — Est-ce que vous confirmez vos choix ? (page without JavaScript)."""
    ctx, refused = situation(numero)
    if refused:
        return refused
    draft = ready_draft(numero)
    if draft is None or not draft.get("cgu"):
        return redirect(url_for(".simulation", numero=numero))
    affilie, campaign, consolidation = ctx
    sim, errors, _typed = simulate_draft(affilie, campaign, consolidation, draft)
    if errors:
        return redirect(url_for(".simulation", numero=numero))
    return render_template("confirmation.html", dialog=False, **check_answers(affilie, draft, sim))


@bp.post("/demande/<numero>/confirmer")
@affiliate_only
def confirmer(numero: str):
    """Confirmer: create the request from the server's simulation, exactly once."""
    token = request.form.get("token", "")
    if (existing := _confirmed_with(token, numero)) is not None:
        return _after_confirmation(existing)
    ctx, refused = situation(numero)
    if refused:
        # A double click: the other submission of this screen may have committed between
        # the look-up above and the check of the affilié. Show its result, not a refusal.
        if (existing := _confirmed_with(token, numero)) is not None:
            session.pop("_flashes", None)
            return _after_confirmation(existing)
        return refused
    draft = ready_draft(numero)
    if draft is None or not draft.get("cgu") or not token or token != draft.get("token"):
        flash(
            _("Cette confirmation n'est plus valable : veuillez reprendre votre simulation."),
            "error",
        )
        return redirect(url_for(".simulation", numero=numero))
    affilie, campaign, consolidation = ctx
    sim, errors, _typed = simulate_draft(affilie, campaign, consolidation, draft)
    compte = compte_of(affilie, draft)
    if errors or compte is None:
        return redirect(url_for(".simulation", numero=numero))
    email, refused_email = _notice_email()
    if refused_email:
        answers = check_answers(affilie, draft, sim)
        answers.update(email_saisi=request.form["email"][:254], errors={"email": refused_email})
        return render_template("confirmation.html", dialog=False, **answers), 422
    try:
        demande = demandes.confirm(
            user=current_user._get_current_object(),
            affilie=affilie,
            campaign=campaign,
            compte=compte,
            consolidation=consolidation,
            sim=sim,
            token=token,
            conditions_accepted_at=datetime.fromisoformat(draft["cgu_at"]),
            email=email,
            langue=str(get_locale() or "fr"),
        )
    except demandes.AlreadyInProgress:
        flash(_("Une demande de remise est déjà en cours pour cet affilié."), "error")
        return redirect(url_for(".home"))
    return _after_confirmation(demande)


def _confirmed_with(token: str, numero: str) -> Demande | None:
    """The request this confirmation screen (its token) already created, if any."""
    if (demande := demandes.confirmed_with(token, numero)) is not None:
        own_affilie(numero)
    return demande


def _after_confirmation(demande: Demande):
    session.pop(DRAFT, None)
    target = url_for(".recapitulatif", reference=demande.reference, confirmee=1)
    if partial_request():
        return browser_redirect(target)
    return redirect(target, code=303)
