"""Who may reach what: every route, every role, and no guessable way in."""

import pytest
from sqlalchemy import select

from db.models import Demande
from extensions import db

PUBLIC = {
    "auth.login",
    "auth.set_language",
    "health.healthz",
    "health.ping",
    "health.metrics",  # not a page: a 404 to anyone without METRICS_TOKEN
    "static",
    "auth.session_expiree",
    "auth.end_expired_session",
    "auth.prolonger_session",
    "aide.aide",
    "aide.accessibilite",
    "aide.conditions_generales",
    "aide.favicon",
}
OWN_AFFILIE = "4317542"  # linked to "groupe", in Perception Casablanca Anfa
OTHER_PERCEPTION_AFFILIE = "6120934"  # Perception Marrakech Guéliz
DEMO_REQUEST = "RM-DEMO-000001"  # 6120934's request, Perception Marrakech Guéliz
# "fmt" is a default of the échéancier files' routes (one rule per file type).
SAMPLE = {"numero": OWN_AFFILIE, "reference": DEMO_REQUEST, "rang": 1, "fmt": "csv", "notice_id": 1}


def protected_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<{name}>", str(SAMPLE[name])).replace(
                f"<int:{name}>", str(SAMPLE[name])
            )
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def test_every_route_but_the_public_ones_sends_anonymous_users_to_the_login(app, client):
    routes = list(protected_routes(app))
    assert len(routes) >= 20
    for endpoint, method, url in routes:
        response = client.open(url, method=method)
        assert response.status_code == 302, (endpoint, method, url, response.status_code)
        assert response.location.startswith("/connexion"), (endpoint, url, response.location)


def test_affiliate_users_get_403_on_the_back_office(app, client, auth):
    auth.login("groupe")
    for endpoint, method, url in protected_routes(app):
        if endpoint.startswith("perception."):
            assert client.open(url, method=method).status_code == 403, (endpoint, method)


def test_agents_get_403_on_the_affiliate_journey(app, client, auth):
    auth.login("agent.casa")
    for endpoint, method, url in protected_routes(app):
        if endpoint.startswith("demande.") and endpoint not in (
            "demande.home",
            "demande.recapitulatif",
        ):
            assert client.open(url, method=method).status_code == 403, (endpoint, method)
    # Their home is the back office; an affiliate's récapitulatif is not theirs.
    assert client.get("/").location == "/perception/demandes"
    assert client.get(f"/demandes/{DEMO_REQUEST}").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        f"/perception/demandes/{DEMO_REQUEST}",
        f"/perception/affilies/{OTHER_PERCEPTION_AFFILIE}",
    ],
)
def test_an_agent_sees_only_its_perception(client, auth, url):
    auth.login("agent.casa")
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login("agent.marrakech")
    assert client.get(url).status_code == 200


def test_an_affiliate_sees_only_its_own_affilies_and_requests(client, auth):
    auth.login("entreprise")  # linked to 4317542 only
    for step in ("parametrage", "simulation", "validation", "conditions"):
        assert client.get(f"/demande/{OTHER_PERCEPTION_AFFILIE}/{step}").status_code == 404
    assert client.get(f"/demandes/{DEMO_REQUEST}").status_code == 404
    assert client.post(f"/demande/{OTHER_PERCEPTION_AFFILIE}/confirmer").status_code == 404


def test_no_reference_can_be_guessed_from_another(client, auth, app):
    """References are random: neighbours of a real one lead nowhere, and ids never work."""
    auth.login("groupe")
    demande = db.session.scalars(select(Demande)).first()
    assert client.get(f"/demandes/{demande.id}").status_code == 404
    assert client.get(f"/demandes/{demande.id + 1}").status_code == 404
    for guess in ("RM-DEMO-000000", "RM-DEMO-000002", "RM-2023-00000001", "RM-2023-AAAAAAAA"):
        assert client.get(f"/demandes/{guess}").status_code == 404
    auth.logout()
    auth.login("agent.marrakech")
    for guess in (str(demande.id), "RM-DEMO-000002"):
        assert client.get(f"/perception/demandes/{guess}").status_code == 404


def test_new_references_are_random(app):
    from services import demandes

    references = {demandes.new_reference() for _ in range(200)}
    assert len(references) == 200
    assert all(len(r) == 16 and r.startswith("RM-2023-") for r in references)
