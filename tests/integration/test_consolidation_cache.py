"""The consolidation a worker keeps between requests never outlives a change of lines.

Whatever writes an affilié's créance lines through the session (the importer's bulk
delete + insert, an ORM object, a bulk UPDATE) replaces its ``lignes_jeton``, the key of
the kept table; a rolled-back write leaves nothing behind.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, event, insert, select, update

from db.models import Affilie, LigneCreance
from extensions import db
from services import queries

GUIDE = "4317542"
OTHER = "3021458"
LAST = "202311"  # the campaign's last eligible period


@pytest.fixture
def affilie(app):
    return db.session.scalars(select(Affilie).where(Affilie.numero == GUIDE)).one()


def statements_during(block) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        block()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def eligible_rows(affilie) -> list[dict]:
    lines = db.session.scalars(
        select(LigneCreance).where(
            LigneCreance.affilie_id == affilie.id, LigneCreance.periode <= LAST
        )
    ).all()
    return [
        {
            "affilie_id": line.affilie_id,
            "periode": line.periode,
            "rubrique": line.rubrique,
            "nature": line.nature,
            "montant": line.montant,
        }
        for line in lines
    ]


def test_a_second_read_costs_no_query(app, affilie):
    first = queries.consolidation_for(affilie, LAST)
    again = []
    assert statements_during(lambda: again.append(queries.consolidation_for(affilie, LAST))) == []
    assert again == [first]
    assert first.total == Decimal("27707.49")  # the guide's table


def test_re_imported_lines_are_summed_afresh(app, affilie):
    """The importer's delete + insert: same count and periods, only the amounts differ."""
    other = db.session.scalars(select(Affilie).where(Affilie.numero == OTHER)).one()
    before = queries.consolidation_for(affilie, LAST)
    other_jeton = other.lignes_jeton
    rows = [{**r, "montant": r["montant"] + 1} for r in eligible_rows(affilie)]
    db.session.execute(delete(LigneCreance).where(LigneCreance.affilie_id == affilie.id))
    db.session.execute(insert(LigneCreance), rows)
    db.session.commit()
    after = queries.consolidation_for(affilie, LAST)
    assert after.total == before.total + len(rows)
    assert db.session.get(Affilie, other.id).lignes_jeton == other_jeton


def test_a_bulk_update_of_amounts_is_seen(app, affilie):
    before = queries.consolidation_for(affilie, LAST)
    count = len(eligible_rows(affilie))
    db.session.execute(
        update(LigneCreance)
        .where(LigneCreance.affilie_id == affilie.id)
        .values(montant=LigneCreance.montant + 2)
    )
    db.session.commit()
    assert queries.consolidation_for(affilie, LAST).total == before.total + 2 * count


def test_a_line_added_as_an_object_is_seen(app, affilie):
    before = queries.consolidation_for(affilie, LAST)
    db.session.add(
        LigneCreance(
            affilie_id=affilie.id,
            periode="202001",
            rubrique="AF",
            nature="principal",
            montant=Decimal("123.45"),
        )
    )
    db.session.commit()
    assert queries.consolidation_for(affilie, LAST).total == before.total + Decimal("123.45")


def test_a_rolled_back_import_leaves_the_kept_table_alone(app, affilie):
    before = queries.consolidation_for(affilie, LAST)
    rows = [{**r, "montant": r["montant"] + 1} for r in eligible_rows(affilie)]
    db.session.execute(delete(LigneCreance).where(LigneCreance.affilie_id == affilie.id))
    db.session.execute(insert(LigneCreance), rows)
    inside = queries.consolidation_for(affilie, LAST)  # the transaction's own view
    assert inside.total == before.total + len(rows)
    db.session.rollback()
    assert queries.consolidation_for(affilie, LAST) == before
