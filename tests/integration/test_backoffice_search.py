"""The back office's searches at any volume: one folded column, pages read from either end."""

from datetime import datetime

from sqlalchemy import select

from db.models import Affilie
from extensions import db
from services import backoffice
from tests.integration.back_office import (
    AGENT_CASA,
    GUIDE,
    INTEGRAL,
    get,
    make_demande,
    references,
)


def test_requests_are_found_by_reference_ice_and_name_whatever_accents_and_case(
    app, client, auth, clock
):
    clock.set(datetime(2023, 11, 14, 9, 0))
    guide = make_demande(GUIDE)
    clock.set(datetime(2023, 12, 5, 9, 0))
    integral = make_demande(INTEGRAL, modalite="integral")
    ice = db.session.scalar(select(Affilie.ice).where(Affilie.numero == GUIDE))
    auth.login(AGENT_CASA)

    for q in (guide.reference.lower(), GUIDE, "ATLAS batiment", "Bâtiment Et Trav"):
        assert references(get(client, f"/perception/demandes?q={q}")) == [guide.reference], q
    if ice:
        assert references(get(client, f"/perception/demandes?q={ice}")) == [guide.reference]
    assert references(get(client, f"/perception/demandes?q={integral.reference}")) == [
        integral.reference
    ]


def test_affilies_are_found_by_name_without_accents(app):
    casa = db.session.scalar(select(Affilie.perception_id).where(Affilie.numero == GUIDE))
    page = backoffice.search_affilies(casa, "atlas batiment")
    assert [a.numero for a in page.rows] == [GUIDE]
    page = backoffice.search_affilies(casa, "ATLAS BÂTIMENT")
    assert [a.numero for a in page.rows] == [GUIDE]


def test_pages_read_from_the_end_are_the_pages_read_from_the_start(app):
    """The second half of the list is read backwards (the last page of 100 000 rows skips
    a few rows); it must show the very rows the forward reading would."""
    casa = db.session.scalar(select(Affilie.perception_id).where(Affilie.numero == GUIDE))
    everything = [a.numero for a in backoffice.search_affilies(casa, "", size=1000).rows]
    assert len(everything) > 9
    for size in (2, 3, 4):
        pages = -(-len(everything) // size)
        seen = []
        for page in range(1, pages + 1):
            seen += [
                a.numero for a in backoffice.search_affilies(casa, "", page=page, size=size).rows
            ]
        assert seen == everything, size


def counters(page) -> tuple[str, str]:
    """The pager's sentence and the table's caption."""
    return page.root.find(class_="table-info").text, page.root.find("caption").text


def test_counters_say_one_and_none_in_words(client, auth):
    reference = make_demande(GUIDE).reference
    auth.login(AGENT_CASA)
    assert counters(get(client, f"/perception/demandes?q={reference}")) == (
        "Affichage de l'élément 1 sur 1 élément",
        "Demandes de remise — 1 demande",
    )
    assert counters(get(client, "/perception/affilies?q=personne-de-ce-nom")) == (
        "Aucun élément à afficher",
        "Affiliés de la perception — aucun affilié",
    )
    assert counters(get(client, "/perception/demandes?q=personne-de-ce-nom")) == (
        "Aucun élément à afficher",
        "Demandes de remise — aucune demande",
    )


def test_counters_in_arabic_follow_arabic_plurals(client, auth):
    reference = make_demande(GUIDE).reference
    auth.login(AGENT_CASA)
    client.post("/langue", data={"lang": "ar"})
    info, _caption = counters(get(client, f"/perception/demandes?q={reference}"))
    assert info == "عرض العنصر 1 من أصل عنصر واحد"
    info, _caption = counters(get(client, "/perception/affilies"))
    assert info == "عرض العناصر من 1 إلى 18 من أصل 18 عنصرا"  # 11 to 99: the "many" form
