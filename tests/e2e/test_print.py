"""Printing, in real Chromium with print media: a header naming the CNSS, the service and
the day of printing; no download links printed as dead text."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.a11y_support import GUIDE_NUMERO, choose_language, sign_in, start_request
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


HEADER = {
    "fr": ("La Caisse Nationale de Sécurité Sociale", "Imprimé le "),
    "ar": ("الصندوق الوطني للضمان الاجتماعي", "طُبع بتاريخ "),
}


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_a_printed_simulation_says_who_and_when(page: Page, live_server, lang):
    cnss, printed = HEADER[lang]
    page.goto("/connexion")
    choose_language(page, lang)
    sign_in(page)
    start_request(page, GUIDE_NUMERO, "acomptes")
    header = page.locator(".site-header")
    files = page.locator("p.files")
    expect(files).to_be_visible()
    expect(page.locator(".print-date")).to_be_hidden()

    page.emulate_media(media="print")
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    expect(header).to_contain_text(cnss)
    day = date.today().strftime("%d/%m/%Y")
    expect(page.locator(".print-date")).to_have_text(printed + day)
    expect(page.locator(".user-nav")).to_be_hidden()
    expect(files).to_be_hidden()
    expect(page.locator("a[download]").first).to_be_hidden()
    assert re.search(r"\d\d/\d\d/\d{4}", page.locator(".print-date").inner_text())
    shot(page, f"impression-{lang}")
