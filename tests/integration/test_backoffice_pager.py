"""The back office's pager on long lists: a window of page links, and a count that stops
past a cap ("plus de … éléments") while the last page stays one click away."""

from __future__ import annotations

import html
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from db.models import Affilie, Demande, Perception, User
from domain.search import search_text
from extensions import db
from services import backoffice
from tests.integration.back_office import GUIDE, HTMX, make_demande
from tests.integration.pages import parse

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


def test_past_the_cap_the_count_stops_and_the_last_page_is_read_from_the_end(make, long_list):
    app = make(LIST_COUNT_CAP=100)
    client = app.test_client()
    login(client)

    info, links, numeros = read(client, "/perception/affilies")
    assert info == "Affichage de l'élément 1 à 20 sur plus de 100 éléments"
    assert numeros == long_list[:20]
    assert links == [
        ("Premier", None),
        ("Précédent", None),
        ("1", None),
        ("2", url(page=2)),
        ("3", url(page=3)),
        ("…", None),
        ("Suivant", url(page=2)),
        ("Dernier", url(fin=1)),
    ]
    caption = parse(client.get("/perception/affilies").get_data(as_text=True)).find("caption")
    assert caption.text == "Affiliés de la perception — plus de 100 affiliés"

    # Past the cap, the pages around the current one are counted as they are needed.
    info, links, numeros = read(client, url(page=6))
    assert info == "Affichage de l'élément 101 à 120 sur plus de 100 éléments"
    assert numeros == long_list[100:120]
    assert [text for text, _ in links] == [
        "Premier", "Précédent", "1", "…", "4", "5", "6", "7", "8", "…", "Suivant", "Dernier",
    ]  # fmt: skip

    info, links, numeros = read(client, url(fin=1))
    assert info == "Affichage de l'élément 1 à 20 en partant de la fin, sur plus de 100 éléments"
    assert numeros == long_list[-20:]
    assert links == [
        ("Premier", url(page=1)),
        ("Précédent", url(fin=2)),
        ("Suivant", None),
        ("Dernier", None),
    ]

    info, links, numeros = read(client, url(fin=2))
    assert info == "Affichage de l'élément 21 à 40 en partant de la fin, sur plus de 100 éléments"
    assert numeros == long_list[-40:-20]
    assert links == [
        ("Premier", url(page=1)),
        ("Précédent", url(fin=3)),
        ("Suivant", url(fin=1)),
        ("Dernier", url(fin=1)),
    ]


def test_the_capped_count_in_arabic(make, long_list):
    app = make(LIST_COUNT_CAP=100)
    client = app.test_client()
    login(client)
    client.post("/langue", data={"lang": "ar"})
    for path, info in (
        ("/perception/affilies", "عرض العناصر من 1 إلى 20 من أصل أكثر من 100 عنصر"),
        (url(fin=1), "عرض العناصر من 1 إلى 20 ابتداء من النهاية، من أصل أكثر من 100 عنصر"),
    ):
        root = parse(client.get(path).get_data(as_text=True))
        assert root.find(class_="table-info").text == info
        assert root.find("caption").text.endswith("أكثر من 100 منخرط")


def test_going_back_from_the_end_shows_every_row_down_to_the_first(make, long_list):
    """Précédent from the last page, page after page: counted from the end while the
    count stops, numbered again once it reaches the start; no row is ever skipped."""
    app = make(LIST_COUNT_CAP=100)
    client = app.test_client()
    login(client)
    seen, href, visited = [], url(fin=1), []
    while href is not None:
        info, links, numeros = read(client, html.unescape(href))
        visited.append(info)
        seen[:0] = [n for n in numeros if n not in seen]
        href = dict(links)["Précédent"]
    assert seen == long_list
    # 42 pages from the end; then counting to the start is as cheap as counting to the
    # cap: page 3 of 45, whose rows 51-60 were on the page before; then pages 2 and 1,
    # counted to the cap as from the start.
    assert visited[41] == (
        "Affichage de l'élément 821 à 840 en partant de la fin, sur plus de 100 éléments"
    )
    assert visited[42:] == [
        "Affichage de l'élément 41 à 60 sur 890 éléments",
        "Affichage de l'élément 21 à 40 sur plus de 100 éléments",
        "Affichage de l'élément 1 à 20 sur plus de 100 éléments",
    ]


def test_a_capped_list_reads_the_same_rows_as_a_counted_one(app, long_list):
    casa = db.session.scalar(select(Perception.id).where(Perception.name.like("%Pager")))
    for cap in (100, 10_000):
        for size in (20, 37):
            forward = []
            for page in range(1, -(-COUNT // size) + 1):
                found = backoffice.search_affilies(casa, "", page=page, size=size, cap=cap)
                assert found.more == (cap == 100 and (page + 2) * size < COUNT)
                forward += [a.numero for a in found.rows]
            assert forward == long_list, (cap, size)
            last = backoffice.search_affilies(casa, "", from_end=1, size=size, cap=cap)
            assert [a.numero for a in last.rows] == (
                long_list[-size:] if cap == 100 else long_list[-(COUNT % size) :]
            )


def test_a_text_search_counts_and_pages_alike(app, long_list):
    """A name search reads its page and its count in one statement when the list is
    short; past the cap it counts like any list."""
    casa = db.session.scalar(select(Perception.id).where(Perception.name.like("%Pager")))
    found = backoffice.search_affilies(casa, "societe pager 05", size=4, page=3)
    assert (found.total, found.more) == (10, False)
    assert [a.numero for a in found.rows] == long_list[58:60]
    found = backoffice.search_affilies(casa, "Société Pager", size=20, page=2, cap=100)
    assert (found.total, found.more) == (100, True)
    assert [a.numero for a in found.rows] == long_list[20:40]
    assert backoffice.search_affilies(casa, "introuvable", page=7).rows == []
    nothing = backoffice.search_affilies(casa, "introuvable", page=7)
    assert (nothing.total, nothing.page, nothing.first, nothing.last) == (0, 1, 0, 0)


# --- the status "expirée": written, or past its deadline -------------------------------


def test_expired_requests_merge_both_kinds_in_date_order_on_every_page(app, clock):
    """Expired as written and past the deadline come from two ranges of an index; every
    page, forwards, backwards and past a cap, shows them merged newest first."""
    clock.set(datetime(2023, 11, 7, 9, 0))
    model = make_demande(GUIDE, status="expiree")
    row = dict(
        db.session.execute(sa.select(Demande.__table__).where(Demande.id == model.id))
        .mappings()
        .one()
    )
    casa = row["perception_id"]
    others = db.session.scalars(
        select(Affilie.id).where(Affilie.perception_id == casa, Affilie.numero != GUIDE)
    ).all()
    expected = [model.reference]
    waiting = iter(others)
    for day in range(8, 18):
        overdue = day % 2 == 0
        copy = {k: v for k, v in row.items() if k != "id"}
        copy.update(
            reference=f"RM-TEST-{day:06d}",
            confirmation_token=f"expiree-{day}",
            confirmed_at=datetime(2023, 11, day, 9, 0),
            status="en_attente_garanties" if overdue else "expiree",
            affilie_id=next(waiting) if overdue else row["affilie_id"],
        )
        db.session.execute(sa.insert(Demande.__table__), [copy])
        expected.insert(0, copy["reference"])
    # Waiting, within its delay on 20/12: not expired.
    copy.update(
        reference="RM-TEST-RECENT",
        confirmation_token="recent",
        confirmed_at=datetime(2023, 12, 1, 9, 0),
        status="en_attente_garanties",
        affilie_id=next(waiting),
    )
    db.session.execute(sa.insert(Demande.__table__), [copy])
    db.session.commit()
    today = date(2023, 12, 20)

    def expired(**kwargs):
        return backoffice.search_demandes(casa, today=today, statut="expiree", **kwargs)

    assert [d.reference for d in expired(size=20).rows] == expected
    for cap in (3, 10_000):
        for size in (1, 2, 4):
            forward = []
            for page in range(1, -(-len(expected) // size) + 1):
                forward += [d.reference for d in expired(page=page, size=size, cap=cap).rows]
            assert forward == expected, (cap, size)
            # Précédent from the last page down to the first, with no row skipped.
            backwards, args = [], {"fin": 1}
            while args is not None:
                paging = {"from_end": args["fin"]} if "fin" in args else {"page": args["page"]}
                found = expired(size=size, cap=cap, **paging)
                backwards[:0] = [d.reference for d in found.rows if d.reference not in backwards]
                args = found.previous_args
            assert backwards == expected, (cap, size)
    # A name search among them: one statement for its page and count, or the cap.
    assert [d.reference for d in expired(q="atlas batiment").rows] == expected
    found = expired(q="atlas batiment", size=2, page=2, cap=3)
    assert (found.more, [d.reference for d in found.rows]) == (True, expected[2:4])
    last = expired(from_end=1, size=2, cap=3)
    assert (last.more, last.from_end, [d.reference for d in last.rows]) == (
        True,
        True,
        expected[-2:],
    )
    en_attente = backoffice.search_demandes(casa, today=today, statut="en_attente_garanties")
    assert [d.reference for d in en_attente.rows] == ["RM-TEST-RECENT"]
