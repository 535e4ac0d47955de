"""The affiliate's journey in real Chromium, from the login to the final message.

With JavaScript, the simulation panel updates in place (no page load: a marker set on
``window`` survives, and no ``load`` event fires) and the conditions and the confirmation
are ``<dialog>``s. Without JavaScript, the same journeys run on plain forms, the
conditions page and the confirmation page. Every screen is saved by ``shot()``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from commands.demo import DEMO_PASSWORD
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e

GUIDE = "4317542"
INTEGRAL = "2145873"
NNBSP, NBSP = "\u202f", "\u00a0"


def mad(text: str) -> str:
    return text.replace(" ", NNBSP) + NBSP + "MAD"


def pct(text: str) -> str:
    return text + NBSP + "%"


def recap_value(page: Page, label: str):
    """The value cell of a récapitulatif row, found by its label."""
    return (
        page.locator("table.recap tr")
        .filter(has=page.get_by_role("rowheader", name=label, exact=True))
        .locator("td")
    )


class NoReload:
    """Counts page loads and keeps a marker on ``window``: both must survive htmx swaps."""

    def __init__(self, page: Page):
        self.page = page
        page.wait_for_load_state("load")  # the navigation that brought us here is over
        self.loads: list[str] = []
        page.on("load", lambda p: self.loads.append(p.url))
        page.evaluate("window.__marker = 1")

    def check(self) -> None:
        assert self.page.evaluate("window.__marker") == 1, "the page was reloaded"
        assert self.loads == [], f"page loads: {self.loads}"


def parametrer(page: Page, modalite: str) -> None:
    """Paramétrage de la remise: modalité, (garanties), the first account, Suivant."""
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Étape 2 sur 4 Paramétrage de la remise"
    )
    page.get_by_label(modalite, exact=True).check()
    if modalite == "Paiement par acomptes":
        page.get_by_label(re.compile("^J'accepte de déposer les garanties")).check()
    page.get_by_label("RIB bancaire à utiliser").select_option(index=1)


def choose_affilie(page: Page, numero: str, query: str) -> None:
    """Nouvelle demande → Choisir un affilié: search, then the affilié's link."""
    page.get_by_role("link", name="Nouvelle demande de remise").click()
    expect(page.get_by_role("heading", level=2, name="Choisir un affilié")).to_be_visible()
    info = page.locator(".table-info")
    expect(info).to_have_text("Affichage de l'élément 1 à 10 sur 55 éléments")
    shot(page, "2-choisir-un-affilie")
    page.get_by_label("Rechercher :").fill(query)
    if not page.evaluate("!!window.htmx"):
        page.get_by_role("button", name="Rechercher").click()
    expect(info).to_have_text("Affichage de l'élément 1 sur 1 élément")
    shot(page, "3-recherche")
    page.get_by_role("link", name=numero, exact=True).click()


# --- with JavaScript --------------------------------------------------------------------


def test_full_payment_journey(page, live_server):
    login(page, live_server.url, "groupe", DEMO_PASSWORD)
    expect(page.get_by_role("cell", name="RM-DEMO-000001")).to_be_visible()
    shot(page, "1-accueil")

    # The search re-renders the table only.
    page.get_by_role("link", name="Nouvelle demande de remise").click()
    choose_affilie_js(page, NoReload(page))

    parametrer(page, "Paiement intégral")
    expect(page.locator("table.creance tfoot td").last).to_have_text(f"114{NNBSP}664,08")
    shot(page, "4-parametrage")
    page.get_by_role("button", name="Suivant").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Étape 3 sur 4 Simulation de la demande de remise"
    )
    figures = {
        "Créance totale": mad("114 664,08"),
        "Créance en principal": mad("57 051,95"),
        "Pénalités et frais de recouvrement": mad("57 612,13"),
        "Taux de la remise sur les pénalités et frais de recouvrement": pct("60,00"),
        "Astreintes": mad("0,00"),
        "Taux de la remise sur les astreintes": pct("90,00"),
        "Montant de la remise": mad("34 567,28"),
        "Montant à payer": mad("80 096,80"),
    }
    for label, value in figures.items():
        expect(recap_value(page, label)).to_have_text(value)
    shot(page, "5-simulation")

    no_reload = NoReload(page)
    accept_conditions_in_dialog(page, "En cas de non paiement de la créance après remise")
    confirm_in_dialog(page, f"Paiement intégral — Montant à payer : {mad('80 096,80')}")
    no_reload.check()

    page.get_by_role("button", name="Confirmer").click()
    banner = page.locator(".confirmation-banner")
    expect(banner.locator("strong").first).to_have_text(
        "Demande de remise acceptée. Le prélèvement bancaire sera effectué le 10/12/2023"
    )
    reference = banner.locator(".reference").inner_text()
    assert re.fullmatch(r"RM-2023-[A-Z2-9]{8}", reference)
    expect(recap_value(page, "Montant à payer")).to_have_text(mad("80 096,80"))
    shot(page, "8-demande-acceptee")

    page.get_by_role("link", name="Quitter").click()
    row = page.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text("Acceptée")
    shot(page, "9-accueil")


def choose_affilie_js(page: Page, no_reload: NoReload) -> None:
    """The search field re-renders the table through htmx, without a page load."""
    info = page.locator(".table-info")
    expect(info).to_have_text("Affichage de l'élément 1 à 10 sur 55 éléments")
    shot(page, "2-choisir-un-affilie")
    page.get_by_label("Afficher").select_option("25")
    expect(info).to_have_text("Affichage de l'élément 1 à 25 sur 55 éléments")
    page.get_by_role("link", name="3", exact=True).click()
    expect(info).to_have_text("Affichage de l'élément 51 à 55 sur 55 éléments")
    page.get_by_label("Rechercher :").press_sequentially("IQIQEN")
    expect(info).to_have_text("Affichage de l'élément 1 sur 1 élément")
    no_reload.check()
    shot(page, "3-recherche")
    page.get_by_role("link", name=INTEGRAL, exact=True).click()


def accept_conditions_in_dialog(page: Page, french: str) -> None:
    box = page.get_by_label("J'ai lu et j'accepte les conditions générales d'utilisation")
    expect(box).not_to_be_checked()
    page.get_by_role("link", name="les conditions générales d'utilisation", exact=True).click()
    dialog = page.locator("dialog#conditions-dialog")
    expect(dialog).to_have_attribute("open", "")
    expect(dialog.locator("section[lang=fr]")).to_contain_text(french)
    expect(dialog.locator("section[lang=ar]")).to_contain_text("الشروط العامة")
    shot(page, "6-conditions")
    dialog.get_by_role("button", name="Accepter").click()
    expect(dialog).not_to_have_attribute("open", "")
    expect(box).to_be_checked()


def confirm_in_dialog(page: Page, summary: str) -> None:
    page.get_by_role("button", name="Valider").click()
    dialog = page.locator("dialog#confirmation-dialog")
    expect(dialog).to_have_attribute("open", "")
    expect(dialog).to_contain_text("Est-ce que vous confirmez vos choix ?")
    expect(dialog.locator(".hint")).to_have_text(summary)
    shot(page, "7-confirmation")
    # Annuler closes it; Valider opens it again.
    dialog.get_by_role("button", name="Annuler").click()
    expect(dialog).not_to_have_attribute("open", "")
    page.get_by_role("button", name="Valider").click()
    expect(page.locator("dialog#confirmation-dialog")).to_have_attribute("open", "")


def test_instalments_journey(page, live_server):
    login(page, live_server.url, "groupe", DEMO_PASSWORD)
    page.goto(f"/demande/{GUIDE}/parametrage")
    parametrer(page, "Paiement par acomptes")
    shot(page, "1-parametrage")
    page.get_by_role("button", name="Suivant").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Étape 3 sur 4 Simulation de la demande de remise"
    )
    shot(page, "2-simulation-6-mois")

    no_reload = NoReload(page)
    mois = page.locator("#nombre-mois")
    count = page.locator("#nombre_echeances")
    slider = page.locator("#curseur")
    annonce = page.locator("#simulation-annonce")
    mensualite = recap_value(page, "Montant de la mensualité")
    expect(mois).to_have_text("6 mois")

    # An avance typed: the panel follows.
    page.get_by_label("Montant de l'avance :").fill("5 000")
    expect(recap_value(page, "Montant de l'avance")).to_have_text(mad("5 000,00"))
    expect(mensualite).to_have_text(mad("2 825,11"))

    # − four times: 6 → 2, one step at a time.
    moins = page.get_by_role("button", name="Une échéance de moins")
    plus = page.get_by_role("button", name="Une échéance de plus")
    for n in (5, 4, 3, 2):
        moins.click()
        expect(mois).to_have_text(f"{n} mois")
        expect(count).to_have_value(str(n))
        expect(slider).to_have_value(str(n))
    expect(mensualite).to_have_text(mad("8 475,32"))
    # Indicative: the debits' rule as if validated today (20/11/2023).
    expect(recap_value(page, "Date indicative de la première échéance")).to_have_text("10/01/2024")
    expect(recap_value(page, "Date indicative de la dernière échéance")).to_have_text("10/02/2024")
    expect(recap_value(page, "Montant de la remise")).to_have_text(mad("5 756,86"))
    expect(recap_value(page, "Montant à payer")).to_have_text(mad("21 950,63"))
    expect(page.locator("table.echeancier tbody td").nth(2)).to_have_text("139,12")
    expect(annonce).to_have_text(
        f"Simulation mise à jour : 2 mois, mensualité {mad('8 475,32')}, "
        f"montant à payer {mad('21 950,63')}."
    )
    shot(page, "3-simulation-2-mois")

    plus.click()
    expect(mois).to_have_text("3 mois")
    moins.click()
    expect(mois).to_have_text("2 mois")
    # − at 1 stays at 1 (the text does not change: wait for the answer itself).
    moins.click()
    expect(mois).to_have_text("1 mois")
    with page.expect_response(lambda r: r.request.method == "GET" and "/simulation?" in r.url):
        moins.click()
    expect(mois).to_have_text("1 mois")
    expect(count).to_have_value("1")

    # The slider: to 24 (tier ≤ 24), then one step right with the keyboard (tier > 24).
    taux = recap_value(page, "Taux de la remise sur les pénalités et frais de recouvrement")
    slider.fill("24")
    expect(mois).to_have_text("24 mois")
    expect(count).to_have_value("24")
    expect(taux).to_have_text(pct("50,00"))
    expect(recap_value(page, "Taux de la remise sur les astreintes")).to_have_text(pct("80,00"))
    slider.focus()
    page.keyboard.press("ArrowRight")
    expect(mois).to_have_text("25 mois")
    expect(taux).to_have_text(pct("40,00"))
    expect(recap_value(page, "Taux de la remise sur les astreintes")).to_have_text(pct("70,00"))
    expect(page.locator("#palier")).to_contain_text("(au-delà de 24 échéances)")
    # The swap does not take the focus away from the slider.
    expect(slider).to_be_focused()
    shot(page, "4-simulation-25-mois")
    slider.fill("2")
    expect(mois).to_have_text("2 mois")
    expect(mensualite).to_have_text(mad("8 475,32"))

    # A wrong avance: its message next to the field, the typed text kept.
    avance = page.get_by_label("Montant de l'avance :")
    avance.fill("5 000,123")
    error = page.locator("#avance-erreur")
    expect(error).to_have_text(
        "Erreur : Le montant de l'avance ne peut pas avoir plus de 2 décimales."
    )
    expect(avance).to_have_attribute("aria-invalid", "true")
    expect(avance).to_have_value("5 000,123")
    shot(page, "5-avance-erronee")
    avance.fill("5 000")
    expect(error).to_have_count(0)
    expect(avance).to_have_attribute("aria-invalid", "false")
    expect(mensualite).to_have_text(mad("8 475,32"))

    # Valider without the conditions: the message by the box.
    page.get_by_role("button", name="Valider").click()
    expect(page.locator("#validation-erreurs")).to_have_text(
        "Veuillez lire et accepter les conditions générales d'utilisation."
    )
    accept_conditions_in_dialog(page, "Je m'engage à régler dans les délais impartis")
    confirm_in_dialog(page, f"Paiement par acomptes — Montant à payer : {mad('21 950,63')}")
    no_reload.check()

    page.get_by_role("button", name="Confirmer").click()
    banner = page.locator(".confirmation-banner")
    expect(banner).to_contain_text(
        "Votre demande a été bien enregistrée. Elle sera validée après votre dépôt des "
        "garanties suffisantes auprès de votre perception dans un délai de 30 jours."
    )
    expect(banner).to_contain_text(
        "Date limite de dépôt des garanties : 20/12/2023 — Perception Casablanca Anfa"
    )
    expect(recap_value(page, "Montant de la mensualité")).to_have_text(mad("8 475,32"))
    expect(recap_value(page, "Nombre des échéances")).to_have_text("2 mois")
    shot(page, "8-demande-enregistree")


def test_the_dialog_shows_every_answer_and_modifier_returns_with_them(page, live_server):
    """Valider: the answers by group in the dialog; Modifier l'échéancier goes back to the
    Simulation with the slider, the avance and the accepted conditions as they were, and
    Modifier la modalité et le compte to the Paramétrage as it was answered."""
    login(page, live_server.url, "groupe", DEMO_PASSWORD)
    page.goto(f"/demande/{GUIDE}/parametrage")
    page.get_by_label("Paiement par acomptes", exact=True).check()
    page.get_by_label(re.compile("^J'accepte de déposer les garanties")).check()
    compte = page.get_by_label("RIB bancaire à utiliser")
    compte.select_option(index=2)  # the second account
    banque, masque = compte.locator("option:checked").inner_text().split(" — ")
    assert re.fullmatch(r"(•••• ){5}[0-9]{4}", masque), masque
    page.get_by_role("button", name="Suivant").click()

    slider = page.locator("#curseur")
    mois = page.locator("#nombre-mois")
    page.get_by_label("Montant de l'avance :").fill("5 000")
    expect(recap_value(page, "Montant de l'avance")).to_have_text(mad("5 000,00"))
    slider.fill("2")
    expect(mois).to_have_text("2 mois")
    expect(recap_value(page, "Montant de la mensualité")).to_have_text(mad("8 475,32"))
    page.get_by_label("J'ai lu et j'accepte les conditions générales d'utilisation").check()

    def open_dialog():
        page.get_by_role("button", name="Valider").click()
        dialog = page.locator("dialog#confirmation-dialog")
        expect(dialog).to_have_attribute("open", "")
        # It opens at its title, read first, not at its buttons below the answers.
        expect(dialog.locator("#confirmation-titre")).to_be_focused()
        return dialog

    dialog = open_dialog()
    expect(dialog.locator(".resume h3")).to_have_text(
        ["Affilié", "Modalité et compte", "Échéancier"]
    )
    expect(dialog.locator("#resume-affilie dd")).to_have_text([GUIDE, "ATLAS BÂTIMENT ET TRAVAUX"])
    expect(dialog.locator("#resume-parametrage dd")).to_have_text(
        ["Paiement par acomptes", f"{banque} {masque}"]
    )
    expect(dialog.locator("#resume-montants dt")).to_have_text(
        [
            "Montant de l'avance",
            "Nombre des échéances",
            "Montant de la mensualité",
            "Date indicative de la première échéance",
            "Date indicative de la dernière échéance",
            "Montant de la remise",
            "Montant à payer",
        ]
    )
    expect(dialog.locator("#resume-montants dd")).to_have_text(
        [
            mad("5 000,00"),
            "2 mois",
            mad("8 475,32"),
            "10/01/2024",
            "10/02/2024",
            mad("5 756,86"),
            mad("21 950,63"),
        ]
    )
    for name in ("l'affilié", "la modalité et le compte", "l'échéancier"):
        expect(dialog.get_by_role("link", name=f"Modifier {name}", exact=True)).to_be_visible()
    shot(page, "1-dialogue-reponses")

    # Modifier l'échéancier: the Simulation at these values, the slider where it was.
    with page.expect_navigation():
        dialog.get_by_role("link", name="Modifier l'échéancier").click()
    expect(page).to_have_url(f"{live_server.url}/demande/{GUIDE}/simulation?n=2&avance=5+000")
    expect(slider).to_have_value("2")
    expect(page.locator("#nombre_echeances")).to_have_value("2")
    expect(mois).to_have_text("2 mois")
    expect(page.get_by_label("Montant de l'avance :")).to_have_value("5 000")
    expect(recap_value(page, "Montant de la mensualité")).to_have_text(mad("8 475,32"))
    expect(page.locator("#cgu")).to_be_checked()
    shot(page, "2-simulation-retrouvee")

    # One more instalment, Valider: the dialog says 3 months.
    page.get_by_role("button", name="Une échéance de plus").click()
    expect(mois).to_have_text("3 mois")
    expect(recap_value(page, "Montant de la mensualité")).to_have_text(mad("5 650,21"))
    dialog = open_dialog()
    expect(dialog.locator("#resume-montants dd").nth(1)).to_have_text("3 mois")
    expect(dialog.locator("#resume-montants dd").nth(2)).to_have_text(mad("5 650,21"))

    # Modifier la modalité et le compte: the Paramétrage as answered; Suivant keeps the rest.
    with page.expect_navigation():
        dialog.get_by_role("link", name="Modifier la modalité et le compte").click()
    expect(page.get_by_label("Paiement par acomptes", exact=True)).to_be_checked()
    expect(page.get_by_label(re.compile("^J'accepte de déposer les garanties"))).to_be_checked()
    expect(compte.locator("option:checked")).to_have_text(f"{banque} — {masque}")
    page.get_by_role("button", name="Suivant").click()
    expect(slider).to_have_value("3")
    expect(page.locator("#cgu")).to_be_checked()

    dialog = open_dialog()
    with page.expect_navigation():
        dialog.get_by_role("button", name="Confirmer").click()
    expect(page.locator(".confirmation-banner")).to_contain_text("bien enregistrée")
    expect(recap_value(page, "Nombre des échéances")).to_have_text("3 mois")
    expect(recap_value(page, "Montant de la mensualité")).to_have_text(mad("5 650,21"))


def test_a_panel_post_refused_meanwhile_leaves_the_page(page, live_server):
    """Confirmed in another tab, then + pressed here: the browser goes to the refusal,
    instead of htmx swapping the whole next page into the panel."""
    login(page, live_server.url, "groupe", DEMO_PASSWORD)
    page.goto(f"/demande/{GUIDE}/parametrage")
    parametrer(page, "Paiement par acomptes")
    page.get_by_role("button", name="Suivant").click()
    expect(page.locator("#nombre-mois")).to_have_text("6 mois")

    other = page.context.new_page()
    other.goto(f"/demande/{GUIDE}/parametrage")
    parametrer(other, "Paiement intégral")
    other.get_by_role("button", name="Suivant").click()
    other.get_by_label("J'ai lu et j'accepte les conditions générales d'utilisation").check()
    other.get_by_role("button", name="Valider").click()
    other.get_by_role("button", name="Confirmer").click()
    expect(other.locator(".confirmation-banner")).to_be_visible()
    other.close()

    page.get_by_role("button", name="Une échéance de plus").click()
    expect(page).to_have_url(f"{live_server.url}/demande/nouvelle")
    expect(page.get_by_role("alert")).to_contain_text(
        "Une demande de remise est déjà en cours pour cet affilié"
    )
    expect(page.locator("header.site-header")).to_have_count(1)
    shot(page, "refus-apres-confirmation")


# --- without JavaScript -----------------------------------------------------------------


def test_full_payment_journey_without_javascript(js_disabled_page, live_server):
    page = js_disabled_page
    login(page, live_server.url, "groupe", DEMO_PASSWORD)
    shot(page, "1-accueil")
    choose_affilie(page, INTEGRAL, "IQIQEN")

    parametrer(page, "Paiement intégral")
    shot(page, "4-parametrage")
    page.get_by_role("button", name="Suivant").click()
    expect(recap_value(page, "Montant de la remise")).to_have_text(mad("34 567,28"))
    expect(recap_value(page, "Montant à payer")).to_have_text(mad("80 096,80"))
    expect(page.locator("#curseur")).to_have_count(0)
    shot(page, "5-simulation")

    # The conditions are a page of their own.
    page.get_by_role("link", name="les conditions générales d'utilisation", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Conditions générales")
    expect(page.locator("section[lang=fr]")).to_contain_text(
        "En cas de non paiement de la créance après remise"
    )
    expect(page.locator("section[lang=ar]")).to_contain_text("في حالة عدم أداء الدين")
    shot(page, "6-conditions")
    page.get_by_role("button", name="Accepter").click()
    expect(
        page.get_by_label("J'ai lu et j'accepte les conditions générales d'utilisation")
    ).to_be_checked()

    page.get_by_role("button", name="Valider").click()
    expect(page).to_have_url(f"{live_server.url}/demande/{INTEGRAL}/validation")
    expect(page.get_by_role("heading", name="Validation")).to_be_visible()
    expect(page.locator(".card .hint")).to_have_text(
        f"Paiement intégral — Montant à payer : {mad('80 096,80')}"
    )
    shot(page, "7-confirmation")
    page.get_by_role("button", name="Confirmer").click()

    expect(page.locator(".confirmation-banner strong").first).to_have_text(
        "Demande de remise acceptée. Le prélèvement bancaire sera effectué le 10/12/2023"
    )
    shot(page, "8-demande-acceptee")


def test_instalments_journey_without_javascript(js_disabled_page, live_server):
    page = js_disabled_page
    login(page, live_server.url, "entreprise", DEMO_PASSWORD)
    page.get_by_role("link", name="Nouvelle demande de remise").click()
    # One affilié: straight to its paramétrage.
    expect(page).to_have_url(f"{live_server.url}/demande/{GUIDE}/parametrage")

    # Suivant without the guarantees: refused, the answers kept.
    page.get_by_label("Paiement par acomptes", exact=True).check()
    page.get_by_label("RIB bancaire à utiliser").select_option(index=1)
    page.get_by_role("button", name="Suivant").click()
    expect(page.locator("#resume-erreurs li")).to_have_text(
        "Pour continuer, vous devez accepter de déposer les garanties suffisantes auprès de "
        "votre perception dans un délai de 30 jours."
    )
    expect(page.get_by_label("Paiement par acomptes", exact=True)).to_be_checked()
    shot(page, "1-parametrage-erreur")
    page.get_by_label(re.compile("^J'accepte de déposer les garanties")).check()
    page.get_by_role("button", name="Suivant").click()
    shot(page, "2-simulation-6-mois")

    mois = page.locator("#nombre-mois")
    count = page.locator("#nombre_echeances")
    page.get_by_label("Montant de l'avance :").fill("5 000")
    count.fill("3")
    page.get_by_role("button", name="Une échéance de moins").click()
    expect(mois).to_have_text("2 mois")
    expect(page.get_by_label("Montant de l'avance :")).to_have_value("5 000")
    expect(recap_value(page, "Montant de la mensualité")).to_have_text(mad("8 475,32"))
    expect(recap_value(page, "Date indicative de la dernière échéance")).to_have_text("10/02/2024")
    shot(page, "3-simulation-2-mois")

    # The slider, then Simuler; + past 24.
    page.locator("#curseur").fill("24")
    page.get_by_role("button", name="Simuler", exact=True).click()
    expect(mois).to_have_text("24 mois")
    expect(
        recap_value(page, "Taux de la remise sur les pénalités et frais de recouvrement")
    ).to_have_text(pct("50,00"))
    page.get_by_role("button", name="Une échéance de plus").click()
    expect(mois).to_have_text("25 mois")
    expect(
        recap_value(page, "Taux de la remise sur les pénalités et frais de recouvrement")
    ).to_have_text(pct("40,00"))
    shot(page, "4-simulation-25-mois")

    # A wrong avance: the page again, with the message and the answers.
    page.get_by_label("Montant de l'avance :").fill("-5")
    count.fill("2")
    page.get_by_label("Montant de l'avance :").press("Enter")  # Enter is Simuler
    expect(page).to_have_title(re.compile("^Erreur : "))
    expect(page.locator("#avance-erreur")).to_have_text(
        "Erreur : Le montant de l'avance ne peut pas être négatif."
    )
    expect(count).to_have_value("2")
    shot(page, "5-avance-erronee")
    page.get_by_label("Montant de l'avance :").fill("5 000")
    page.get_by_label("Montant de l'avance :").press("Enter")
    expect(mois).to_have_text("2 mois")
    expect(recap_value(page, "Montant de la mensualité")).to_have_text(mad("8 475,32"))

    page.get_by_role("button", name="Valider").click()
    expect(page.locator("#cgu-erreur")).to_have_text(
        "Erreur : Veuillez lire et accepter les conditions générales d'utilisation."
    )
    page.get_by_role("link", name="les conditions générales d'utilisation", exact=True).click()
    expect(page.locator("section[lang=fr]")).to_contain_text(
        "Je m'engage à régler dans les délais impartis"
    )
    expect(page.locator("section[lang=ar]")).to_contain_text("ألتزم أن أؤدي في الأجل المحدد")
    shot(page, "6-conditions")
    page.get_by_role("button", name="Accepter").click()
    expect(mois).to_have_text("2 mois")
    page.get_by_role("button", name="Valider").click()
    expect(page.locator(".card .hint")).to_have_text(
        f"Paiement par acomptes — Montant à payer : {mad('21 950,63')}"
    )
    shot(page, "7-confirmation")
    page.get_by_role("button", name="Confirmer").click()

    banner = page.locator(".confirmation-banner")
    expect(banner).to_contain_text("Votre demande a été bien enregistrée.")
    expect(banner).to_contain_text("Date limite de dépôt des garanties : 20/12/2023")
    shot(page, "8-demande-enregistree")
    # Back to the confirmation page and Confirmer again: still the same request.
    reference = banner.locator(".reference").inner_text()
    page.go_back()
    page.go_back()
    page.goto("/")
    expect(page.get_by_role("row").filter(has_text="En attente de garanties")).to_have_count(1)
    expect(page.get_by_role("cell", name=reference)).to_be_visible()
