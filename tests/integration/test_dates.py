"""One honest set of dates: indicative before validation, definitive after, in every
screen and file.

Before validation a plan's dates are the debits' own rule (docs/DOMAIN.md "Dates") applied
as if the request were validated today, and every screen and file says they are
indicative; after validation the screens and the files carry the definitive debits, the
calendar's events keep their UIDs (so a calendar updates them), and a cancelled
request's debits still to come are cancelled events. The .ics is written by the
``icalendar`` library and no control character of a name reaches it raw.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from icalendar import Calendar
from sqlalchemy import select

from db.models import Affilie
from extensions import db
from services import backoffice, queries, schedules
from tests.integration.pages import BackOfficePage, Page
from tests.integration.plans import confirmed_plan, user, validate

GUIDE = "4317542"  # the guide's créance; Perception Casablanca Anfa (agent.casa)
SIMULATION = f"/demande/{GUIDE}/simulation"
INDICATIVE_FR = "Dates indicatives : celles des prélèvements si la demande était validée"
INDICATIVE_AR = "تواريخ تقريبية"
NNBSP, NBSP = "\u202f", "\u00a0"


def start_plan(client, auth) -> None:
    auth.login("groupe")
    affilie = queries.affilie_by_numero(GUIDE)
    response = client.post(
        f"/demande/{GUIDE}/parametrage",
        data={"modalite": "acomptes", "compte": str(affilie.comptes[0].id), "garanties": "1"},
    )
    assert response.status_code == 302


def events(client, url: str) -> list[dict]:
    """The .ics parsed back by icalendar: each event's UID, day, status, sequence, title."""
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.get_data())
    return [
        {
            "uid": str(event["UID"]),
            "day": event.decoded("DTSTART"),
            "status": str(event["STATUS"]),
            "sequence": int(event["SEQUENCE"]),
            "summary": str(event["SUMMARY"]),
        }
        for event in calendar.walk("VEVENT")
    ]


def csv_lines(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return response.get_data().decode("utf-8-sig").split("\r\n")


def amount_of(summary: str) -> Decimal:
    """The amount an event's title writes ("8 475,32 MAD"), to the centime."""
    found = re.search(r"([0-9][0-9\u202f]*,[0-9]{2})\u00a0MAD", summary)
    return Decimal(found[1].replace(NNBSP, "").replace(",", "."))


# --- before validation: indicative, from today, by the debits' rule ---------------------


def test_the_simulation_dates_follow_the_debits_rule_from_today(client, auth, clock):
    start_plan(client, auth)
    page = Page(client.get(f"{SIMULATION}?n=2&avance=5000"))
    recap = page.recap()
    # Today 20/11/2023: the avance on 10/12/2023, then the 10th of each month.
    assert recap["Date indicative de la première échéance"] == "10/01/2024"
    assert recap["Date indicative de la dernière échéance"] == "10/02/2024"
    assert page.table_rows("compact")[1:] == [
        ["Avance", "10/12/2023", f"5{NNBSP}000,00"],
        ["1", "10/01/2024", f"8{NNBSP}475,32"],
        ["2", "10/02/2024", f"8{NNBSP}475,31"],
    ]
    assert page.find(class_="dates-indicatives").text.startswith(INDICATIVE_FR)
    assert "À la validation" not in page.html and "08/12/2023" not in page.html
    # The injected clock decides: a month later, a month later.
    clock.set(datetime(2023, 12, 20, 9, 0))
    later = Page(client.get(f"{SIMULATION}?n=2&avance=5000", headers={"HX-Request": "true"}))
    assert later.recap()["Date indicative de la première échéance"] == "10/02/2024"


def test_the_simulation_says_indicative_in_arabic(client, auth):
    start_plan(client, auth)
    client.post("/langue", data={"lang": "ar"})
    page = Page(client.get(f"{SIMULATION}?n=2&avance=5000"))
    recap = page.recap()
    assert recap["التاريخ التقريبي للقسط الأول"] == "10/01/2024"
    assert page.find(class_="dates-indicatives").text.startswith(INDICATIVE_AR)
    assert page.table_rows("compact")[0][1] == "تاريخ تقريبي"


def test_the_simulation_files_carry_the_indicative_dates(client, auth):
    start_plan(client, auth)
    lines = csv_lines(client, f"{SIMULATION}/echeancier.csv?n=2&avance=5000")
    assert lines[:4] == [
        "Échéance;Date indicative;Montant",
        "Avance;10/12/2023;5000,00",
        "1;10/01/2024;8475,32",
        "2;10/02/2024;8475,31",
    ]
    shown = events(client, f"{SIMULATION}/echeancier.ics?n=2&avance=5000")
    assert [(e["day"], e["status"]) for e in shown] == [
        (date(2023, 12, 10), "TENTATIVE"),
        (date(2024, 1, 10), "TENTATIVE"),
        (date(2024, 2, 10), "TENTATIVE"),
    ]
    assert [amount_of(e["summary"]) for e in shown] == [
        Decimal("5000.00"),
        Decimal("8475.32"),
        Decimal("8475.31"),
    ]
    assert sum(amount_of(e["summary"]) for e in shown) == Decimal("21950.63")


def test_a_waiting_request_shows_the_earliest_dates_it_announces(app, client, auth, clock):
    demande = confirmed_plan()
    auth.login("groupe")
    page = BackOfficePage(client.get(f"/demandes/{demande.reference}?confirmee=1"))
    recap = page.recap()
    assert recap["Date indicative de la première échéance"] == "10/01/2024"
    assert "au plus tôt le 10/12/2023" in page.text  # the avance's day, first of the rows
    # Still waiting on 15/12: validated today, the debits would start on 10/01/2024.
    clock.set(datetime(2023, 12, 15, 9, 0))
    page = BackOfficePage(client.get(f"/demandes/{demande.reference}"))
    assert page.recap()["Date indicative de la première échéance"] == "10/02/2024"
    lines = csv_lines(client, f"/demandes/{demande.reference}/echeancier.csv")
    assert lines[0] == "Échéance;Date indicative;Montant;Statut"
    assert lines[1] == "Avance;10/01/2024;5000,00;À prélever"


# --- after validation: only the definitive dates, the same UIDs ------------------------


def test_a_validated_requests_pages_and_files_follow_its_definitive_schedule(
    app, client, auth, clock
):
    demande = confirmed_plan()
    reference = demande.reference
    auth.login("groupe")
    before = events(client, f"/demandes/{reference}/echeancier.ics")
    assert {e["status"] for e in before} == {"TENTATIVE"}
    assert [e["day"] for e in before] == [date(2023, 12, 10), date(2024, 1, 10), date(2024, 2, 10)]

    clock.set(datetime(2023, 12, 5, 11, 0))
    validate(demande)
    definitive = [
        (e.rang, e.date_prevue, e.montant) for e in schedules.definitive_echeances(demande)
    ]
    assert [d for _, d, _ in definitive] == [
        date(2024, 1, 10),
        date(2024, 2, 10),
        date(2024, 3, 10),
    ]

    page = BackOfficePage(client.get(f"/demandes/{reference}"))
    recap = page.recap()
    assert recap["Date de la première échéance"] == "10/02/2024"
    assert recap["Date de la dernière échéance"] == "10/03/2024"
    assert "Date indicative de la première échéance" not in recap
    assert INDICATIVE_FR not in page.text
    assert "10/12/2023" not in page.text

    lines = csv_lines(client, f"/demandes/{reference}/echeancier.csv")
    assert lines[:4] == [
        "Échéance;Date de prélèvement;Montant;Statut",
        "Avance;10/01/2024;5000,00;À prélever",
        "1;10/02/2024;8475,32;À prélever",
        "2;10/03/2024;8475,31;À prélever",
    ]
    after = events(client, f"/demandes/{reference}/echeancier.ics")
    assert [e["uid"] for e in after] == [e["uid"] for e in before]
    assert [e["uid"] for e in after] == [
        f"{reference}-{rang}@recouvrement.cnss.ma" for rang in (0, 1, 2)
    ]
    assert [(e["day"], e["status"], e["sequence"]) for e in after] == [
        (d, "CONFIRMED", 1) for _, d, _ in definitive
    ]
    assert [amount_of(e["summary"]) for e in after] == [m for _, _, m in definitive]

    # The agent's page says the same dates.
    auth.logout()
    auth.login("agent.casa")
    agent = BackOfficePage(client.get(f"/perception/demandes/{reference}"))
    assert agent.recap()["Date de la première échéance"] == "10/02/2024"
    assert INDICATIVE_FR not in agent.text


def test_a_cancelled_requests_files_say_its_debits_are_cancelled(app, client, auth, clock):
    demande = confirmed_plan()
    reference = demande.reference
    clock.set(datetime(2023, 12, 5, 11, 0))
    validate(demande)
    auth.login("groupe")
    validated = events(client, f"/demandes/{reference}/echeancier.ics")
    clock.set(datetime(2024, 1, 11, 9, 0))
    backoffice.record_result(demande, 0, "rejetee", actor=user("agent.casa"))

    cancelled = events(client, f"/demandes/{reference}/echeancier.ics")
    assert [e["uid"] for e in cancelled] == [e["uid"] for e in validated]
    assert [(e["status"], e["sequence"]) for e in cancelled] == [
        ("CONFIRMED", 1),  # the avance: debited, rejected
        ("CANCELLED", 2),
        ("CANCELLED", 2),
    ]
    assert cancelled[0]["summary"].endswith("(rejetée)")
    assert cancelled[1]["summary"].endswith("(annulée)")
    lines = csv_lines(client, f"/demandes/{reference}/echeancier.csv")
    assert [line.rsplit(";", 1)[1] for line in lines[1:4]] == ["Rejetée", "Annulée", "Annulée"]
    assert f"Demande;;{reference} — Annulée" in lines


# --- the calendar writer is safe whatever a name holds ---------------------------------

HOSTILE = (
    "EVIL\rATTACH:http://evil.example/a\x0bDTSTART:20990101\x0cX\x85ATTACH:b"
    "\u2028DTSTART:20990102\x1cATTACH:c\x1dATTACH:d\x1eDTSTART:20990103\u2029ATTACH:e\nF\tG"
)


@pytest.mark.parametrize("url", [f"{SIMULATION}/echeancier.ics?n=2&avance=5000", "request"])
def test_a_hostile_name_injects_no_line_into_the_calendar(app, client, auth, url):
    affilie = db.session.scalars(select(Affilie).where(Affilie.numero == GUIDE)).one()
    affilie.raison_sociale = HOSTILE
    db.session.commit()
    if url == "request":
        url = f"/demandes/{confirmed_plan().reference}/echeancier.ics"
        auth.login("groupe")
    else:
        start_plan(client, auth)
    text = client.get(url).get_data(as_text=True)
    lines = text.splitlines()  # every separator some reader splits on
    assert not [line for line in lines if line.startswith("ATTACH")]
    assert len([line for line in lines if line.startswith("DTSTART")]) == 3
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", text.replace("\r\n", ""))
    calendar = Calendar.from_ical(text)
    described = {str(e["DESCRIPTION"]) for e in calendar.walk("VEVENT")}
    assert described == {
        f"{GUIDE} EVIL ATTACH:http://evil.example/a DTSTART:20990101 X ATTACH:b DTSTART:20990102"
        " ATTACH:c ATTACH:d DTSTART:20990103 ATTACH:e F G"
    }
