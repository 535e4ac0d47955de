"""The affiliate's journey, in the guide's order.

Home → Choisir un affilié → Paramétrage de la remise → Simulation → Validation →
accusé de réception → récapitulatif. Every step is a real form with post/redirect/get;
htmx only re-renders the parts that change (the affiliés table, the simulation panel)
and turns the confirmation page into a dialog.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
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
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from blueprints.simulation_form import (
    AVANCE_MESSAGES,
    DEFAULT_ECHEANCES,
    read_echeances,
    schedule_of,
    simulate_plan,
)
from common import echeancier_files, labels
from common.clock import now
from db.models import Affilie, Demande, user_affilies
from domain import lifecycle
from domain.identifiers import InvalidEmail, mask_email, mask_rib, normalize_email
from domain.simulation import next_debit_date
from extensions import db
from services import backoffice, caches, demandes, queries, schedules
from services.pagination import Page, paginate_list
from web.build import build_version
from web.htmx import browser_redirect, partial_request

bp = Blueprint("demande", __name__)

PAGE_SIZES = (10, 25, 50)
DRAFT = "brouillon"


def affiliate_only(view):
    """Logged-in affiliate users only: agents work from the back office."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if current_user.is_agent:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def own_affilie(numero: str, *, comptes: bool = False) -> Affilie:
    """An affilié linked to the current account, or 404 (never reveal other accounts').

    One indexed lookup: a group account has dozens of affiliés, and every slider move
    checks this. ``comptes``: its bank accounts come in the same statement (the steps
    that show or use the account chosen).
    """
    query = (
        select(Affilie)
        .join(user_affilies, user_affilies.c.affilie_id == Affilie.id)
        .where(user_affilies.c.user_id == current_user.id, Affilie.numero == numero)
    )
    if comptes:
        # A joined collection: every row must be read (one_or_none), not just the first.
        query = query.options(joinedload(Affilie.comptes))
    affilie = db.session.scalars(query).unique().one_or_none()
    if affilie is None:
        abort(404)
    return affilie


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
    demande = _own_demande(reference)
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


def _own_demande(reference: str) -> Demande:
    # Our references are short and printable ASCII; PostgreSQL would refuse a NUL (a 500).
    if not (reference.isascii() and reference.isprintable()) or len(reference) > 40:
        abort(404)
    demande = db.session.scalars(select(Demande).where(Demande.reference == reference)).first()
    if demande is None or current_user.is_agent:
        abort(404)
    if demande.affilie_id not in {a.id for a in current_user.affilies}:
        abort(404)
    return demande


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


def _refusal_message(refusal: demandes.Refusal) -> str:
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


def _context(numero: str):
    """The affilié, the campaign and the consolidated créance, or a refusal redirect."""
    affilie = own_affilie(numero, comptes=True)
    campaign = queries.active_campaign()
    refusal = demandes.refusal_for(affilie, campaign)
    if refusal is None:
        consolidation = demandes.current_consolidation(affilie, campaign)
        refusal = demandes.refusal_for_creance(consolidation)
    if refusal is not None:
        return None, _refused(refusal)
    return (affilie, campaign, consolidation), None


def _refused(refusal: demandes.Refusal):
    """Back where the affilié was chosen, with the reason."""
    message = (
        _("Aucune créance éligible à la remise pour cet affilié.")
        if refusal.code == "aucune_creance"
        else _refusal_message(refusal)
    )
    flash(message, "error")
    session.pop(DRAFT, None)
    target = url_for(".home") if len(current_user.affilies) == 1 else url_for(".nouvelle")
    return redirect(target)


def _draft(numero: str) -> dict:
    """A copy of the session's draft for ``numero``: a form refused with errors changes
    the copy it shows back, never the draft (the permanent session is saved on every
    request, in-place changes included)."""
    draft = session.get(DRAFT)
    if not draft or draft.get("numero") != numero:
        return {"numero": numero}
    return dict(draft)


@bp.route("/demande/<numero>/parametrage", methods=["GET", "POST"])
@affiliate_only
def parametrage(numero: str):
    """Paramétrage de la remise: créance globale, modalité de paiement, compte bancaire."""
    ctx, refused = _context(numero)
    if refused:
        return refused
    affilie, campaign, consolidation = ctx
    draft = _draft(numero)
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


def _ready_draft(numero: str):
    """The draft must have passed the paramétrage step."""
    draft = session.get(DRAFT)
    if not draft or draft.get("numero") != numero or "token" not in draft:
        return None
    return draft


def _previous(draft: dict, maximum: int) -> int:
    """The count of the draft's last simulation, within the campaign's bounds."""
    return min(max(int(draft.get("n", DEFAULT_ECHEANCES)), 1), maximum)


def _count_fields(source) -> dict:
    """The count's fields as ``read_echeances`` reads them: the number field is ``n``."""
    return {
        "nombre_echeances": source.get("n", source.get("nombre_echeances", ""))[:8],
        "curseur": source.get("curseur", "")[:8],
        "action": source.get("action", "")[:8],
    }


def _simulate(affilie, campaign, consolidation, draft: dict, form=None, previous=None):
    """Run the server's simulation from the draft, or from submitted values (``form``).

    Returns (simulation or None, errors, typed values to show back).
    """
    errors: dict[str, str] = {}
    if draft["modalite"] == lifecycle.INTEGRAL:
        sim = queries.simulation_for(affilie, campaign, consolidation=consolidation)
        return sim, errors, {}
    n, n_error, avance_text, fields = _count_and_avance(campaign, draft, form, previous)
    sim, errors, typed = simulate_plan(
        affilie, campaign, consolidation, n=n, n_error=n_error, avance_text=avance_text
    )
    if n_error and form is not None:
        # Show the refused count back as typed, beside its message.
        typed["n_saisi"] = fields["nombre_echeances"]
    return sim, errors, typed


def _compte_of(affilie, draft: dict):
    """The bank account the draft chose, among the affilié's (None if it is gone)."""
    return next((c for c in affilie.comptes if str(c.id) == draft.get("compte")), None)


def _count_and_avance(campaign, draft: dict, form=None, previous=None):
    """(count, its error, avance as typed, the count's fields): what an instalments
    simulation is run with, read from the draft or from submitted values."""
    maximum = campaign.max_echeances
    avance_text = (form.get("avance", "") if form is not None else draft.get("avance", ""))[:64]
    if form is None:
        return _previous(draft, maximum), None, avance_text, None
    fields = _count_fields(form)
    before = previous if previous is not None else int(draft.get("n", DEFAULT_ECHEANCES))
    n, n_error = read_echeances(fields, before, maximum)
    return n, n_error, avance_text, fields


def _simulation_page(affilie, campaign, consolidation, draft, sim, errors, typed, status=200):
    compte = _compte_of(affilie, draft)
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


def _simulation_context(numero: str):
    """(affilié, campaign, consolidation), the draft, or where to send the user instead:
    back with the reason when the affilié may not file now, to Paramétrage without a draft."""
    ctx, refused = _context(numero)
    if refused:
        return None, None, refused
    draft = _ready_draft(numero)
    if draft is None:
        return None, None, redirect(url_for(".parametrage", numero=numero))
    return ctx, draft, None


def _move_context(numero: str):
    """What a move of the slider reads, as ``_simulation_context`` answers it, from the
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
        return None, None, _refused(refusal)
    draft = _ready_draft(numero)
    if draft is None:
        return None, None, redirect(url_for(".parametrage", numero=numero))
    return (affilie, campaign, consolidation), draft, None


# A move's address holds two short values; anything much longer was not sent by our form.
MAX_QUERY_BYTES = 512
MOVE_FIELDS = ("n", "avance", "curseur", "action", "precedent")


def _move_form(campaign, draft):
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


def _read_move(affilie, campaign, consolidation, draft):
    """The simulation the URL asks for (``?n=…&avance=…``), or the draft's without one."""
    form, previous = _move_form(campaign, draft)
    sim, errors, typed = _simulate(affilie, campaign, consolidation, draft, form, previous)
    if form is not None and len(request.query_string) > MAX_QUERY_BYTES and not errors:
        sim, errors = None, {"avance": str(AVANCE_MESSAGES["invalid"])}
    return sim, errors, typed


def _move_url(numero: str, typed: dict) -> str:
    """The address of a simulation: bookmarked, reloaded, sent back by Back."""
    return url_for(".simulation", numero=numero, n=typed["n"], avance=typed["avance"] or None)


def _panel(affilie, campaign, consolidation, draft, sim, errors, typed, rows_url):
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


def _panel_etag(affilie, draft, typed) -> str:
    """What the panel is made of: the affilié's versions (its row and accounts, its
    lines), the campaign's version, the count, the avance as typed, the language, the
    user and the first debit day its dates count from, plus the code that renders it.
    Equal tags, equal bytes: the panel holds no CSRF token and no nonce (the CSP has
    none), and of the request only its address, whose numéro the process's copy is kept
    under beside the tag (``_kept_key``)."""
    parts = (
        build_version(),
        current_user.id,
        affilie.jeton,
        affilie.lignes_jeton,
        getattr(current_user, "campagnes_jeton", None),
        draft["modalite"],
        typed.get("n"),
        typed.get("avance"),
        str(get_locale()),
        # The indicative dates count from today: a new month, new dates.
        next_debit_date(now().date()),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _seen(etag: str) -> str | None:
    """The tag of the client's copy of this panel, if it has one: ours as we sent it, or
    as Flask-Compress marked it with one of its encodings (``"tag:br"``). What is answered
    is the tag built here, never the text the client sent."""
    sent = set(request.if_none_match)  # the strong tags; a weak one never matches
    for tag in (etag, *(f"{etag}:{encoding}" for encoding in _encodings())):
        if tag in sent:
            return tag
    return None


def _encodings() -> tuple[str, ...]:
    """The encodings Flask-Compress may add to an ETag (COMPRESS_ALGORITHM)."""
    algorithms = current_app.config["COMPRESS_ALGORITHM"]
    if isinstance(algorithms, str):
        algorithms = algorithms.split(",")
    return tuple(a.strip() for a in algorithms)


def _private_revalidated(response):
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _not_modified(tag: str):
    response = make_response("", 304)
    response.set_etag(tag)
    return _private_revalidated(response)


def _panel_response(body, status: int, etag: str | None, replace_url: str | None):
    """The panel's answer, the same whether its body was just rendered or kept."""
    response = make_response(body, status)
    if etag is not None:
        response.set_etag(etag)
        _private_revalidated(response)
        # The address bar follows the panel, replaced rather than pushed: a drag of the
        # slider is dozens of moves, and Back should leave the page, not replay them.
        response.headers["HX-Replace-Url"] = replace_url
    return response


def _asked_tag(affilie, campaign, draft) -> str | None:
    """The ETag of the panel the URL asks for, read before simulating; None when the values
    are refused (a 422 is never kept) or the modalité has no slider."""
    if draft["modalite"] != lifecycle.ACOMPTES:
        return None
    form, previous = _move_form(campaign, draft)
    if form is not None and len(request.query_string) > MAX_QUERY_BYTES:
        return None
    n, n_error, avance_text, _fields = _count_and_avance(campaign, draft, form, previous)
    if n_error:
        return None
    return _panel_etag(affilie, draft, {"n": n, "avance": avance_text})


def _kept_key(affilie, etag: str) -> tuple | None:
    """Where this process keeps the panel of ``etag``: none when a version was not read
    (the tag would not pin the data) or templates reload while the server runs."""
    versions = (affilie.jeton, affilie.lignes_jeton, getattr(current_user, "campagnes_jeton", None))
    if None in versions or current_app.jinja_env.auto_reload:
        return None
    # The database: a process may serve several (the tests do, with equal versions).
    return (db.engine.url, request.script_root, affilie.numero, etag)


def _move_panel(numero: str, affilie, campaign, consolidation, draft):
    """A move's panel for htmx: 304 when the browser holds it, the bytes this process kept
    under its ETag when it rendered it before, else simulated and rendered (and kept).

    The ETag names everything the panel is made of (``_panel_etag``): the same tag is the
    same bytes, and any write the panel shows changes the tag, so a kept panel is never
    stale. Everything else a move checks (session, link, campaign dates, draft) ran before.
    """
    asked = _asked_tag(affilie, campaign, draft)
    key = _kept_key(affilie, asked) if asked is not None else None
    if key is not None and (kept := caches.panels.get(key)) is not None:
        if seen := _seen(kept.etag):
            return _not_modified(seen)
        g.kept_panel = repr(key)  # its compressed body is kept too (caches.compressed_key)
        return _panel_response(kept.body, 200, kept.etag, kept.replace_url)
    sim, errors, typed = _read_move(affilie, campaign, consolidation, draft)
    etag = replace_url = None
    if sim is not None and draft["modalite"] == lifecycle.ACOMPTES:
        etag = _panel_etag(affilie, draft, typed)
        if seen := _seen(etag):
            return _not_modified(seen)
        replace_url = _move_url(numero, typed)
    rows_url = _rows_url(numero, draft, sim, typed)
    body = _panel(affilie, campaign, consolidation, draft, sim, errors, typed, rows_url)
    status = 422 if errors else 200
    if key is not None and status == 200 and etag == asked:
        body = body.encode()
        caches.panels.put(key, caches.RenderedPanel(etag, body, replace_url))
        g.kept_panel = repr(key)
    return _panel_response(body, status, etag, replace_url)


@bp.get("/demande/<numero>/simulation")
@affiliate_only
def simulation(numero: str):
    """Simulation de la demande de remise: the page, or the panel for htmx.

    A move of the slider, − / + or Simuler is this read, its parameters in the URL
    (``?n=…&avance=…``): with or without JavaScript, bookmarked, reloaded, Back. It writes
    nothing (no session, no CSRF): *Valider* posts the values to keep.
    """
    ctx, draft, elsewhere = _move_context(numero)
    if elsewhere:
        return elsewhere
    affilie, campaign, consolidation = ctx
    if partial_request():
        return _move_panel(numero, affilie, campaign, consolidation, draft)
    sim, errors, typed = _read_move(affilie, campaign, consolidation, draft)
    status = 422 if errors else 200
    if sim is not None and request.args and request.args.keys() - {"n", "avance", "detail"}:
        # The no-JS form's buttons and fields: its result at its own short address.
        return redirect(_move_url(numero, typed) + "#simulation-panel", code=303)
    return _simulation_page(affilie, campaign, consolidation, draft, sim, errors, typed, status)


@bp.post("/demande/<numero>/simulation")
@affiliate_only
def simuler(numero: str):
    """Valider: the simulation's values and the conditions, checked again and kept.

    An older form's Simuler, − / + posted here are answered as the read they are.
    """
    ctx, draft, elsewhere = _simulation_context(numero)
    if elsewhere:
        return elsewhere
    affilie, campaign, consolidation = ctx
    action = request.form.get("action", "simuler")
    sim, errors, typed = _simulate(affilie, campaign, consolidation, draft, request.form)
    if action != "valider":
        if partial_request():
            rows_url = _rows_url(numero, draft, sim, typed)
            panel = _panel(affilie, campaign, consolidation, draft, sim, errors, typed, rows_url)
            return panel, (422 if errors else 200)
        if errors:
            return _simulation_page(
                affilie, campaign, consolidation, draft, sim, errors, typed, 422
            )
        if draft["modalite"] != lifecycle.ACOMPTES:
            return redirect(url_for(".simulation", numero=numero) + "#simulation-panel")
        return redirect(_move_url(numero, typed) + "#simulation-panel")
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
            return _confirmation_dialog(affilie, draft, sim)
        return redirect(url_for(".confirmation", numero=numero))
    if partial_request():
        # The errors belong next to the checkbox and the fields: reload the page part.
        response = make_response(render_template("partials/_validation_errors.html", errors=errors))
        response.headers["HX-Retarget"] = "#validation-erreurs"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return _simulation_page(affilie, campaign, consolidation, draft, sim, errors, typed, 422)


def _rows_url(numero: str, draft: dict, sim, typed: dict) -> str | None:
    """Where the panel's Détail des échéances fetches its rows: the schedule it shows."""
    if sim is None or draft["modalite"] != lifecycle.ACOMPTES:
        return None
    return url_for(".echeances", numero=numero, n=typed["n"], avance=typed["avance"] or None)


@bp.get("/demande/<numero>/simulation/echeances")
@affiliate_only
def echeances(numero: str):
    """The Détail des échéances rows of one simulation (n, avance), when the user opens it."""
    ctx, draft, elsewhere = _move_context(numero)
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
    ctx, draft, elsewhere = _move_context(numero)
    if elsewhere:
        return elsewhere
    if draft["modalite"] != lifecycle.ACOMPTES:
        abort(404)
    affilie, campaign, consolidation = ctx
    sim, errors, _typed = _read_move(affilie, campaign, consolidation, draft)
    if sim is None:
        return " ".join(errors.values()), 422, {"Content-Type": "text/plain; charset=utf-8"}
    rows = [echeancier_files.Row(e.rang, e.date, e.montant) for e in sim.echeances]
    plan = EcheancierFile(
        affilie.numero,
        affilie.raison_sociale,
        sim.nombre_echeances,
        f"{affilie.numero}-{sim.nombre_echeances}",
    )
    return _echeancier_file(fmt, rows, plan, indicative=True)


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
    demande = _own_demande(reference)
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
    return _echeancier_file(fmt, rows, plan, indicative=schedule.indicative)


@dataclass(frozen=True)
class EcheancierFile:
    """Whose plan a file holds: the affilié, the count, the events' UID prefix, and for a
    request its reference and status."""

    numero: str
    raison_sociale: str
    n: int
    uid_prefix: str
    demande: str = ""


def _echeancier_file(fmt: str, rows, plan: EcheancierFile, *, indicative: bool):
    affilie = f"{plan.numero} {plan.raison_sociale}"
    if fmt == "csv":
        file_labels = {
            "rang": _("Échéance"),
            "date": _("Date indicative") if indicative else _("Date de prélèvement"),
            "montant": _("Montant"),
            "avance": _("Avance"),
            "total": _("Montant à payer"),
            "affilie": _("Affilié"),
        }
        if plan.demande:
            file_labels.update(
                statut=_("Statut"),
                statuts={code: str(label) for code, label in labels.ECHEANCE.items()},
                demande=_("Demande"),
            )
        body = echeancier_files.echeancier_csv(rows, file_labels, affilie, plan.demande)
        mimetype, name = "text/csv; charset=utf-8", f"echeancier-{plan.numero}.csv"
    else:
        body = echeancier_files.plan_ics(
            rows,
            uid_prefix=plan.uid_prefix,
            n=plan.n,
            description=affilie,
            indicative=indicative,
            stamp=now(),
        )
        mimetype, name = "text/calendar; charset=utf-8", f"echeancier-{plan.numero}.ics"
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/demande/<numero>/conditions", methods=["GET", "POST"])
@affiliate_only
def conditions(numero: str):
    """Conditions générales as a page (the dialog's fallback without JavaScript)."""
    own_affilie(numero)
    draft = _ready_draft(numero)
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


def _check_answers(affilie, draft, sim) -> dict:
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
        "compte": _compte_of(affilie, draft),
        "mask_rib": mask_rib,
        # A full payment is debited on the 10th of the month after the confirmation.
        "debit_date": None if acomptes else next_debit_date(now().date()),
        "modifier_affilie": url_for(".nouvelle", modifier=1)
        if draft.get("choix_affilie")
        else None,
        "modifier_parametrage": url_for(".parametrage", numero=numero),
        "modifier_simulation": _move_url(
            numero, {"n": sim.nombre_echeances, "avance": draft.get("avance", "")}
        )
        if acomptes
        else None,
        # Where the notices go (masked), and the other address the affiliate may give.
        "compte_email": mask_email(current_user.email) if current_user.email else None,
        "email_saisi": "",
        "errors": {},
    }


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


def _confirmation_dialog(affilie, draft, sim):
    return render_template(
        "partials/_confirmation.html", dialog=True, **_check_answers(affilie, draft, sim)
    )


@bp.get("/demande/<numero>/validation")
@affiliate_only
def confirmation(numero: str):
    """Validation — Est-ce que vous confirmez vos choix ? (page without JavaScript)."""
    ctx, refused = _context(numero)
    if refused:
        return refused
    draft = _ready_draft(numero)
    if draft is None or not draft.get("cgu"):
        return redirect(url_for(".simulation", numero=numero))
    affilie, campaign, consolidation = ctx
    sim, errors, _typed = _simulate(affilie, campaign, consolidation, draft)
    if errors:
        return redirect(url_for(".simulation", numero=numero))
    return render_template("confirmation.html", dialog=False, **_check_answers(affilie, draft, sim))


@bp.post("/demande/<numero>/confirmer")
@affiliate_only
def confirmer(numero: str):
    """Confirmer: create the request from the server's simulation, exactly once."""
    token = request.form.get("token", "")
    if (existing := _confirmed_with(token, numero)) is not None:
        return _after_confirmation(existing)
    ctx, refused = _context(numero)
    if refused:
        # A double click: the other submission of this screen may have committed between
        # the look-up above and the check of the affilié. Show its result, not a refusal.
        if (existing := _confirmed_with(token, numero)) is not None:
            session.pop("_flashes", None)
            return _after_confirmation(existing)
        return refused
    draft = _ready_draft(numero)
    if draft is None or not draft.get("cgu") or not token or token != draft.get("token"):
        flash(
            _("Cette confirmation n'est plus valable : veuillez reprendre votre simulation."),
            "error",
        )
        return redirect(url_for(".simulation", numero=numero))
    affilie, campaign, consolidation = ctx
    sim, errors, _typed = _simulate(affilie, campaign, consolidation, draft)
    compte = _compte_of(affilie, draft)
    if errors or compte is None:
        return redirect(url_for(".simulation", numero=numero))
    email, refused_email = _notice_email()
    if refused_email:
        answers = _check_answers(affilie, draft, sim)
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
