"""Validation shows every answer back before Confirmer, each group with its *Modifier*.

The same answers on the page (no JavaScript, GET /validation) and in the dialog (htmx,
Valider): the affilié, the modalité and the account (masked), the schedule and the
amounts, to the centime as the simulation panel writes them. Each *Modifier* returns to
the step with every answer kept, and Valider and Confirmer work again afterwards.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.journey import (
    GUIDE,
    INTEGRAL,
    Page,
    app_fixture,  # noqa: F401  (the app without a pushed context)
    comptes_of,
    demandes,
    journey_fixture,  # noqa: F401
    location,
    mad,
)

HX = {"HX-Request": "true"}
BULLETS = "\u2022" * 4
LRI, PDI = "\u2066", "\u2069"  # an Arabic page isolates each amount in reading order

AFFILIE = "Affilié"
PARAMETRAGE = "Modalité et compte"
ECHEANCIER = "Échéancier"
MONTANTS = "Montants"
SIMULATION_PLAN = f"/demande/{GUIDE}/simulation?n=2&avance=5+000"


def masked(compte) -> str:
    """The account as Validation shows it: the bank, then only the RIB's last 4 digits."""
    return f"{compte.banque} {' '.join([BULLETS] * 5)} {compte.rib[-4:]}"


def plan_answers(compte) -> dict:
    """docs/DOMAIN.md's worked example (avance 5 000, 2 instalments), on the second
    account of 4317542 (a group account, which chose the affilié among several)."""
    return {
        AFFILIE: {
            "modifier": ("Modifier l'affilié", "/demande/nouvelle?modifier=1"),
            "rows": {
                "Numéro d'affiliation": GUIDE,
                "Raison sociale": "ATLAS BÂTIMENT ET TRAVAUX",
            },
        },
        PARAMETRAGE: {
            "modifier": ("Modifier la modalité et le compte", f"/demande/{GUIDE}/parametrage"),
            "rows": {
                "Modalité de paiement": "Paiement par acomptes",
                "Compte bancaire": masked(compte),
            },
        },
        ECHEANCIER: {
            "modifier": ("Modifier l'échéancier", SIMULATION_PLAN),
            "rows": {
                "Montant de l'avance": mad("5 000,00"),
                "Nombre des échéances": "2 mois",
                "Montant de la mensualité": mad("8 475,32"),
                "Date indicative de la première échéance": "10/01/2024",
                "Date indicative de la dernière échéance": "10/02/2024",
                "Montant de la remise": mad("5 756,86"),
                "Montant à payer": mad("21 950,63"),
            },
        },
    }


def start_plan(journey, compte) -> None:
    """Paramétrage (acomptes, garanties, the given account), then the worked example."""
    journey.auth.login("groupe")
    response = journey.parametrer(GUIDE, "acomptes", compte=str(compte.id))
    assert location(response) == f"/demande/{GUIDE}/simulation"


def validation_page(journey) -> Page:
    return journey.valider(GUIDE, avance="5 000", n=2)


def validation_dialog(journey) -> Page:
    page = Page(journey.simuler(GUIDE, action="valider", cgu=True, avance="5 000", n=2, headers=HX))
    assert page.status == 200 and page.by_id("confirmation-dialog").tag == "dialog"
    return page


SHOWN = pytest.mark.parametrize(
    "show", [validation_page, validation_dialog], ids=["page", "dialog"]
)


@SHOWN
def test_validation_shows_every_answer_of_a_plan_with_its_modifier(journey, app, show):
    compte = comptes_of(app, GUIDE)[1]
    start_plan(journey, compte)
    page = show(journey)

    assert page.answers() == plan_answers(compte)
    # The account's number never leaves the server whole.
    assert compte.rib not in page.html
    assert compte.rib[:-4] not in page.html
    # The figures are the simulation panel's, to the centime.
    panel = journey.get(SIMULATION_PLAN).recap()
    rows = page.answers()[ECHEANCIER]["rows"]
    assert {label: panel[label] for label in rows} == rows
    # The headline and Confirmer are still there.
    assert page.find("p", class_="hint").text == (
        f"Paiement par acomptes — Montant à payer : {mad('21 950,63')}"
    )
    assert page.find("button", data_once="").text == "Confirmer"


@SHOWN
def test_a_full_payment_shows_only_what_applies(journey, app, show):
    compte = comptes_of(app, INTEGRAL)[0]
    journey.start(INTEGRAL, "integral")
    if show is validation_page:
        page = journey.valider(INTEGRAL)
    else:
        page = Page(journey.simuler(INTEGRAL, action="valider", cgu=True, headers=HX))

    answers = page.answers()
    assert list(answers) == [AFFILIE, PARAMETRAGE, MONTANTS]
    assert answers[AFFILIE]["rows"] == {
        "Numéro d'affiliation": INTEGRAL,
        "Raison sociale": "IQIQEN DISTRIBUTION",
    }
    assert answers[PARAMETRAGE] == {
        "modifier": ("Modifier la modalité et le compte", f"/demande/{INTEGRAL}/parametrage"),
        "rows": {"Modalité de paiement": "Paiement intégral", "Compte bancaire": masked(compte)},
    }
    # No schedule to change: the amounts follow from the modalité (Paramétrage).
    assert answers[MONTANTS] == {
        "modifier": None,
        "rows": {
            "Montant de la remise": mad("34 567,28"),
            "Montant à payer": mad("80 096,80"),
            # Confirmed today (20/11/2023): debited on the 10th of next month.
            "Date du prélèvement bancaire": "10/12/2023",
        },
    }
    assert compte.rib not in page.html


def test_a_single_affilie_account_has_no_affilie_to_change(journey, app):
    """``entreprise`` skips the choice of affilié: there is nothing to go back to."""
    compte = comptes_of(app, GUIDE)[0]
    journey.auth.login("entreprise")
    page = journey.get(f"/demande/{GUIDE}/parametrage")
    assert page.h1 == "Étape 2 sur 4 Paramétrage de la remise"
    journey.parametrer(GUIDE, "acomptes", compte=str(compte.id))
    answers = validation_page(journey).answers()

    assert answers[AFFILIE] == {
        "modifier": None,
        "rows": {"Numéro d'affiliation": GUIDE, "Raison sociale": "ATLAS BÂTIMENT ET TRAVAUX"},
    }
    assert answers[PARAMETRAGE]["modifier"][1] == f"/demande/{GUIDE}/parametrage"
    assert answers[ECHEANCIER]["modifier"][1] == SIMULATION_PLAN


def test_modifier_the_modalite_and_account_comes_back_with_every_answer(journey, app):
    compte = comptes_of(app, GUIDE)[1]
    start_plan(journey, compte)
    href = validation_page(journey).answers()[PARAMETRAGE]["modifier"][1]

    page = journey.get(href)
    assert page.h1 == "Étape 2 sur 4 Paramétrage de la remise"
    assert page.checked("modalite-acomptes") and not page.checked("modalite-integral")
    assert page.checked("garanties")
    assert page.selected("compte") == str(compte.id)

    # Suivant with the same answers: the simulation and the accepted conditions are kept.
    response = journey.parametrer(GUIDE, "acomptes", compte=str(compte.id))
    page = journey.follow(response)
    assert page.value("avance") == "5 000" and page.value("nombre_echeances") == "2"
    assert page.by_id("curseur").attrs["value"] == "2"
    assert page.checked("cgu")
    assert page.recap()["Montant de la mensualité"] == mad("8 475,32")

    # Valider and Confirmer work again, with the answers shown.
    page = validation_page(journey)
    assert page.answers() == plan_answers(compte)
    journey.follow(journey.confirmer(GUIDE, page.token()))
    (demande,) = demandes(app, GUIDE)
    assert (demande.modalite, demande.rib, demande.banque) == (
        "acomptes",
        compte.rib,
        compte.banque,
    )
    assert (demande.avance, demande.nombre_echeances, demande.mensualite) == (
        Decimal("5000.00"),
        2,
        Decimal("8475.32"),
    )


def test_another_account_from_modifier_is_the_one_confirmed(journey, app):
    first, second = comptes_of(app, GUIDE)[:2]
    start_plan(journey, first)
    validation_page(journey)
    journey.parametrer(GUIDE, "acomptes", compte=str(second.id))

    page = validation_page(journey)
    assert page.answers()[PARAMETRAGE]["rows"]["Compte bancaire"] == masked(second)
    journey.confirmer(GUIDE, page.token())
    (demande,) = demandes(app, GUIDE)
    assert demande.rib == second.rib


def test_another_modalite_asks_for_the_conditions_again(journey, app):
    """The conditions differ with the modalité: accepted for a plan is not accepted for a
    full payment."""
    compte = comptes_of(app, GUIDE)[0]
    start_plan(journey, compte)
    validation_page(journey)
    response = journey.parametrer(GUIDE, "integral", compte=str(compte.id))
    page = journey.follow(response)
    assert not page.checked("cgu")
    assert location(journey.client.get(f"/demande/{GUIDE}/validation")) == (
        f"/demande/{GUIDE}/simulation"
    )
    page = journey.valider(GUIDE)
    assert page.answers()[PARAMETRAGE]["rows"]["Modalité de paiement"] == "Paiement intégral"
    assert page.answers()[MONTANTS]["rows"]["Montant à payer"] == mad("20 799,26")


@SHOWN
def test_modifier_the_schedule_puts_the_slider_where_it_was(journey, app, show):
    compte = comptes_of(app, GUIDE)[1]
    start_plan(journey, compte)
    href = show(journey).answers()[ECHEANCIER]["modifier"][1]
    assert href == SIMULATION_PLAN

    page = journey.get(href)
    assert page.status == 200
    assert page.h1 == "Étape 3 sur 4 Simulation de la demande de remise"
    assert page.by_id("curseur").attrs["value"] == "2"
    assert page.value("nombre_echeances") == "2" and page.value("avance") == "5 000"
    # Valider posts the values on screen; the conditions are still accepted.
    assert page.value("valider-n") == "2" and page.value("valider-avance") == "5 000"
    assert page.checked("cgu")
    assert page.recap()["Montant de la mensualité"] == mad("8 475,32")

    # Move to 3 instalments, Valider again: the dialog says so; Confirmer keeps it.
    dialog = Page(
        journey.simuler(GUIDE, action="valider", cgu=True, avance="5 000", n=3, headers=HX)
    )
    rows = dialog.answers()[ECHEANCIER]
    assert rows["modifier"][1] == f"/demande/{GUIDE}/simulation?n=3&avance=5+000"
    assert rows["rows"]["Nombre des échéances"] == "3 mois"
    assert rows["rows"]["Montant de la mensualité"] == mad("5 650,21")
    assert rows["rows"]["Date indicative de la dernière échéance"] == "10/03/2024"
    response = journey.client.post(
        f"/demande/{GUIDE}/confirmer", data={"token": dialog.token()}, headers=HX
    )
    (demande,) = demandes(app, GUIDE)
    assert response.headers["HX-Redirect"] == f"/demandes/{demande.reference}?confirmee=1"
    assert (demande.nombre_echeances, demande.mensualite) == (3, Decimal("5650.21"))


def test_modifier_the_affilie_keeps_the_draft_for_the_same_one(journey, app):
    compte = comptes_of(app, GUIDE)[1]
    start_plan(journey, compte)
    href = validation_page(journey).answers()[AFFILIE]["modifier"][1]

    page = journey.get(href)
    assert page.h1 == "Étape 1 sur 4 Nouvelle demande"
    assert page.find("a", href=f"/demande/{GUIDE}/parametrage").text == GUIDE
    # Searching the list keeps it too.
    journey.get("/demande/nouvelle?q=ATLAS")
    page = journey.get(f"/demande/{GUIDE}/parametrage")
    assert page.checked("modalite-acomptes") and page.selected("compte") == str(compte.id)
    page = journey.get(f"/demande/{GUIDE}/validation")
    assert page.answers() == plan_answers(compte)

    # A new request from the home page starts afresh, as before.
    journey.get("/demande/nouvelle")
    assert location(journey.client.get(f"/demande/{GUIDE}/simulation")) == (
        f"/demande/{GUIDE}/parametrage"
    )
    assert not journey.get(f"/demande/{GUIDE}/parametrage").checked("modalite-acomptes")


def test_validation_in_arabic(journey, app):
    compte = comptes_of(app, GUIDE)[1]
    start_plan(journey, compte)
    journey.client.post("/langue", data={"lang": "ar"})
    page = validation_page(journey)

    def ar(text: str) -> str:
        return f"{LRI}{text}\u00a0MAD{PDI}"

    assert page.find("h2", id="confirmation-titre").text == "المصادقة"
    assert page.answers() == {
        "المنخرط": {
            "modifier": ("تعديل المنخرط", "/demande/nouvelle?modifier=1"),
            "rows": {"رقم الانخراط": GUIDE, "الاسم التجاري": "ATLAS BÂTIMENT ET TRAVAUX"},
        },
        "طريقة الأداء والحساب": {
            "modifier": ("تعديل طريقة الأداء والحساب البنكي", f"/demande/{GUIDE}/parametrage"),
            "rows": {"طريقة الأداء": "الأداء بالأقساط", "الحساب البنكي": masked(compte)},
        },
        "جدول الأقساط": {
            "modifier": ("تعديل جدول الأقساط", SIMULATION_PLAN),
            "rows": {
                "مبلغ التسبيق": ar("5.000,00"),
                "عدد الأقساط": "شهران",
                "مبلغ القسط الشهري": ar("8.475,32"),
                "التاريخ التقريبي للقسط الأول": "10/01/2024",
                "التاريخ التقريبي للقسط الأخير": "10/02/2024",
                "مبلغ الإعفاء": ar("5.756,86"),
                "المبلغ الواجب أداؤه": ar("21.950,63"),
            },
        },
    }
    assert compte.rib not in page.html
