"""The affiliate's journey as the integration tests walk it: the guide's numéros and the
exact French messages, amounts as the pages write them, the app with one context per request
(fixtures ``app`` and ``journey``), and a ``Journey`` that posts the steps as a browser without
JavaScript does.

A test module uses the two fixtures by importing ``app_fixture`` and ``journey_fixture``.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from db.models import Affilie, CompteBancaire, Demande
from extensions import db
from tests.conftest import make_app
from tests.integration.pages import Page

NNBSP = "\u202f"  # fr_MA thousands separator
NBSP = "\u00a0"  # between an amount and "MAD" or "%"

GUIDE = "4317542"  # the guide's créance table; the instalments example
INTEGRAL = "2145873"  # the guide's full-payment example
ASTREINTES = "3021458"
ARRANGEMENT = "5098213"
EN_COURS = "6120934"

# Before validation the schedule's dates are the debits' rule as if validated today.
DATES_INDICATIVES = (
    "Dates indicatives : celles des prélèvements si la demande était validée aujourd'hui. "
    "Les dates définitives sont fixées à la validation de la demande par la perception : "
    "l'avance le 10 du mois suivant, puis une échéance le 10 de chaque mois."
)
INCORRECT = "Utilisateur ou mot de passe incorrect."
CGU_REQUIRED = "Veuillez lire et accepter les conditions générales d'utilisation."
MODALITE_REQUIRED = "Veuillez choisir la modalité de paiement."
COMPTE_REQUIRED = "Veuillez choisir le compte bancaire à utiliser."
GARANTIES_REQUIRED = (
    "Pour continuer, vous devez accepter de déposer les garanties suffisantes auprès de "
    "votre perception dans un délai de 30 jours."
)
AVANCE_INVALID = "Le montant de l'avance doit être un nombre, par exemple 5 000,00."
AVANCE_NEGATIVE = "Le montant de l'avance ne peut pas être négatif."
AVANCE_DECIMALS = "Le montant de l'avance ne peut pas avoir plus de 2 décimales."
AVANCE_AMBIGUOUS = (
    "Le montant de l'avance est ambigu : écrivez 5 000 pour cinq mille dirhams,"
    " 5,00 pour cinq dirhams."
)
AVANCE_TOO_LARGE = "Le montant de l'avance doit être inférieur au montant à payer."
AVANCE_ABOVE_TOTAL = (
    "Le montant de l'avance doit être inférieur au montant à payer (21\u202f950,63\u00a0MAD)."
)
N_NOT_INTEGER = "Le nombre d'échéances doit être un nombre entier compris entre 1 et 60."
N_OUT_OF_RANGE = "Le nombre d'échéances doit être compris entre 1 et 60."
EN_COURS_REFUSAL = (
    "Une demande de remise est déjà en cours pour cet affilié (référence RM-DEMO-000001). "
    "Ce service est dédié aux affiliés n'ayant aucune demande de remise en cours."
)
ARRANGEMENT_REFUSAL = (
    "Cet affilié dispose d'un arrangement : veuillez vous adresser à votre perception "
    "(Perception Rabat Agdal)."
)
STALE_CONFIRMATION = "Cette confirmation n'est plus valable : veuillez reprendre votre simulation."
ACCEPTEE_MESSAGE = "Demande de remise acceptée. Le prélèvement bancaire sera effectué le {}"
ENREGISTREE_MESSAGE = (
    "Votre demande a été bien enregistrée. Elle sera validée après votre dépôt des garanties "
    "suffisantes auprès de votre perception dans un délai de 30 jours."
)


def mad(text: str) -> str:
    """'27 707,49' -> '27\u202f707,49\u00a0MAD', as the pages write amounts."""
    return text.replace(" ", NNBSP) + NBSP + "MAD"


def num(text: str) -> str:
    """An amount of a table cell (no currency): '27 707,49' -> '27\u202f707,49'."""
    return text.replace(" ", NNBSP)


def pct(text: str) -> str:
    return text + NBSP + "%"


def location(response) -> str:
    return response.headers["Location"]


@pytest.fixture(name="app")
def app_fixture(database_url, clock):
    """The app without a pushed context: every request gets its own, as in production."""
    app = make_app(database_url, clock)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def database(app):
    """A short-lived context to look at (or change) the database between requests."""
    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()


def demandes(app, numero: str | None = None) -> list[Demande]:
    with database(app) as session:
        query = select(Demande).order_by(Demande.id)
        if numero:
            query = query.join(Affilie).where(Affilie.numero == numero)
        rows = session.scalars(query).all()
        for d in rows:  # load what the assertions read before the session closes
            d.echeances, d.events, d.affilie, d.user  # noqa: B018
        session.expunge_all()
        return rows


def count_demandes(app) -> int:
    with database(app) as session:
        return session.scalar(select(func.count()).select_from(Demande))


def comptes_of(app, numero: str) -> list[CompteBancaire]:
    with database(app) as session:
        affilie = session.scalars(select(Affilie).where(Affilie.numero == numero)).one()
        comptes = list(affilie.comptes)
        session.expunge_all()
        return comptes


class Journey:
    """The affiliate's steps as a browser without JavaScript posts them."""

    def __init__(self, client, auth, app):
        self.client, self.auth, self.app = client, auth, app

    def get(self, url: str, **kwargs) -> Page:
        return Page(self.client.get(url, **kwargs))

    def follow(self, response) -> Page:
        assert response.status_code in (302, 303), response.status_code
        return self.get(location(response))

    def parametrer(self, numero, modalite="integral", compte=None, garanties=None, **kwargs):
        if compte is None:
            compte = str(comptes_of(self.app, numero)[0].id)
        if garanties is None:
            garanties = modalite == "acomptes"
        data = {"modalite": modalite, "compte": compte}
        if garanties:
            data["garanties"] = "1"
        return self.client.post(f"/demande/{numero}/parametrage", data=data, **kwargs)

    def start(self, numero, modalite="integral", login="groupe") -> Page:
        """Log in and pass the paramétrage: the simulation page."""
        self.auth.login(login)
        response = self.parametrer(numero, modalite)
        assert response.status_code == 302, Page(response).error_summary()
        assert location(response) == f"/demande/{numero}/simulation"
        return self.follow(response)

    def simuler(
        self,
        numero,
        *,
        avance="",
        n=6,
        curseur=None,
        action="simuler",
        cgu=False,
        precedent=None,
        **kwargs,
    ):
        """The simulation's forms: Simuler, − / + and the slider send the GET form (every
        field, plus the button pressed); Valider posts the values shown and the box."""
        if action == "valider":
            data = {"avance": avance, "n": str(n), "action": action}
            if cgu:
                data["cgu"] = "1"
            return self.client.post(f"/demande/{numero}/simulation", data=data, **kwargs)
        query = {
            "avance": avance,
            "curseur": str(n if curseur is None else curseur),
            "n": str(n),
            "action": action,
        }
        if precedent is not None:
            query["precedent"] = str(precedent)
        return self.client.get(f"/demande/{numero}/simulation", query_string=query, **kwargs)

    def valider(self, numero, **kwargs) -> Page:
        """Valider with the box ticked: the confirmation page."""
        response = self.simuler(numero, action="valider", cgu=True, **kwargs)
        assert response.status_code == 302, Page(response).error_summary()
        assert location(response) == f"/demande/{numero}/validation"
        return self.follow(response)

    def confirmer(self, numero, token):
        return self.client.post(f"/demande/{numero}/confirmer", data={"token": token})


@pytest.fixture(name="journey")
def journey_fixture(client, auth, app):
    return Journey(client, auth, app)
