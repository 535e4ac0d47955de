"""The échéancier to keep: a CSV a French spreadsheet opens as numbers, and an RFC 5545
calendar (written by the ``icalendar`` library) with one all-day event per debit. Both are
written from the schedule the page shows — a simulation's indicative dates, or a
request's (``services.schedules.request_schedule``) — so they agree with it to the
centime and to the day.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from icalendar import Calendar, Event

from common import labels
from common.clock import CASABLANCA
from common.formatting import mad
from domain import lifecycle

# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DOMAIN = "recouvrement.cnss.ma"


def neutral(text: str) -> str:
    """Text a spreadsheet shows as text: a leading formula character gets a quote."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def decimal_comma(value: Decimal) -> str:
    """1061.08 -> "1061,08": no thousands separator, what a French spreadsheet reads."""
    return f"{value:.2f}".replace(".", ",")


@dataclass(frozen=True)
class Row:
    """One debit of a file: ``statut`` is its status as the pages show it
    (``lifecycle.echeance_status``), empty for a simulation's rows."""

    rang: int
    day: date
    montant: Decimal
    statut: str = ""


def echeancier_csv(rows: list[Row], labels: dict, affilie: str, demande: str = "") -> bytes:
    """UTF-8 with a BOM, ``;``-separated: a header row, the avance, one row per
    instalment (rang; JJ/MM/AAAA; montant[; statut]), the total, the affilié, then for a
    request its reference and status. ``labels["statut"]`` present: a request's file,
    with a status column."""
    statuses = "statut" in labels
    head = [labels["rang"], labels["date"], labels["montant"]]
    out = [head + [labels["statut"]] if statuses else head]
    total = Decimal("0.00")
    for row in rows:
        total += row.montant
        first = labels["avance"] if row.rang == 0 else str(row.rang)
        line = [first, row.day.strftime("%d/%m/%Y"), decimal_comma(row.montant)]
        out.append(line + [labels["statuts"][row.statut]] if statuses else line)
    out.append([labels["total"], "", decimal_comma(total)])
    out.append([labels["affilie"], "", clean_text(affilie)])
    if demande:
        out.append([labels["demande"], "", demande])
    lines = [";".join(_csv_cell(neutral(cell)) for cell in row) for row in out]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _csv_cell(text: str) -> str:
    if any(c in text for c in ';"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


# Every character that some reader takes as the end of a line (str.splitlines: CR, LF,
# VT, FF, FS, GS, RS, NEL, LS, PS) or that RFC 5545 forbids in text (the other controls).
# The no-break spaces of amounts stay as they are: only plain spaces collapse.
_SPACES = re.compile(r" {2,}")


def clean_text(text: str) -> str:
    """Text fit for a calendar or a cell: every control character and line or paragraph
    separator becomes a space (runs of spaces collapse), whatever the importer let in."""
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return _SPACES.sub(" ", kept).strip(" ")


@dataclass(frozen=True)
class Calendrier:
    """What the .ics says of a schedule besides its rows.

    ``uid_prefix`` names the plan (a simulation's affilié and count, or a request's
    reference): an event's UID is that prefix and its rang, never its date, so the
    file of a request imported again — validated, then cancelled — updates the same
    events. ``summary(row)`` is each event's title as the screen words it."""

    uid_prefix: str
    summary: object
    description: str
    stamp: datetime
    indicative: bool


def event_status(row: Row, indicative: bool) -> tuple[str, int]:
    """(STATUS, SEQUENCE) of a debit's event: indicative dates are TENTATIVE, definitive
    ones CONFIRMED, a cancelled debit CANCELLED; each step a higher sequence, so a
    calendar takes the newer file's event for the older one."""
    if row.statut == lifecycle.ECHEANCE_ANNULEE:
        return "CANCELLED", 2
    if indicative:
        return "TENTATIVE", 0
    return "CONFIRMED", 1


def echeancier_ics(rows: list[Row], calendrier: Calendrier) -> bytes:
    """An RFC 5545 calendar: one all-day VEVENT per debit, the avance included."""
    cal = Calendar()
    cal.add("prodid", "-//CNSS//Espace Recouvrement//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # DTSTAMP is UTC; the application's clock is Casablanca's wall clock.
    stamp = calendrier.stamp.replace(tzinfo=CASABLANCA).astimezone(UTC)
    for row in rows:
        status, sequence = event_status(row, calendrier.indicative)
        event = Event()
        event.add("uid", f"{calendrier.uid_prefix}-{row.rang}@{DOMAIN}")
        event.add("dtstamp", stamp)
        event.add("dtstart", row.day)
        event.add("dtend", row.day + timedelta(days=1))
        # Cleaned first: a control character in front must not hide a formula.
        event.add("summary", neutral(clean_text(calendrier.summary(row))))
        event.add("description", neutral(clean_text(calendrier.description)))
        event.add("status", status)
        event.add("sequence", sequence)
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()


def event_summary(row: Row, n: int, indicative: bool) -> str:
    """An event's title as the screen words the debit, with its status when it has one
    to tell (indicative date, paid, rejected, cancelled)."""
    if row.rang == 0:
        title = _("Avance : %(montant)s", montant=mad(row.montant))
    else:
        title = _(
            "Échéance %(rang)s sur %(n)s : %(montant)s",
            rang=row.rang,
            n=n,
            montant=mad(row.montant),
        )
    if row.statut and row.statut != lifecycle.A_PRELEVER:
        return f"{title} ({str(labels.ECHEANCE[row.statut]).lower()})"
    if indicative:
        return f"{title} ({_('date indicative')})"
    return title


def plan_ics(
    rows: list[Row], *, uid_prefix: str, n: int, description: str, indicative: bool, stamp
) -> bytes:
    """The .ics of a plan of ``n`` instalments: the page's download and the notices'
    attachment alike, so that a calendar given both updates the same events."""
    return echeancier_ics(
        rows,
        Calendrier(
            uid_prefix=uid_prefix,
            summary=lambda row: event_summary(row, n, indicative),
            description=description,
            stamp=stamp,
            indicative=indicative,
        ),
    )
