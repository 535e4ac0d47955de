"""Hostile input on every form and htmx endpoint of the journey: never a 500.

Hypothesis posts random text mixed with the values that usually break parsers and
templates: huge and negative numbers, NaN, Infinity, -0, exponents, digits of other
scripts, 20 000-character strings, empty and missing fields, repeated keys, SQL and HTML
fragments. Whatever arrives, the app answers below 500 (a re-rendered form with its
message, a redirect or a 4xx), escapes what it shows back, and writes nothing: no valid
confirmation is ever posted, so the requests, schedules and audit events stay as seeded.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from db.models import AuditEvent, Demande, Echeance
from extensions import db

NUMERO = "4317542"
SEEDED_TOKEN = "demo-seed-000001"  # another affilié's confirmed request
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
# Every payload that must never come back verbatim: rendered escaped, or not at all.
MARKUP = (SCRIPT, ATTRIBUTE, "<svg/onload=alert(1)>", "</textarea><b>x</b>")

DIGIT_SCRIPTS = {
    "arabic_indic": 0x0660,
    "eastern_arabic_indic": 0x06F0,
    "fullwidth": 0xFF10,
    "devanagari": 0x0966,
}
HOSTILE = (
    "",
    " ",
    "0",
    "-0",
    "-1",
    "-0.00",
    "1e308",
    "-1e308",
    "1E3",
    "5e-324",
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "9" * 400,
    "1" * 5000,
    "x" * 20_000,
    "٣" * 20_000,
    "1_000",
    "0x1F",
    "1,000,000.999",
    "5 000,00",
    "12.345",
    "١٢",
    "١٢٫٥٠",
    "１２",
    "१२",
    "½",
    "²",
    "\u00a0",
    "\u202e12",
    "' OR 1=1 --",
    "'; DROP TABLE demandes; --",
    "1; SELECT pg_sleep(5)",
    "%",
    "_",
    "\\",
    "{{ 7*7 }}",
    "{% print 1 %}",
    "../../etc/passwd",
    "true",
    "null",
    "[]",
    "{}",
    *MARKUP,
)
LIMITS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _digits(start: int):
    return st.integers(0, 10**8).map(
        lambda n: str(n).translate(
            str.maketrans("0123456789", "".join(chr(start + i) for i in range(10)))
        )
    )


def text_without_nul():
    # PostgreSQL text cannot hold NUL: the app reads it as any other character would be
    # (the NUL case has its own test below, on the fields that reach a query).
    return st.text(
        st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40
    )


scalar = st.one_of(
    st.sampled_from(HOSTILE),
    text_without_nul(),
    st.integers().map(str),
    st.integers(-(10**30), 10**30).map(lambda n: f"{n}e{n % 400}"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    *(_digits(start) for start in DIGIT_SCRIPTS.values()),
)
# A value, or the same key repeated (what a list becomes in a urlencoded form).
value = st.one_of(scalar, scalar, st.lists(scalar, min_size=2, max_size=3))


def form(**fields):
    """Each field: missing, a hostile value, or one of the values the page itself sends."""
    return st.fixed_dictionaries(
        {},
        optional={
            name: st.one_of(value, st.sampled_from(valid)) if valid else value
            for name, valid in fields.items()
        },
    )


def htmx(flag: bool) -> dict:
    return {"HX-Request": "true", "HX-Current-URL": "http://localhost/"} if flag else {}


# --- the checks every answer must pass ------------------------------------------------


def written(app) -> tuple[int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Demande, Echeance, AuditEvent)
    )


def check(response) -> None:
    assert response.status_code < 500, response.status_code
    body = response.get_data(as_text=True)
    for payload in MARKUP:
        assert payload not in body, payload


@pytest.fixture
def baseline(app):
    before = written(app)
    yield
    db.session.rollback()
    assert written(app) == before


@pytest.fixture
def logged_in(client, auth, baseline):
    response = auth.login()
    assert response.status_code == 302
    return client


@pytest.fixture
def start_draft(logged_in):
    """Start a draft that passed the paramétrage step: the state the later steps expect."""
    page = logged_in.get(f"/demande/{NUMERO}/parametrage").get_data(as_text=True)
    compte = re.search(r'<option value="(\d+)"', page)[1]

    def start(modalite: str = "acomptes") -> None:
        response = logged_in.post(
            f"/demande/{NUMERO}/parametrage",
            data={"modalite": modalite, "compte": compte, "garanties": "1"},
        )
        assert response.status_code == 302

    return start


# --- the endpoints ----------------------------------------------------------------------


@pytest.fixture
def cheap_passwords(monkeypatch):
    """No valid password is ever posted here: skip the deliberately slow hashing."""
    from db.models import User

    monkeypatch.setattr(User, "check_password", lambda self, password: False)


@LIMITS
@given(data=form(utilisateur=["groupe"], mot_de_passe=[]), next_=value)
def test_login_form(client, baseline, cheap_passwords, data, next_):
    """The login form shows back the typed login, escaped; nothing else leaks."""
    target = next_ if isinstance(next_, str) else next_[0]
    response = client.post("/connexion?" + urlencode({"next": target}), data=data)
    check(response)
    assert response.status_code in (200, 400, 401)


@LIMITS
@given(
    params=form(q=["atlas", NUMERO], taille=["10", "25", "50"], page=["1", "2"]), hx=st.booleans()
)
def test_choisir_un_affilie(logged_in, params, hx):
    """The affiliés table, as a page and as the htmx fragment."""
    response = logged_in.get("/demande/nouvelle?" + urlencode(params, doseq=True), headers=htmx(hx))
    check(response)
    assert response.status_code == 200


@LIMITS
@given(
    data=form(modalite=["integral", "acomptes"], compte=[], garanties=["1"]),
    hx=st.booleans(),
)
def test_parametrage(logged_in, data, hx):
    response = logged_in.post(f"/demande/{NUMERO}/parametrage", data=data, headers=htmx(hx))
    check(response)
    assert response.status_code in (204, 302, 422)


@LIMITS
@given(
    modalite=st.sampled_from(["acomptes", "acomptes", "integral"]),
    data=form(
        action=["simuler", "moins", "plus", "valider"],
        avance=["", "5 000,00", "1000"],
        nombre_echeances=["1", "6", "60", "61"],
        curseur=["1", "6", "60"],
        cgu=["1"],
    ),
    hx=st.booleans(),
)
def test_simulation(logged_in, start_draft, modalite, data, hx):
    """Simuler, −, +, the slider and Valider; the full page and the htmx partial."""
    start_draft(modalite)
    response = logged_in.post(f"/demande/{NUMERO}/simulation", data=data, headers=htmx(hx))
    check(response)
    assert response.status_code in (200, 204, 302, 422)
    # Whatever was accepted into the draft, the pages built from it still render.
    for path in ("simulation", "validation"):
        check(logged_in.get(f"/demande/{NUMERO}/{path}"))


@LIMITS
@given(data=form(decision=["accepter", "fermer"]), hx=st.booleans())
def test_conditions(logged_in, start_draft, data, hx):
    start_draft()
    check(logged_in.get(f"/demande/{NUMERO}/conditions", headers=htmx(hx)))
    response = logged_in.post(f"/demande/{NUMERO}/conditions", data=data, headers=htmx(hx))
    check(response)
    assert response.status_code in (204, 302)


@LIMITS
@given(data=form(token=[SEEDED_TOKEN]), hx=st.booleans(), validated=st.booleans())
def test_confirmer_with_a_token_that_is_not_the_page_s(logged_in, start_draft, data, hx, validated):
    """Anything but the confirmation page's own token creates nothing."""
    start_draft()
    if validated:
        logged_in.post(
            f"/demande/{NUMERO}/simulation",
            data={"action": "valider", "avance": "", "nombre_echeances": "6", "cgu": "1"},
        )
    response = logged_in.post(f"/demande/{NUMERO}/confirmer", data=data, headers=htmx(hx))
    check(response)
    assert response.status_code in (204, 302)
    assert "/demandes/" not in response.headers.get("Location", "")
    assert "/demandes/" not in response.headers.get("HX-Redirect", "")


@LIMITS
@given(
    numero=value, step=st.sampled_from(["parametrage", "simulation", "validation", "conditions"])
)
def test_numero_in_the_path(logged_in, numero, step):
    """Someone else's or a made-up affilié number: 404, never a trace."""
    text = numero if isinstance(numero, str) else numero[0]
    response = logged_in.get(f"/demande/{quote(text[:2000], safe='')}/{step}")
    check(response)


@LIMITS
@given(reference=value)
def test_reference_in_the_path(logged_in, reference):
    """A made-up request reference: 404, never a trace (a NUL byte anywhere: 400)."""
    text = reference if isinstance(reference, str) else reference[0]
    for suffix in ("", "\x00"):
        response = logged_in.get(f"/demandes/{quote(text[:2000] + suffix, safe='')}")
        check(response)
        assert response.status_code == (400 if "\x00" in text + suffix else 404)


@LIMITS
@given(data=form(lang=["fr", "ar"], next=["/", "/demande/nouvelle"]))
def test_langue(client, baseline, data):
    response = client.post("/langue", data=data)
    check(response)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith("//")


NUL = f"a\x00{SCRIPT}"


def test_nul_character_in_the_journey(logged_in, start_draft):
    """A NUL byte (which PostgreSQL text refuses) reaches no query of the journey."""
    start_draft()
    check(logged_in.get("/demande/nouvelle?" + urlencode({"q": NUL})))
    for step, field in (
        ("parametrage", "compte"),
        ("parametrage", "modalite"),
        ("simulation", "avance"),
        ("simulation", "nombre_echeances"),
        ("conditions", "decision"),
        ("confirmer", "token"),
    ):
        check(logged_in.post(f"/demande/{NUMERO}/{step}", data={field: NUL}))
        start_draft()


@pytest.mark.parametrize("field", ["utilisateur", "mot_de_passe"])
def test_nul_character_in_the_login(client, baseline, cheap_passwords, field):
    check(client.post("/connexion", data={"utilisateur": "groupe", field: NUL}))
