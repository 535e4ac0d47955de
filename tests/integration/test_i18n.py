"""French and Arabic: language choice, right-to-left pages, translated messages."""

import json
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.integration.pages import Page

CATALOGUE = Path(__file__).resolve().parents[2] / "translations" / "ar" / "LC_MESSAGES"


def test_every_message_has_an_arabic_translation():
    with (CATALOGUE / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale="ar")
    untranslated = [
        m.id for m in catalogue if m.id and not (m.string if isinstance(m.id, str) else m.string[0])
    ]
    assert untranslated == []
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert fuzzy == []


def test_french_is_the_default(client):
    page = client.get("/connexion")
    assert '<html lang="fr" dir="ltr">' in page.text
    # The guide's word for the login step.
    assert "<title>Authentification — Espace Recouvrement</title>" in page.text
    assert "<h1>Authentification</h1>" in page.text
    assert "Mot de passe" in page.text
    assert 'hreflang="ar"' in page.text


def test_accept_language_arabic_gives_a_right_to_left_page(client):
    page = client.get("/connexion", headers={"Accept-Language": "ar-MA,ar;q=0.9,fr;q=0.5"})
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "<title>تسجيل الدخول — فضاء التحصيل</title>" in page.text
    assert "كلمة المرور" in page.text
    assert 'hreflang="fr"' in page.text


def test_language_switch_is_kept_in_the_session(client, auth):
    auth.login()
    switched = client.post("/langue", data={"lang": "ar", "next": "/"})
    assert switched.status_code == 302
    assert switched.location == "/"
    home = client.get("/")
    assert '<html lang="ar" dir="rtl">' in home.text
    assert "طلب إعفاء جديد" in home.text
    # The choice survives logging out and in again.
    auth.logout()
    assert '<html lang="ar"' in client.get("/connexion").text
    client.post("/langue", data={"lang": "fr"})
    assert '<html lang="fr"' in client.get("/connexion").text


def test_unknown_language_is_refused(client):
    assert client.post("/langue", data={"lang": "xx"}).status_code == 400


def test_validation_messages_in_arabic(client, auth):
    auth.login()
    client.post("/langue", data={"lang": "ar"})
    page = client.post("/demande/4317542/parametrage", data={})
    assert page.status_code == 422
    assert "المرجو اختيار طريقة الأداء." in page.text
    assert "المرجو اختيار الحساب البنكي المراد استعماله." in page.text
    assert "<title>خطأ: إعداد الإعفاء — المرحلة 2 من 4 — فضاء التحصيل</title>" in page.text


def test_amounts_in_arabic_keep_latin_digits_and_reading_order(client, auth):
    auth.login()
    client.post("/langue", data={"lang": "ar"})
    page = client.get("/demande/4317542/parametrage")
    # ar_MA groups with a dot and uses a decimal comma; digits stay Latin.
    assert "27.707,49" in page.text
    assert "11.548,68" in page.text


def test_amounts_in_french_use_the_guide_format(client, auth):
    auth.login()
    page = client.get("/demande/4317542/parametrage")
    assert "27\u202f707,49" in page.text
    assert "Remise suite à la décision ministérielle N° 05/2023 du 17/10/2023" in page.text


def arabic_simulation(client, auth, n: str = "6"):
    auth.login()
    client.post(
        "/demande/4317542/parametrage",
        data={"modalite": "acomptes", "garanties": "1", "compte": "1"},
    )
    client.post("/langue", data={"lang": "ar"})
    return Page(client.get("/demande/4317542/simulation", query_string={"n": n}))


@pytest.mark.parametrize(
    "n, months",
    [("1", "شهر واحد"), ("2", "شهران"), ("6", "6 أشهر"), ("12", "12 شهرا")],
)
def test_months_in_arabic_use_arabic_plurals(client, auth, n, months):
    page = arabic_simulation(client, auth, n)
    assert page.by_id("curseur").attrs["aria-valuetext"] == months
    assert page.by_id("nombre-mois").text == months
    assert f"لمدة {months}." in page.by_id("picture-texte").text
    # The script's forms, one per plural category, for the moves it makes itself.
    assert json.loads(page.by_id("curseur").attrs["data-valuetexts"]) == {
        "zero": "{n} شهر",
        "one": "شهر واحد",
        "two": "شهران",
        "few": "{n} أشهر",
        "many": "{n} شهرا",
        "other": "{n} شهر",
    }


def test_rates_in_arabic_write_the_number_then_the_sign(client, auth):
    page = arabic_simulation(client, auth)
    # The figure isolated left to right, the sign after it in the Arabic sentence.
    assert page.by_id("palier").text.startswith(
        "نسب الإعفاء المطبقة: \u206650,00\u2069\u00a0% على الغرامات والمصاريف،"
        " \u206680,00\u2069\u00a0% على الغرامات التهديدية"
    )


def test_session_extension_in_arabic_reads_for_a_duration(client, auth):
    page = arabic_simulation(client, auth)
    assert page.by_id("session-annonce").attrs["data-message"] == "تم تمديد جلستكم لمدة 20 دقيقة."
