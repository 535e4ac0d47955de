"""Low-bandwidth budgets, measured on real responses (gzip, as a browser asks for them).

- the first load of each journey page, HTML + CSS + JS (htmx included): ≤ 60 KB;
- each simulation partial, the worst case included (60 instalments, and the 60 rows of
  the Détail des échéances fetched when it is opened): ≤ 3 KB;
- no web font, no image file (inline SVG only);
- static files fingerprinted (``?v=<hash>``), cached for a year, and compressed.

``python bench/page_weight.py`` prints the same figures as a table.
"""

from __future__ import annotations

import gzip
import html
import re
from dataclasses import dataclass

import pytest

from commands.demo import ASTREINTES_NUMERO, GUIDE_NUMERO, INTEGRAL_NUMERO

PAGE_BUDGET = 60 * 1024
PARTIAL_BUDGET = 3 * 1024
# A move of the slider (the panel, its picture included), gzipped.
MOVE_BUDGET = 2 * 1024
YEAR = 31_536_000
GZIP = {"Accept-Encoding": "gzip"}
HX = {**GZIP, "HX-Request": "true"}
ASSET = re.compile(r'<(?:link[^>]*\bhref|script[^>]*\bsrc)="(/static/[^"]+)"')


@dataclass
class Weight:
    label: str
    raw: int
    transferred: int
    text: str


def weigh(label: str, response) -> Weight:
    body = response.get_data()
    if response.headers.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(body)
    else:
        assert "Content-Encoding" not in response.headers
        raw = body
    return Weight(label, len(raw), len(body), raw.decode())


def first_load(client, label: str, response) -> int:
    """Bytes on the wire for a page and the CSS and scripts it links, fetched cold."""
    page = weigh(label, response)
    total = page.transferred
    for url in ASSET.findall(page.text):
        total += weigh(url, client.get(url, headers=GZIP)).transferred
    return total


class Journey:
    def __init__(self, client):
        self.client = client

    def parametrage(self, numero: str, **form):
        url = f"/demande/{numero}/parametrage"
        if not form:
            return self.client.get(url, headers=GZIP)
        return self.client.post(url, data=form, headers=GZIP)

    def start(self, numero: str, modalite: str) -> None:
        page = self.parametrage(numero)
        compte = re.search(r'<option value="(\d+)"', weigh("", page).text).group(1)
        form = {"modalite": modalite, "compte": compte, "garanties": "1"}
        assert self.parametrage(numero, **form).status_code == 302

    def simulation(self, numero: str):
        return self.client.get(f"/demande/{numero}/simulation", headers=GZIP)

    def simuler(self, numero: str, headers=HX, **form):
        return self.client.post(f"/demande/{numero}/simulation", data=form, headers=headers)

    def move(self, numero: str, headers=HX, **query):
        """A move of the slider, − / + or Simuler: a GET with its values in the address."""
        url = f"/demande/{numero}/simulation"
        return self.client.get(url, query_string=query, headers=headers)


@pytest.fixture
def journey(client):
    return Journey(client)


def set_language(client, lang: str) -> None:
    client.post("/langue", data={"lang": lang})


LANGS = pytest.mark.parametrize("lang", ["fr", "ar"])


@LANGS
def test_the_first_load_of_every_journey_page_fits_in_60_kb(client, auth, journey, lang):
    set_language(client, lang)
    loads = {
        "login": first_load(client, "login", client.get("/connexion", headers=GZIP)),
    }
    refused = client.post(
        "/connexion", data={"utilisateur": "groupe", "mot_de_passe": "x"}, headers=GZIP
    )
    loads["login refusé"] = first_load(client, "login refusé", refused)
    auth.login()
    loads["accueil"] = first_load(client, "accueil", client.get("/", headers=GZIP))
    choisir = client.get("/demande/nouvelle?taille=50", headers=GZIP)
    loads["choisir un affilié (50)"] = first_load(client, "choisir", choisir)
    loads["paramétrage"] = first_load(client, "p", journey.parametrage(GUIDE_NUMERO))
    empty = journey.parametrage(GUIDE_NUMERO, modalite="")
    assert empty.status_code == 422
    loads["paramétrage erreurs"] = first_load(client, "pe", empty)
    journey.start(INTEGRAL_NUMERO, "integral")
    loads["simulation intégral"] = first_load(client, "si", journey.simulation(INTEGRAL_NUMERO))
    journey.start(GUIDE_NUMERO, "acomptes")
    loads["simulation acomptes"] = first_load(client, "sa", journey.simulation(GUIDE_NUMERO))
    refused = journey.simuler(GUIDE_NUMERO, headers=GZIP, action="simuler", avance="abc")
    assert refused.status_code == 422
    loads["simulation erreur (sans JS)"] = first_load(client, "se", refused)
    journey.simuler(GUIDE_NUMERO, headers=GZIP, action="simuler", nombre_echeances="60")
    loads["simulation 60 échéances"] = first_load(client, "s60", journey.simulation(GUIDE_NUMERO))
    conditions = client.get(f"/demande/{GUIDE_NUMERO}/conditions", headers=GZIP)
    loads["conditions générales"] = first_load(client, "cg", conditions)
    client.post(f"/demande/{GUIDE_NUMERO}/conditions", data={"decision": "accepter"})
    validation = client.get(f"/demande/{GUIDE_NUMERO}/validation", headers=GZIP)
    loads["validation"] = first_load(client, "v", validation)
    token = re.search(r'name="token" value="([^"]+)"', weigh("", validation).text).group(1)
    done = client.post(f"/demande/{GUIDE_NUMERO}/confirmer", data={"token": token})
    recap = client.get(done.headers["Location"], headers=GZIP)
    loads["récapitulatif (60 échéances)"] = first_load(client, "r", recap)
    expired = client.get(f"/session/expiree?lang={lang}", headers=GZIP)
    loads["session expirée"] = first_load(client, "x", expired)

    over = {page: size for page, size in loads.items() if size > PAGE_BUDGET}
    assert not over, f"over {PAGE_BUDGET} bytes: {over}"


@LANGS
def test_every_simulation_partial_fits_in_3_kb(client, auth, journey, lang):
    set_language(client, lang)
    auth.login()
    journey.start(ASTREINTES_NUMERO, "acomptes")
    n = ASTREINTES_NUMERO
    partials = {
        "+": journey.move(n, n="7"),
        "−": journey.move(n, n="6"),
        "curseur": journey.move(n, n="24"),
        # The worst case: every instalment in the Détail des échéances table.
        "60 échéances et une avance": journey.move(n, n="60", avance="1 234,56"),
        "+ au maximum": journey.move(n, n="60"),
        "erreurs": journey.move(n, n="99", avance="abc"),
        "valider sans conditions": journey.simuler(n, action="valider"),
        # Valider with the values shown (60 instalments, an avance): the dialog itself.
        "dialogue de confirmation": journey.simuler(
            n, action="valider", cgu="1", nombre_echeances="60", avance="1 234,56"
        ),
    }
    # Opening the Détail des échéances of the 60-instalment panel fetches its rows.
    sixty = weigh("60", partials["60 échéances et une avance"]).text
    rows_url = html.unescape(re.search(r'<details[^>]*data-hx-get="([^"]+)"', sixty).group(1))
    partials["détail des 60 échéances"] = journey.client.get(rows_url, headers=HX)
    weights = {label: weigh(label, r) for label, r in partials.items()}

    assert {k: r.status_code for k, r in partials.items() if r.status_code != 200} == {
        "erreurs": 422
    }
    assert weights["détail des 60 échéances"].text.count("<tr>") == 61  # the avance and 60
    assert 'id="confirmation-dialog"' in weights["dialogue de confirmation"].text
    over = {k: w.transferred for k, w in weights.items() if w.transferred > PARTIAL_BUDGET}
    assert not over, f"over {PARTIAL_BUDGET} bytes: {over}"
    moves = ("+", "−", "curseur", "60 échéances et une avance", "+ au maximum", "erreurs")
    heavy = {k: weights[k].transferred for k in moves if weights[k].transferred > MOVE_BUDGET}
    assert not heavy, f"a move over {MOVE_BUDGET} bytes: {heavy}"


def test_pages_use_no_web_font_and_no_image_file(client, auth, journey):
    auth.login()
    journey.start(GUIDE_NUMERO, "acomptes")
    html = weigh("simulation", journey.simulation(GUIDE_NUMERO)).text
    assets = ASSET.findall(html)
    css = [weigh(u, client.get(u, headers=GZIP)).text for u in assets if ".css" in u]

    assert css, assets
    for sheet in css:
        assert "@font-face" not in sheet
        assert not re.search(r"url\(", sheet), "the stylesheet fetches a file"
    for page in (html, weigh("accueil", client.get("/", headers=GZIP)).text):
        assert "<img" not in page
        assert not re.search(r'<link[^>]+rel="preload"', page)
        # The favicon is inline (no request of its own) and tiny.
        icons = re.findall(r'<link rel="icon" href="([^"]+)"', page)
        assert len(icons) == 1 and icons[0].startswith("data:") and len(icons[0]) < 400
        assert not re.search(r"\.(?:woff2?|ttf|otf|png|jpe?g|gif|webp)\b", page)


def test_static_files_are_fingerprinted_cached_for_a_year_and_compressed(client):
    html = weigh("login", client.get("/connexion", headers=GZIP)).text
    assets = ASSET.findall(html)

    assert {re.sub(r"\?.*", "", u) for u in assets} >= {
        "/static/css/app.css",
        "/static/js/htmx.min.js",
        "/static/js/app.js",
    }
    for url in assets:
        assert re.search(r"\?v=[0-9a-f]{10}$", url), url
        response = client.get(url, headers=GZIP)
        assert response.status_code == 200
        cache = response.cache_control
        assert cache.max_age == YEAR and cache.public and cache.immutable, url
        assert response.headers["Content-Encoding"] == "gzip", url
        assert "Accept-Encoding" in response.headers["Vary"]
        assert int(response.headers["Content-Length"]) == len(response.get_data())
    # Without its fingerprint a file may change under the same URL: minutes, not a year.
    bare = client.get("/static/js/app.js", headers=GZIP)
    assert bare.cache_control.max_age == 300 and not bare.cache_control.immutable


def test_a_client_without_gzip_gets_the_plain_file(client):
    response = client.get("/static/js/htmx.min.js")

    assert "Content-Encoding" not in response.headers
    assert response.get_data().startswith(b"var htmx=")


def test_pages_are_compressed_and_never_cached(client, auth):
    auth.login()
    response = client.get("/", headers=GZIP)

    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "no-store"
    assert {"HX-Request", "Accept-Encoding"} <= set(response.vary)


def without_tokens(html: str) -> str:
    return re.sub(r'("X-CSRFToken": "|name="csrf_token" value=")[^"]*', r"\1…", html)


def test_refused_forms_are_compressed_too(client, auth, journey):
    """Flask-Compress skips 4xx answers; a form sent back with its errors is a whole page."""
    refused = client.post(
        "/connexion", data={"utilisateur": "groupe", "mot_de_passe": "x"}, headers=GZIP
    )
    auth.login()
    empty = journey.parametrage(GUIDE_NUMERO, modalite="")
    plain = client.post(f"/demande/{GUIDE_NUMERO}/parametrage", data={"modalite": ""})

    for response, status in ((refused, 401), (empty, 422)):
        assert response.status_code == status
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response.vary
    # Same page, compressed or not (the CSRF token carries the second it was signed).
    assert without_tokens(weigh("p", empty).text) == without_tokens(plain.get_data(as_text=True))
    assert weigh("p", empty).transferred < len(plain.get_data()) / 2
    assert "Content-Encoding" not in plain.headers
