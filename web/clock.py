"""The application's clock: injectable, so tests control time instead of sleeping."""

from datetime import date, datetime

from flask import current_app


def system_now() -> datetime:
    return datetime.now().replace(microsecond=0)


def now() -> datetime:
    return current_app.config["CLOCK"]()


def today() -> date:
    return now().date()
