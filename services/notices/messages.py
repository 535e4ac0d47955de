"""A notice as an e-mail: plain text and accessible HTML, in the confirmation's language.

Each kind is a ``Contenu`` (what to say, already formatted), rendered by the two mail
templates (templates/mail/avis.txt and avis.html): no remote image or font, one column
that reads at 320 px. The receipt and the validation carry the échéancier as an .ics,
written by the portal's own builder (common/echeancier_files.py), so a calendar that imported
the récapitulatif's file recognises the same events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from flask import current_app, render_template
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from common import echeancier_files, labels
from common.clock import CASABLANCA, now
from common.formatting import day, mad
from db.models import Demande, Echeance, Notice, Reintegration
from domain import lifecycle
from domain.identifiers import mask_rib
from domain.simulation import next_debit_date
from extensions import db
from services import schedules
from services.notices import outbox


@dataclass(frozen=True)
class Ligne:
    """One row of the schedule a message shows."""

    label: str
    date: str
    montant: str


@dataclass
class Contenu:
    subject: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    schedule_title: str = ""
    schedule_note: str = ""
    schedule: list[Ligne] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    ics: bytes | None = None


def build(notice: Notice) -> EmailMessage:
    """The e-mail of a notice, with a Message-ID that stays the same on every try."""
    config = current_app.config
    with force_locale(notice.langue):
        contenu = _contenu(notice)
        lang = "ar" if notice.langue == "ar" else "fr"
        context = {"m": contenu, "lang": lang, "dir": "rtl" if lang == "ar" else "ltr"}
        text = render_template("mail/avis.txt", **context)
        html = render_template("mail/avis.html", **context)
    message = EmailMessage()
    message["Subject"] = contenu.subject
    message["From"] = Address(display_name=config["MAIL_FROM_NAME"], addr_spec=config["MAIL_FROM"])
    message["To"] = notice.email
    message["Date"] = format_datetime(now().replace(tzinfo=CASABLANCA))
    message["Message-ID"] = message_id(notice)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if contenu.ics is not None:
        message.add_attachment(
            contenu.ics,
            maintype="text",
            subtype="calendar",
            filename=f"echeancier-{notice.demande.reference}.ics",
            params={"method": "PUBLISH"},
        )
    message["Content-Language"] = lang  # after the parts: set_content moves Content-*
    return message


def message_id(notice: Notice) -> str:
    """<notice-ID@domain>: a retry after a lost answer is recognisable as the same mail."""
    domain = current_app.config["MAIL_FROM"].rpartition("@")[2] or "localhost"
    return f"<avis-{notice.id}-{notice.kind}-{notice.rang}@{domain}>"


# ---------------------------------------------------------------- each kind


def _contenu(notice: Notice) -> Contenu:
    demande = notice.demande
    builders = {
        outbox.ACCUSE: _accuse,
        outbox.RAPPEL_GARANTIES: _rappel_garanties,
        outbox.VALIDEE: _validee,
        outbox.PRELEVEMENT: _prelevement,
        outbox.ANNULEE: _annulee,
        outbox.EXPIREE: _expiree,
        outbox.SOLDEE: _soldee,
    }
    contenu = builders[notice.kind](demande, notice.rang)
    contenu.facts[:0] = [
        (_("Référence"), demande.reference),
        (_("Affilié"), f"{demande.numero_affiliation} — {demande.raison_sociale}"),
        (_("Perception"), demande.perception.name),
    ]
    contenu.next_steps.append(
        _(
            "Une question ? Adressez-vous à la %(perception)s avec la référence de votre demande.",
            perception=demande.perception.name,
        )
    )
    return contenu


def _rows(echeances) -> list[Ligne]:
    return [
        Ligne(_("Avance") if e.rang == 0 else str(e.rang), day(e.date_prevue), mad(e.montant))
        for e in echeances
    ]


def _definitive(demande: Demande) -> list[Echeance]:
    return sorted((e for e in demande.echeances if e.definitive), key=lambda e: e.rang)


def _ics(demande: Demande, schedule) -> bytes:
    """The échéancier as the récapitulatif's .ics: the same rows, builder and UIDs (the
    reference and the rang), so the validated notice's file updates the receipt's events."""
    return echeancier_files.plan_ics(
        schedule.file_rows,
        uid_prefix=demande.reference,
        n=demande.nombre_echeances,
        description=f"{demande.numero_affiliation} {demande.raison_sociale}",
        indicative=schedule.indicative,
        stamp=now(),
    )


def _accuse(demande: Demande, _rang: int) -> Contenu:
    contenu = Contenu(
        subject=_(
            "Demande de remise %(reference)s : accusé de réception", reference=demande.reference
        ),
        title=_("Votre demande de remise est enregistrée"),
        paragraphs=[
            _(
                "Votre demande de remise a été enregistrée le %(date)s.",
                date=day(demande.confirmed_at.date()),
            )
        ],
        facts=[
            (_("Modalité de paiement"), str(labels.MODALITE[demande.modalite])),
            (_("Montant de la remise"), mad(demande.remise)),
            (_("Montant à payer"), mad(demande.montant_a_payer)),
        ],
    )
    if demande.modalite == lifecycle.INTEGRAL:
        debit = next_debit_date(demande.confirmed_at.date())
        contenu.facts.append((_("Date du prélèvement bancaire"), day(debit)))
        contenu.next_steps += [
            _(
                "Le montant à payer, %(montant)s, sera prélevé le %(date)s sur le compte "
                "%(compte)s.",
                montant=mad(demande.montant_a_payer),
                date=day(debit),
                compte=mask_rib(demande.rib),
            ),
            _(
                "Une fois le prélèvement effectué, la demande est soldée et la remise vous "
                "est acquise."
            ),
        ]
        return contenu
    deadline = demande.guarantee_deadline
    contenu.facts.append((_("Date limite de dépôt des garanties"), day(deadline)))
    contenu.schedule_title = _("Échéancier indicatif")
    contenu.schedule_note = _(
        "Ces dates sont indicatives : l'échéancier définitif est fixé à la validation de la "
        "demande, à partir du 10 du mois suivant."
    )
    schedule = schedules.request_schedule(demande)
    contenu.schedule = _rows(schedule.rows)
    contenu.ics = _ics(demande, schedule)
    contenu.next_steps += [
        _(
            "Déposez les garanties suffisantes auprès de la %(perception)s au plus tard le "
            "%(date)s.",
            perception=demande.perception.name,
            date=day(deadline),
        ),
        _(
            "Apportez l'une des garanties acceptées (caution bancaire, hypothèque, "
            "nantissement de fonds de commerce, effets de commerce, chèques de garantie) et "
            "la référence de votre demande."
        ),
        _(
            "La perception valide alors votre demande. Sans garanties à cette date, la "
            "demande expire et aucune remise n'est accordée."
        ),
        _(
            "Un prélèvement rejeté annule la demande : la remise est alors réintégrée "
            "à votre créance."
        ),
    ]
    return contenu


def _rappel_garanties(demande: Demande, days: int) -> Contenu:
    deadline = demande.guarantee_deadline
    return Contenu(
        subject=_(
            "Demande %(reference)s : déposez vos garanties avant le %(date)s",
            reference=demande.reference,
            date=day(deadline),
        ),
        title=_("Rappel : vos garanties sont attendues"),
        paragraphs=[
            ngettext(
                "Il reste %(num)s jour pour déposer vos garanties : sans elles, la demande "
                "expire et la remise de %(remise)s est perdue.",
                "Il reste %(num)s jours pour déposer vos garanties : sans elles, la demande "
                "expire et la remise de %(remise)s est perdue.",
                days,
                remise=mad(demande.remise),
            )
        ],
        facts=[(_("Date limite de dépôt des garanties"), day(deadline))],
        next_steps=[
            _(
                "Déposez les garanties suffisantes auprès de la %(perception)s au plus tard "
                "le %(date)s.",
                perception=demande.perception.name,
                date=day(deadline),
            ),
            _(
                "Apportez l'une des garanties acceptées (caution bancaire, hypothèque, "
                "nantissement de fonds de commerce, effets de commerce, chèques de garantie) "
                "et la référence de votre demande."
            ),
        ],
    )


def _validee(demande: Demande, _rang: int) -> Contenu:
    schedule = schedules.request_schedule(demande)
    echeances = schedule.rows
    first = echeances[0] if echeances else None
    contenu = Contenu(
        subject=_(
            "Demande %(reference)s validée : votre échéancier définitif",
            reference=demande.reference,
        ),
        title=_("Votre demande est validée"),
        paragraphs=[
            _(
                "Vos garanties ont été enregistrées : votre demande est validée et la remise "
                "de %(remise)s vous est accordée tant que les prélèvements sont honorés.",
                remise=mad(demande.remise),
            )
        ],
        facts=[(_("Montant à payer"), mad(demande.montant_a_payer))],
        schedule_title=_("Échéancier définitif"),
        schedule=_rows(echeances),
        ics=_ics(demande, schedule),
    )
    if first is not None:
        contenu.facts.append(
            (_("Premier prélèvement"), f"{day(first.date_prevue)} — {mad(first.montant)}")
        )
    contenu.facts.append((_("Compte bancaire"), f"{demande.banque} {mask_rib(demande.rib)}"))
    contenu.next_steps.append(
        _(
            "Un prélèvement rejeté annule la demande : la remise est alors réintégrée "
            "à votre créance."
        )
    )
    return contenu


def _prelevement(demande: Demande, rang: int) -> Contenu:
    echeance = next(e for e in _definitive(demande) if e.rang == rang)
    return Contenu(
        subject=_(
            "Demande %(reference)s : prélèvement de %(montant)s le %(date)s",
            reference=demande.reference,
            montant=mad(echeance.montant),
            date=day(echeance.date_prevue),
        ),
        title=_("Prochain prélèvement"),
        paragraphs=[
            _(
                "Le %(date)s, %(montant)s seront prélevés sur le compte %(compte)s.",
                date=day(echeance.date_prevue),
                montant=mad(echeance.montant),
                compte=f"{demande.banque} {mask_rib(demande.rib)}",
            )
        ],
        facts=[
            (_("Échéance"), _("Avance") if rang == 0 else f"{rang} / {demande.nombre_echeances}"),
            (_("Montant"), mad(echeance.montant)),
            (_("Date du prélèvement bancaire"), day(echeance.date_prevue)),
            (_("Compte bancaire"), f"{demande.banque} {mask_rib(demande.rib)}"),
        ],
        next_steps=[
            _(
                "Veillez à ce que le compte soit approvisionné : un prélèvement rejeté annule "
                "la demande et la remise est réintégrée à votre créance."
            )
        ],
    )


def _annulee(demande: Demande, _rang: int) -> Contenu:
    reintegration = db.session.query(Reintegration).filter_by(demande_id=demande.id).first()
    remise = reintegration.montant_remise if reintegration else demande.remise
    majorations = (
        reintegration.montant_majorations if reintegration else demande.majorations_generees
    )
    rejected = next((e for e in _definitive(demande) if e.statut == lifecycle.REJETEE), None)
    paragraphs = []
    if rejected is not None:
        paragraphs.append(
            _(
                "Le prélèvement du %(date)s (%(montant)s) a été rejeté par votre banque : "
                "votre demande de remise est annulée.",
                date=day(rejected.date_prevue),
                montant=mad(rejected.montant),
            )
        )
    return Contenu(
        subject=_(
            "Demande %(reference)s annulée : prélèvement rejeté", reference=demande.reference
        ),
        title=_("Votre demande est annulée"),
        paragraphs=paragraphs,
        facts=[
            (_("Remise réintégrée"), mad(remise)),
            (_("Majorations générées réintégrées"), mad(majorations)),
            (
                _("Total réintégré à votre créance"),
                mad(lifecycle.reinstated_amounts(remise, majorations)),
            ),
        ],
        next_steps=[
            _(
                "Ces montants sont de nouveau dus. Adressez-vous à la %(perception)s pour "
                "régler votre créance.",
                perception=demande.perception.name,
            )
        ],
    )


def _expiree(demande: Demande, _rang: int) -> Contenu:
    return Contenu(
        subject=_(
            "Demande %(reference)s expirée : garanties non déposées", reference=demande.reference
        ),
        title=_("Votre demande a expiré"),
        paragraphs=[
            _(
                "Aucune garantie n'a été déposée au plus tard le %(date)s : votre demande a "
                "expiré et aucune remise n'est accordée.",
                date=day(demande.guarantee_deadline),
            )
        ],
        next_steps=[
            _(
                "Tant que la campagne est ouverte, vous pouvez déposer une nouvelle demande "
                "sur l'Espace Recouvrement."
            )
        ],
    )


def _soldee(demande: Demande, _rang: int) -> Contenu:
    paid = sum((e.montant for e in _definitive(demande)), Decimal("0.00"))
    return Contenu(
        subject=_("Demande %(reference)s soldée", reference=demande.reference),
        title=_("Votre demande est soldée"),
        paragraphs=[
            _(
                "Tous les prélèvements ont été payés : la remise de %(remise)s vous est "
                "définitivement acquise.",
                remise=mad(demande.remise),
            )
        ],
        facts=[
            (_("Montant de la remise"), mad(demande.remise)),
            (_("Montant payé"), mad(paid)),
        ],
    )
