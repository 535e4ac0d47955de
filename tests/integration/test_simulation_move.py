"""A move of the slider is a safe read: its values in the address, an ETag, nothing written,
forged values refused beside their field, and caches that never answer after a write."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import product
from urllib.parse import urlencode

import flask_compress
import jinja2
import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select, update

from commands.demo import DEMO_PASSWORD
from common.formatting import mad
from db.models import Affilie, Campaign, CampaignTier, CompteBancaire, LigneCreance, User
from extensions import db
from services import caches, queries
from tests.conftest import AuthActions, make_app
from tests.integration.pages import Page
from web import sessions

GUIDE = "4317542"
MOVE = {"HX-Request": "true"}
URL = f"/demande/{GUIDE}/simulation"
N_RANGE = "Le nombre d'échéances doit être compris entre 1 et 60."
N_WHOLE = "Le nombre d'échéances doit être un nombre entier compris entre 1 et 60."
AVANCE_INVALID = "Le montant de l'avance doit être un nombre, par exemple 5 000,00."
AVANCE_TOO_LARGE = "Le montant de l'avance doit être inférieur au montant à payer"


@pytest.fixture
def started(client, auth, app):
    auth.login("groupe")
    with app.app_context():
        compte = db.session.scalar(
            select(CompteBancaire.id).join(Affilie).where(Affilie.numero == GUIDE)
        )
    response = client.post(
        f"/demande/{GUIDE}/parametrage",
        data={"modalite": "acomptes", "compte": str(compte), "garanties": "1"},
    )
    assert response.status_code == 302
    return client


def test_a_move_carries_a_strong_etag_and_a_revisit_costs_a_304(started):
    first = started.get(f"{URL}?n=12", headers=MOVE)
    assert first.status_code == 200
    etag, weak = first.get_etag()
    assert etag and not weak
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "HX-Request" in first.vary

    again = started.get(f"{URL}?n=12", headers={**MOVE, "If-None-Match": f'"{etag}"'})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.get_etag()[0] == etag

    other = started.get(f"{URL}?n=13", headers={**MOVE, "If-None-Match": f'"{etag}"'})
    assert other.status_code == 200
    assert other.get_etag()[0] != etag


HOSTILE_SUFFIXES = [
    ":" + "A" * 4000,
    ":<script>alert(1)</script>",
    "<script>alert(1)</script>",
    ":gzip-and-more",
    ":identity",
    "0",
]


def _header_block(response) -> int:
    return sum(len(k) + len(v) + 4 for k, v in response.headers.items())


@pytest.mark.parametrize("kept_before", [False, True], ids=["rendered", "kept"])
@pytest.mark.parametrize("suffix", HOSTILE_SUFFIXES)
def test_a_tag_that_only_starts_like_ours_gets_the_panel_and_our_own_tag(
    started, suffix, kept_before
):
    etag = started.get(f"{URL}?n=12", headers=MOVE).get_etag()[0]
    if not kept_before:
        caches.clear()
    forged = started.get(f"{URL}?n=12", headers={**MOVE, "If-None-Match": f'"{etag}{suffix}"'})
    assert forged.status_code == 200
    assert forged.headers["ETag"] == f'"{etag}"'
    assert "<script>" not in str(forged.headers) and "AAAA" not in str(forged.headers)
    assert _header_block(forged) < 2048
    # Among other tags, ours still answers a 304, with our tag alone.
    several = f'"{etag}{suffix}", "{etag}"'
    again = started.get(f"{URL}?n=12", headers={**MOVE, "If-None-Match": several})
    assert again.status_code == 304 and again.headers["ETag"] == f'"{etag}"'


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_the_compressed_tag_answers_a_304_with_the_tag_we_built(started, encoding):
    headers = {**MOVE, "Accept-Encoding": encoding}
    first = started.get(f"{URL}?n=12", headers=headers)
    assert first.headers["Content-Encoding"] == encoding
    tag = first.headers["ETag"]
    bare = first.get_etag()[0].removesuffix(f":{encoding}")
    assert tag == f'"{bare}:{encoding}"'
    for kept_before in (True, False):
        if not kept_before:
            caches.clear()
        again = started.get(f"{URL}?n=12", headers={**headers, "If-None-Match": tag})
        assert again.status_code == 304 and again.headers["ETag"] == tag
        forged = started.get(
            f"{URL}?n=12", headers={**headers, "If-None-Match": f'"{bare}:{encoding}<script>"'}
        )
        assert forged.status_code == 200 and forged.headers["ETag"] == tag


def test_the_etag_follows_the_language_and_the_avance(started):
    tags = set()
    for query in ("n=12", "n=12&avance=1000", "n=12&avance=1+000"):
        tags.add(started.get(f"{URL}?{query}", headers=MOVE).get_etag()[0])
    started.post("/langue", data={"lang": "ar"})
    tags.add(started.get(f"{URL}?n=12", headers=MOVE).get_etag()[0])
    assert len(tags) == 4


def test_the_etag_changes_when_the_lines_change(started, app):
    before = started.get(f"{URL}?n=12", headers=MOVE).get_etag()[0]
    with app.app_context():
        affilie = db.session.scalars(select(Affilie).where(Affilie.numero == GUIDE)).one()
        affilie.lignes_jeton = "changed-by-an-import"
        db.session.commit()
    after = started.get(f"{URL}?n=12", headers={**MOVE, "If-None-Match": f'"{before}"'})
    assert after.status_code == 200 and after.get_etag()[0] != before


def test_a_move_writes_nothing_in_the_session(started, app):
    before = started.get(f"{URL}?n=6", headers=MOVE)
    cookie = started.get_cookie("session").value
    moved = started.get(f"{URL}?n=30&avance=100", headers=MOVE)
    assert moved.status_code == 200
    # The cookie may be sent again (the session's sliding expiry), never with new contents.
    assert _contents(app, started.get_cookie("session").value) == _contents(app, cookie)
    assert before.status_code == 200
    page = Page(started.get(URL))
    assert page.value("nombre_echeances") == "6"


def _contents(app, cookie: str) -> dict:
    contents = SecureCookieSessionInterface().get_signing_serializer(app).loads(cookie)
    contents.pop(sessions.RENEWED, None)  # the second of its last renewal
    return contents


@pytest.mark.parametrize(
    "query, zone, message",
    [
        ("n=999", "nombre_echeances-erreur-zone", N_RANGE),
        ("n=-1", "nombre_echeances-erreur-zone", N_WHOLE),
        ("n=%D9%A9%D9%A9%D9%A9", "nombre_echeances-erreur-zone", N_RANGE),  # ٩٩٩
        ("n=6&avance=abc", "avance-erreur-zone", AVANCE_INVALID),
        ("n=6&avance=1e9", "avance-erreur-zone", AVANCE_INVALID),
        ("n=6&avance=1000000000", "avance-erreur-zone", AVANCE_TOO_LARGE),
        ("n=6&x=" + "A" * 10_000, "avance-erreur-zone", AVANCE_INVALID),
        ("n=6&avance=" + "9" * 10_000, "avance-erreur-zone", AVANCE_TOO_LARGE),
    ],
)
def test_forged_values_answer_a_422_partial_beside_the_field(started, query, zone, message):
    response = started.get(f"{URL}?{query}", headers=MOVE)
    assert response.status_code == 422
    page = Page(response)
    assert "<html" not in page.html
    assert page.by_id(zone).text.startswith(f"Erreur : {message}")
    assert response.get_etag() == (None, None)


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_forged_values_are_refused_in_the_users_language(started, lang):
    started.post("/langue", data={"lang": lang})
    response = started.get(f"{URL}?n=999", headers=MOVE)
    assert response.status_code == 422
    text = Page(response).by_id("nombre_echeances-erreur-zone").text
    assert ("échéances" in text) == (lang == "fr")


def test_arabic_indic_digits_read_as_the_same_count(started):
    arabic = started.get(f"{URL}?n=%D9%A2%D9%A4", headers=MOVE)  # ٢٤
    latin = started.get(f"{URL}?n=24", headers=MOVE)
    assert arabic.status_code == latin.status_code == 200
    assert arabic.get_etag() == latin.get_etag()


def test_without_javascript_the_form_lands_on_the_short_address(started):
    response = started.get(f"{URL}?avance=&curseur=6&n=6&precedent=6&action=plus")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{URL}?n=7#simulation-panel"
    page = Page(started.get(f"{URL}?n=7"))
    assert page.is_full_page
    assert page.value("nombre_echeances") == "7"


def test_a_move_needs_no_csrf_token_valider_does(database_url, clock):
    app = make_app(database_url, clock, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    logged_in = client.post(
        "/connexion",
        data={"utilisateur": "groupe", "mot_de_passe": DEMO_PASSWORD, "csrf_token": token},
    )
    assert logged_in.status_code == 302, logged_in.get_data(as_text=True)[:300]
    with app.app_context():
        compte = db.session.scalar(
            select(CompteBancaire.id).join(Affilie).where(Affilie.numero == GUIDE)
        )
    # The token is the session's; a new session at login has a new one.
    page = client.get(f"/demande/{GUIDE}/parametrage").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post(
        f"/demande/{GUIDE}/parametrage",
        data={"modalite": "acomptes", "compte": str(compte), "garanties": "1", "csrf_token": token},
    )
    assert client.get(f"{URL}?n=24", headers=MOVE).status_code == 200
    refused = client.post(URL, data={"action": "valider", "n": "24", "cgu": "1"})
    assert refused.status_code == 400
    kept = client.post(URL, data={"action": "valider", "n": "24", "cgu": "1", "csrf_token": token})
    assert kept.status_code == 302
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- the caches' versions -------------------------------------------------------------------


def _version(app, numero=GUIDE) -> str:
    with app.app_context():
        return db.session.scalar(select(Affilie.jeton).where(Affilie.numero == numero))


def test_unlinking_an_affilie_is_seen_by_the_next_move(started, app):
    assert started.get(f"{URL}?n=6", headers=MOVE).status_code == 200
    with app.app_context():
        user = db.session.scalars(select(User).where(User.login == "groupe")).one()
        user.affilies = [a for a in user.affilies if a.numero != GUIDE]
        db.session.commit()
    assert started.get(f"{URL}?n=6", headers=MOVE).status_code == 404


def test_an_affilie_change_changes_its_version(started, app):
    before = _version(app)
    with app.app_context():
        affilie = db.session.scalars(select(Affilie).where(Affilie.numero == GUIDE)).one()
        affilie.arrangement = True
        db.session.commit()
    assert _version(app) != before
    # The arrangement is seen at once: sent back with the reason.
    response = started.get(f"{URL}?n=6", headers=MOVE)
    assert response.status_code == 204 and "HX-Redirect" in response.headers


def test_bulk_writes_change_the_versions(app):
    before, other = _version(app), _version(app, "2145873")
    with app.app_context():
        db.session.execute(
            CompteBancaire.__table__.update()
            .where(CompteBancaire.affilie_id.in_(select(Affilie.id).where(Affilie.numero == GUIDE)))
            .values(banque="Autre banque")
        )
        # Core statements through the session are seen too.
        db.session.commit()
    assert _version(app) != before
    assert _version(app, "2145873") == other  # only the affiliés written


def test_a_campaign_change_is_seen_by_the_next_move(started, app):
    assert started.get(f"{URL}?n=30", headers=MOVE).status_code == 200
    with app.app_context():
        campaign = db.session.scalars(select(Campaign).where(Campaign.active.is_(True))).first()
        campaign.max_echeances = 24
        db.session.commit()
    response = started.get(f"{URL}?n=30", headers=MOVE)
    assert response.status_code == 422
    assert "entre 1 et 24" in Page(response).by_id("nombre_echeances-erreur-zone").text


def test_a_cold_and_a_warm_move_answer_the_same(started):
    warm = started.get(f"{URL}?n=18&avance=2000", headers=MOVE)
    caches.clear()
    cold = started.get(f"{URL}?n=18&avance=2000", headers=MOVE)
    assert warm.get_data() == cold.get_data()


# --- the rendered panels, kept under their ETag ------------------------------------------


@pytest.fixture
def kept(started):
    """A move's client, with an empty panel cache (it is the process's)."""
    caches.clear()
    yield started
    caches.clear()


def _unrendered(monkeypatch):
    """From now on a move that simulates, renders or compresses fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("simulated, rendered or compressed again")

    monkeypatch.setattr(queries, "simulation_for", refuse)
    monkeypatch.setattr(jinja2.Environment, "get_template", refuse)
    monkeypatch.setattr(flask_compress.flask_compress, "_compress_data", refuse)


# What may differ between two answers to the same move: the request's id, and the session
# cookie's timestamp (its sliding expiry).
PER_REQUEST = {"X-Request-ID", "Set-Cookie"}


def _headers(response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.items() if k not in PER_REQUEST]


@pytest.mark.parametrize("encoding", [None, "br"])
def test_a_kept_panel_is_the_same_answer_without_a_render(kept, monkeypatch, encoding):
    headers = {**MOVE, "Accept-Encoding": encoding} if encoding else MOVE
    rendered = kept.get(f"{URL}?n=12&avance=1+000", headers=headers)
    assert rendered.status_code == 200 and len(caches.panels) == 1
    _unrendered(monkeypatch)
    again = kept.get(f"{URL}?n=12&avance=1+000", headers=headers)
    assert again.status_code == 200
    assert again.get_data() == rendered.get_data()
    assert _headers(again) == _headers(rendered)
    assert again.headers["HX-Replace-Url"] == f"{URL}?n=12&avance=1+000"
    assert again.headers.get("Content-Encoding") == encoding
    # The browser's copy of it: a 304, still without a render.
    etag = again.headers["ETag"]
    assert (
        kept.get(f"{URL}?n=12&avance=1+000", headers={**headers, "If-None-Match": etag}).status_code
        == 304
    )


def test_only_the_kept_panels_keep_their_compressed_body(kept):
    zstd = {"Accept-Encoding": "zstd"}
    assert kept.get(f"{URL}?n=12", headers={**MOVE, **zstd}).headers["Content-Encoding"] == "zstd"
    assert len(caches.compressed) == 1
    page = kept.get(f"{URL}?n=12", headers=zstd)
    table = kept.get("/demande/nouvelle?q=ATLAS", headers={**MOVE, **zstd})
    assert page.headers["Content-Encoding"] == table.headers["Content-Encoding"] == "zstd"
    assert len(caches.compressed) == 1


def test_a_kept_panel_follows_the_language(kept, monkeypatch):
    french = kept.get(f"{URL}?n=12", headers=MOVE).get_data(as_text=True)
    kept.post("/langue", data={"lang": "ar"})
    arabic = kept.get(f"{URL}?n=12", headers=MOVE).get_data(as_text=True)
    assert arabic != french and "Récapitulatif" not in arabic
    assert len(caches.panels) == 2
    kept.post("/langue", data={"lang": "fr"})
    _unrendered(monkeypatch)
    assert kept.get(f"{URL}?n=12", headers=MOVE).get_data(as_text=True) == french


def _double_the_lines(app):
    # As an import that changes the amounts would: a bulk statement through the session.
    guide = select(Affilie.id).where(Affilie.numero == GUIDE).scalar_subquery()
    db.session.execute(
        update(LigneCreance)
        .where(LigneCreance.affilie_id == guide)
        .values(montant=LigneCreance.montant * 2)
    )


def _lower_the_rates(app):
    for tier in db.session.scalars(select(CampaignTier)):
        tier.taux_penalites = tier.taux_penalites / 2
        tier.taux_astreintes = tier.taux_astreintes / 2


def _a_month_later(app):
    """The indicative dates count from today: next month, the panel's dates move."""
    app.config["CLOCK"].set(datetime(2023, 12, 20, 10, 30))


@pytest.mark.parametrize("write", [_double_the_lines, _lower_the_rates, _a_month_later])
def test_a_write_gives_a_fresh_render(kept, app, write):
    before = kept.get(f"{URL}?n=12", headers=MOVE)
    assert kept.get(f"{URL}?n=12", headers=MOVE).get_data() == before.get_data()  # kept
    write(app)
    db.session.commit()
    after = kept.get(f"{URL}?n=12", headers=MOVE)
    assert after.status_code == 200
    assert after.get_data() != before.get_data()
    assert after.get_etag() != before.get_etag()
    caches.clear()
    assert kept.get(f"{URL}?n=12", headers=MOVE).get_data() == after.get_data()


def test_a_kept_panel_is_for_the_accounts_that_see_it(kept, auth, app):
    shown = kept.get(f"{URL}?n=12", headers=MOVE)
    # Another account linked to the affilié gets its own entry, and the same figures.
    other = app.test_client()
    AuthActions(other).login("entreprise")
    compte = db.session.scalar(
        select(CompteBancaire.id).join(Affilie).where(Affilie.numero == GUIDE)
    )
    other.post(
        f"/demande/{GUIDE}/parametrage",
        data={"modalite": "acomptes", "compte": str(compte), "garanties": "1"},
    )
    theirs = other.get(f"{URL}?n=12", headers=MOVE)
    assert theirs.get_data() == shown.get_data() and theirs.get_etag() != shown.get_etag()
    assert len(caches.panels) == 2
    # An account that lost the link is refused, though the panel is kept.
    user = db.session.scalars(select(User).where(User.login == "entreprise")).one()
    user.affilies = []
    db.session.commit()
    assert other.get(f"{URL}?n=12", headers=MOVE).status_code == 404


def test_refused_values_are_never_kept_nor_answered_from_the_cache(kept):
    assert kept.get(f"{URL}?n=6", headers=MOVE).status_code == 200
    assert kept.get(f"{URL}?n=999", headers=MOVE).status_code == 422
    assert kept.get(f"{URL}?n=6&avance=1000000000", headers=MOVE).status_code == 422
    assert len(caches.panels) == 1
    # The same count as the kept panel, in an address no form of ours sends.
    response = kept.get(f"{URL}?n=6&x=" + "A" * 10_000, headers=MOVE)
    assert response.status_code == 422


def test_whatever_the_address_a_kept_answer_is_the_rendered_one(kept):
    """The no-JS form's fields in every combination (the count typed, the slider, the count
    its page showed, − / +), one after the other: the panels kept by the earlier addresses
    stay, and an address must never find another's."""
    fields = {
        "n": ("", "6", "7", "61", "abc"),
        "curseur": ("", "6", "7"),
        "precedent": ("", "6", "7"),
        "action": ("", "moins", "plus"),
        "avance": ("", "1 000"),
    }
    for values in product(*fields.values()):
        query = {k: v for k, v in zip(fields, values, strict=True) if v}
        address = f"{URL}?{urlencode(query)}"
        answers = [kept.get(address, headers=MOVE) for _ in range(2)]
        kept_panels = caches.panels
        caches.panels = caches._WeighedLru(caches.PANELS_BUDGET, lambda panel: panel.weight)
        try:
            rendered = kept.get(address, headers=MOVE)
        finally:
            caches.panels = kept_panels
        for answer in answers:
            assert answer.status_code == rendered.status_code, address
            assert answer.get_data() == rendered.get_data(), address
            assert _headers(answer) == _headers(rendered), address
    assert len(caches.panels) >= 8  # 5 to 8 and 60 months, with and without an avance


def test_the_kept_panels_are_bounded_least_recently_used_first():
    panels = caches._WeighedLru(2 * 1500, lambda panel: panel.weight)

    def panel(i):
        return caches.RenderedPanel(f"tag{i}", b"x" * 1000, f"/u?n={i}")

    for i in range(3):
        panels.put(("k", i), panel(i))
    assert len(panels) == 2 and panels.weight <= 2 * 1500
    assert panels.get(("k", 0)) is None
    assert panels.get(("k", 1)) is not None  # now the most recent
    panels.put(("k", 3), panel(3))
    assert panels.get(("k", 2)) is None and panels.get(("k", 1)) is not None
    panels.put(("big",), caches.RenderedPanel("t", b"x" * 10_000, "/u"))
    assert panels.get(("big",)) is None and len(panels) == 2


def test_the_process_keeps_at_most_its_budget(kept, monkeypatch):
    small = caches._WeighedLru(5 * 5000, lambda panel: panel.weight)
    monkeypatch.setattr(caches, "panels", small)
    for n in range(1, 21):
        assert kept.get(f"{URL}?n={n}", headers=MOVE).status_code == 200
    assert 1 <= len(small) < 20 and small.weight <= 5 * 5000


# --- the picture ------------------------------------------------------------------------------


def _svg(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<svg") : html.index("</svg>") + 6]


def test_the_picture_follows_the_slider_with_its_text(started):
    six = started.get(f"{URL}?n=6", headers=MOVE)
    sixty = started.get(f"{URL}?n=60&avance=5000", headers=MOVE)
    for response, bars in ((six, 6), (sixty, 60)):
        svg = _svg(response)
        assert 'role="img"' in svg and 'aria-labelledby="picture-texte"' in svg
        assert len(svg.encode()) <= 2048
        path = svg.split('class="p-echeance" d="', 1)[1].split('"', 1)[0]
        assert path.count("M") == bars
    caption = Page(sixty).by_id("picture-texte").text
    assert caption.startswith("Montant de la remise :")
    assert "Avance de" in caption and "pendant 60 mois" in caption
    assert 'class="p-avance"' in _svg(sixty) and 'class="p-avance"' not in _svg(six)


def test_the_picture_is_drawn_from_the_right_in_arabic(started):
    fr = _svg(started.get(f"{URL}?n=6", headers=MOVE))
    started.post("/langue", data={"lang": "ar"})
    ar = _svg(started.get(f"{URL}?n=6", headers=MOVE))

    def remise_x(svg):
        return int(svg.split('class="p-remise" x="', 1)[1].split('"', 1)[0])

    assert remise_x(fr) == 0 and remise_x(ar) > 0
    first_bar = ar.split('class="p-echeance" d="M', 1)[1].split(" ", 1)[0]
    assert int(first_bar) > 250  # the first instalment on the right


# --- the échéancier to keep ---------------------------------------------------------------


def test_the_echeancier_as_csv_agrees_with_the_panel(started):
    panel = Page(started.get(f"{URL}?n=2&avance=5+000", headers=MOVE))
    link = panel.find("a", string=None, href=f"{URL}/echeancier.csv?n=2&avance=5+000")
    assert link is not None and "CSV" in link.text
    response = started.get(f"{URL}/echeancier.csv?n=2&avance=5+000")
    assert response.mimetype == "text/csv"
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").split("\r\n")
    # The panel's indicative dates, said so in the header.
    assert lines[:4] == [
        "Échéance;Date indicative;Montant",
        "Avance;10/12/2023;5000,00",
        "1;10/01/2024;8475,32",
        "2;10/02/2024;8475,31",
    ]
    assert lines[4] == "Montant à payer;;21950,63"


def test_the_echeancier_as_ics(started, app):
    response = started.get(f"{URL}/echeancier.ics?n=2&avance=5+000")
    assert response.mimetype == "text/calendar"
    text = response.get_data(as_text=True)
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.count("BEGIN:VEVENT") == 3  # the avance has its date too
    assert "DTSTART;VALUE=DATE:20231210\r\n" in text
    assert "DTSTART;VALUE=DATE:20240110\r\n" in text
    assert text.count("STATUS:TENTATIVE\r\n") == 3
    unfolded = text.replace("\r\n ", "")
    with app.test_request_context():
        amount = mad(Decimal("8475.32")).replace(",", "\\,")
    assert f"SUMMARY:Échéance 1 sur 2 : {amount} (date indicative)\r\n" in unfolded
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    again = started.get(f"{URL}/echeancier.ics?n=2&avance=5+000").get_data(as_text=True)
    uids = [line for line in text.split("\r\n") if line.startswith("UID:")]
    assert uids == [line for line in again.split("\r\n") if line.startswith("UID:")]


def test_the_files_are_safe_against_formulas():
    from decimal import Decimal

    from common.echeancier_files import Calendrier, Row, echeancier_csv, echeancier_ics

    schedule = [Row(1, date(2024, 1, 10), Decimal("1061.08"))]
    labels = dict.fromkeys(("rang", "date", "montant", "avance", "total", "affilie"), "x")
    csv = echeancier_csv(schedule, labels, "=HYPERLINK(1)").decode("utf-8-sig")
    assert ";'=HYPERLINK(1)" in csv and ";=HYPERLINK" not in csv
    ics = echeancier_ics(
        schedule,
        Calendrier(
            uid_prefix="1",
            summary=lambda row: "+1",
            description="\x0b@SUM(1)",
            stamp=datetime(2024, 1, 1),
            indicative=True,
        ),
    ).decode()
    assert "SUMMARY:'+1" in ics and "DESCRIPTION:'@SUM(1)" in ics
