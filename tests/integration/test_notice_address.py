"""Where a request's notices go: Validation shows the account's address masked and takes
another one for this request (email-validator), saved with the confirmation."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from db.models import Affilie, Demande, Notice
from extensions import db
from services.notices import outbox
from tests.integration.pages import Page

GUIDE = "4317542"
ACCOUNT = "tresorerie@atlas-holding.example.ma"


def to_validation(client, auth, lang: str = "fr"):
    """groupe's journey to Validation (the guide's plan); the page's HTML."""
    auth.login("groupe")
    if lang != "fr":
        client.post("/langue", data={"lang": lang})
    affilie = db.session.scalars(select(Affilie).where(Affilie.numero == GUIDE)).one()
    client.post(
        f"/demande/{GUIDE}/parametrage",
        data={"modalite": "acomptes", "compte": affilie.comptes[0].id, "garanties": "1"},
    )
    client.post(
        f"/demande/{GUIDE}/simulation",
        data={"action": "valider", "cgu": "1", "avance": "5000", "nombre_echeances": "2"},
    )
    return client.get(f"/demande/{GUIDE}/validation")


def confirm(client, page, email: str = ""):
    token = re.search(r'name="token" value="([^"]+)"', page.get_data(as_text=True))[1]
    return client.post(f"/demande/{GUIDE}/confirmer", data={"token": token, "email": email})


def created(response) -> Demande:
    reference = re.search(r"/demandes/([A-Z0-9-]+)\?", response.location)[1]
    return db.session.scalars(select(Demande).where(Demande.reference == reference)).one()


def test_validation_shows_the_accounts_address_masked(client, auth):
    page = Page(to_validation(client, auth))
    block = page.by_id("avis-courriel")
    assert block.by_id("email-aide").text == (
        "Les avis et rappels de cette demande seront envoyés à t•••e@atlas-holding.example.ma. "
        "Pour les recevoir à une autre adresse, indiquez-la ci-dessous."
    )
    assert ACCOUNT not in page.html
    field = block.by_id("email").attrs
    assert field["type"] == "email" and field["autocomplete"] == "email"
    assert block.find("label", for_="email").text == (
        "Autre adresse électronique pour cette demande (facultatif)"
    )


def test_without_another_address_the_receipt_goes_to_the_account(client, auth):
    response = confirm(client, to_validation(client, auth))
    assert response.status_code == 303 and "@" not in response.location
    demande = created(response)
    assert (demande.email, demande.langue) == (ACCOUNT, "fr")
    receipt = db.session.scalars(select(Notice).where(Notice.demande_id == demande.id)).one()
    assert (receipt.kind, receipt.email, receipt.status) == (outbox.ACCUSE, ACCOUNT, "queued")


def test_another_address_for_this_request_in_arabic(client, auth):
    response = confirm(client, to_validation(client, auth, "ar"), " Comptable@Atlas-BTP.ma ")
    assert response.status_code == 303 and "@" not in response.location
    demande = created(response)
    # email-validator keeps the local part, lower-cases the domain.
    assert (demande.email, demande.langue) == ("Comptable@atlas-btp.ma", "ar")
    receipt = db.session.scalars(select(Notice).where(Notice.demande_id == demande.id)).one()
    assert (receipt.email, receipt.langue) == ("Comptable@atlas-btp.ma", "ar")


def test_a_bad_address_is_named_next_to_its_field_and_nothing_is_written(client, auth):
    before = db.session.scalar(select(func.count()).select_from(Demande))
    response = confirm(client, to_validation(client, auth), "comptable@atlas")
    assert response.status_code == 422
    page = Page(response)
    assert page.field_error("email") == (
        "Saisissez une adresse électronique valide, par exemple nom@domaine.ma."
    )
    field = page.by_id("email").attrs
    assert field["value"] == "comptable@atlas" and field["aria-invalid"] == "true"
    assert db.session.scalar(select(func.count()).select_from(Demande)) == before
    # Corrected, the same screen confirms.
    response = confirm(client, response, "comptable@atlas-btp.ma")
    assert response.status_code == 303
    assert created(response).email == "comptable@atlas-btp.ma"
