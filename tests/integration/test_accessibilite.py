"""The accessibility statement: whom to contact, and where to go next."""

from tests.integration.pages import Page


def test_the_statement_gives_a_contact_and_the_escalation_route(client):
    page = Page(client.get("/accessibilite"))
    assert page.by_id("contact").text == "Contact"
    text = page.by_id("contenu").text if page.find(id="contenu") else page.text
    assert "votre perception CNSS, aux heures d'ouverture" in text
    assert page.by_id("recours").text == "Voies de recours"
    assert "déposez une réclamation auprès de la CNSS" in text
    assert "l'Institution du Médiateur du Royaume" in text
    assert page.find("a", href="mailto:") is None  # no address configured, none invented


def test_the_contact_and_complaints_page_are_configurable(app, client):
    app.config.update(
        ACCESSIBILITE_CONTACT="accessibilite@example.org",
        RECLAMATION_URL="https://reclamations.example.org/",
    )
    page = Page(client.get("/accessibilite"))
    assert page.find("a", href="mailto:accessibilite@example.org").text == (
        "accessibilite@example.org"
    )
    assert page.find("a", href="https://reclamations.example.org/").text == (
        "Déposer une réclamation"
    )


def test_the_statement_in_arabic(client):
    client.post("/langue", data={"lang": "ar"})
    page = Page(client.get("/accessibilite"))
    assert page.by_id("recours").text == "طرق الطعن"
    assert "مؤسسة وسيط المملكة" in page.text
