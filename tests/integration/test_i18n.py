"""French and Arabic: language choice, right-to-left pages, translated messages."""

from pathlib import Path

from babel.messages.pofile import read_po

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
