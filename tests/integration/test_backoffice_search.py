"""The back office's searches at any volume: one folded column, pages read from either end."""

from datetime import datetime

from sqlalchemy import select

from db.models import Affilie
from extensions import db
from services import backoffice
from tests.integration.test_perception import (
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
