"""The affiliate's journey through the test client, full pages (no JavaScript).

Login → home → Choisir un affilié → Paramétrage de la remise → Simulation → conditions
générales → Validation → accusé de réception → récapitulatif, with the guide's figures to
the centime and the exact French messages. The htmx fragments of the same steps are in
``test_journey_partials.py``; both walk it with ``tests/integration/journey.py``.

Each request runs in its own app context, as in production: the ``app`` fixture of
``tests/conftest.py`` keeps one pushed for the whole test, which would carry the SQLAlchemy
session and Flask-Login's cached user from one request to the next.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from db.models import Affilie, Campaign, LigneCreance
from services import queries
from tests.conftest import FROZEN_NOW
from tests.integration.journey import (
    ACCEPTEE_MESSAGE,
    ARRANGEMENT,
    ARRANGEMENT_REFUSAL,
    ASTREINTES,
    AVANCE_ABOVE_TOTAL,
    AVANCE_AMBIGUOUS,
    AVANCE_DECIMALS,
    AVANCE_INVALID,
    AVANCE_NEGATIVE,
    AVANCE_TOO_LARGE,
    CGU_REQUIRED,
    COMPTE_REQUIRED,
    DATES_INDICATIVES,
    EN_COURS,
    EN_COURS_REFUSAL,
    ENREGISTREE_MESSAGE,
    GARANTIES_REQUIRED,
    GUIDE,
    INCORRECT,
    INTEGRAL,
    MODALITE_REQUIRED,
    N_NOT_INTEGER,
    N_OUT_OF_RANGE,
    STALE_CONFIRMATION,
    app_fixture,  # noqa: F401  (the app without a pushed context)
    comptes_of,
    count_demandes,
    database,
    demandes,
    journey_fixture,  # noqa: F401
    location,
    mad,
    num,
    pct,
)
from tests.integration.pages import Page

# --- login ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "login, password", [("groupe", "pas-le-bon"), ("inconnu", "Demo-2023!"), ("groupe", "")]
)
def test_wrong_credentials_give_one_message_whichever_was_wrong(journey, login, password):
    page = Page(
        journey.client.post("/connexion", data={"utilisateur": login, "mot_de_passe": password})
    )

    assert page.status == 401
    assert page.find(role="alert").text == INCORRECT
    assert page.value("utilisateur") == login
    assert page.value("mot_de_passe") == ""
    assert journey.client.get("/").status_code == 302


def test_login_leads_home_and_the_journey_needs_it(journey, auth):
    assert location(journey.client.get("/demande/nouvelle")).startswith("/connexion?next=")
    response = auth.login("groupe")
    assert (response.status_code, location(response)) == (302, "/")


# --- home -----------------------------------------------------------------------------


def test_home_lists_the_account_requests_with_their_status(journey, auth):
    auth.login("groupe")
    page = journey.get("/")

    assert page.status == 200 and page.is_full_page
    assert page.find("a", href="/demande/nouvelle").text == "Nouvelle demande de remise"
    rows = page.table_rows("data")
    assert rows[0] == [
        "Référence",
        "Affilié",
        "Date",
        "Modalité de paiement",
        "Montant à payer",
        "Statut",
    ]
    (demo,) = rows[1:]
    assert demo[0] == "RM-DEMO-000001"
    assert demo[1] == f"{EN_COURS} — OASIS TRANSPORT"
    assert demo[3] == "Paiement par acomptes"
    assert demo[5] == "En attente de garanties"


def test_home_of_an_account_without_requests(journey, auth):
    auth.login("entreprise")
    page = journey.get("/")
    assert "Aucune demande de remise pour le moment." in page.text
    assert "RM-DEMO-000001" not in page.html


# --- choisir un affilié ---------------------------------------------------------------


def test_choisir_un_affilie_lists_the_55_affilies_ten_at_a_time(journey, auth):
    auth.login("groupe")
    page = journey.get("/demande/nouvelle")

    assert page.status == 200 and page.is_full_page
    assert page.h1 == "Étape 1 sur 4 Nouvelle demande"
    assert page.find("h2").text == "Choisir un affilié"
    assert page.find(class_="table-info").text == "Affichage de l'élément 1 à 10 sur 55 éléments"
    rows = page.table_rows("data")
    assert rows[0] == ["Numéro d'affiliation", "Raison sociale", "Régime Social", "ICE"]
    assert len(rows) == 11
    numeros = [r[0].split()[0] for r in rows[1:]]
    assert numeros[:5] == [INTEGRAL, ASTREINTES, GUIDE, ARRANGEMENT, EN_COURS]
    assert rows[4][0] == f"{ARRANGEMENT} Arrangement"
    assert rows[5][0] == f"{EN_COURS} Demande en cours"
    assert page.options("taille") == ["10", "25", "50"]
    assert page.selected("taille") == "10"
    pager = page.find("nav", class_="pager")
    assert pager.text == "Premier Précédent 1 2 3 4 5 6 Suivant Dernier"
    assert pager.find(aria_current="page").text == "1"
    # Every affilié links to its paramétrage.
    assert page.find("a", href=f"/demande/{GUIDE}/parametrage").text == GUIDE


@pytest.mark.parametrize(
    "query, info, count",
    [
        ("taille=25", "Affichage de l'élément 1 à 25 sur 55 éléments", 25),
        ("taille=50", "Affichage de l'élément 1 à 50 sur 55 éléments", 50),
        ("taille=50&page=2", "Affichage de l'élément 51 à 55 sur 55 éléments", 5),
        ("page=2", "Affichage de l'élément 11 à 20 sur 55 éléments", 10),
        ("page=6", "Affichage de l'élément 51 à 55 sur 55 éléments", 5),
        # Out-of-range and garbage values fall back to something sensible, never a 500.
        ("page=99", "Affichage de l'élément 51 à 55 sur 55 éléments", 5),
        ("page=abc&taille=7", "Affichage de l'élément 1 à 10 sur 55 éléments", 10),
        ("q=IQIQEN", "Affichage de l'élément 1 sur 1 élément", 1),
        ("q=iqiqen", "Affichage de l'élément 1 sur 1 élément", 1),
        (f"q={GUIDE}", "Affichage de l'élément 1 sur 1 élément", 1),
        ("q=introuvable", "Aucun élément à afficher", 0),
    ],
)
def test_choisir_un_affilie_pages_and_searches(journey, auth, query, info, count):
    auth.login("groupe")
    page = journey.get(f"/demande/nouvelle?{query}")

    assert page.status == 200
    assert page.find(class_="table-info").text == info
    body = page.table_rows("data")[1:]
    if count:
        assert len(body) == count
    else:
        assert body == [["Aucun élément ne correspond à votre recherche."]]


def test_search_keeps_the_query_in_the_pager_links(journey, auth):
    auth.login("groupe")
    page = journey.get("/demande/nouvelle?q=amo&taille=10")

    assert page.value("q") == "amo"
    rows = page.table_rows("data")[1:]
    assert len(rows) == 10 and all("amo" in " ".join(r).casefold() for r in rows)
    total = int(re.search(r"sur (\d+) éléments", page.find(class_="table-info").text)[1])
    assert 10 < total < 55
    links = page.find("nav", class_="pager").find_all("a", class_="page")
    assert links and all("q=amo" in link.attrs["href"] for link in links)
    page = journey.get("/demande/nouvelle?q=amo&taille=10&page=2")
    assert page.find(class_="table-info").text == (
        f"Affichage de l'élément 11 à {total} sur {total} éléments"
    )


def test_a_single_affilie_account_goes_straight_to_the_parametrage(journey, auth):
    auth.login("entreprise")
    response = journey.client.get("/demande/nouvelle")
    assert location(response) == f"/demande/{GUIDE}/parametrage"
    page = journey.follow(response)
    assert page.h1 == "Étape 2 sur 4 Paramétrage de la remise"
    assert page.find("dl", class_="entete").find_all("dd")[1].text == GUIDE


@pytest.mark.parametrize(
    "numero, message",
    [(EN_COURS, EN_COURS_REFUSAL), (ARRANGEMENT, ARRANGEMENT_REFUSAL)],
    ids=["en_cours", "arrangement"],
)
@pytest.mark.parametrize(
    "step", ["parametrage", "simulation", "validation", "parametrage-post", "simulation-post"]
)
def test_refused_affilies_are_sent_back_with_the_reason(journey, auth, app, numero, message, step):
    auth.login("groupe")
    if step == "parametrage":
        response = journey.client.get(f"/demande/{numero}/parametrage")
    elif step == "simulation":
        response = journey.client.get(f"/demande/{numero}/simulation")
    elif step == "validation":
        response = journey.client.get(f"/demande/{numero}/validation")
    elif step == "simulation-post":
        response = journey.simuler(numero, action="valider", cgu=True)
    else:
        response = journey.parametrer(numero, "integral")

    assert location(response) == "/demande/nouvelle"
    page = journey.follow(response)
    assert page.flashes() == [message]
    assert page.find(role="alert").text == message
    assert count_demandes(app) == 1


# --- paramétrage ------------------------------------------------------------------------

GUIDE_TABLE = [
    [
        "",
        "Cotisations Sécurité Sociale",
        "Assurance Maladie",
        "Taxe Formation Professionnelle",
        "AF à Reverser",
        "Astreintes BDS RG/AMO",
        "Astreintes DAMANCOM TD/TP",
        "Total général",
    ],
    [
        "Principal",
        *map(num, ["11 548,68", "3 714,61", "930,48", "0,00", "0,00", "0,00", "16 193,77"]),
    ],
    [
        "Majorations de retard et astreintes",
        *map(num, ["8 060,29", "2 519,02", "649,41", "0,00", "0,00", "0,00", "11 228,72"]),
    ],
    [
        "Frais de recouvrement",
        *map(num, ["220,00", "65,00", "0,00", "0,00", "0,00", "0,00", "285,00"]),
    ],
    [
        "Total créance",
        *map(num, ["19 828,97", "6 298,63", "1 579,89", "0,00", "0,00", "0,00", "27 707,49"]),
    ],
]


def entete(page: Page) -> dict[str, str]:
    """The label → value pairs of the page's header blocks (the récapitulatif has two)."""
    return {
        div.find("dt").text: div.find("dd").text
        for block in page.find_all("dl", class_="entete")
        for div in block.find_all("div")
    }


def test_parametrage_shows_the_guide_header_and_creance_to_the_centime(journey, auth):
    auth.login("groupe")
    page = journey.get(f"/demande/{GUIDE}/parametrage")

    assert page.status == 200 and page.is_full_page
    assert page.title == "Paramétrage de la remise — Étape 2 sur 4 — Espace Recouvrement"
    assert entete(page) == {
        "Raison sociale": "ATLAS BÂTIMENT ET TRAVAUX",
        "Numéro d'affiliation": GUIDE,
        "Date situation de la créance": "08/11/2023",
        "Date d'arrêt des pénalités": "08/11/2023",
        "Période début de la créance": "196901",
        "Période fin de la créance": "202311",
    }
    assert "Remise suite à la décision ministérielle N° 05/2023 du 17/10/2023" in page.text
    assert page.find("caption", id="creance-globale-titre").text == "Créance globale (MAD)"
    assert page.table_rows("creance") == GUIDE_TABLE
    # Nothing chosen yet: the two modalités, the affilié's two accounts, masked.
    assert not page.checked("modalite-integral") and not page.checked("modalite-acomptes")
    compte = page.by_id("compte")
    labels = [o.text for o in compte.find_all("option")]
    assert labels[0] == "Compte bancaire"
    assert [label.split(" — ")[0] for label in labels[1:]] == [
        "Banque Populaire",
        "Attijariwafa bank",
    ]
    assert all(re.fullmatch(r"(•••• ){5}\d{4}", label.split(" — ")[1]) for label in labels[1:])
    assert "Perception Casablanca Anfa" in page.by_id("garanties-bloc").text


def test_parametrage_leaves_out_periods_after_the_campaign(journey, auth):
    """2145873 also owes 202501-202502: current debt, not in the remise."""
    auth.login("groupe")
    page = journey.get(f"/demande/{INTEGRAL}/parametrage")
    assert entete(page)["Période fin de la créance"] == "202311"
    rows = page.table_rows("creance")
    assert rows[1][-1] == num("57 051,95")
    assert rows[4][-1] == num("114 664,08")


def test_parametrage_puts_astreintes_in_their_columns(journey, auth):
    auth.login("groupe")
    rows = journey.get(f"/demande/{ASTREINTES}/parametrage").table_rows("creance")
    assert rows[2] == [
        "Majorations de retard et astreintes",
        *map(num, ["3 150,40", "790,10", "0,00", "0,00", "2 400,00", "1 300,50", "7 641,00"]),
    ]
    assert rows[4][-1] == num("18 261,00")


@pytest.mark.parametrize(
    "form, errors",
    [
        ({}, {"modalite": MODALITE_REQUIRED, "compte": COMPTE_REQUIRED}),
        ({"modalite": "integral"}, {"compte": COMPTE_REQUIRED}),
        ({"compte": 0}, {"modalite": MODALITE_REQUIRED}),
        ({"modalite": "autre", "compte": 0}, {"modalite": MODALITE_REQUIRED}),
        ({"modalite": "acomptes", "compte": 1}, {"garanties": GARANTIES_REQUIRED}),
        (
            {"modalite": "acomptes"},
            {"compte": COMPTE_REQUIRED, "garanties": GARANTIES_REQUIRED},
        ),
        ({"modalite": "integral", "compte": "abc"}, {"compte": COMPTE_REQUIRED}),
    ],
)
def test_parametrage_validation_messages_keep_the_answers(journey, auth, app, form, errors):
    auth.login("groupe")
    comptes = [str(c.id) for c in comptes_of(app, GUIDE)]
    data = {k: comptes[v] if k == "compte" and isinstance(v, int) else v for k, v in form.items()}
    page = Page(journey.client.post(f"/demande/{GUIDE}/parametrage", data=data))

    assert page.status == 422
    assert page.title.startswith("Erreur : ")
    assert page.error_summary() == list(errors.values())
    for field, message in errors.items():
        assert page.field_error(field) == message
        assert page.find("a", href=f"#{field}").text == message
    # What was chosen is still chosen.
    assert page.checked("modalite-integral") == (data.get("modalite") == "integral")
    assert page.checked("modalite-acomptes") == (data.get("modalite") == "acomptes")
    assert page.selected("compte") == (
        data.get("compte") if data.get("compte") in comptes else None
    )
    assert page.table_rows("creance") == GUIDE_TABLE
    assert count_demandes(app) == 1


def test_parametrage_refuses_the_account_of_another_affilie(journey, auth, app):
    auth.login("groupe")
    other = str(comptes_of(app, INTEGRAL)[0].id)
    page = Page(journey.parametrer(GUIDE, "integral", compte=other))
    assert page.status == 422
    assert page.error_summary() == [COMPTE_REQUIRED]
    assert page.selected("compte") is None
    assert other not in page.options("compte")


def test_parametrage_ticked_garanties_are_kept_on_error(journey, auth):
    auth.login("groupe")
    page = Page(journey.parametrer(GUIDE, "acomptes", compte="", garanties=True))
    assert page.status == 422
    assert page.checked("garanties")
    assert page.checked("modalite-acomptes")


# --- simulation: paiement intégral ------------------------------------------------------


def test_simulation_integral_shows_the_guide_figures(journey):
    page = journey.start(INTEGRAL, "integral")

    assert page.status == 200 and page.is_full_page
    assert page.h1 == "Étape 3 sur 4 Simulation de la demande de remise"
    assert entete(page)["Raison sociale"] == "IQIQEN DISTRIBUTION"
    assert page.find(class_="choices").text.startswith(
        "Modalité de paiement : Paiement intégral · Compte bancaire : Banque Populaire"
    )
    assert page.recap() == {
        "Créance totale": mad("114 664,08"),
        "Créance en principal": mad("57 051,95"),
        "Pénalités et frais de recouvrement": mad("57 612,13"),
        "Taux de la remise sur les pénalités et frais de recouvrement": pct("60,00"),
        "Astreintes": mad("0,00"),
        "Taux de la remise sur les astreintes": pct("90,00"),
        "Montant de la remise": mad("34 567,28"),
        "Montant à payer": mad("80 096,80"),
    }
    # No plan: no avance, no slider, no schedule.
    assert page.find(id="avance") is None and page.find(id="curseur") is None
    assert page.find("table", class_="echeancier") is None
    assert not page.checked("cgu")
    assert page.find("a", href=f"/demande/{INTEGRAL}/conditions").text == (
        "les conditions générales d'utilisation"
    )


def test_simulation_integral_with_astreintes(journey):
    page = journey.start(ASTREINTES, "integral")
    recap = page.recap()
    assert recap["Créance totale"] == mad("18 261,00")
    assert recap["Créance en principal"] == mad("10 500,00")
    assert recap["Pénalités et frais de recouvrement"] == mad("4 060,50")
    assert recap["Astreintes"] == mad("3 700,50")
    # round(4 060,50 × 60 %) + round(3 700,50 × 90 %) = 2 436,30 + 3 330,45
    assert recap["Montant de la remise"] == mad("5 766,75")
    assert recap["Montant à payer"] == mad("12 494,25")


def test_simulation_needs_the_parametrage_first(journey, auth):
    auth.login("groupe")
    for response in (
        journey.client.get(f"/demande/{GUIDE}/simulation"),
        journey.simuler(GUIDE),
        journey.client.get(f"/demande/{GUIDE}/conditions"),
    ):
        assert location(response) == f"/demande/{GUIDE}/parametrage"
    # And the confirmation needs ticked conditions.
    journey.parametrer(GUIDE, "integral")
    assert location(journey.client.get(f"/demande/{GUIDE}/validation")) == (
        f"/demande/{GUIDE}/simulation"
    )


def test_the_draft_belongs_to_one_affilie(journey):
    """A draft for 4317542 is no draft for 2145873 (two tabs, one session)."""
    journey.start(GUIDE, "acomptes")
    assert location(journey.client.get(f"/demande/{INTEGRAL}/simulation")) == (
        f"/demande/{INTEGRAL}/parametrage"
    )


def test_the_parametrage_page_shows_the_previous_answers(journey):
    journey.start(GUIDE, "acomptes")
    page = journey.get(f"/demande/{GUIDE}/parametrage")
    assert page.checked("modalite-acomptes") and page.checked("garanties")
    assert page.selected("compte") == str(comptes_of(journey.app, GUIDE)[0].id)


def test_a_refused_parametrage_leaves_the_draft_as_it_was(journey, app):
    """Paramétrage sent again with a mistake (full payment, no account): the refusal shows
    the answers back and keeps nothing. The draft stays the plan whose conditions were
    accepted, under the same token, instead of a full payment under the plan's consent."""
    journey.start(GUIDE, "acomptes")
    token = journey.valider(GUIDE, avance="5 000", n=2).token()

    refused = Page(
        journey.client.post(f"/demande/{GUIDE}/parametrage", data={"modalite": "integral"})
    )
    assert refused.status == 422
    assert refused.error_summary() == [COMPTE_REQUIRED]
    assert refused.checked("modalite-integral")

    assert journey.get(f"/demande/{GUIDE}/parametrage").checked("modalite-acomptes")
    page = journey.get(f"/demande/{GUIDE}/validation")
    assert page.find("p", class_="hint").text == (
        f"Paiement par acomptes — Montant à payer : {mad('21 950,63')}"
    )
    assert page.token() == token
    journey.confirmer(GUIDE, token)
    (demande,) = demandes(app, GUIDE)
    assert (demande.modalite, demande.nombre_echeances) == ("acomptes", 2)


def test_suivant_with_the_same_modalite_keeps_the_conditions_accepted(journey, app):
    """The conditions are those of the modalité: Paramétrage sent again with the same one
    keeps them accepted (and the simulation); another one asks for them again. Either way
    a new token retires the Validation shown before."""
    journey.start(GUIDE, "acomptes")
    stale = journey.valider(GUIDE, avance="5 000", n=2).token()

    other = str(comptes_of(app, GUIDE)[1].id)
    page = journey.follow(journey.parametrer(GUIDE, "acomptes", compte=other))
    assert page.checked("cgu")
    assert page.value("nombre_echeances") == "2" and page.value("avance") == "5 000"
    page = journey.get(f"/demande/{GUIDE}/validation")
    assert page.status == 200 and page.token() != stale

    page = journey.follow(journey.parametrer(GUIDE, "integral", compte=other))
    assert not page.checked("cgu")
    assert location(journey.client.get(f"/demande/{GUIDE}/validation")) == (
        f"/demande/{GUIDE}/simulation"
    )


# --- simulation: paiement par acomptes ----------------------------------------------------


def test_simulation_acomptes_starts_at_six_monthly_instalments(journey):
    page = journey.start(GUIDE, "acomptes")

    assert page.value("avance") == ""
    assert page.value("nombre_echeances") == "6"
    curseur = page.by_id("curseur")
    assert (curseur.attrs["min"], curseur.attrs["max"], curseur.attrs["value"]) == ("1", "60", "6")
    assert curseur.attrs["aria-valuetext"] == "6 mois"
    assert page.by_id("nombre-mois").text == "6 mois"
    assert page.by_id("palier").text == (
        f"Taux de remise applicables : {pct('50,00')} sur les pénalités et frais, "
        f"{pct('80,00')} sur les astreintes (jusqu'à 24 échéances)"
    )
    assert "Périodicité : Mensuelle" in page.text
    recap = page.recap()
    assert recap["Montant de l'avance"] == mad("0,00")
    assert recap["Nombre des échéances"] == "6 mois"
    # Indicative: the debits' rule as if validated today (20/11/2023), no avance.
    assert recap["Date indicative de la première échéance"] == "10/12/2023"
    assert recap["Date indicative de la dernière échéance"] == "10/05/2024"
    assert page.find(class_="dates-indicatives").text == DATES_INDICATIVES


def test_simulation_acomptes_guide_example(journey):
    """Avance 5 000, two instalments: docs/DOMAIN.md's worked example."""
    journey.start(GUIDE, "acomptes")
    response = journey.simuler(GUIDE, avance="5 000", n=2, curseur=6)
    # The no-JS form's answer is at the simulation's own short address.
    assert location(response) == f"/demande/{GUIDE}/simulation?n=2&avance=5+000#simulation-panel"
    page = journey.follow(response)

    assert page.recap() == {
        "Créance totale": mad("27 707,49"),
        "Créance en principal": mad("16 193,77"),
        "Pénalités et frais de recouvrement": mad("11 513,72"),
        "Taux de la remise sur les pénalités et frais de recouvrement": pct("50,00"),
        "Astreintes": mad("0,00"),
        "Taux de la remise sur les astreintes": pct("80,00"),
        "Montant de la remise": mad("5 756,86"),
        "Montant à payer": mad("21 950,63"),
        "Montant de l'avance": mad("5 000,00"),
        "Montant de la mensualité": mad("8 475,32"),
        "Nombre des échéances": "2 mois",
        "Date indicative de la première échéance": "10/01/2024",
        "Date indicative de la dernière échéance": "10/02/2024",
    }
    assert page.table_rows("echeancier") == [
        [
            "Échéancier",
            "Créance en principal",
            "Majorations, astreintes, et frais de recouvrement",
            "Majorations générées suite à paiement par acomptes",
            "Montant de la remise",
            "Créance à payer après remise",
        ],
        [
            "Du : 196901 Au : 202311",
            *map(num, ["16 193,77", "11 513,72", "139,12", "5 756,86", "21 950,63"]),
        ],
    ]
    # The detail: the avance, then the last instalment absorbs the remainder.
    assert page.table_rows("compact")[1:] == [
        ["Avance", "10/12/2023", num("5 000,00")],
        ["1", "10/01/2024", num("8 475,32")],
        ["2", "10/02/2024", num("8 475,31")],
    ]
    assert page.table_rows("compact")[0] == ["Échéance", "Date indicative", "Montant"]
    # The answers are those of the last simulation.
    assert page.value("avance") == "5 000"
    assert page.value("nombre_echeances") == "2"
    assert page.by_id("curseur").attrs["value"] == "2"


@pytest.mark.parametrize(
    "n, action, expected",
    [
        ("6", "moins", 5),
        ("6", "plus", 7),
        ("1", "moins", 1),
        ("60", "plus", 60),
        ("24", "plus", 25),
        ("0", "plus", 1),
        ("61", "moins", 60),
    ],
)
def test_moins_and_plus_change_the_count_within_1_to_60(journey, n, action, expected):
    journey.start(GUIDE, "acomptes")
    response = journey.simuler(GUIDE, n=n, action=action)
    page = journey.follow(response)
    assert page.value("nombre_echeances") == str(expected)
    assert page.by_id("nombre-mois").text == f"{expected} mois"
    assert page.recap()["Nombre des échéances"] == f"{expected} mois"


def test_the_slider_without_javascript(journey):
    """Both fields arrive; the one moved since the page's simulation (``precedent``) wins."""
    journey.start(GUIDE, "acomptes")
    page = journey.follow(journey.simuler(GUIDE, n=6, curseur=30))
    assert page.value("nombre_echeances") == "30"
    page = journey.follow(journey.simuler(GUIDE, n=12, curseur=30, precedent=30))
    assert page.value("nombre_echeances") == "12"
    # The slider moved, then + pressed.
    page = journey.follow(journey.simuler(GUIDE, n=12, curseur=20, action="plus", precedent=12))
    assert page.value("nombre_echeances") == "21"


@pytest.mark.parametrize(
    "n, penalites, astreintes, remise, a_payer, palier",
    [
        ("24", "50,00", "80,00", "5 756,86", "21 950,63", "(jusqu'à 24 échéances)"),
        ("25", "40,00", "70,00", "4 605,49", "23 102,00", "(au-delà de 24 échéances)"),
        ("60", "40,00", "70,00", "4 605,49", "23 102,00", "(au-delà de 24 échéances)"),
        ("1", "50,00", "80,00", "5 756,86", "21 950,63", "(jusqu'à 24 échéances)"),
    ],
)
def test_crossing_24_instalments_changes_the_rates(
    journey, n, penalites, astreintes, remise, a_payer, palier
):
    journey.start(GUIDE, "acomptes")
    page = journey.follow(journey.simuler(GUIDE, n=n))
    recap = page.recap()
    assert recap["Taux de la remise sur les pénalités et frais de recouvrement"] == pct(penalites)
    assert recap["Taux de la remise sur les astreintes"] == pct(astreintes)
    assert recap["Montant de la remise"] == mad(remise)
    assert recap["Montant à payer"] == mad(a_payer)
    assert page.by_id("palier").text.endswith(palier)
    assert pct(penalites) in page.by_id("palier").text


@pytest.mark.parametrize(
    "avance, shown, mensualite",
    [
        ("5000", "5 000,00", "8 475,32"),
        ("5 000", "5 000,00", "8 475,32"),
        ("5 000,00", "5 000,00", "8 475,32"),
        ("5\u202f000,00", "5 000,00", "8 475,32"),  # copied from our own page
        ("5000.5", "5 000,50", "8 475,07"),
        ("٥٠٠٠", "5 000,00", "8 475,32"),  # typed on an Arabic keyboard
        ("5.000,00", "5 000,00", "8 475,32"),  # as the Arabic pages write it
        ("5 000.50", "5 000,50", "8 475,07"),
        ("", "0,00", "10 975,32"),
        ("0", "0,00", "10 975,32"),
    ],
)
def test_avance_accepted_formats(journey, avance, shown, mensualite):
    journey.start(GUIDE, "acomptes")
    page = journey.follow(journey.simuler(GUIDE, avance=avance, n=2))
    assert page.error_summary() == []
    assert page.recap()["Montant de l'avance"] == mad(shown)
    assert page.recap()["Montant de la mensualité"] == mad(mensualite)
    assert page.value("avance") == avance


@pytest.mark.parametrize(
    "avance, message",
    [
        ("-5", AVANCE_NEGATIVE),
        ("−5 000", AVANCE_NEGATIVE),
        ("abc", AVANCE_INVALID),
        ("5 000,123", AVANCE_DECIMALS),
        (
            "21950.63",
            AVANCE_ABOVE_TOTAL,
        ),
        (
            "30 000",
            AVANCE_ABOVE_TOTAL,
        ),
        ("NaN", AVANCE_INVALID),
        ("Infinity", AVANCE_INVALID),
        ("-Infinity", AVANCE_INVALID),
        ("1e5", AVANCE_INVALID),
        ("0x10", AVANCE_INVALID),
        ("5,000.00", AVANCE_INVALID),
        ("5.000", AVANCE_AMBIGUOUS),  # five thousand, or five with three decimals?
        ("50 00", AVANCE_INVALID),
        ("9" * 80, AVANCE_TOO_LARGE),  # cut to 64 characters, then too many digits
        ("99999999999999", AVANCE_TOO_LARGE),
    ],
)
def test_avance_refused_with_its_message_and_answers_kept(journey, app, avance, message):
    journey.start(GUIDE, "acomptes")
    page = Page(journey.simuler(GUIDE, avance=avance, n=2))

    assert page.status == 422
    assert page.title.startswith("Erreur : ")
    assert page.error_summary() == [message]
    assert page.field_error("avance") == message
    assert page.by_id("avance").attrs["aria-invalid"] == "true"
    assert page.value("avance") == avance[:64]
    assert page.value("nombre_echeances") == "2"
    assert (
        "Corrigez les champs signalés puis cliquez sur « Simuler »."
        in page.by_id("simulation-panel").text
    )
    # The last good simulation is still the draft's.
    again = journey.get(f"/demande/{GUIDE}/simulation")
    assert again.status == 200 and again.value("nombre_echeances") == "6"
    assert count_demandes(app) == 1


@pytest.mark.parametrize(
    "avance, shown",
    [
        ("5.000,00", "5.000,00"),  # the Arabic pages' own format
        ("5.000", "5.000,00"),  # a dot before three digits groups thousands, in Arabic
        ("5 000,00", "5.000,00"),  # the French format too
        ("1 000,50", "1.000,50"),
        ("٥٬٠٠٠٫٥٠", "5.000,50"),
    ],
)
def test_avance_in_arabic_accepts_the_page_format(journey, client, avance, shown):
    journey.start(GUIDE, "acomptes")
    client.post("/langue", data={"lang": "ar"})
    page = journey.follow(journey.simuler(GUIDE, avance=avance, n=2))
    assert page.error_summary() == []
    assert page.recap()["مبلغ التسبيق"] == f"\u2066{shown}\u00a0MAD\u2069"
    # Typed and shown left to right inside the right-to-left page.
    assert page.by_id("avance").attrs["dir"] == "ltr"


def test_avance_in_arabic_refuses_three_decimals_in_arabic(journey, client):
    journey.start(GUIDE, "acomptes")
    client.post("/langue", data={"lang": "ar"})
    page = Page(journey.simuler(GUIDE, avance="5,000", n=2))
    assert page.status == 422
    message = "لا يمكن أن يتضمن مبلغ التسبيق أكثر من رقمين بعد الفاصلة."
    assert page.field_error("avance").endswith(message)


def test_avance_just_below_the_amount_to_pay(journey):
    journey.start(GUIDE, "acomptes")
    page = journey.follow(journey.simuler(GUIDE, avance="21 950,62", n=1))
    assert page.recap()["Montant de la mensualité"] == mad("0,01")


@pytest.mark.parametrize(
    "n, message",
    [
        ("0", N_OUT_OF_RANGE),
        ("61", N_OUT_OF_RANGE),
        ("9999", N_OUT_OF_RANGE),
        ("abc", N_NOT_INTEGER),
        ("1e3", N_NOT_INTEGER),
        ("-1", N_NOT_INTEGER),
        ("2.5", N_NOT_INTEGER),
        ("", N_NOT_INTEGER),
        ("１２", N_NOT_INTEGER),  # fullwidth digits
        ("99999", N_NOT_INTEGER),
    ],
)
def test_forged_counts_are_refused_with_a_message(journey, n, message):
    journey.start(GUIDE, "acomptes")
    page = Page(journey.simuler(GUIDE, avance="5 000", n=n, curseur=6))

    assert page.status == 422
    assert page.error_summary() == [message]
    assert page.field_error("nombre_echeances") == message
    assert page.value("avance") == "5 000"


def test_arabic_digits_count(journey):
    journey.start(GUIDE, "acomptes")
    page = journey.follow(journey.simuler(GUIDE, n="٢", curseur=6))
    assert page.value("nombre_echeances") == "2"


def test_the_count_is_bounded_by_the_campaign(journey, app):
    with database(app) as session:
        session.scalars(select(Campaign)).one().max_echeances = 36
        session.commit()
    page = journey.start(GUIDE, "acomptes")
    assert page.by_id("curseur").attrs["max"] == "36"
    assert page.by_id("nombre_echeances").attrs["max"] == "36"

    assert journey.follow(journey.simuler(GUIDE, n=36)).value("nombre_echeances") == "36"
    assert (
        journey.follow(journey.simuler(GUIDE, n=36, action="plus")).value("nombre_echeances")
        == "36"
    )
    page = Page(journey.simuler(GUIDE, n=37))
    assert page.status == 422
    assert page.error_summary() == ["Le nombre d'échéances doit être compris entre 1 et 36."]


# --- conditions générales -------------------------------------------------------------


def test_valider_without_the_conditions_is_refused(journey, app):
    journey.start(GUIDE, "acomptes")
    page = Page(journey.simuler(GUIDE, avance="5 000", n=2, action="valider"))

    assert page.status == 422
    assert page.error_summary() == [CGU_REQUIRED]
    assert page.field_error("cgu") == CGU_REQUIRED
    assert page.by_id("cgu").attrs.get("aria-invalid") == "true"
    assert page.value("avance") == "5 000" and page.value("nombre_echeances") == "2"
    assert page.recap()["Montant de la mensualité"] == mad("8 475,32")
    assert count_demandes(app) == 1


@pytest.mark.parametrize(
    "modalite, francais, arabe",
    [
        (
            "integral",
            "En cas de non paiement de la créance après remise, la demande sera annulée et la "
            "totalité des montants objet de remise sera réintégrée.",
            "في حالة عدم أداء الدين بعد الإعفاء",
        ),
        (
            "acomptes",
            "La demande de la remise ne sera prise en charge qu'après la présentation des pièces "
            "de garantie auprès de la perception de la caisse nationale de la sécurité sociale "
            "dans un délai de 30 jours.",
            "ألتزم أن أؤدي في الأجل المحدد",
        ),
    ],
)
def test_conditions_page_in_french_and_arabic_and_accepter_ticks_the_box(
    journey, modalite, francais, arabe
):
    numero = INTEGRAL if modalite == "integral" else GUIDE
    journey.start(numero, modalite)
    page = journey.get(f"/demande/{numero}/conditions")

    assert page.status == 200 and page.is_full_page
    assert page.h1 == "Conditions générales"
    fr = page.find("section", lang="fr")
    ar = page.find("section", lang="ar")
    assert fr.attrs["dir"] == "ltr" and ar.attrs["dir"] == "rtl"
    assert francais in fr.text
    assert arabe in ar.text
    assert ar.find("h3").text == "الشروط العامة"
    assert [b.text for b in page.find("form", class_="actions").find_all("button")] == [
        "Fermer",
        "Accepter",
    ]

    # Fermer leaves the box as it was.
    response = journey.client.post(f"/demande/{numero}/conditions", data={"decision": "fermer"})
    assert location(response) == f"/demande/{numero}/simulation"
    assert not journey.follow(response).checked("cgu")
    # Accepter ticks it.
    response = journey.client.post(f"/demande/{numero}/conditions", data={"decision": "accepter"})
    assert location(response) == f"/demande/{numero}/simulation"
    assert journey.follow(response).checked("cgu")


def test_the_simulation_page_holds_the_same_conditions_in_a_dialog(journey):
    page = journey.start(INTEGRAL, "integral")
    dialog = page.find("dialog", id="conditions-dialog")
    assert dialog.find("section", lang="fr") is not None
    assert dialog.find("section", lang="ar") is not None
    assert dialog.find("button", data_accept_conditions="cgu").text == "Accepter"


def test_an_unticked_box_is_not_an_acceptance(journey, app):
    """Accepted on the conditions page, then unticked before Valider: refused."""
    journey.start(INTEGRAL, "integral")
    journey.client.post(f"/demande/{INTEGRAL}/conditions", data={"decision": "accepter"})
    page = Page(journey.simuler(INTEGRAL, action="valider"))
    assert page.status == 422
    assert page.error_summary() == [CGU_REQUIRED]
    assert not page.checked("cgu")


# --- validation and confirmation --------------------------------------------------------


def test_confirmation_page(journey):
    journey.start(INTEGRAL, "integral")
    page = journey.valider(INTEGRAL)

    assert page.status == 200 and page.is_full_page
    assert page.find("h2", id="confirmation-titre").text == "Validation"
    assert "Est-ce que vous confirmez vos choix ?" in page.text
    assert (
        page.find("p", class_="hint").text
        == f"Paiement intégral — Montant à payer : {mad('80 096,80')}"
    )
    form = page.find("form", action=f"/demande/{INTEGRAL}/confirmer")
    assert form.attrs["method"] == "post"
    assert form.find("button").text == "Confirmer"
    assert form.find("a", href=f"/demande/{INTEGRAL}/simulation").text == "Annuler"
    assert len(page.token()) >= 24


def test_full_payment_creates_one_accepted_request_with_the_snapshot(journey, app):
    journey.start(INTEGRAL, "integral")
    compte = comptes_of(app, INTEGRAL)[0]
    page = journey.valider(INTEGRAL)
    response = journey.confirmer(INTEGRAL, page.token())

    assert response.status_code == 303
    (demande,) = demandes(app, INTEGRAL)
    assert location(response) == f"/demandes/{demande.reference}?confirmee=1"
    assert re.fullmatch(r"RM-2023-[A-Z2-9]{8}", demande.reference)
    assert demande.status == "acceptee"
    assert demande.modalite == "integral"
    assert demande.user.login == "groupe"
    assert (demande.rib, demande.banque) == (compte.rib, compte.banque)
    assert demande.confirmed_at == FROZEN_NOW
    assert demande.conditions_accepted_at == FROZEN_NOW
    assert demande.conditions_version == "integral-2023-10-17"
    assert demande.garanties_acceptees is False
    assert (demande.numero_affiliation, demande.raison_sociale) == (INTEGRAL, "IQIQEN DISTRIBUTION")
    assert (demande.periode_debut, demande.periode_fin) == ("196901", "202311")
    assert demande.date_situation == date(2023, 11, 8)
    assert (
        demande.campaign_label
        == "Remise suite à la décision ministérielle N° 05/2023 du 17/10/2023"
    )
    assert (
        demande.creance_totale,
        demande.principal,
        demande.penalites_frais,
        demande.astreintes,
        demande.taux_penalites,
        demande.taux_astreintes,
        demande.remise,
        demande.montant_a_payer,
    ) == tuple(
        Decimal(v)
        for v in (
            "114664.08",
            "57051.95",
            "57612.13",
            "0.00",
            "60.00",
            "90.00",
            "34567.28",
            "80096.80",
        )
    )
    assert (demande.avance, demande.nombre_echeances, demande.mensualite) == (
        Decimal("0.00"),
        0,
        Decimal("0.00"),
    )
    assert demande.majorations_generees == Decimal("0.00")
    assert demande.echeances == []
    (event,) = demande.events
    assert (event.action, event.from_status, event.to_status) == ("confirmation", None, "acceptee")
    assert event.at == FROZEN_NOW and event.actor_label == "Groupe Atlas Holding"

    page = journey.follow(response)
    banner = page.find(class_="confirmation-banner")
    assert banner.attrs["role"] == "status"
    assert banner.find("strong").text == ACCEPTEE_MESSAGE.format("10/12/2023")
    assert banner.find("strong", class_="reference").text == demande.reference
    links = {a.text: a.attrs["href"] for a in banner.find_all("a")}
    assert links["Quitter"] == "/"
    # What happens next, and where to ask.
    assert "sera prélevé le 10/12/2023" in banner.text
    assert links["l'aide"] == "/aide"
    assert page.recap()["Montant à payer"] == mad("80 096,80")
    assert entete(page)["Statut"] == "Acceptée"
    assert entete(page)["Date du prélèvement bancaire"] == "10/12/2023"

    # The home page lists it; the affilié now has a request in progress.
    rows = {row[0]: row for row in journey.get("/").table_rows("data")[1:]}
    assert rows[demande.reference][1:] == [
        f"{INTEGRAL} — IQIQEN DISTRIBUTION",
        "20/11/2023",
        "Paiement intégral",
        mad("80 096,80"),
        "Acceptée",
    ]
    refused = journey.follow(journey.client.get(f"/demande/{INTEGRAL}/parametrage"))
    assert refused.flashes() == [EN_COURS_REFUSAL.replace("RM-DEMO-000001", demande.reference)]


def test_instalments_create_one_request_waiting_for_guarantees(journey, app):
    journey.start(GUIDE, "acomptes")
    journey.simuler(GUIDE, avance="5 000", n=2)
    page = journey.valider(GUIDE, avance="5 000", n=2)
    assert page.find("p", class_="hint").text == (
        f"Paiement par acomptes — Montant à payer : {mad('21 950,63')}"
    )
    response = journey.confirmer(GUIDE, page.token())

    (demande,) = demandes(app, GUIDE)
    assert demande.status == "en_attente_garanties"
    assert demande.modalite == "acomptes"
    assert demande.garanties_acceptees is True
    assert demande.conditions_version == "acomptes-2023-10-17"
    assert (
        demande.creance_totale,
        demande.principal,
        demande.penalites_frais,
        demande.astreintes,
        demande.taux_penalites,
        demande.taux_astreintes,
        demande.remise,
        demande.montant_a_payer,
        demande.avance,
        demande.mensualite,
        demande.majorations_generees,
    ) == tuple(
        Decimal(v)
        for v in (
            "27707.49",
            "16193.77",
            "11513.72",
            "0.00",
            "50.00",
            "80.00",
            "5756.86",
            "21950.63",
            "5000.00",
            "8475.32",
            "139.12",
        )
    )
    assert demande.nombre_echeances == 2
    assert [
        (e.rang, e.date_prevue, e.montant, e.definitive, e.statut) for e in demande.echeances
    ] == [
        (0, date(2023, 12, 10), Decimal("5000.00"), False, "a_prelever"),
        (1, date(2024, 1, 10), Decimal("8475.32"), False, "a_prelever"),
        (2, date(2024, 2, 10), Decimal("8475.31"), False, "a_prelever"),
    ]
    assert sum(e.montant for e in demande.echeances) == demande.montant_a_payer
    (event,) = demande.events
    assert (event.action, event.to_status) == ("confirmation", "en_attente_garanties")

    page = journey.follow(response)
    banner = page.find(class_="confirmation-banner")
    paragraphs = [p.text for p in banner.find_all("p")]
    assert paragraphs[0] == ENREGISTREE_MESSAGE
    assert (
        paragraphs[1]
        == "Date limite de dépôt des garanties : 20/12/2023 — Perception Casablanca Anfa"
    )
    assert paragraphs[2] == f"Référence de votre demande : {demande.reference}"
    assert entete(page)["Statut"] == "En attente de garanties"
    assert entete(page)["Date limite de dépôt des garanties"] == "20/12/2023"
    assert page.recap()["Montant de la mensualité"] == mad("8 475,32")
    assert page.table_rows("creance") == GUIDE_TABLE


@pytest.mark.parametrize(
    "confirmed, debit, deadline",
    [
        (datetime(2023, 11, 20, 10, 30), "10/12/2023", "20/12/2023"),
        (datetime(2023, 12, 31, 23, 59), "10/01/2024", "30/01/2024"),
        (datetime(2024, 1, 31, 8, 0), "10/02/2024", "01/03/2024"),
    ],
)
def test_final_messages_follow_the_confirmation_date(journey, clock, confirmed, debit, deadline):
    clock.set(confirmed)
    journey.start(INTEGRAL, "integral")
    page = journey.follow(journey.confirmer(INTEGRAL, journey.valider(INTEGRAL).token()))
    assert page.find(class_="confirmation-banner").find("strong").text == ACCEPTEE_MESSAGE.format(
        debit
    )

    journey.start(GUIDE, "acomptes")
    page = journey.follow(journey.confirmer(GUIDE, journey.valider(GUIDE).token()))
    assert (
        f"Date limite de dépôt des garanties : {deadline}"
        in page.find(class_="confirmation-banner").text
    )


def test_confirming_twice_creates_one_request(journey, app):
    """Double click, back button, second tab: the same screen's token, the same request."""
    journey.start(INTEGRAL, "integral")
    token = journey.valider(INTEGRAL).token()

    first = journey.confirmer(INTEGRAL, token)
    second = journey.confirmer(INTEGRAL, token)
    third = journey.client.post(
        f"/demande/{INTEGRAL}/confirmer", data={"token": token}, headers={"HX-Request": "true"}
    )

    assert first.status_code == second.status_code == 303
    assert location(first) == location(second)
    assert third.status_code == 204 and third.headers["HX-Redirect"] == location(first)
    assert count_demandes(app) == 2  # the demo's one and this one
    assert len(demandes(app, INTEGRAL)) == 1
    # The back button to the validation page: the draft is gone, nothing new starts.
    back = journey.client.get(f"/demande/{INTEGRAL}/validation")
    assert back.status_code == 302
    assert count_demandes(app) == 2


def test_a_stale_confirmation_screen_creates_nothing(journey, app):
    """Tab 1 shows the validation; tab 2 starts the paramétrage again: tab 1's token dies."""
    journey.start(GUIDE, "acomptes")
    stale = journey.valider(GUIDE).token()
    journey.parametrer(GUIDE, "integral")

    page = journey.follow(journey.confirmer(GUIDE, stale))
    assert page.flashes() == [STALE_CONFIRMATION]
    assert demandes(app, GUIDE) == []

    fresh = journey.valider(GUIDE).token()
    journey.confirmer(GUIDE, fresh)
    (demande,) = demandes(app, GUIDE)
    assert demande.modalite == "integral"


@pytest.mark.parametrize("token", ["", "forged", "demo-seed-000001"])
def test_a_forged_token_creates_nothing(journey, app, token):
    journey.start(GUIDE, "integral")
    journey.valider(GUIDE)
    response = journey.confirmer(GUIDE, token)
    assert response.status_code == 302
    assert location(response) == f"/demande/{GUIDE}/simulation"
    assert demandes(app, GUIDE) == []


def test_confirmation_after_unticking_the_conditions_creates_nothing(journey, app):
    journey.start(GUIDE, "integral")
    token = journey.valider(GUIDE).token()
    # Back to the simulation, the box unticked, Valider: refused, and the screen's token
    # no longer confirms anything.
    assert journey.simuler(GUIDE, action="valider").status_code == 422
    response = journey.confirmer(GUIDE, token)
    assert location(response) == f"/demande/{GUIDE}/simulation"
    assert demandes(app, GUIDE) == []


def test_the_other_affilie_of_a_second_tab_cannot_reuse_a_token(journey, app):
    """A token of 2145873's screen posted for 4317542 creates nothing for either."""
    journey.start(INTEGRAL, "integral")
    token = journey.valider(INTEGRAL).token()
    response = journey.confirmer(GUIDE, token)
    assert response.status_code == 302
    assert demandes(app, GUIDE) == [] and demandes(app, INTEGRAL) == []


# --- annuler --------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["parametrage", "simulation", "apres-simuler", "validation"])
def test_annuler_at_any_step_goes_home_and_creates_nothing(journey, auth, app, step):
    if step == "parametrage":
        auth.login("groupe")
        journey.get(f"/demande/{GUIDE}/parametrage")
    else:
        journey.start(GUIDE, "acomptes")
        if step != "simulation":
            journey.simuler(GUIDE, avance="5 000", n=2)
        if step == "validation":
            journey.valider(GUIDE)

    response = journey.client.post("/demande/annuler")
    assert location(response) == "/"
    assert journey.follow(response).h1 == "Espace Recouvrement"
    assert count_demandes(app) == 1
    # The draft is forgotten: the journey starts again at the paramétrage.
    assert location(journey.client.get(f"/demande/{GUIDE}/simulation")) == (
        f"/demande/{GUIDE}/parametrage"
    )
    page = journey.get(f"/demande/{GUIDE}/parametrage")
    assert not page.checked("modalite-acomptes") and page.selected("compte") is None


def test_the_annuler_buttons_post_to_annuler(journey):
    page = journey.start(GUIDE, "acomptes")
    form = page.by_id("annuler-form")
    assert (form.attrs["method"], form.attrs["action"]) == ("post", "/demande/annuler")
    assert page.find("button", form="annuler-form").text == "Annuler"
    page = journey.get(f"/demande/{GUIDE}/parametrage")
    assert page.find("button", form="annuler-form").text == "Annuler"


# --- the request is a snapshot -----------------------------------------------------------


def test_the_recapitulatif_shows_the_confirmed_figures_after_the_creance_changes(journey, app):
    journey.start(GUIDE, "acomptes")
    journey.simuler(GUIDE, avance="5 000", n=2)
    response = journey.confirmer(GUIDE, journey.valider(GUIDE, avance="5 000", n=2).token())
    reference = location(response).split("/")[-1].split("?")[0]

    with database(app) as session:
        affilie = session.scalars(select(Affilie).where(Affilie.numero == GUIDE)).one()
        for ligne in session.scalars(
            select(LigneCreance).where(LigneCreance.affilie_id == affilie.id)
        ):
            ligne.montant = ligne.montant * 2
        session.add(
            LigneCreance(
                affilie_id=affilie.id,
                periode="195001",
                rubrique="AST_BDS",
                nature="majorations",
                montant=Decimal("999.99"),
            )
        )
        affilie.raison_sociale = "NOUVELLE RAISON SOCIALE"
        session.commit()
        campaign = queries.active_campaign()
        now_total = queries.consolidation_for(affilie, campaign.last_eligible_period).total
        assert now_total == Decimal("27707.49") * 2 + Decimal("999.99")

    page = journey.get(f"/demandes/{reference}")
    assert page.status == 200
    assert page.h1 == f"Récapitulatif de la demande {reference}"
    assert page.find(class_="confirmation-banner") is None
    assert entete(page)["Raison sociale"] == "ATLAS BÂTIMENT ET TRAVAUX"
    assert entete(page)["Période début de la créance"] == "196901"
    assert page.table_rows("creance") == GUIDE_TABLE
    recap = page.recap()
    assert recap["Créance totale"] == mad("27 707,49")
    assert recap["Montant de la remise"] == mad("5 756,86")
    assert recap["Montant à payer"] == mad("21 950,63")
    assert recap["Montant de la mensualité"] == mad("8 475,32")
    assert page.table_rows("echeancier")[1][3] == num("139,12")
    assert "Version acomptes-2023-10-17, acceptée le 20/11/2023 à 10:30." in page.text


# --- other accounts and agents -------------------------------------------------------


def test_another_accounts_request_is_not_found(journey, auth):
    auth.login("entreprise")
    assert journey.client.get("/demandes/RM-DEMO-000001").status_code == 404
    assert journey.client.get("/demandes/RM-2023-INCONNUE").status_code == 404


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", f"/demande/{INTEGRAL}/parametrage"),
        ("post", f"/demande/{INTEGRAL}/parametrage"),
        ("get", f"/demande/{INTEGRAL}/simulation"),
        ("post", f"/demande/{INTEGRAL}/simulation"),
        ("get", f"/demande/{INTEGRAL}/conditions"),
        ("post", f"/demande/{INTEGRAL}/conditions"),
        ("get", f"/demande/{INTEGRAL}/validation"),
        ("post", f"/demande/{INTEGRAL}/confirmer"),
        ("get", "/demande/0000000/parametrage"),
    ],
)
def test_an_affilie_of_another_account_is_not_found(journey, auth, app, method, url):
    auth.login("entreprise")
    compte = str(comptes_of(app, INTEGRAL)[0].id)
    data = {"modalite": "integral", "compte": compte, "decision": "accepter", "token": "x"}
    response = getattr(journey.client, method)(url, data=data if method == "post" else None)
    assert response.status_code == 404
    assert count_demandes(app) == 1


def test_a_token_of_another_account_reveals_nothing(journey, auth, app):
    """entreprise posts the demo request's token for its affilié: not that request."""
    auth.login("entreprise")
    response = journey.client.post(
        f"/demande/{EN_COURS}/confirmer", data={"token": "demo-seed-000001"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/demande/nouvelle"),
        ("get", f"/demande/{GUIDE}/parametrage"),
        ("post", f"/demande/{GUIDE}/parametrage"),
        ("get", f"/demande/{GUIDE}/simulation"),
        ("post", f"/demande/{GUIDE}/simulation"),
        ("get", f"/demande/{GUIDE}/conditions"),
        ("post", f"/demande/{GUIDE}/conditions"),
        ("get", f"/demande/{GUIDE}/validation"),
        ("post", f"/demande/{GUIDE}/confirmer"),
        ("post", "/demande/annuler"),
    ],
)
def test_an_agent_is_forbidden_the_journey(journey, auth, app, method, url):
    auth.login("agent.casa")
    response = getattr(journey.client, method)(url)
    assert response.status_code == 403
    assert count_demandes(app) == 1


def test_an_agent_does_not_see_affiliate_requests(journey, auth):
    auth.login("agent.casa")
    assert journey.client.get("/demandes/RM-DEMO-000001").status_code == 404


@pytest.mark.parametrize(
    "lang, expected",
    [
        (
            "fr",
            "Après la validation, l'avance ({avance}) est prélevée le 10 du mois suivant, au "
            "plus tôt le 10/12/2023, puis l'échéance unique ({montant}) le 10 du mois d'après, "
            "au plus tôt le 10/01/2024.",
        ),
        (
            "ar",
            "بعد المصادقة، يُقتطع التسبيق ({avance}) في 10 من الشهر الموالي، ابتداء من "
            "10/12/2023 على أقرب تقدير، ثم القسط الوحيد ({montant}) في 10 من الشهر الذي يليه، "
            "ابتداء من 10/01/2024 على أقرب تقدير.",
        ),
    ],
)
def test_one_instalment_is_said_with_its_one_date(journey, client, lang, expected):
    journey.start(GUIDE, "acomptes")
    token = journey.valider(GUIDE, avance="5 000", n=1).token()
    recap = location(journey.confirmer(GUIDE, token))
    client.post("/langue", data={"lang": lang})
    steps = [li.text for li in journey.get(recap).find("ol", class_="next-steps").find_all("li")]
    if lang == "fr":
        avance, montant = mad("5 000,00"), mad("16 950,63")
    else:
        avance, montant = "\u20665.000,00\u00a0MAD\u2069", "\u206616.950,63\u00a0MAD\u2069"
    assert expected.format(avance=avance, montant=montant) in steps


def test_the_simulation_names_each_part_once(journey):
    """Two landmarks or groups of the same name cannot be told apart by their names."""
    page = journey.start(GUIDE, "acomptes")
    names = [page.find("legend").text, page.by_id("simulation-titre").text]
    names += [
        node.attrs["aria-label"]
        for node in page.find_all(role="region")
        if "aria-label" in node.attrs
    ]
    assert names == ["Paramètres de la simulation", "Récapitulatif", "Échéancier"]
