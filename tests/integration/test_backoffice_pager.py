"""The back office's pager on long lists: a window of page links."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from db.models import Affilie, Perception, User
from domain.search import search_text
from extensions import db
from tests.integration.pages import parse
from tests.integration.test_perception import HTMX

AGENT = "agent.pager"
PASSWORD = "Pager-test-2023!"
FIRST = 9_000_000
COUNT = 890  # 45 pages of 20, the last one of 10


@pytest.fixture
def long_list(app):
    """A perception of 890 affiliés, numéros 9000000 to 9000889, and its agent."""
    perception = Perception(name="Perception Test Pager")
    db.session.add(perception)
    db.session.flush()
    agent = User(login=AGENT, display_name="Agent pager", role="agent", perception=perception)
    agent.set_password(PASSWORD)
    db.session.add(agent)
    rows = []
    for i in range(COUNT):
        numero, name = f"{FIRST + i}", f"SOCIÉTÉ PAGER {i:03d}"
        rows.append(
            {
                "numero": numero,
                "raison_sociale": name,
                "regime": "Régime général",
                "perception_id": perception.id,
                "date_situation": date(2023, 11, 8),
                "date_arret_penalites": date(2023, 11, 8),
                "arrangement": False,
                "recherche": search_text(numero, name),
            }
        )
    db.session.execute(sa.insert(Affilie), rows)
    db.session.commit()
    return [f"{FIRST + i}" for i in range(COUNT)]


def login(client) -> None:
    client.post("/connexion", data={"utilisateur": AGENT, "mot_de_passe": PASSWORD})


def read(client, url: str) -> tuple[str, list[tuple[str, str | None]], list[str]]:
    """The pager's sentence, its links as (text, href or None when not a link), and the
    numéros shown."""
    response = client.get(url, headers=HTMX)
    assert response.status_code == 200, url
    root = parse(response.get_data(as_text=True))
    nav = root.find("nav", aria_label="Pagination")
    links = []
    for node in nav.find_all(class_="page") if nav else []:
        href = node.attrs.get("href")
        if href is not None:
            assert node.attrs["data-hx-get"] == href
            assert node.attrs["data-hx-target"] == "#affilies-table"
        links.append((node.text, href))
    table = root.find("table", class_="data")
    numeros = [row.find("td").find("a").text for row in table.find("tbody").find_all("tr")]
    return root.find(class_="table-info").text, links, numeros


def url(**args) -> str:
    return "/perception/affilies?" + "&".join(f"{k}={v}" for k, v in args.items())


def test_a_long_list_links_the_first_the_last_and_two_pages_around_the_current(client, long_list):
    login(client)
    info, links, numeros = read(client, "/perception/affilies")
    assert info == "Affichage de l'élément 1 à 20 sur 890 éléments"
    assert numeros == long_list[:20]
    assert links == [
        ("Premier", None),
        ("Précédent", None),
        ("1", None),
        ("2", url(page=2)),
        ("3", url(page=3)),
        ("…", None),
        ("45", url(page=45)),
        ("Suivant", url(page=2)),
        ("Dernier", url(page=45)),
    ]

    info, links, numeros = read(client, url(page=20))
    assert info == "Affichage de l'élément 381 à 400 sur 890 éléments"
    assert numeros == long_list[380:400]
    assert links == [
        ("Premier", url(page=1)),
        ("Précédent", url(page=19)),
        ("1", url(page=1)),
        ("…", None),
        ("18", url(page=18)),
        ("19", url(page=19)),
        ("20", None),
        ("21", url(page=21)),
        ("22", url(page=22)),
        ("…", None),
        ("45", url(page=45)),
        ("Suivant", url(page=21)),
        ("Dernier", url(page=45)),
    ]

    info, links, numeros = read(client, url(page=45))
    assert info == "Affichage de l'élément 881 à 890 sur 890 éléments"
    assert numeros == long_list[880:]
    assert links == [
        ("Premier", url(page=1)),
        ("Précédent", url(page=44)),
        ("1", url(page=1)),
        ("…", None),
        ("43", url(page=43)),
        ("44", url(page=44)),
        ("45", None),
        ("Suivant", None),
        ("Dernier", None),
    ]


def test_the_pager_says_which_page_is_current_and_which_links_are_disabled(client, long_list):
    login(client)
    root = parse(client.get(url(page=4)).get_data(as_text=True))
    nav = root.find("nav", aria_label="Pagination")
    assert nav.attrs["class"] == "pager"
    assert nav.find(aria_current="page").text == "4"
    # A gap of one page shows that page: 1 2 3 4 5 6 … 45, never 1 … 3.
    assert nav.text == "Premier Précédent 1 2 3 4 5 6 … 45 Suivant Dernier"
    first = parse(client.get("/perception/affilies").get_data(as_text=True))
    disabled = first.find("nav", aria_label="Pagination").find_all(class_="disabled")
    assert [(n.tag, n.text, n.attrs["aria-disabled"]) for n in disabled] == [
        ("span", "Premier", "true"),
        ("span", "Précédent", "true"),
    ]
