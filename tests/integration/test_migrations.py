"""Migrations are code: an empty database upgrades to exactly the models' schema, and the
schema itself enforces the one-request-in-progress rule, on SQLite and on PostgreSQL."""

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy.exc import IntegrityError

from db.models import Demande
from domain import lifecycle
from extensions import db
from services import queries
from tests.conftest import BASE_URL, IS_POSTGRES, make_app

DEMANDES = Demande.__table__
IN_PROGRESS = sorted(lifecycle.IN_PROGRESS)
FINISHED = sorted(set(lifecycle.STATUSES) - lifecycle.IN_PROGRESS)


def schema_diff(connection) -> list:
    """What ``flask db migrate`` would write: nothing, when the revisions match the models."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, db.metadata)


def check_upgrade_from_empty(url: str) -> None:
    app = make_app(url)
    with app.app_context():
        try:
            upgrade()
            with db.engine.connect() as connection:
                diff = schema_diff(connection)
                assert diff == [], f"the migrations and db/models.py differ: {diff}"
                # Autogenerate does not compare a partial index's WHERE: check it here.
                index = {i["name"]: i for i in sa.inspect(connection).get_indexes("demandes")}[
                    "uq_demandes_affilie_en_cours"
                ]
                assert index["unique"]
                where = str(index["dialect_options"][f"{db.engine.dialect.name}_where"])
                assert all(s in where for s in IN_PROGRESS)
                assert not any(s in where for s in FINISHED)

            downgrade(revision="base")
            with db.engine.connect() as connection:
                assert set(sa.inspect(connection).get_table_names()) == {"alembic_version"}
            upgrade()
            with db.engine.connect() as connection:
                assert schema_diff(connection) == []
        finally:
            db.session.remove()
            db.engine.dispose()


def test_upgrade_empty_sqlite(tmp_path):
    check_upgrade_from_empty(f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.mark.postgres
@pytest.mark.skipif(not IS_POSTGRES, reason="DATABASE_URL is not a PostgreSQL URL")
def test_upgrade_empty_postgresql():
    name = f"migr_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(BASE_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.engine.make_url(BASE_URL).set(database=name)
        check_upgrade_from_empty(url.render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# The one-request-in-progress rule, on the seeded database of the `app` fixture.


def demo_request() -> dict:
    return dict(
        db.session.execute(sa.select(DEMANDES).where(DEMANDES.c.reference == "RM-DEMO-000001"))
        .mappings()
        .one()
    )


def insert_copy(row: dict, **changes) -> int:
    """Insert a copy of a request row with plain SQL, bypassing any check in Python."""
    copy = {k: v for k, v in row.items() if k != "id"}
    # Fresh values for the other unique columns (reference, ...), so that only the
    # index under test can refuse the row.
    for column in DEMANDES.columns:
        if column.name != "id" and _is_unique(column) and isinstance(column.type, sa.String):
            copy[column.name] = f"T-{uuid.uuid4().hex}"[: column.type.length]
    copy.update(changes)
    return db.session.execute(sa.insert(DEMANDES).returning(DEMANDES.c.id), [copy]).scalar_one()


def _is_unique(column: sa.Column) -> bool:
    return bool(column.unique) or any(
        isinstance(c, sa.UniqueConstraint) and list(c.columns) == [column]
        for c in DEMANDES.constraints
    )


def assert_refused_by_the_index(caught: pytest.ExceptionInfo) -> None:
    message = str(caught.value.orig)
    # PostgreSQL names the index; SQLite names its column.
    assert (
        "uq_demandes_affilie_en_cours" in message
        or "UNIQUE constraint failed: demandes.affilie_id" in message
    ), message
    db.session.rollback()


def test_database_refuses_a_second_request_in_progress(app):
    existing = demo_request()
    assert existing["status"] in lifecycle.IN_PROGRESS

    for status in IN_PROGRESS:
        with pytest.raises(IntegrityError) as caught:
            insert_copy(existing, status=status)
        assert_refused_by_the_index(caught)

    # Nor may an old request be brought back in progress beside the current one.
    expired = insert_copy(existing, status=lifecycle.EXPIREE)
    db.session.commit()
    with pytest.raises(IntegrityError) as caught:
        db.session.execute(
            sa.update(DEMANDES).where(DEMANDES.c.id == expired).values(status=lifecycle.VALIDEE)
        )
    assert_refused_by_the_index(caught)


def test_finished_requests_do_not_block_a_new_one(app):
    existing = demo_request()
    affilie_id = existing["affilie_id"]
    for status in FINISHED:
        insert_copy(existing, status=status)
    db.session.commit()

    # Once the current request is over, a new one may be in progress beside the history.
    db.session.execute(
        sa.update(DEMANDES).where(DEMANDES.c.id == existing["id"]).values(status=lifecycle.EXPIREE)
    )
    insert_copy(existing, status=lifecycle.ACCEPTEE)
    # Another affilié's request in progress is no concern of this one's.
    insert_copy(
        existing, status=lifecycle.EN_ATTENTE, affilie_id=queries.affilie_by_numero("4317542").id
    )
    db.session.commit()

    statuses = db.session.scalars(
        sa.select(DEMANDES.c.status).where(DEMANDES.c.affilie_id == affilie_id)
    ).all()
    assert sorted(statuses) == sorted([*FINISHED, lifecycle.EXPIREE, lifecycle.ACCEPTEE])


@pytest.mark.postgres
@pytest.mark.skipif(not IS_POSTGRES, reason="the fingerprints' trigger: PostgreSQL")
def test_the_fingerprints_that_held_keep_their_numero_and_the_others_go():
    """Revision 0012 on a database with fingerprints: the ones that held (their version
    the affilié's) stay, with the affilié's numéro; the others are deleted; afterwards a
    new version of the affilié deletes its fingerprints."""
    name = f"migr_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(BASE_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)
    app = make_app(url)
    try:
        with app.app_context():
            upgrade(revision="0011_notices")
            with db.engine.begin() as connection:
                connection.execute(
                    sa.text(
                        """
                        INSERT INTO perceptions (id, name) VALUES (1, 'Perception Rabat Agdal');
                        INSERT INTO affilies (id, numero, raison_sociale, regime, perception_id,
                            date_situation, date_arret_penalites, arrangement, lignes_jeton)
                        VALUES (1, '1234567', 'ATLAS', 'AMO', 1, '2024-01-31', '2024-01-31',
                                false, 'v1');
                        INSERT INTO empreintes_import (affilie_id, fichier, empreinte, jeton)
                        VALUES (1, 'creances', 'a', 'v1'), (1, 'ribs', 'b', 'v0');
                        """
                    )
                )
            upgrade(revision="0012_empreintes_valides")
            kept = "SELECT affilie_id, fichier, numero, empreinte FROM empreintes_import"
            with db.engine.begin() as connection:
                assert connection.execute(sa.text(kept)).all() == [(1, "creances", "1234567", "a")]
                connection.execute(sa.text("UPDATE affilies SET raison_sociale = 'AUTRE'"))
                assert connection.execute(sa.text(kept)).all() == [(1, "creances", "1234567", "a")]
                connection.execute(sa.text("UPDATE affilies SET lignes_jeton = 'v2'"))
                assert connection.execute(sa.text(kept)).all() == []
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
