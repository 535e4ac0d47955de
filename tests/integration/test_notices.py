"""E-mail notices: queued with their events, planned by day in Casablanca, sent to a real
SMTP server (aiosmtpd, started here) once each — through 451s, closed ports, 550s, two
senders at once and a sender killed between its claim and its send."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import current_app
from icalendar import Calendar
from sqlalchemy import func, select

from common import clock as casablanca_clock
from db.models import Demande, Notice, User
from domain import lifecycle
from extensions import db
from services import backoffice, demandes, return_file, schedules
from services.notices import outbox, planning, sending
from tests.integration.live_server import free_port
from tests.integration.pages import Page
from tests.integration.smtp_server import SmtpServer

IN_PROGRESS = "RM-DEMO-000001"  # groupe's plan of 12 instalments, confirmed 20/11/2023
MAX_BYTES = 30 * 1024


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    app.config.update(server.config())
    yield server
    server.stop()


def send(limit=None) -> sending.Report:
    return sending.send_due(sending.backend_from_config(current_app.config), limit=limit)


def demande(reference: str) -> Demande:
    return db.session.scalars(select(Demande).where(Demande.reference == reference)).one()


def notice(reference: str, kind: str, rang: int = outbox.NO_RANG) -> Notice:
    db.session.expire_all()
    return db.session.scalars(
        select(Notice)
        .join(Demande)
        .where(Demande.reference == reference, Notice.kind == kind, Notice.rang == rang)
    ).one()


def only_queued(*ids: int) -> None:
    """Leave only these notices to send: the demo's others count as sent."""
    db.session.execute(
        Notice.__table__.update().where(Notice.id.not_in(ids)).values(status=outbox.SENT)
    )
    db.session.commit()


def parts(message):
    return [part.get_content_type() for part in message.walk()]


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def ics_of(message) -> bytes:
    return next(p for p in message.iter_attachments()).get_content().encode()


# ---------------------------------------------------------------- the messages


def test_the_receipt_is_text_html_and_the_schedule_as_ics_in_french(app, smtp):
    receipt = notice(IN_PROGRESS, outbox.ACCUSE)
    only_queued(receipt.id)
    assert send().sent == 1
    (message,) = smtp.messages
    assert parts(message) == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    assert message["From"].addresses[0].display_name == "CNSS — Espace Recouvrement"
    assert message["To"] == "tresorerie@atlas-holding.example.ma"
    assert message["Subject"] == "Demande de remise RM-DEMO-000001 : accusé de réception"
    assert message["Message-ID"] == f"<avis-{receipt.id}-accuse--1@recouvrement.cnss.ma>"
    assert len(message.as_bytes()) <= MAX_BYTES
    html, text = html_of(message), text_of(message)
    assert '<html lang="fr" dir="ltr">' in html
    assert 'name="viewport" content="width=device-width' in html
    # Nothing remote: no image, font, stylesheet or script to fetch.
    assert not re.search(r"<img|<link|<script|url\(|@import|src=", html)
    d = demande(IN_PROGRESS)
    for words in (
        "RM-DEMO-000001",
        f"{d.numero_affiliation} — {d.raison_sociale}",
        d.perception.name,
        "Paiement par acomptes",
        "Échéancier indicatif",
        "Date limite de dépôt des garanties : 20/12/2023",
        "Apportez l'une des garanties acceptées",
    ):
        assert words in text, words
    assert "Échéancier indicatif" in html and 'scope="row"' in html


def test_the_ics_is_the_schedule_to_the_centime(app, smtp):
    receipt = notice(IN_PROGRESS, outbox.ACCUSE)
    only_queued(receipt.id)
    send()
    events = Calendar.from_ical(ics_of(smtp.messages[0])).walk("VEVENT")
    d = demande(IN_PROGRESS)
    # The récapitulatif's schedule: indicative dates, the avance first.
    expected = [(r.date_prevue, r.montant) for r in schedules.request_schedule(d).rows]
    found = [
        (
            event.decoded("DTSTART"),
            Decimal(re.sub(r"[^\d]", "", str(event["SUMMARY"]).split(":")[-1])).scaleb(-2),
        )
        for event in events
    ]
    assert found == expected and len(found) == 13
    assert {str(event["STATUS"]) for event in events} == {"TENTATIVE"}


def test_the_arabic_receipt_reads_right_to_left(app, smtp):
    receipt = notice(IN_PROGRESS, outbox.ACCUSE)
    receipt.langue = "ar"
    db.session.commit()
    only_queued(receipt.id)
    send()
    (message,) = smtp.messages
    html = html_of(message)
    assert '<html lang="ar" dir="rtl">' in html
    assert message["Content-Language"] == "ar"
    assert "إشعار باستلام" in message["Subject"] and "RM-DEMO-000001" in message["Subject"]
    assert "الضمانات" in text_of(message)
    assert len(message.as_bytes()) <= MAX_BYTES


# ---------------------------------------------------------------- the events


def validate(clock, on: datetime) -> Demande:
    """RM-DEMO-000001's guarantees recorded on ``on``: its first debit, the avance, is on
    the 10th of the next month."""
    d = demande(IN_PROGRESS)
    agent = db.session.scalars(select(User).where(User.login == "agent.marrakech")).one()
    clock.set(on)
    backoffice.validate_with_guarantees(
        d,
        actor=agent,
        type_garantie="caution_bancaire",
        type_label="Caution bancaire",
        reference="CB-1",
        deposee_le=on.date(),
    )
    return d


def test_validation_and_a_rejected_debit_queue_theirs_once(app, clock):
    d = validate(clock, datetime(2023, 11, 27, 9, 0))
    assert notice(IN_PROGRESS, outbox.VALIDEE).status == outbox.QUEUED
    assert outbox.queue(d, outbox.VALIDEE) == 0  # the key refuses a second one
    agent = db.session.scalars(select(User).where(User.login == "agent.marrakech")).one()
    clock.set(datetime(2023, 12, 11, 9, 0))
    backoffice.record_result(d, 0, lifecycle.REJETEE, actor=agent)
    assert notice(IN_PROGRESS, outbox.ANNULEE).email == d.email


def test_the_validated_notice_carries_the_definitive_schedule_and_the_same_events(app, smtp, clock):
    only_queued(notice(IN_PROGRESS, outbox.ACCUSE).id)
    assert send().sent == 1
    validate(clock, datetime(2023, 11, 21, 9, 0))
    only_queued(notice(IN_PROGRESS, outbox.VALIDEE).id)
    assert send().sent == 1
    receipt, validated = smtp.messages
    text = text_of(validated)
    assert "Échéancier définitif" in text and "indicatif" not in text
    definitive = schedules.definitive_echeances(demande(IN_PROGRESS))
    assert "Premier prélèvement : 10/12/2023" in text
    events = Calendar.from_ical(ics_of(validated)).walk("VEVENT")
    assert [e.decoded("DTSTART") for e in events] == [e.date_prevue for e in definitive]
    # The same events in both files (UIDs without a date), the newer ones confirmed: a
    # calendar that imported the receipt's file updates them instead of adding others.
    sent_first = Calendar.from_ical(ics_of(receipt)).walk("VEVENT")
    assert [str(e["UID"]) for e in sent_first] == [str(e["UID"]) for e in events]
    assert len(events) == 13
    assert {str(e["STATUS"]) for e in sent_first} == {"TENTATIVE"}
    assert {str(e["STATUS"]) for e in events} == {"CONFIRMED"}
    assert all(int(new["SEQUENCE"]) > int(old["SEQUENCE"]) for old, new in zip(sent_first, events))


def test_expiry_queues_its_notice(app, clock):
    clock.set(datetime(2023, 12, 21, 8, 0))  # 20/12 was RM-DEMO-000001's last day
    demandes.expire_overdue()
    assert notice(IN_PROGRESS, outbox.EXPIREE).status == outbox.QUEUED


def test_the_bank_return_file_queues_cancelled_and_settled_by_one_insert(app, clock, tmp_path):
    d = validate(clock, datetime(2023, 11, 21, 9, 0))
    clock.set(datetime(2023, 12, 11, 8, 0))
    path = tmp_path / "retour.csv"
    path.write_text(f"reference,echeance,statut\n{IN_PROGRESS},0,rejetee\n")
    summary = return_file.import_return(path, actor=None, perception_id=d.perception_id)
    assert summary.annulees == 1
    assert notice(IN_PROGRESS, outbox.ANNULEE).status == outbox.QUEUED
    # Run again over the same requests (a replay): nothing new.
    assert outbox.queue_after_return_file(select(Demande.id)) == 0


# ---------------------------------------------------------------- planning


def test_plan_twice_queues_nothing_new(app, clock):
    clock.set(datetime(2023, 12, 13, 7, 0))
    first = planning.plan()
    count = db.session.scalar(select(func.count()).select_from(Notice))
    assert first.garanties >= 1
    assert planning.plan() == planning.Planned(0, 0)
    assert db.session.scalar(select(func.count()).select_from(Notice)) == count


def test_guarantee_reminders_at_casablancas_day_boundary(app, clock):
    """RM-DEMO-000001's deadline is 20/12/2023: reminders from 13/12 and 18/12, the day
    in Casablanca (UTC+1 in December: 23:00 UTC on the 12th is already the 13th)."""

    def reminders() -> list[int]:
        planning.plan()
        return sorted(
            n.rang
            for n in db.session.scalars(
                select(Notice)
                .join(Demande)
                .where(Demande.reference == IN_PROGRESS, Notice.kind == outbox.RAPPEL_GARANTIES)
            )
        )

    clock.set(casablanca_clock.casablanca(datetime(2023, 12, 12, 22, 59, 59, tzinfo=UTC)))
    assert reminders() == []
    clock.set(casablanca_clock.casablanca(datetime(2023, 12, 12, 23, 0, tzinfo=UTC)))
    assert clock().date().day == 13
    assert reminders() == [7]
    clock.set(datetime(2023, 12, 17, 23, 59, 59))
    assert reminders() == [7]
    clock.set(datetime(2023, 12, 18, 0, 0))
    assert reminders() == [2, 7]
    # Once the guarantees are recorded, nothing more is planned for them.


def test_debit_reminders_five_days_before(app, clock):
    validate(clock, datetime(2023, 11, 21, 9, 0))  # the avance is debited on 10/12/2023
    clock.set(datetime(2023, 12, 4, 23, 59, 59))
    assert planning.plan().prelevements == 0
    clock.set(datetime(2023, 12, 5, 0, 0))
    assert planning.plan().prelevements == 1
    assert notice(IN_PROGRESS, outbox.PRELEVEMENT, 0).status == outbox.QUEUED


# ---------------------------------------------------------------- sending


def test_a_451_is_tried_again_later_then_sent(app, smtp, clock):
    receipt = notice(IN_PROGRESS, outbox.ACCUSE)
    only_queued(receipt.id)
    smtp.answers.append("451 4.3.0 Try again later")
    assert send().retried == 1
    retried = notice(IN_PROGRESS, outbox.ACCUSE)
    assert (retried.status, retried.attempts) == (outbox.QUEUED, 1)
    assert retried.last_error.startswith("451")
    assert retried.next_attempt_at == clock() + timedelta(minutes=1)
    assert send().sent == 0  # not before its time
    clock.set(clock() + timedelta(minutes=1))
    assert send().sent == 1
    assert notice(IN_PROGRESS, outbox.ACCUSE).status == outbox.SENT
    assert len(smtp.messages) == 1


def test_a_closed_port_is_temporary_and_fails_after_the_last_try(app, smtp, clock):
    receipt = notice(IN_PROGRESS, outbox.ACCUSE)
    only_queued(receipt.id)
    app.config.update(MAIL_PORT=free_port(), MAIL_MAX_ATTEMPTS=2)  # nobody listens there
    assert send().retried == 1
    assert "ConnectionRefusedError" in notice(IN_PROGRESS, outbox.ACCUSE).last_error
    clock.set(clock() + timedelta(minutes=1))
    assert send().failed == 1
    failed = notice(IN_PROGRESS, outbox.ACCUSE)
    assert (failed.status, failed.attempts) == (outbox.FAILED, 2)


def test_a_550_fails_at_once(app, smtp):
    receipt = notice(IN_PROGRESS, outbox.ACCUSE)
    only_queued(receipt.id)
    smtp.refuse_rcpt = "550 5.1.1 <tresorerie@atlas-holding.example.ma>: No such mailbox"
    assert send().failed == 1
    failed = notice(IN_PROGRESS, outbox.ACCUSE)
    assert (failed.status, failed.attempts) == (outbox.FAILED, 1)
    # The server's answer, the address in it masked (agents and logs see it).
    assert failed.last_error == "550 5.1.1 <t•••e@atlas-holding.example.ma>: No such mailbox"


def test_a_sender_killed_between_claim_and_send_leaves_it_to_the_next(app, smtp, clock):
    receipt = notice(IN_PROGRESS, outbox.ACCUSE)
    only_queued(receipt.id)
    _token, claimed = sending.claim()  # … and the process dies here
    assert claimed == [receipt.id]
    assert send().sent == 0  # still held by the dead sender's lease
    clock.set(clock() + timedelta(seconds=app.config["MAIL_LEASE_SECONDS"] + 1))
    assert send().sent == 1
    sent = notice(IN_PROGRESS, outbox.ACCUSE)
    assert (sent.status, sent.attempts) == (outbox.SENT, 2)
    assert smtp.ids() == [f"<avis-{receipt.id}-accuse--1@recouvrement.cnss.ma>"]


def test_two_senders_at_once_send_each_notice_exactly_once(app, smtp, make):
    """Two senders with their own connections (SKIP LOCKED on PostgreSQL, the single
    writer on SQLite), a slow server so that their claims overlap."""
    d = demande(IN_PROGRESS)
    for rang in range(60):  # sixty receipts, told apart by their rang
        outbox.queue(d, outbox.ACCUSE, rang)
    db.session.commit()
    queued = db.session.scalar(
        select(func.count()).select_from(Notice).where(Notice.status == outbox.QUEUED)
    )
    assert queued == 61
    smtp.delay = 0.02
    config = {**smtp.config()}
    reports = []

    apps = [make(**config) for _ in range(2)]
    errors = []

    def sender(other):
        try:
            with other.app_context():
                reports.append(sending.send_due(sending.backend_from_config(other.config)))
        except Exception as exc:  # shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(other,)) for other in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.sent for r in reports) == queued
    assert all(r.sent for r in reports)  # both took a share
    assert len(smtp.ids()) == len(set(smtp.ids())) == queued


def test_the_cli_plans_and_sends(app, runner, smtp, clock):
    only_queued(notice(IN_PROGRESS, outbox.ACCUSE).id)
    clock.set(datetime(2023, 12, 18, 8, 0))
    planned = runner.invoke(args=["notifications", "plan"])
    assert planned.exit_code == 0, planned.output
    assert "de garanties" in planned.output
    sent = runner.invoke(args=["notifications", "send"])
    assert sent.exit_code == 0, sent.output
    assert sent.output.startswith("Avis envoyés : ")
    assert len(smtp.messages) >= 2
    assert (
        db.session.scalar(
            select(func.count()).select_from(Notice).where(Notice.status == outbox.QUEUED)
        )
        == 0
    )


def test_file_backend_writes_eml_files(app, tmp_path):
    app.config.update(MAIL_BACKEND="file", MAIL_FILE_DIR=str(tmp_path / "mail"))
    only_queued(notice(IN_PROGRESS, outbox.ACCUSE).id)
    assert send().sent == 1
    (written,) = (tmp_path / "mail").glob("*.eml")
    assert b"Subject: Demande de remise RM-DEMO-000001" in written.read_bytes()


# ---------------------------------------------------------------- agents and metrics


def test_agents_see_the_notices_masked_and_resend_one(app, client, auth):
    receipt = notice(IN_PROGRESS, outbox.ACCUSE)
    receipt.status, receipt.attempts = outbox.FAILED, 1
    receipt.last_error = "550 5.1.1 No such mailbox"
    db.session.commit()
    auth.login("agent.marrakech")
    page = Page(client.get(f"/perception/demandes/{IN_PROGRESS}"))
    rows = [
        [td.text for td in tr.find_all("td")][:5]
        for tr in page.find("div", aria_labelledby="avis").find("tbody").find_all("tr")
    ]
    assert rows == [
        [
            "Accusé de réception",
            "t•••e@atlas-holding.example.ma",
            "En échec",
            "20/11/2023 10:30",
            "550 5.1.1 No such mailbox",
        ]
    ]
    assert "tresorerie@" not in page.html
    response = client.post(f"/perception/demandes/{IN_PROGRESS}/avis/{receipt.id}")
    assert response.status_code == 303
    assert response.location.endswith(f"/perception/demandes/{IN_PROGRESS}#avis")
    again = notice(IN_PROGRESS, outbox.ACCUSE)
    assert (again.status, again.attempts, again.last_error) == (outbox.QUEUED, 0, "")
    event = demande(IN_PROGRESS).events[-1]
    assert (event.action, event.actor_label, event.reason) == (
        "avis_renvoi",
        "Agent — Perception Marrakech Guéliz",
        "Avis « Accusé de réception » renvoyé à t•••e@atlas-holding.example.ma",
    )
    # Another request's notice, or another perception's request: as if it did not exist.
    assert client.post(f"/perception/demandes/{IN_PROGRESS}/avis/999999").status_code == 404


def test_metrics_count_the_notices_and_the_oldest_queued(make, clock):
    watched = make(METRICS_TOKEN="jeton-des-metriques")
    clock.set(clock() + timedelta(minutes=3))
    text = (
        watched.test_client()
        .get("/metrics", headers={"Authorization": "Bearer jeton-des-metriques"})
        .get_data(as_text=True)
    )
    assert 'recouvrement_notices{statut="queued"} 1.0' in text
    assert 'recouvrement_notices{statut="sent"} 0.0' in text
    assert 'recouvrement_notices{statut="failed"} 0.0' in text
    assert "recouvrement_notices_oldest_queued_seconds 180.0" in text


# ---------------------------------------------------------------- the accounts' address


def test_operators_set_the_accounts_address_checked_and_recorded_masked(app, runner):
    done = runner.invoke(args=["user", "set-email", "entreprise", "Compta@Atlas-BTP.ma"])
    assert done.exit_code == 0, done.output
    assert done.output == "Adresse des avis de « entreprise » : C•••a@atlas-btp.ma.\n"
    db.session.expire_all()
    user = db.session.scalars(select(User).where(User.login == "entreprise")).one()
    assert user.email == "Compta@atlas-btp.ma"
    refused = runner.invoke(args=["user", "set-email", "entreprise", "compta@"])
    assert refused.exit_code != 0 and "adresse électronique invalide" in refused.output
    created = runner.invoke(
        args=[
            "create-user",
            "tresorier",
            "--role",
            "affilie",
            "--affiliations",
            "4317542",
            "--password-stdin",
            "--email",
            "tresorier@atlas.ma",
        ],
        input="mot-de-passe-long\n",
    )
    assert created.exit_code == 0, created.output
    shown = runner.invoke(args=["audit", "show", "--target", "tresorier"]).output
    assert "t•••r@atlas.ma" in shown and "tresorier@atlas.ma" not in shown


def test_disabled_notices_send_nothing(app, runner):
    app.config["MAIL_BACKEND"] = "disabled"
    done = runner.invoke(args=["notifications", "send"])
    assert done.exit_code == 0
    assert done.output == "Avis désactivés (MAIL_BACKEND=disabled) : rien n'est envoyé.\n"
    assert notice(IN_PROGRESS, outbox.ACCUSE).status == outbox.QUEUED
