"""Paging a back-office list from the keyboard: after each swap of the table the focus
stays on the pager control that was pressed, or on its equivalent in the new pager."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from db.models import Affilie, Perception, User
from domain.search import search_text
from extensions import db
from tests.e2e.a11y_support import wait_for_swap
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e

AGENT, PASSWORD = "agent.pages", "Pages-test-2023!"
COUNT = 110  # 6 pages of 20, the last one of 10


@pytest.fixture
def long_list(live_server):
    """A perception of 110 affiliés and its agent."""
    with live_server.app.app_context():
        perception = Perception(name="Perception Test Pages")
        db.session.add(perception)
        db.session.flush()
        agent = User(login=AGENT, display_name="Agent", role="agent", perception=perception)
        agent.set_password(PASSWORD)
        db.session.add(agent)
        rows = [
            {
                "numero": f"{9_100_000 + i}",
                "raison_sociale": f"SOCIÉTÉ PAGES {i:03d}",
                "regime": "Régime général",
                "perception_id": perception.id,
                "date_situation": date(2023, 11, 8),
                "date_arret_penalites": date(2023, 11, 8),
                "arrangement": False,
                "recherche": search_text(f"{9_100_000 + i}", f"SOCIÉTÉ PAGES {i:03d}"),
            }
            for i in range(COUNT)
        ]
        db.session.execute(sa.insert(Affilie), rows)
        db.session.commit()


def focused(page: Page) -> str:
    return page.evaluate(
        """() => { const el = document.activeElement;
                   return el && el.closest('.pager') ? el.textContent.trim() : 'outside the pager: '
                     + (el ? el.outerHTML.slice(0, 80) : 'nothing'); }"""
    )


def current_page(page: Page) -> str:
    return page.locator('#affilies-table [aria-current="page"]').inner_text()


def enter(page: Page) -> None:
    wait_for_swap(page, lambda: page.keyboard.press("Enter"))


def test_enter_on_suivant_again_and_again_goes_one_page_on_each_time(page, live_server, long_list):
    login(page, live_server.url, AGENT, PASSWORD)
    page.goto(f"{live_server.url}/perception/affilies")
    pager = page.locator("#affilies-table .pager")
    pager.get_by_role("link", name="Suivant").focus()
    for expected in ("2", "3", "4", "5", "6"):
        enter(page)
        assert current_page(page) == expected
        # The focus is still on Suivant, ready for the next Enter...
        if expected != "6":
            assert focused(page) == "Suivant"
    # ...until the last page, where there is no Suivant: its neighbour Précédent has it.
    assert focused(page) == "Précédent"
    shot(page, "derniere-page")
    enter(page)
    assert current_page(page) == "5"
    assert focused(page) == "Précédent"


def test_enter_on_a_page_number_keeps_the_focus_on_that_number(page, live_server, long_list):
    login(page, live_server.url, AGENT, PASSWORD)
    page.goto(f"{live_server.url}/perception/affilies")
    pager = page.locator("#affilies-table .pager")
    pager.get_by_role("link", name="2", exact=True).focus()
    enter(page)
    assert current_page(page) == "2"
    # The number pressed, now the current page, has the focus (not "Premier").
    assert focused(page) == "2"
    page.keyboard.press("Tab")
    assert focused(page) == "3"
    enter(page)
    assert current_page(page) == "3"
    assert focused(page) == "3"
    pager.get_by_role("link", name="Premier").focus()
    enter(page)
    assert current_page(page) == "1"
    # No Premier on the first page: the focus goes to its neighbour Suivant.
    assert focused(page) == "Suivant"
    expect(page).to_have_url(f"{live_server.url}/perception/affilies?page=1")
