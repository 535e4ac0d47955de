"""« Rejetée » is asked again before it is written: it cancels the plan and reinstates
the waived amounts, and cannot be undone.

The same POST without ``confirme=1`` writes nothing and answers what it will do — a
<dialog> for htmx, a page without JavaScript — naming the request, the debit and the
consequences with their figures; the confirmation's POST carries the CSRF token like any
other, and only then is the result recorded. « Payée » stays one click.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from db.models import AuditEvent, Demande, Echeance, Reintegration
from extensions import db
from services import backoffice
from tests.integration.pages import BackOfficePage as Page
from tests.integration.pages import parse
from tests.integration.plans import confirmed_plan, user, validate

NNBSP, NBSP = "\u202f", "\u00a0"
HX = {"HX-Request": "true"}


def mad(text: str) -> str:
    return text.replace(" ", NNBSP) + NBSP + "MAD"


@pytest.fixture
def due(app, clock) -> str:
    """The worked example validated on 05/12/2023, its avance paid; on 11/02/2024 its
    instalment 1 (10/02/2024, 8 475,32) awaits its result."""
    demande = confirmed_plan()
    clock.set(datetime(2023, 12, 5, 11, 0))
    validate(demande)
    clock.set(datetime(2024, 1, 11, 9, 0))
    backoffice.record_result(demande, 0, "payee", actor=user("agent.casa"))
    clock.set(datetime(2024, 2, 11, 9, 0))
    return demande.reference


def written(reference: str) -> tuple:
    """What a rejection writes: the debit's result, the status, the trail, the reinstatement."""
    demande = db.session.scalars(select(Demande).where(Demande.reference == reference)).one()
    db.session.refresh(demande)
    return (
        demande.status,
        [e.statut for e in sorted(demande.echeances, key=lambda e: e.rang) if e.definitive],
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.demande_id == demande.id)
        ),
        db.session.scalar(select(func.count()).select_from(Reintegration)),
    )


CONSEQUENCES_FR = [
    "l'annulation de la demande pour défaut de paiement ;",
    f"l'annulation des prélèvements restants : 1, pour {mad('8 475,31')} ;",
    "la réintégration à la créance de l'affilié de la remise "
    f"({mad('5 756,86')}) et des majorations générées ({mad('139,12')}), "
    f"soit {mad('5 895,98')}.",
]


def test_without_javascript_rejetee_shows_a_confirmation_page_and_writes_nothing(client, auth, due):
    auth.login("agent.casa")
    before = written(due)
    page = Page(client.post(f"/perception/demandes/{due}/echeances/1", data={"statut": "rejetee"}))
    assert page.status == 200 and page.is_full_page
    assert page.h1 == "Enregistrer le rejet du prélèvement ?"
    assert page.text.count(due) >= 1
    assert (
        f"Demande {due} : prélèvement de l'échéance n° 1 du 10/02/2024, {mad('8 475,32')}."
        in page.text
    )
    consequences = page.root.find(id="rejet-consequences")
    assert [" ".join(li.text.split()) for li in consequences.find_all("li")] == [
        " ".join(c.split()) for c in CONSEQUENCES_FR
    ]
    assert "Un rejet ne peut pas être annulé." in page.text
    assert f"Déjà payé sur cette demande : {mad('5 000,00')}." in page.text
    form = page.root.find("form", class_="actions")
    fields = {i.attrs["name"]: i.attrs["value"] for i in form.find_all("input")}
    assert fields.keys() == {"csrf_token", "statut", "confirme"}
    assert (fields["statut"], fields["confirme"]) == ("rejetee", "1")
    assert form.find("a").attrs["href"] == f"/perception/demandes/{due}#echeancier"
    assert written(due) == before

    # Confirmer le rejet: recorded, the plan cancelled, the amounts reinstated.
    response = client.post(
        f"/perception/demandes/{due}/echeances/1", data={"statut": "rejetee", "confirme": "1"}
    )
    assert response.status_code == 303
    status, results, events, reintegrations = written(due)
    assert (status, results) == ("annulee", ["payee", "rejetee", "a_prelever"])
    assert (events, reintegrations) == (before[2] + 2, 1)


def test_with_htmx_rejetee_answers_a_dialog_and_writes_nothing(client, auth, due):
    auth.login("agent.casa")
    before = written(due)
    detail = Page(client.get(f"/perception/demandes/{due}"))
    button = next(
        n for n in detail.elements if n.tag == "button" and n.attrs.get("value") == "rejetee"
    )
    assert button.attrs["data-hx-post"] == f"/perception/demandes/{due}/echeances/1"
    assert button.attrs["data-hx-target"] == "#dialogue" and detail.has_id("dialogue")

    response = client.post(
        f"/perception/demandes/{due}/echeances/1", data={"statut": "rejetee"}, headers=HX
    )
    assert response.status_code == 200
    fragment = parse(response.get_data(as_text=True))
    dialog = fragment.find("dialog", id="rejet-dialog")
    assert dialog is not None and "data-open-modal" in dialog.attrs
    assert dialog.attrs["aria-labelledby"] == "rejet-titre"
    title = dialog.find(id="rejet-titre")
    assert title.tag == "h2" and "autofocus" in title.attrs and title.attrs["tabindex"] == "-1"
    assert [" ".join(li.text.split()) for li in dialog.find_all("li")] == [
        " ".join(c.split()) for c in CONSEQUENCES_FR
    ]
    assert dialog.find("button", data_close_dialog="").text == "Annuler"
    assert "<html" not in response.get_data(as_text=True)
    assert written(due) == before


def test_payee_stays_one_click(client, auth, due):
    auth.login("agent.casa")
    response = client.post(f"/perception/demandes/{due}/echeances/1", data={"statut": "payee"})
    assert response.status_code == 303
    assert written(due)[1] == ["payee", "payee", "a_prelever"]


def test_a_debit_not_to_record_is_refused_before_any_confirmation(client, auth, due):
    auth.login("agent.casa")
    page = Page(client.post(f"/perception/demandes/{due}/echeances/2", data={"statut": "rejetee"}))
    assert page.status == 409
    assert page.refusal() == (
        f"L'échéance n° 2 de la demande {due} n'est prélevée que le 10/03/2024."
    )


def test_the_confirmation_in_arabic(client, auth, due):
    auth.login("agent.casa")
    client.post("/langue", data={"lang": "ar"})
    page = Page(client.post(f"/perception/demandes/{due}/echeances/1", data={"statut": "rejetee"}))
    assert page.status == 200
    assert page.h1 == "تسجيل رفض الاقتطاع؟"
    assert "لا يمكن التراجع عن الرفض" in page.text
    assert "Rejet" not in page.text and "annulation" not in page.text


def test_the_confirmation_carries_the_csrf_token(make, due, app):
    secured = make(WTF_CSRF_ENABLED=True)
    client = secured.test_client()
    page = Page(client.get("/connexion"))
    token = page.value("csrf_token")
    client.post(
        "/connexion",
        data={"utilisateur": "agent.casa", "mot_de_passe": "Demo-2023!", "csrf_token": token},
    )
    before = written(due)
    url = f"/perception/demandes/{due}/echeances/1"
    token = Page(client.get(f"/perception/demandes/{due}")).value("csrf_token")
    asked = Page(client.post(url, data={"statut": "rejetee", "csrf_token": token}))
    assert asked.status == 200 and asked.value("csrf_token")
    forged = client.post(url, data={"statut": "rejetee", "confirme": "1"})
    assert forged.status_code == 400
    assert written(due) == before
    confirmed = client.post(
        url, data={"statut": "rejetee", "confirme": "1", "csrf_token": asked.value("csrf_token")}
    )
    assert confirmed.status_code == 303
    assert written(due)[0] == "annulee"
    assert db.session.scalar(select(func.count()).select_from(Echeance)) > 0
