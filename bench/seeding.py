"""The benchmarks' database: migrated, the demo data, and the largest affilié."""

from __future__ import annotations

import logging

import sqlalchemy as sa

LARGE = "9999001"  # demo.add_large_affilie(): every period 1969-2024, 12 096 lines
LOGIN = "groupe"


def seed_large(database_url: str, **config):
    """Migrate ``database_url`` (an empty database), load the demo data and the largest
    affilié linked to "groupe", refresh the planner's statistics; return the app."""
    from flask_migrate import upgrade

    from app import create_app
    from commands import demo
    from extensions import db

    app = create_app(
        {
            "APP_ENV": "testing",
            "SECRET_KEY": "bench-setup",
            "SQLALCHEMY_DATABASE_URI": database_url,
            **config,
        }
    )
    with app.app_context():
        # Alembic configures its loggers on every upgrade; keep the output readable.
        logging.disable(logging.INFO)
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        demo.seed_demo()
        demo.add_large_affilie(linked_to=LOGIN)
        # Fresh statistics, as autovacuum would have after a bulk import: without them
        # PostgreSQL plans the GROUP BY for 8 rows instead of 12 000.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("ANALYZE"))
        db.session.remove()
    return app
