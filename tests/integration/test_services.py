"""Service-level guarantees: transitions are compare-and-set."""

import pytest
from sqlalchemy import func, select, text

from db.models import AuditEvent, Demande
from domain import lifecycle
from extensions import db
from services import demandes


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
    from datetime import date, datetime

    from db.models import User
    from services import backoffice

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
