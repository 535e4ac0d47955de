"""Request ids, one JSON log line per request and per business event, and /metrics."""

from __future__ import annotations

import json
import re

import pytest

from commands.demo import DEMO_PASSWORD
from tests.conftest import make_app
from tests.integration.confirmation import NUMERO, up_to_confirmation

TOKEN = "jeton-de-la-supervision-0123456789"
WRONG = "mot-de-passe-faux-tape"


def log_lines(capfd) -> list[dict]:
    lines = []
    for line in capfd.readouterr().err.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.fixture
def watched(database_url, clock):
    app = make_app(
        database_url, clock, METRICS_TOKEN=TOKEN, RATELIMIT_ENABLED=True, LOG_LEVEL="INFO"
    )
    with app.app_context():
        yield app
        from extensions import db

        db.session.remove()
        db.engine.dispose()


def login(client, login="groupe", password=DEMO_PASSWORD):
    return client.post("/connexion", data={"utilisateur": login, "mot_de_passe": password})


def test_a_request_id_from_the_proxy_is_kept_and_echoed(watched, capfd):
    client = watched.test_client()
    response = client.get("/ping", headers={"X-Request-ID": "0a1b2c3d4e5f60718293a4b5c6d7e8f9"})
    assert response.headers["X-Request-ID"] == "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    (line,) = [entry for entry in log_lines(capfd) if entry["event"] == "request"]
    assert line["request_id"] == "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.mark.parametrize("incoming", ["", "a" * 129, "id with spaces", 'x"}', "é-accent"])
def test_a_missing_or_odd_request_id_is_replaced(client, incoming):
    response = client.get("/ping", headers={"X-Request-ID": incoming})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_one_json_line_per_request_without_what_was_typed(watched, capfd):
    client = watched.test_client()
    login(client, password=WRONG)
    login(client)
    client.get(f"/demande/{NUMERO}/parametrage")
    client.get("/nulle-part")
    output = capfd.readouterr().err
    assert WRONG not in output and DEMO_PASSWORD not in output
    assert "session=" not in output
    requests = [json.loads(line) for line in output.splitlines() if '"event": "request"' in line]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("POST", "/connexion", 401),
        ("POST", "/connexion", 302),
        ("GET", "/demande/<numero>/parametrage", 200),
        ("GET", "<unmatched>", 404),
    ]
    assert requests[0]["user"] == "anonymous"
    assert isinstance(requests[1]["user"], int) and requests[2]["user"] == requests[1]["user"]
    for entry in requests:
        assert set(entry) >= {"time", "request_id", "duration_ms", "remote_addr"}
        assert entry["duration_ms"] >= 0


def test_logins_are_logged_success_failure_and_lockout(watched, capfd):
    client = watched.test_client()
    for _ in range(watched.config["LOGIN_MAX_FAILURES"] + 1):
        login(client, password=WRONG)
    login(client)  # refused: locked
    events = [entry["event"] for entry in log_lines(capfd) if entry["event"] != "request"]
    max_failures = watched.config["LOGIN_MAX_FAILURES"]
    # The last wrong password starts the lock; the next attempts are refused unread.
    assert (
        events == ["login.failure"] * (max_failures - 1) + ["login.lockout"] + ["login.locked"] * 2
    )
    other = watched.test_client()
    login(other, login="entreprise")
    (success,) = [e for e in log_lines(capfd) if e["event"] == "login.success"]
    assert success["user_id"] and "entreprise" not in json.dumps(success)


def test_a_confirmation_is_logged_after_its_commit_and_counted(watched, capfd):
    from web.observability import CONFIRMED

    before = CONFIRMED.labels("acomptes")._value.get()
    client = watched.test_client()
    login(client)
    token = up_to_confirmation(client)
    capfd.readouterr()
    client.post(f"/demande/{NUMERO}/confirmer", data={"token": token})
    (confirmed,) = [e for e in log_lines(capfd) if e["event"] == "demande.confirmation"]
    assert confirmed["modalite"] == "acomptes" and confirmed["demande"].startswith("RM")
    assert confirmed["request_id"]
    assert CONFIRMED.labels("acomptes")._value.get() == before + 1


@pytest.mark.parametrize("header", [None, "Bearer faux", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_metrics_are_a_404_without_the_token(watched, header):
    headers = {"Authorization": header} if header else {}
    assert watched.test_client().get("/metrics", headers=headers).status_code == 404


def test_metrics_are_a_404_when_no_token_is_set(client):
    response = client.get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 404


def test_metrics_with_the_token(watched):
    client = watched.test_client()
    login(client, password=WRONG)
    client.get("/ping")
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'recouvrement_http_requests_total{endpoint="health.ping",method="GET",status="200"}' in (
        text
    )
    assert 'recouvrement_http_request_duration_seconds_bucket{endpoint="health.ping"' in text
    assert 'recouvrement_logins_total{outcome="failure"}' in text
    # Requests by status, read from the database at the scrape.
    assert re.search(r'recouvrement_demandes\{statut="\w+"\} \d+', text)


def series(client) -> list[str]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    return [line for line in response.get_data(as_text=True).splitlines() if line[:1] != "#"]


def test_made_up_methods_add_no_series(watched, capfd):
    """Labels come from a closed set: nginx forwards any method, each one answered 405."""
    client = watched.test_client()
    assert client.open("/ping", method="INVENTE").status_code == 405
    series(client)  # the scrape's own series
    before = series(client)

    for number in range(3000):
        client.open("/ping", method=f"M{number}X")

    after = series(client)
    assert len(after) == len(before)
    assert 'recouvrement_http_requests_total{endpoint="none",method="other",status="405"}' in (
        "\n".join(after)
    )
    assert not any("M2999X" in line for line in after)
    requests = [e for e in log_lines(capfd) if e["event"] == "request" and e["status"] == 405]
    assert {e["method"] for e in requests} == {"other"}
