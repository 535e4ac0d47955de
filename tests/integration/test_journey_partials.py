"""The journey's htmx fragments: what the browser swaps in, and only that.

Requests carry ``HX-Request: true`` as htmx sends it; a fragment has no ``<html>``, a
boosted navigation or a history restore gets the full page.
"""

from __future__ import annotations

import pytest

from tests.integration.journey import (
    AVANCE_INVALID,
    CGU_REQUIRED,
    GUIDE,
    INTEGRAL,
    N_OUT_OF_RANGE,
    Page,
    app_fixture,  # noqa: F401  (the app without a pushed context)
    count_demandes,
    demandes,
    journey_fixture,  # noqa: F401
    mad,
    num,
    pct,
)

HX = {"HX-Request": "true"}
OOB = ["nombre-mois", "palier", "avance-erreur-zone", "nombre_echeances-erreur-zone"]


def top_level(page: Page) -> list[str]:
    """The ids of the fragment's top-level elements, in order."""
    return [child.attrs.get("id", child.tag) for child in page.children if hasattr(child, "tag")]


def assert_fragment(page: Page) -> None:
    assert page.status == 200
    assert "<html" not in page.html and "<body" not in page.html
    assert page.find("main") is None and page.find("header") is None


# --- choisir un affilié -----------------------------------------------------------------


@pytest.mark.parametrize(
    "query, info",
    [
        ("", "Affichage de l'élément 1 à 10 sur 55 éléments"),
        ("?taille=25", "Affichage de l'élément 1 à 25 sur 55 éléments"),
        ("?taille=50&page=2", "Affichage de l'élément 51 à 55 sur 55 éléments"),
        ("?q=IQIQEN", "Affichage de l'élément 1 sur 1 élément"),
        ("?page=3", "Affichage de l'élément 21 à 30 sur 55 éléments"),
    ],
)
def test_the_affilies_table_is_a_fragment_for_htmx(journey, auth, query, info):
    auth.login("groupe")
    response = journey.client.get(f"/demande/nouvelle{query}", headers=HX)
    page = Page(response)

    assert_fragment(page)
    assert top_level(page) == ["affilies-table"]
    assert page.find(class_="table-info").text == info
    assert page.find("form") is None  # the search field is not replaced while typed in
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize(
    "headers",
    [
        {"HX-Request": "true", "HX-Boosted": "true"},
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},
        {},
    ],
    ids=["boosted", "history-restore", "plain"],
)
def test_navigations_get_the_full_choisir_page(journey, auth, headers):
    auth.login("groupe")
    page = Page(journey.client.get("/demande/nouvelle?page=2", headers=headers))
    assert page.is_full_page
    assert page.h1 == "Étape 1 sur 4 Nouvelle demande"
    assert page.find(class_="table-info").text == "Affichage de l'élément 11 à 20 sur 55 éléments"


def test_the_search_form_and_pager_drive_htmx(journey, auth):
    auth.login("groupe")
    page = Page(journey.client.get("/demande/nouvelle"))
    form = page.find("form", role="search")
    assert form.attrs["method"] == "get" and form.attrs["action"] == "/demande/nouvelle"
    assert form.attrs["data-hx-get"] == "/demande/nouvelle"
    assert form.attrs["data-hx-target"] == "#affilies-table"
    link = page.find("nav", class_="pager").find("a", class_="page")
    assert link.attrs["href"] == link.attrs["data-hx-get"]
    assert link.attrs["data-hx-target"] == "#affilies-table"


# --- the simulation panel ---------------------------------------------------------------


def panel_post(journey, numero=GUIDE, **fields):
    response = journey.simuler(numero, headers=HX, **fields)
    return Page(response)


def test_the_panel_fragment_for_the_guide_example(journey):
    journey.start(GUIDE, "acomptes")
    page = panel_post(journey, avance="5 000", n=2, action="simuler")

    assert_fragment(page)
    # Only the panel and the out-of-band parts: the controls (and their focus) stay.
    assert top_level(page) == ["simulation-panel", *OOB, "simulation-annonce"]
    for ident in OOB + ["simulation-annonce"]:
        assert page.by_id(ident).attrs["data-hx-swap-oob"] == "innerHTML"
    for control in ("avance", "curseur", "nombre_echeances", "cgu", "simulation-form"):
        assert page.find(id=control) is None
    panel = page.by_id("simulation-panel")
    assert (panel.attrs["data-n"], panel.attrs["data-avance"]) == ("2", "5 000")
    recap = page.recap()
    assert recap["Montant de la remise"] == mad("5 756,86")
    assert recap["Montant à payer"] == mad("21 950,63")
    assert recap["Montant de l'avance"] == mad("5 000,00")
    assert recap["Montant de la mensualité"] == mad("8 475,32")
    assert recap["Date indicative de la première échéance"] == "10/01/2024"
    assert recap["Date indicative de la dernière échéance"] == "10/02/2024"
    assert page.table_rows("echeancier")[1][3] == "139,12"
    # The Détail des échéances rows come when it is opened (see below).
    assert (
        page.find("details", class_="echeances").attrs["data-hx-get"].endswith("?n=2&avance=5+000")
    )
    assert page.by_id("nombre-mois").text == "2 mois"
    assert page.by_id("avance-erreur-zone").text == ""
    assert page.by_id("simulation-annonce").text == (
        f"Simulation mise à jour : 2 mois, mensualité {mad('8 475,32')}, "
        f"montant à payer {mad('21 950,63')}."
    )


@pytest.mark.parametrize(
    "fields, n",
    [
        ({"n": 24, "curseur": 24, "action": "curseur"}, 24),  # the slider moved to 24
        ({"n": 6, "action": "moins"}, 5),
        ({"n": 6, "action": "plus"}, 7),
        ({"n": 1, "action": "moins"}, 1),
        ({"n": 60, "action": "plus"}, 60),
        ({"n": 24, "action": "plus"}, 25),
    ],
)
def test_slider_moins_and_plus_answer_with_the_panel(journey, fields, n):
    journey.start(GUIDE, "acomptes")
    page = panel_post(journey, avance="5 000", **fields)

    assert_fragment(page)
    assert top_level(page) == ["simulation-panel", *OOB, "simulation-annonce"]
    assert page.by_id("simulation-panel").attrs["data-n"] == str(n)
    assert page.by_id("nombre-mois").text == f"{n} mois"
    assert page.recap()["Nombre des échéances"] == f"{n} mois"
    assert page.by_id("simulation-annonce").text.startswith(f"Simulation mise à jour : {n} mois,")
    # The address bar follows (replaced): a reload of it shows the same count.
    address = page.response.headers["HX-Replace-Url"]
    assert address == f"/demande/{GUIDE}/simulation?n={n}&avance=5+000"
    assert journey.get(address).value("nombre_echeances") == str(n)
    # A move writes nothing: the draft (Valider's) is still the paramétrage's 6.
    assert journey.get(f"/demande/{GUIDE}/simulation").value("nombre_echeances") == "6"


@pytest.mark.parametrize(
    "n, penalites, astreintes, palier, a_payer",
    [
        (24, "50,00", "80,00", "(jusqu'à 24 échéances)", "21 950,63"),
        (25, "40,00", "70,00", "(au-delà de 24 échéances)", "23 102,00"),
    ],
)
def test_the_panel_shows_the_tier_crossing_24(journey, n, penalites, astreintes, palier, a_payer):
    journey.start(GUIDE, "acomptes")
    page = panel_post(journey, n=n, curseur=n, action="curseur")
    recap = page.recap()
    assert recap["Taux de la remise sur les pénalités et frais de recouvrement"] == pct(penalites)
    assert recap["Taux de la remise sur les astreintes"] == pct(astreintes)
    assert recap["Montant à payer"] == mad(a_payer)
    assert page.by_id("palier").text == (
        f"Taux de remise applicables : {pct(penalites)} sur les pénalités et frais, "
        f"{pct(astreintes)} sur les astreintes {palier}"
    )


@pytest.mark.parametrize(
    "fields, zone, message",
    [
        ({"avance": "abc"}, "avance-erreur-zone", AVANCE_INVALID),
        ({"avance": "NaN"}, "avance-erreur-zone", AVANCE_INVALID),
        ({"n": "61"}, "nombre_echeances-erreur-zone", N_OUT_OF_RANGE),
        ({"n": "0"}, "nombre_echeances-erreur-zone", N_OUT_OF_RANGE),
    ],
)
def test_panel_errors_go_next_to_their_field(journey, fields, zone, message):
    journey.start(GUIDE, "acomptes")
    page = panel_post(journey, curseur=6, **fields)

    # 422, which app.js has htmx swap in like a 200 (it leaves 4xx answers out by default).
    assert page.status == 422
    assert "<html" not in page.html and page.find("main") is None
    assert "HX-Replace-Url" not in page.response.headers
    assert top_level(page) == ["simulation-panel", *OOB, "simulation-annonce"]
    assert page.by_id(zone).text == f"Erreur : {message}"
    assert page.by_id("simulation-panel").text == (
        "Récapitulatif Corrigez les champs signalés puis cliquez sur « Simuler »."
    )
    # The field's own message is announced, after the line that says what happened.
    assert page.by_id("simulation-annonce").text == (
        f"Simulation impossible : corrigez les champs signalés. {message}"
    )
    # The last good simulation stays the draft's.
    assert journey.get(f"/demande/{GUIDE}/simulation").value("nombre_echeances") == "6"


def rows_of(node) -> list[list[str]]:
    """The data rows (th-only header rows left out)."""
    rows = [[td.text for td in tr.find_all("td")] for tr in node.find_all("tr")]
    return [row for row in rows if row]


def test_the_panel_fetches_its_detail_rows_when_opened(journey):
    """With htmx, a slider move sends the summary; the Détail des échéances rows come from
    the URL of the schedule shown, when the user opens it."""
    journey.start(GUIDE, "acomptes")
    panel = Page(journey.simuler(GUIDE, avance="5 000", n=2, headers=HX))
    assert panel.status == 200 and not panel.is_full_page
    details = panel.find("details", class_="echeances")
    assert details.attrs["data-hx-trigger"] == "toggle once"
    loading = details.find("span", data_rows_loading="")
    failed = details.find("span", data_rows_failed="")
    assert loading.text == "Chargement du détail des échéances…"
    assert "hidden" not in loading.attrs
    # Shown by app.js if the rows cannot be fetched: the whole page has them.
    assert "hidden" in failed.attrs
    assert failed.text == (
        "Le détail des échéances n'a pas pu être chargé. Afficher la page de simulation"
    )
    fallback = failed.find("a").attrs["href"]
    assert fallback == f"/demande/{GUIDE}/simulation?n=2&avance=5+000&detail=1#simulation-panel"
    # That page has the rows inline, the détail open, for the simulation shown.
    whole = journey.get(fallback.split("#")[0])
    assert "open" in whole.find("details", class_="echeances").attrs
    assert [r[0] for r in rows_of(whole.find("details", class_="echeances"))] == [
        "Avance",
        "1",
        "2",
    ]
    url = details.attrs["data-hx-get"]
    assert url == f"/demande/{GUIDE}/simulation/echeances?n=2&avance=5+000"

    rows = journey.get(url, headers=HX)
    assert rows.status == 200
    assert rows_of(rows) == [
        ["Avance", "10/12/2023", num("5 000,00")],
        ["1", "10/01/2024", num("8 475,32")],
        ["2", "10/02/2024", num("8 475,31")],
    ]
    without_avance = journey.get(f"/demande/{GUIDE}/simulation/echeances?n=3")
    assert [r[0] for r in rows_of(without_avance)] == ["1", "2", "3"]


@pytest.mark.parametrize("query", ["n=0", "n=61", "n=abc", "n=" + "9" * 5000, "n=2&avance=-5"])
def test_forged_detail_urls_are_refused_without_an_error_page(journey, query):
    journey.start(GUIDE, "acomptes")
    rows = journey.get(f"/demande/{GUIDE}/simulation/echeances?{query}")
    assert rows.status == 422
    assert rows_of(rows) == [["Simulation impossible : corrigez les champs signalés."]]


def test_full_payment_has_no_detail_rows(journey):
    journey.start(GUIDE, "integral")
    assert journey.get(f"/demande/{GUIDE}/simulation/echeances?n=2").status == 404


def test_every_panel_control_reads_the_panel(journey):
    """A move is a GET of the simulation's address, with or without JavaScript."""
    page = journey.start(GUIDE, "acomptes")
    url = f"/demande/{GUIDE}/simulation"
    form = page.by_id("simulation-form")
    assert (form.attrs["method"], form.attrs["action"]) == ("get", url)
    assert form.find("input", name="csrf_token") is None
    for ident in ("avance", "curseur", "nombre_echeances"):
        control = page.by_id(ident)
        assert control.attrs["data-hx-get"] == url
        assert control.attrs["data-hx-target"] == "#simulation-panel"
    assert page.by_id("nombre_echeances").attrs["name"] == "n"
    moins, plus = (page.find("button", value=v) for v in ("moins", "plus"))
    assert (moins.text, plus.text) == ("−", "+")
    for button in (moins, plus):
        assert button.attrs["type"] == "submit" and button.attrs["name"] == "action"
        assert button.attrs["data-hx-get"] == url
    # Valider posts, with its token, the values the panel shows.
    validation = page.by_id("validation-form")
    assert validation.attrs["method"] == "post"
    assert validation.find("input", name="csrf_token") is not None
    assert page.by_id("valider-n").attrs["value"] == "6"
    assert page.by_id("simulation-annonce").attrs["role"] == "status"


# --- valider and confirmer ----------------------------------------------------------------


def test_valider_without_the_conditions_retargets_the_message(journey, app):
    journey.start(GUIDE, "acomptes")
    response = journey.simuler(GUIDE, avance="5 000", n=2, action="valider", headers=HX)

    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#validation-erreurs"
    assert response.headers["HX-Reswap"] == "innerHTML"
    page = Page(response)
    assert_fragment(page)
    assert page.text == CGU_REQUIRED
    assert page.find("a").attrs["href"] == "#cgu"
    assert count_demandes(app) == 1


@pytest.mark.parametrize(
    "numero, modalite, fields, summary",
    [
        (INTEGRAL, "integral", {}, f"Paiement intégral — Montant à payer : {mad('80 096,80')}"),
        (
            GUIDE,
            "acomptes",
            {"avance": "5 000", "n": 2},
            f"Paiement par acomptes — Montant à payer : {mad('21 950,63')}",
        ),
    ],
)
def test_valider_opens_the_confirmation_dialog_and_confirmer_redirects(
    journey,
    app,
    numero,
    modalite,
    fields,
    summary,
):
    journey.start(numero, modalite)
    page = Page(journey.simuler(numero, action="valider", cgu=True, headers=HX, **fields))

    assert_fragment(page)
    assert top_level(page) == ["confirmation-dialog"]
    dialog = page.by_id("confirmation-dialog")
    assert dialog.tag == "dialog" and "data-open-modal" in dialog.attrs
    assert dialog.find("h2").text == "Validation"
    assert "Est-ce que vous confirmez vos choix ?" in dialog.text
    assert dialog.find("p", class_="hint").text == summary
    cancel = dialog.find("button", data_close_dialog="")
    assert cancel.text == "Annuler" and cancel.attrs["type"] == "button"
    assert dialog.find("button", data_once="").text == "Confirmer"
    assert count_demandes(app) == 1

    response = journey.client.post(
        f"/demande/{numero}/confirmer", data={"token": page.token()}, headers=HX
    )
    assert response.status_code == 204
    (demande,) = demandes(app, numero)
    assert response.headers["HX-Redirect"] == f"/demandes/{demande.reference}?confirmee=1"
    # Confirmer again from the same dialog: the same request.
    again = journey.client.post(
        f"/demande/{numero}/confirmer", data={"token": page.token()}, headers=HX
    )
    assert again.headers["HX-Redirect"] == response.headers["HX-Redirect"]
    assert len(demandes(app, numero)) == 1


@pytest.mark.parametrize("case", ["refused", "draft-lost", "logged-out"])
def test_a_panel_post_sent_elsewhere_moves_the_browser(journey, auth, case):
    """htmx would follow a 302 itself and swap the next page into the panel: the answer
    is HX-Redirect, and the browser goes there (with the flashed reason)."""
    journey.start(GUIDE, "acomptes")
    if case == "refused":
        # Its request started elsewhere; a move does not look (Paramétrage does, on entry).
        numero, target = "6120934", "/demande/6120934/parametrage"
    elif case == "draft-lost":
        journey.client.post("/demande/annuler")  # Annuler in another tab
        numero, target = GUIDE, f"/demande/{GUIDE}/parametrage"
    else:
        auth.logout()
        move = "%3Favance%3D%26curseur%3D6%26n%3D6%26action%3Dplus"
        numero, target = GUIDE, f"/connexion?next=%2Fdemande%2F{GUIDE}%2Fsimulation{move}"
    response = journey.simuler(numero, action="plus", headers=HX)

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == target
    assert response.get_data() == b""
    if case == "refused":
        page = journey.follow(journey.client.get(target))
        assert page.flashes()[0].startswith("Une demande de remise est déjà en cours")
