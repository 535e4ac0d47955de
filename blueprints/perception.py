"""The perception back office: an agent works on its own perception's requests.

Demandes (list, filters, days left) → détail (snapshot, schedules, guarantees, audit trail)
→ garanties (→ validée) → résultats des prélèvements (→ soldée / annulée) and the bank's
return file; and the simulation preview of any affilié of the perception, which creates
nothing. Every page works as plain links and forms; htmx only re-renders the parts that
change. Another perception's requests and affiliés do not exist here (404).
"""

from __future__ import annotations

import re
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from blueprints.simulation_form import (
    DEFAULT_ECHEANCES,
    read_echeances,
    schedule_of,
    simulate_plan,
)
from common import labels
from common.clock import now
from common.formatting import day
from db.models import Affilie, Demande
from domain import lifecycle
from domain.identifiers import mask_email, mask_rib
from extensions import db, login_manager
from services import backoffice, queries, return_file, schedules
from services.demandes import consolidation_of, current_consolidation
from services.notices import outbox
from web.htmx import browser_redirect, partial_request

bp = Blueprint("perception", __name__, url_prefix="/perception")

PAGE_SIZE = 20
MAX_RETURN_BYTES = 2 * 1024 * 1024
# The most lines an upload records: a file every line of which settles or cancels a
# request is recorded within 5 s (bench/bank_files.py); a longer one is the operators'
# (flask import-retour). A web worker never runs longer than that for a file.
MAX_RETURN_LINES = 5_000

_DMY = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", re.ASCII)


@bp.before_request
def agents_only():
    """Agents with a perception only; affiliate users are refused, visitors sent to login."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_agent or current_user.perception_id is None:
        abort(403)
    return None


def _agent():
    return current_user._get_current_object()


def _demande_or_404(reference: str) -> Demande:
    """A request of the agent's perception; any other is as if it did not exist."""
    demande = db.session.scalars(
        select(Demande).where(
            Demande.reference == reference, Demande.perception_id == current_user.perception_id
        )
    ).first()
    if demande is None:
        abort(404)
    return demande


def _affilie_or_404(numero: str) -> Affilie:
    affilie = queries.affilie_by_numero(numero)
    if affilie is None or affilie.perception_id != current_user.perception_id:
        abort(404)
    return affilie


def parse_day(text: str) -> date | None:
    """A date typed or picked: 2023-11-20 (date field) or 20/11/2023. None if invalid."""
    text = text.strip()
    try:
        match = _DMY.fullmatch(text)
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else default


def _paging() -> dict:
    """A page counted from the end (?fin=1 is the last) and where the count stops."""
    return {"from_end": _int_arg("fin", 0), "cap": current_app.config["LIST_COUNT_CAP"]}


# ---------------------------------------------------------------- demandes


@bp.get("/")
def index():
    """The back office starts on the requests list."""
    return redirect(url_for(".demandes"))


def _read_filters(args) -> tuple[dict, dict, dict]:
    """The list's filters as typed (to show back), as parsed, and their errors."""
    typed = {
        "statut": args.get("statut", "").strip()[:30],
        "q": args.get("q", "").strip()[:60],
        "du": args.get("du", "").strip()[:20],
        "au": args.get("au", "").strip()[:20],
    }
    errors: dict[str, str] = {}
    parsed = {
        "statut": typed["statut"] if typed["statut"] in labels.STATUS else "",
        "q": typed["q"],
        "du": None,
        "au": None,
    }
    for name, message in (
        ("du", _("La date de début doit être une date réelle, par exemple 20/11/2023.")),
        ("au", _("La date de fin doit être une date réelle, par exemple 20/11/2023.")),
    ):
        if typed[name]:
            parsed[name] = parse_day(typed[name])
            if parsed[name] is None:
                errors[name] = message
    if parsed["du"] and parsed["au"] and parsed["au"] < parsed["du"]:
        errors["au"] = _("La date de fin doit être postérieure ou égale à la date de début.")
        parsed["au"] = None
    return typed, parsed, errors


@bp.get("/demandes")
def demandes():
    """Les demandes de la perception: status (as of today), search, dates, pages."""
    typed, parsed, errors = _read_filters(request.args)
    today = now().date()
    page = backoffice.search_demandes(
        current_user.perception_id,
        today=today,
        statut=parsed["statut"],
        q=parsed["q"],
        du=parsed["du"],
        au=parsed["au"],
        page=_int_arg("page", 1),
        size=PAGE_SIZE,
        **_paging(),
    )
    rows = [
        (
            d,
            d.effective_status(today),
            d.days_left(today),
            d.guarantee_deadline,
        )
        for d in page.rows
    ]
    context = {
        "table": page,
        "rows": rows,
        "filtres": typed,
        "errors": errors,
        "status_choices": labels.STATUS,
    }
    if partial_request():
        return render_template("partials/_perception_demandes_table.html", oob=True, **context)
    return render_template("perception/demandes.html", **context), (422 if errors else 200)


def _garantie_form(form) -> tuple[dict, dict, date | None]:
    typed = {
        "garantie_type": form.get("garantie_type", "").strip()[:40],
        "garantie_reference": form.get("garantie_reference", "").strip()[:200],
        "deposee_le": form.get("deposee_le", "").strip()[:20],
        "commentaire": form.get("commentaire", "").strip()[:2000],
    }
    errors: dict[str, str] = {}
    if typed["garantie_type"] not in labels.GARANTIE:
        errors["garantie_type"] = _("Veuillez choisir le type de garantie.")
    if not typed["garantie_reference"]:
        errors["garantie_reference"] = _("Veuillez saisir la référence de la garantie.")
    elif len(typed["garantie_reference"]) > 80:
        errors["garantie_reference"] = _(
            "La référence de la garantie ne peut pas dépasser 80 caractères."
        )
    deposee_le = parse_day(typed["deposee_le"]) if typed["deposee_le"] else None
    if not typed["deposee_le"]:
        errors["deposee_le"] = _("Veuillez saisir la date de dépôt des garanties.")
    elif deposee_le is None:
        errors["deposee_le"] = _(
            "La date de dépôt doit être une date réelle, par exemple 20/11/2023."
        )
    if len(typed["commentaire"]) > 1000:
        errors["commentaire"] = _("Le commentaire ne peut pas dépasser 1000 caractères.")
    return typed, errors, deposee_le


def _detail(demande: Demande, *, status: int = 200, **extra):
    today = now().date()
    effective = demande.effective_status(today)
    schedule = schedules.request_schedule(demande)
    context = {
        "demande": demande,
        "status": effective,
        "consolidation": consolidation_of(demande),
        "schedule": schedule.dated,
        "indicative": schedule.indicative,
        "definitive": [] if schedule.indicative else schedule.rows,
        "today": today,
        "deadline": demande.guarantee_deadline,
        "days_left": demande.days_left(today),
        "debit_date": schedule.first_debit,
        "can_validate": effective == lifecycle.EN_ATTENTE,
        "can_record": demande.status in backoffice.EN_PRELEVEMENT,
        "reintegration": backoffice.reintegration_of(demande),
        "garantie_types": labels.GARANTIE,
        "actions": labels.ACTION,
        "mask_rib": mask_rib,
        "typed": {},
        "errors": {},
        "refusal": None,
        "notices": outbox.notices_of(demande),
        "mask_email": mask_email,
    }
    context.update(extra)
    return render_template("perception/demande.html", **context), status


@bp.get("/demandes/<reference>")
def demande(reference: str):
    """Une demande: its snapshot, schedules, guarantees, reinstated amounts, audit trail."""
    return _detail(_demande_or_404(reference))


@bp.post("/demandes/<reference>/garanties")
def garanties(reference: str):
    """Enregistrer les garanties → validée, with the definitive schedule from the 10th."""
    demande = _demande_or_404(reference)
    typed, errors, deposee_le = _garantie_form(request.form)
    today = now().date()
    try:
        backoffice.check_can_validate(demande, today)
    except backoffice.Refused as exc:
        return _detail(demande, status=409, refusal=exc.message, typed=typed)
    if deposee_le is not None and "deposee_le" not in errors:
        if deposee_le > today:
            errors["deposee_le"] = _("La date de dépôt ne peut pas être dans le futur.")
        elif deposee_le < demande.confirmed_at.date():
            errors["deposee_le"] = _(
                "La date de dépôt ne peut pas précéder la date de la demande (%(date)s).",
                date=day(demande.confirmed_at),
            )
    if errors:
        return _detail(demande, status=422, typed=typed, errors=errors)
    try:
        backoffice.validate_with_guarantees(
            demande,
            actor=_agent(),
            type_garantie=typed["garantie_type"],
            type_label=labels.french(labels.GARANTIE[typed["garantie_type"]]),
            reference=typed["garantie_reference"],
            deposee_le=deposee_le,
            commentaire=typed["commentaire"],
        )
    except backoffice.Refused as exc:
        demande = _demande_or_404(reference)
        return _detail(demande, status=409, refusal=exc.message)
    flash(
        _(
            "Garanties enregistrées : la demande %(reference)s est validée. Premier "
            "prélèvement le %(date)s.",
            reference=demande.reference,
            date=day(schedules.definitive_echeances(demande)[0].date_prevue),
        ),
        "success",
    )
    return redirect(url_for(".demande", reference=reference) + "#echeancier", code=303)


@bp.post("/demandes/<reference>/echeances/<int:rang>")
def resultat(reference: str, rang: int):
    """Le résultat d'un prélèvement: payée, or rejetée (the request is then cancelled).

    A rejection cannot be undone: it is written only once confirmed (``confirme=1``).
    Before, the same POST answers what it will do — a dialog for htmx, a page without
    JavaScript — and writes nothing.
    """
    demande = _demande_or_404(reference)
    statut = request.form.get("statut", "")
    if statut == lifecycle.REJETEE and request.form.get("confirme") != "1":
        return _confirm_rejection(demande, rang)
    try:
        outcome = backoffice.record_result(demande, rang, statut, actor=_agent())
    except backoffice.Refused as exc:
        return _detail(_demande_or_404(reference), status=409, refusal=exc.message)
    label = _("l'avance") if rang == 0 else _("l'échéance n° %(rang)s", rang=rang)
    if statut == lifecycle.PAYEE:
        flash(_("Prélèvement de %(echeance)s enregistré : payé.", echeance=label), "success")
    else:
        flash(_("Prélèvement de %(echeance)s enregistré : rejeté.", echeance=label), "success")
    if outcome == lifecycle.SOLDEE:
        flash(_("Toutes les échéances sont payées : la demande est soldée."), "success")
    elif outcome == lifecycle.ANNULEE:
        flash(
            _(
                "La demande est annulée pour défaut de paiement : la remise et les majorations "
                "générées sont réintégrées à la créance de l'affilié."
            ),
            "error",
        )
    return redirect(url_for(".demande", reference=reference) + "#echeancier", code=303)


def _confirm_rejection(demande: Demande, rang: int):
    """Rejetée, asked again with its consequences: the request, the debit, the plan
    cancelled and the amounts reinstated."""
    try:
        preview = backoffice.rejection_preview(demande, rang)
    except backoffice.Refused as exc:
        if partial_request():
            flash(exc.message, "error")
            return browser_redirect(url_for(".demande", reference=demande.reference))
        return _detail(demande, status=409, refusal=exc.message)
    context = {"demande": demande, "rejet": preview}
    if partial_request():
        return render_template("partials/_rejet_confirmation.html", dialog=True, **context)
    return render_template("perception/rejet.html", dialog=False, **context)


@bp.post("/demandes/<reference>/avis/<int:notice_id>")
def renvoyer_avis(reference: str, notice_id: int):
    """Renvoyer un avis: queued again for the next sending, recorded in the history."""
    demande = _demande_or_404(reference)
    notice = outbox.resend(demande, notice_id, _agent())
    if notice is None:
        abort(404)
    flash(
        _(
            "L'avis « %(avis)s » sera renvoyé à %(adresse)s.",
            avis=labels.NOTICE_KIND[notice.kind],
            adresse=mask_email(notice.email),
        ),
        "success",
    )
    return redirect(url_for(".demande", reference=reference) + "#avis", code=303)


# ---------------------------------------------------------------- the bank's return file


@bp.route("/prelevements/retour", methods=["GET", "POST"])
def retour():
    """Le fichier retour de la banque: every result at once, or nothing if a line is bad."""
    errors: dict[str, str] = {}
    file_errors: list[str] = []
    if request.method == "POST":
        upload = request.files.get("fichier")
        data = upload.stream.read(MAX_RETURN_BYTES + 1) if upload and upload.filename else b""
        if not upload or not upload.filename:
            errors["fichier"] = _("Veuillez choisir le fichier retour de la banque (CSV).")
        elif len(data) > MAX_RETURN_BYTES:
            errors["fichier"] = _("Le fichier dépasse la taille maximale de 2 Mo.")
        else:
            try:
                summary = _import_return(data)
            except backoffice.Refused as exc:
                errors["fichier"] = exc.message
            except return_file.TooManyLines as exc:
                errors["fichier"] = exc.errors[0]
            except return_file.ReturnFileError as exc:
                errors["fichier"] = _(
                    "Le fichier contient des erreurs : aucun résultat n'a été enregistré."
                )
                file_errors = exc.errors
            else:
                flash(
                    _(
                        "Fichier retour enregistré : %(payees)s prélèvement(s) payé(s), "
                        "%(rejetees)s rejeté(s).",
                        payees=summary.payees,
                        rejetees=summary.rejetees,
                    ),
                    "success",
                )
                if summary.soldees:
                    flash(
                        _(
                            "Demande(s) soldée(s) : %(refs)s.",
                            refs=_listed(summary.references_soldees, summary.soldees),
                        ),
                        "success",
                    )
                if summary.annulees:
                    flash(
                        _(
                            "Demande(s) annulée(s) pour défaut de paiement, montants "
                            "réintégrés : %(refs)s.",
                            refs=_listed(summary.references_annulees, summary.annulees),
                        ),
                        "error",
                    )
                return redirect(url_for(".retour"), code=303)
    return render_template("perception/retour.html", errors=errors, file_errors=file_errors), (
        422 if errors else 200
    )


def _import_return(data: bytes) -> return_file.ReturnSummary:
    """The uploaded file through the same streaming import as the command line's."""
    with tempfile.NamedTemporaryFile(prefix="retour-", suffix=".csv") as file:
        file.write(data)
        file.flush()
        return return_file.import_return(
            Path(file.name),
            actor=_agent(),
            perception_id=current_user.perception_id,
            max_lines=MAX_RETURN_LINES,
        )


def _listed(references: tuple[str, ...], count: int) -> str:
    """The references a summary names, then how many others (a flash lives in the
    session's cookie: a day's file can settle thousands of requests)."""
    listed = ", ".join(references)
    if count > len(references):
        listed += " " + _("et %(nombre)s autre(s)", nombre=count - len(references))
    return listed


# ---------------------------------------------------------------- affiliés and simulation


@bp.get("/affilies")
def affilies():
    """Les affiliés de la perception, by number or name; an exact number opens it."""
    q = request.args.get("q", "").strip()[:60]
    # Rechercher (not the live search while typing) opens an exact number directly.
    opening = not partial_request() or request.args.get("ouvrir") == "1"
    if opening and re.fullmatch(r"[0-9]{7}", q, re.ASCII):
        found = queries.affilie_by_numero(q)
        if found is not None and found.perception_id == current_user.perception_id:
            target = url_for(".affilie", numero=q)
            return browser_redirect(target) if partial_request() else redirect(target)
    table = backoffice.search_affilies(
        current_user.perception_id, q, page=_int_arg("page", 1), size=PAGE_SIZE, **_paging()
    )
    if partial_request():
        return render_template("partials/_perception_affilies_table.html", table=table)
    return render_template("perception/affilies.html", table=table)


def _preview(affilie, campaign, consolidation, modalite: str, args):
    """The affiliate's simulation, from the form's own fields (no request, no draft).

    Returns (simulation or None, errors, typed values to show back).
    """
    errors: dict[str, str] = {}
    maximum = campaign.max_echeances
    previous = args.get("precedent", "")
    previous = int(previous) if previous.isascii() and previous.isdigit() else DEFAULT_ECHEANCES
    previous = min(max(previous, 1), maximum)
    if modalite == lifecycle.INTEGRAL:
        sim = queries.simulation_for(affilie, campaign, consolidation=consolidation)
        return sim, errors, {"n": previous, "avance": ""}
    if "nombre_echeances" in args or "curseur" in args:
        n, n_error = read_echeances(args, previous, maximum)
    else:
        n, n_error = previous, None
    return simulate_plan(
        affilie,
        campaign,
        consolidation,
        n=n,
        n_error=n_error,
        avance_text=args.get("avance", "")[:64],
    )


@bp.get("/affilies/<numero>")
def affilie(numero: str):
    """Un affilié: its créance, requests, reinstated amounts and a simulation preview.

    The simulation is a GET form: it changes nothing, so its state lives in the URL
    (bookmarkable, reloadable); htmx re-renders only the panel.
    """
    affilie = _affilie_or_404(numero)
    campaign = queries.active_campaign()
    modalite = request.args.get("modalite", lifecycle.ACOMPTES)
    modalite = modalite if modalite in lifecycle.MODALITES else lifecycle.ACOMPTES
    consolidation = current_consolidation(affilie, campaign) if campaign is not None else None
    sim, errors, typed = None, {}, {"n": DEFAULT_ECHEANCES, "avance": ""}
    simulable = consolidation is not None and consolidation.totals.creance_totale > 0
    if simulable:
        sim, errors, typed = _preview(affilie, campaign, consolidation, modalite, request.args)
    panel = {
        "sim": sim,
        "schedule": schedule_of(sim),
        "errors": errors,
        "typed": typed,
        "consolidation": consolidation,
        "campaign": campaign,
    }
    if partial_request() and simulable:
        response = make_response(
            render_template("partials/_perception_simulation.html", oob=True, **panel)
        )
        if not errors:
            # The address follows the preview (replaced, not pushed: a drag is many
            # moves), so that a reload or a bookmark shows the same settings.
            response.headers["HX-Replace-Url"] = url_for(
                ".affilie",
                numero=affilie.numero,
                modalite=modalite,
                precedent=typed["n"] if modalite == lifecycle.ACOMPTES else None,
                avance=typed["avance"] or None,
            )
        return response
    reintegrations = backoffice.reintegrations_of(affilie.id)
    context = {
        "affilie": affilie,
        "modalite": modalite,
        "simulable": simulable,
        "demandes": queries.demandes_of([affilie.id]),
        "today": now().date(),
        "reintegrations": reintegrations,
        "reste_du": sum((r.reste_du for r in reintegrations), Decimal("0.00")),
        "mask_rib": mask_rib,
        **panel,
    }
    return render_template("perception/affilie.html", **context), (422 if errors else 200)


@bp.app_template_global()
def perception_section() -> str:
    """Which back-office section the page belongs to, for the navigation's aria-current."""
    endpoint = request.endpoint or ""
    if endpoint.startswith("perception.affilie"):
        return "affilies"
    if endpoint == "perception.retour":
        return "retour"
    return "demandes"
