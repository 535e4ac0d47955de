"""Service-level guarantees: transitions are compare-and-set, expiry is written in one
place, audit events and plain-text amounts are built one way."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from common import formatting
from db.models import AuditEvent, Demande, User
from domain import lifecycle
from extensions import db
from services import audit, backoffice, demandes, queries


def test_a_transition_refuses_when_someone_else_moved_the_request_first(app):
    demande = db.session.scalars(select(Demande).where(Demande.reference == "RM-DEMO-000001")).one()
    events_before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    # Another worker validates it behind our back (a separate connection).
    with db.engine.begin() as other:
        other.execute(
            text("UPDATE demandes SET status = 'validee' WHERE reference = 'RM-DEMO-000001'")
        )
    with pytest.raises(demandes.ConcurrentChange):
        demandes.transition(demande, lifecycle.EXPIREE, actor=None, action="expiration")
    db.session.rollback()
    assert (
        db.session.scalar(select(Demande.status).where(Demande.reference == "RM-DEMO-000001"))
        == "validee"
    )
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events_before


def test_a_transition_records_who_when_and_why(app, clock):
    demande = db.session.scalars(select(Demande).where(Demande.reference == "RM-DEMO-000001")).one()
    demandes.transition(
        demande, lifecycle.EXPIREE, actor=None, action="expiration", reason="Délai dépassé"
    )
    db.session.commit()
    event = demande.events[-1]
    assert (event.from_status, event.to_status, event.actor_label, event.reason) == (
        "en_attente_garanties",
        "expiree",
        "Système",
        "Délai dépassé",
    )
    assert event.at == clock()


def test_the_affiliate_sees_the_reinstated_amounts_after_a_default(app, client, auth, clock):
    agent = db.session.scalars(select(User).where(User.login == "agent.marrakech")).one()
    demande = db.session.scalars(select(Demande).where(Demande.reference == "RM-DEMO-000001")).one()
    backoffice.validate_with_guarantees(
        demande,
        actor=agent,
        type_garantie="caution",
        type_label="Caution bancaire",
        reference="CB-1",
        deposee_le=date(2023, 11, 20),
    )
    clock.set(datetime(2023, 12, 10, 9, 0))
    backoffice.record_result(demande, 0, "rejetee", actor=agent)
    assert demande.status == "annulee"
    auth.login("groupe")
    page = client.get("/demandes/RM-DEMO-000001")
    assert "Montants réintégrés" in page.text
    total = demande.remise + demande.majorations_generees
    assert f"{total:,.2f}".replace(",", "\u202f").replace(".", ",") in page.text
    assert "Annulée" in page.text


# --- expiry: read on every screen, written by the command or a new confirmation --------


def demo_request():
    return db.session.scalars(select(Demande).where(Demande.reference == "RM-DEMO-000001")).one()


def test_an_overdue_plan_is_no_longer_in_progress_and_reading_writes_nothing(app, clock):
    demande = demo_request()
    assert demandes.demande_en_cours(demande.affilie) == demande
    clock.set(datetime(2023, 12, 21, 0, 0))  # day 31
    assert demande.effective_status(clock().date()) == lifecycle.EXPIREE
    assert demandes.demande_en_cours(demande.affilie) is None
    assert demandes.refusal_for(demande.affilie, queries.active_campaign()) is None
    db.session.expire_all()
    assert demo_request().status == lifecycle.EN_ATTENTE
    assert [e.action for e in demo_request().events] == ["confirmation"]


def test_a_confirmation_writes_the_expiry_of_the_plan_that_held_the_affilie(app, clock):
    held = demo_request()
    affilie, campaign = held.affilie, queries.active_campaign()
    clock.set(datetime(2023, 12, 21, 9, 0))
    consolidation = demandes.current_consolidation(affilie, campaign)
    user = db.session.scalars(select(User).where(User.login == "groupe")).one()
    demande = demandes.confirm(
        user=user,
        affilie=affilie,
        campaign=campaign,
        compte=affilie.comptes[0],
        consolidation=consolidation,
        sim=queries.simulation_for(affilie, campaign, consolidation=consolidation),
        token="after-the-deadline",
        conditions_accepted_at=clock(),
    )
    assert demande.status == lifecycle.ACCEPTEE
    db.session.expire_all()
    held = demo_request()
    assert held.status == lifecycle.EXPIREE
    assert (held.events[-1].action, held.events[-1].actor_label) == ("expiration", "Système")


def test_the_expiry_command_writes_each_overdue_plan_once(app, clock):
    clock.set(datetime(2023, 12, 21, 0, 0))
    assert demandes.expire_overdue() == 1
    assert demandes.expire_overdue() == 0
    assert demo_request().status == lifecycle.EXPIREE


# --- the audit helper and the plain-text amounts it writes ------------------------------


def test_an_audit_event_without_an_actor_is_the_systems(app, clock):
    demande = demo_request()
    audit.record(demande, None, "prelevement", "Prélèvement de l'avance")
    event = demande.events[-1]
    assert (event.actor_label, event.at, event.from_status, event.to_status) == (
        "Système",
        clock(),
        None,
        None,
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("5756.86", "5 756,86 MAD"),
        ("0", "0,00 MAD"),
        ("1234567.5", "1 234 567,50 MAD"),
        ("0.005", "0,01 MAD"),
    ],
)
def test_plain_amounts_group_with_an_ordinary_space_and_round_half_up(app, value, text):
    assert formatting.plain_mad(Decimal(value)) == text


def test_days_are_written_the_guides_way_outside_a_request(app):
    assert formatting.day(date(2023, 12, 10)) == "10/12/2023"
    assert formatting.day(datetime(2024, 1, 8, 23, 59)) == "08/01/2024"
    assert formatting.day(None) == ""
