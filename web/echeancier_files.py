"""The échéancier to keep: a CSV a French spreadsheet opens as numbers, and an RFC 5545
calendar with one all-day event per instalment. Both are written from the schedule the
panel shows (``simulation_form.schedule_of``), so they agree with it to the centime.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral(text: str) -> str:
    """Text a spreadsheet shows as text: a leading formula character gets a quote."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def decimal_comma(value: Decimal) -> str:
    """1061.08 -> "1061,08": no thousands separator, what a French spreadsheet reads."""
    return f"{value:.2f}".replace(".", ",")


def echeancier_csv(schedule, labels: dict, affilie: str) -> bytes:
    """UTF-8 with a BOM, ``;``-separated: a header row, the avance, one row per
    instalment (rang; JJ/MM/AAAA; montant), the total, then the affilié."""
    rows = [[labels["rang"], labels["date"], labels["montant"]]]
    total = Decimal("0.00")
    for rang, day, montant in schedule:
        total += montant
        first = labels["avance"] if rang == 0 else str(rang)
        rows.append([first, day.strftime("%d/%m/%Y"), decimal_comma(montant)])
    rows.append([labels["total"], "", decimal_comma(total)])
    rows.append([labels["affilie"], "", affilie])
    lines = [";".join(_csv_cell(neutral(cell)) for cell in row) for row in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _csv_cell(text: str) -> str:
    if any(c in text for c in ';"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def echeancier_ics(schedule, *, uid_prefix: str, summary, description: str, stamp: datetime):
    """An RFC 5545 calendar: one all-day VEVENT per instalment (the avance has no date).

    ``summary(rang, montant)`` gives each event's title as the screen words it; UIDs are
    stable for the same affilié, plan and instalment, so importing again updates.
    """
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//CNSS//Espace Recouvrement//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for rang, day, montant in schedule:
        if rang == 0:
            continue
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid_prefix}-{rang}-{day:%Y%m%d}@recouvrement.cnss.ma",
            f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            "SUMMARY:" + _ics_text(summary(rang, montant)),
            "DESCRIPTION:" + _ics_text(description),
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("".join(_fold(line) + "\r\n" for line in lines)).encode("utf-8")


def _ics_text(text: str) -> str:
    return (
        neutral(text)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued by CRLF and a space (RFC 5545 3.1), never
    splitting a UTF-8 character."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def first_day(schedule) -> date | None:
    return next((day for rang, day, _ in schedule if rang), None)
