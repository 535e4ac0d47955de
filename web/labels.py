"""Translated labels of domain codes (literal strings, so pybabel extracts them)."""

from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from domain import lifecycle

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


def register(app) -> None:
    app.jinja_env.globals.update(
        status_label=status_label,
        status_badge=status_badge,
        etape_label=etape_label,
        regime_label=regime_label,
        palier=palier,
        rubrique_labels=RUBRIQUE,
        nature_labels=NATURE,
        modalite_labels=MODALITE,
        notice_kinds=NOTICE_KIND,
        notice_statuses=NOTICE_STATUS,
        echeance_labels=ECHEANCE,
        rubriques=tuple(RUBRIQUE),
        natures=tuple(NATURE),
    )
