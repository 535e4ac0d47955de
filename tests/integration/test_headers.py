"""No answer header is built from what a client sends: every route, every role, with a long
path, a long query and a long If-None-Match, answers a header block under 2 KB that holds
none of the client's text. A proxy refuses a larger block (502) and counts it as the
instance failing; six such answers took every instance out of the rotation.

Also: the host is pinned (``TRUSTED_HOSTS``), and no route redirects by itself (Werkzeug's
slash redirect copied the whole query into ``Location``).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.demo import DEMO_PASSWORD

NUMERO = "4317542"  # groupe's, Perception Casablanca Anfa
# A real value for each route argument, by who asks: the route then runs to its end.
SAMPLES = {
    None: {
        "numero": NUMERO,
        "reference": "RM-DEMO-000001",
        "rang": "1",
        "notice_id": "1",
        "filename": "css/app.css",
    },
    "groupe": {"numero": NUMERO, "reference": "RM-DEMO-000001", "rang": "1", "notice_id": "1"},
    "agent.casa": {
        "numero": NUMERO,
        "reference": "RM-DEMO-CAS-PRELEV",
        "rang": "3",
        "notice_id": "1",
    },
}
SAMPLES["groupe"]["filename"] = SAMPLES["agent.casa"]["filename"] = "css/app.css"
# The answer's status line and headers, as a proxy buffers them.
HEADER_BLOCK_LIMIT = 2048
# Routes that end the session or the journey: asked last, the next example signs in again.
ENDS = ("demande.annuler", "auth.end_expired_session", "auth.logout")
ARGUMENT = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def header_block(response) -> str:
    lines = [f"HTTP/1.1 {response.status}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def routes(app):
    """Every (rule, method) of the url_map that a browser or a script may send."""
    rules = sorted(
        app.url_map.iter_rules(),
        key=lambda r: (ENDS.index(r.endpoint) if r.endpoint in ENDS else -1, r.rule),
    )
    for rule in rules:
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule, method


def path_of(rule, values: dict) -> str:
    return ARGUMENT.sub(lambda m: quote(str(values[m[1]]), safe=""), rule.rule)


def sign_in(client, who: str | None) -> None:
    """``who`` signed in, and an affiliate past Paramétrage: the simulation routes then run."""
    client.post("/deconnexion")
    client.delete_cookie("session")
    if who is None:
        return
    response = client.post("/connexion", data={"utilisateur": who, "mot_de_passe": DEMO_PASSWORD})
    assert response.status_code == 302
    if who == "groupe":
        page = client.get(f"/demande/{NUMERO}/parametrage").get_data(as_text=True)
        compte = re.search(r'<option value="(\d+)"', page)[1]
        response = client.post(
            f"/demande/{NUMERO}/parametrage",
            data={"modalite": "acomptes", "compte": compte, "garanties": "1"},
        )
        assert response.status_code == 302


# What a client types: any characters, some of them those of headers and URLs, made long.
client_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from('"<>%:/,;=?&# '),
    min_size=1,
    max_size=12,
).map(lambda seed: ("Sonde" + seed) * (4100 // (len(seed) + 5) + 1))


def forms(text: str) -> dict:
    """A form where every field any route reads is the client's long text."""
    names = ("utilisateur", "mot_de_passe", "next", "lang", "q", "avance", "nombre_echeances")
    names += ("modalite", "compte", "token", "action", "statut", "date_depot", "motif")
    return {name: text for name in names}


def queries(text: str) -> list[str]:
    """Long queries: all parameters the client's, and valid ones plus a long stranger."""
    return [
        urlencode({"q": text, "n": text, "avance": text, "page": text, "next": text}),
        urlencode({"n": "6", "avance": "1000", "detail": "1", "x": text}),
    ]


def assert_bounded(response, text: str, what) -> None:
    block = header_block(response)
    assert len(block.encode("latin-1", "replace")) < HEADER_BLOCK_LIMIT, (what, block[:600])
    # Neither the text nor its URL-encoded form: not the whole, not its start.
    for sample in (text[:24], quote(text[:24], safe=""), quote(text[:24])):
        assert sample not in block, (what, block[:600])


@pytest.mark.parametrize(
    "who", [None, "groupe", "agent.casa"], ids=["anonymous", "affiliate", "agent"]
)
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=client_text, shape=st.sampled_from([0, 1]))
def test_no_header_block_grows_with_what_the_client_sends(app, client, who, text, shape):
    sign_in(client, who)
    values = SAMPLES[who]
    query = queries(text)[shape]
    for rule, method in routes(app):
        path = path_of(rule, values)
        if rule.arguments:
            long_path = path_of(rule, dict.fromkeys(values, text))
        else:
            long_path = path.rstrip("/") + "/" + quote(text, safe="")
        requests = [
            (path, query, {"If-None-Match": f'"{text}", W/"{text}"'}),
            # Doubled inside the path ("//" first would be read as a host by the client).
            ("/" + path[1:].replace("/", "//"), query, {}),
            (long_path, query, {"If-None-Match": f'"{text}"'}),
        ]
        for url, query_string, headers in requests:
            response = client.open(
                url,
                method=method,
                query_string=query_string,
                headers=headers,
                data=forms(text) if method == "POST" else None,
            )
            assert_bounded(response, text, (who, rule.rule, method, url[:80], response.status))


def test_a_missing_trailing_slash_is_served_not_redirected(client, auth):
    auth.login("agent.casa")
    query = "q=" + "A" * 3600

    without = client.get(f"/perception?{query}")
    doubled = client.get(f"/perception//demandes?{query}")

    assert without.status_code == 302  # to the list: the back office's own home
    assert without.location == "/perception/demandes"
    assert doubled.status_code == 404
    assert len(header_block(doubled)) < HEADER_BLOCK_LIMIT


def test_an_untrusted_host_is_refused_and_never_reflected(client):
    for path in ("/", "/connexion", "/perception?q=x", "/nulle-part"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 400
        assert "evil" not in header_block(response) + response.get_data(as_text=True)
    assert client.get("/connexion", headers={"Host": "localhost"}).status_code == 200
