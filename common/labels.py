"""Translated labels of domain codes (literal strings, so pybabel extracts them)."""

import re
from functools import cache

from babel.core import Locale
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from domain import lifecycle
from domain.money import AmountError, parse_amount

STATUS = {
    lifecycle.ACCEPTEE: _l("Acceptée"),
    lifecycle.EN_ATTENTE: _l("En attente de garanties"),
    lifecycle.VALIDEE: _l("Validée"),
    lifecycle.EXPIREE: _l("Expirée"),
    lifecycle.SOLDEE: _l("Soldée"),
    lifecycle.ANNULEE: _l("Annulée"),
}
# The guide's column and row labels, kept in French in French.
RUBRIQUE = {
    "CSS": _l("Cotisations Sécurité Sociale"),
    "AMO": _l("Assurance Maladie"),
    "TFP": _l("Taxe Formation Professionnelle"),
    "AF": _l("AF à Reverser"),
    "AST_BDS": _l("Astreintes BDS RG/AMO"),
    "AST_TDTP": _l("Astreintes DAMANCOM TD/TP"),
}
NATURE = {
    "principal": _l("Principal"),
    "majorations": _l("Majorations de retard et astreintes"),
    "frais": _l("Frais de recouvrement"),
}
# An affilié's régime as the CNSS files name it (free text on import): the known ones
# are translated, any other is shown as imported.
REGIME = {
    "Régime général": _l("Régime général"),
    "AMO": _l("AMO"),
    "Régime agricole": _l("Régime agricole"),
    "Travailleurs non salariés": _l("Travailleurs non salariés"),
}
MODALITE = {
    lifecycle.INTEGRAL: _l("Paiement intégral"),
    lifecycle.ACOMPTES: _l("Paiement par acomptes"),
}

ECHEANCE = {
    lifecycle.A_PRELEVER: _l("À prélever"),
    lifecycle.PAYEE: _l("Payée"),
    lifecycle.REJETEE: _l("Rejetée"),
    lifecycle.ECHEANCE_ANNULEE: _l("Annulée"),
}

# The kinds of guarantees an agent records, and the audit trail's actions.
GARANTIE = {
    "caution_bancaire": _l("Caution bancaire"),
    "hypotheque": _l("Hypothèque"),
    "nantissement": _l("Nantissement de fonds de commerce"),
    "effets": _l("Effets de commerce"),
    "cheques": _l("Chèques de garantie"),
    "autre": _l("Autre garantie"),
}
ACTION = {
    "confirmation": _l("Confirmation de la demande"),
    "validation": _l("Validation (garanties déposées)"),
    "expiration": _l("Expiration"),
    "prelevement": _l("Résultat de prélèvement"),
    "solde": _l("Solde"),
    "defaut": _l("Annulation pour défaut de paiement"),
    "avis_renvoi": _l("Avis renvoyé"),
}
# The e-mail notices (services/notices/outbox.py) and their delivery.
NOTICE_KIND = {
    "accuse": _l("Accusé de réception"),
    "rappel_garanties": _l("Rappel des garanties"),
    "validee": _l("Demande validée"),
    "prelevement": _l("Prélèvement à venir"),
    "annulee": _l("Demande annulée"),
    "expiree": _l("Demande expirée"),
    "soldee": _l("Demande soldée"),
}
NOTICE_STATUS = {
    "queued": _l("En attente d'envoi"),
    "sent": _l("Envoyé"),
    "failed": _l("En échec"),
}


# The affiliate's journey: Choisir un affilié, Paramétrage, Simulation, Validation.
JOURNEY_STEPS = 4


def etape_label(n: int) -> str:
    """ "Étape 2 sur 4": where the user is in the journey (heading and page title)."""
    return _l("Étape %(n)s sur %(total)s", n=n, total=JOURNEY_STEPS)


def regime_label(regime: str) -> str:
    return str(REGIME.get(regime, regime))


def status_label(code: str) -> str:
    return str(STATUS.get(code, code))


def status_badge(code: str) -> Markup:
    """A request's status as every page shows it: a badge its colour class names."""
    return Markup('<span class="status status-{}">{}</span>').format(code, status_label(code))


def palier(campaign, n: int) -> dict:
    """The rate tier that applies to n instalments, for the hint under the slider."""
    rules = campaign.rules()
    index = rules.tier_index(n) or 0
    tier = rules.tiers[index]
    above = rules.tiers[index - 1].max_echeances if index else 0
    return {"rates": tier.rates, "upto": tier.max_echeances, "above": above}


# The audit trail stores each motif as French text (services/audit.py and its callers
# write them): the French pages show it as stored, the Arabic pages read its known
# shapes back and say them in Arabic, with the stored figures, dates and references.
_DAY = r"(?P<date>\d\d/\d\d/\d{4})"
_ECHEANCE = r"(?:l')?(?P<echeance>avance|échéance (?P<rang>\d+))"
_MAD = r"(?P<{}>[0-9][0-9 ]*,[0-9]{{2}}) MAD"
_MOTIFS = [
    (re.compile(r"Demande confirmée sur le portail"), "confirmation"),
    (re.compile(r"Aucune garantie déposée dans le délai de (?P<jours>\d+) jours"), "expiration"),
    (
        re.compile(rf"Garanties déposées le {_DAY} : (?P<type>[^,]+), référence (?P<ref>.*)"),
        "validation",
    ),
    (
        re.compile(
            rf"Prélèvement de {_ECHEANCE} du {_DAY} \({_MAD.format('montant')}\) : "
            r"(?P<resultat>payée|rejetée) "
            r"\((?P<source>saisie de l'agent|fichier retour de la banque)\)"
        ),
        "prelevement",
    ),
    (
        re.compile(
            rf"Prélèvement rejeté \({_ECHEANCE} du {_DAY}\) : remise de {_MAD.format('remise')} "
            rf"et majorations générées de {_MAD.format('majorations')} réintégrées "
            rf"\({_MAD.format('total')}\)"
        ),
        "defaut",
    ),
    (re.compile(r"Toutes les échéances ont été payées"), "solde"),
]
_SOURCES = {
    "saisie de l'agent": _l("saisie de l'agent"),
    "fichier retour de la banque": _l("fichier retour de la banque"),
}


def french(label) -> str:
    """A label in French whatever the page's language: the audit trail stores French."""
    with force_locale("fr"):
        return str(label)


def motif(reason: str) -> str:
    """An audit event's motif in the page's language (French: as stored)."""
    if not reason or str(get_locale() or "fr") == "fr":
        return reason
    for pattern, kind in _MOTIFS:
        found = pattern.fullmatch(reason)
        if found:
            try:
                return _motif(kind, found.groupdict())
            except AmountError:  # not a figure the formatter wrote: keep the text
                return reason
    return reason


def _motif(kind: str, v: dict) -> str:
    from common.formatting import mad

    def money(name: str) -> str:
        return mad(parse_amount(v[name]))

    if kind == "confirmation":
        return _("Demande confirmée sur le portail")
    if kind == "expiration":
        return _("Aucune garantie déposée dans le délai de %(jours)s jours", jours=v["jours"])
    if kind == "validation":
        codes = {french(label): code for code, label in GARANTIE.items()}
        garantie = GARANTIE[codes[v["type"]]] if v["type"] in codes else v["type"]
        return _(
            "Garanties déposées le %(date)s : %(type)s, référence %(reference)s",
            date=v["date"],
            type=garantie,
            reference=v["ref"],
        )
    if kind == "solde":
        return _("Toutes les échéances ont été payées")
    if kind == "prelevement":
        values = {
            "date": v["date"],
            "montant": money("montant"),
            "resultat": _("payée") if v["resultat"] == "payée" else _("rejetée"),
            "source": _SOURCES[v["source"]],
        }
        if v["rang"] is None:
            return _(
                "Prélèvement de l'avance du %(date)s (%(montant)s) : %(resultat)s (%(source)s)",
                **values,
            )
        return _(
            "Prélèvement de l'échéance %(rang)s du %(date)s (%(montant)s) : "
            "%(resultat)s (%(source)s)",
            rang=v["rang"],
            **values,
        )
    values = {
        "date": v["date"],
        "remise": money("remise"),
        "majorations": money("majorations"),
        "total": money("total"),
    }
    if v["rang"] is None:
        return _(
            "Prélèvement rejeté (avance du %(date)s) : remise de %(remise)s et majorations "
            "générées de %(majorations)s réintégrées (%(total)s)",
            **values,
        )
    return _(
        "Prélèvement rejeté (échéance %(rang)s du %(date)s) : remise de %(remise)s et "
        "majorations générées de %(majorations)s réintégrées (%(total)s)",
        rang=v["rang"],
        **values,
    )


def plural_forms(singular: str, plural: str) -> dict[str, str]:
    """ngettext's text for each CLDR plural category of the page's language, the count
    as "{n}": the script says "6 أشهر", "11 شهرا", "شهران" as a slider moves, choosing
    the category with Intl.PluralRules (Arabic has six, French three)."""
    from common.formatting import babel_locale

    rule = _locale(babel_locale()).plural_form
    forms: dict[str, str] = {}
    for n in (*range(0, 112), 1_000_000):
        category = rule(n)
        if category not in forms:
            forms[category] = ngettext(singular, plural, n).replace(str(n), "{n}")
    return forms


@cache
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def register(app) -> None:
    app.jinja_env.globals.update(
        status_label=status_label,
        status_badge=status_badge,
        etape_label=etape_label,
        regime_label=regime_label,
        palier=palier,
        motif=motif,
        plural_forms=plural_forms,
        rubrique_labels=RUBRIQUE,
        nature_labels=NATURE,
        modalite_labels=MODALITE,
        notice_kinds=NOTICE_KIND,
        notice_statuses=NOTICE_STATUS,
        echeance_labels=ECHEANCE,
        rubriques=tuple(RUBRIQUE),
        natures=tuple(NATURE),
    )
