"""The application's clock: Morocco's time, injectable so tests control it.

"Today" decides whether a campaign is open and when an échéance falls due: it is the
day in Casablanca whatever the server's ``TZ`` says. Morocco leaves UTC+1 for UTC+0 during
Ramadan, on dates that change every year; the rules come from the pinned ``tzdata``
package, so an outdated system database cannot shift the day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib import resources
from zoneinfo import ZoneInfo

from flask import current_app

ZONE_NAME = "Africa/Casablanca"


def _zone() -> ZoneInfo:
    try:
        with resources.files("tzdata").joinpath(f"zoneinfo/{ZONE_NAME}").open("rb") as file:
            return ZoneInfo.from_file(file, key=ZONE_NAME)
    except (ModuleNotFoundError, FileNotFoundError):
        return ZoneInfo(ZONE_NAME)  # the system's database


CASABLANCA = _zone()


def casablanca(instant: datetime) -> datetime:
    """The wall-clock time in Casablanca at an aware ``instant``, naive like the database's
    columns, to the second."""
    return instant.astimezone(CASABLANCA).replace(tzinfo=None, microsecond=0)


def system_now() -> datetime:
    return casablanca(datetime.now(UTC))


def now() -> datetime:
    return current_app.config["CLOCK"]()


def today() -> date:
    return now().date()
