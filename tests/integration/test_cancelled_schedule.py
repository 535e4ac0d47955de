"""A cancelled plan's debits still to come are cancelled, on every page and in every file.

The demo's DEFAUT request (instalment 2 rejected) keeps its later debit rows as they were
written, "à prélever"; the debit file already leaves them out. The affiliate's
récapitulatif and the agent's detail say "Annulée" for each of them, in French and in
Arabic, from the one rule of ``domain.lifecycle.echeance_status``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from commands.demo import seed_back_office_cases
from db.models import Demande
from domain import lifecycle
from extensions import db
from services import schedules
from tests.integration.pages import BackOfficePage as Page

DEFAUT = "RM-DEMO-CAS-DEFAUT"
PRELEV = "RM-DEMO-CAS-PRELEV"


@pytest.fixture(autouse=True)
def cases(app):
    """The back office's demo cases (``seed-demo`` adds them; the suite's copy has none)."""
    seed_back_office_cases()


def statuses(page: Page, heading: str) -> dict[str, str]:
    """Échéance label → status cell of the definitive schedule after ``heading``."""
    rows = page.rows_after(heading)[1:]
    return {row[0]: row[3] for row in rows}


def arabic(client) -> None:
    client.post("/langue", data={"lang": "ar"})


def test_the_rule_cancels_only_what_was_still_to_debit():
    rule = lifecycle.echeance_status
    assert rule(lifecycle.A_PRELEVER, lifecycle.ANNULEE) == lifecycle.ECHEANCE_ANNULEE
    assert rule(lifecycle.A_PRELEVER, lifecycle.EXPIREE) == lifecycle.ECHEANCE_ANNULEE
    assert rule(lifecycle.PAYEE, lifecycle.ANNULEE) == lifecycle.PAYEE
    assert rule(lifecycle.REJETEE, lifecycle.ANNULEE) == lifecycle.REJETEE
    assert rule(lifecycle.A_PRELEVER, lifecycle.VALIDEE) == lifecycle.A_PRELEVER


@pytest.mark.parametrize(
    ("lang", "paid", "rejected", "cancelled"),
    [("fr", "Payée", "Rejetée", "Annulée"), ("ar", "مؤداة", "مرفوضة", "ملغى")],
)
def test_agent_sees_the_defaulted_plans_remaining_debits_cancelled(
    client, auth, lang, paid, rejected, cancelled
):
    auth.login("agent.casa")
    if lang == "ar":
        arabic(client)
    page = Page(client.get(f"/perception/demandes/{DEFAUT}"))
    assert page.status == 200
    shown = statuses(page, "echeancier")
    values = list(shown.values())
    assert values[0].startswith(paid) and values[1].startswith(paid)  # avance, échéance 1
    assert values[2].startswith(rejected)  # échéance 2
    assert values[3:] == [cancelled] * 16  # échéances 3 to 18
    assert "قيد الاقتطاع" not in page.text and "À prélever" not in page.text


@pytest.mark.parametrize(("lang", "cancelled"), [("fr", "Annulée"), ("ar", "ملغى")])
def test_affiliate_sees_the_defaulted_plans_remaining_debits_cancelled(
    client, auth, lang, cancelled
):
    auth.login("groupe")
    if lang == "ar":
        arabic(client)
    page = Page(client.get(f"/demandes/{DEFAUT}"))
    assert page.status == 200
    rows = page.rows_after("echeancier-definitif")[1:]
    assert [row[3] for row in rows[3:]] == [cancelled] * 16
    assert "قيد الاقتطاع" not in page.text and "À prélever" not in page.text


def test_a_rejected_debit_cancels_what_remained_on_both_pages(app, client, auth, clock):
    """PRELEV: the due debit recorded as rejected; nothing remains "à prélever"."""
    demande = db.session.scalars(select(Demande).where(Demande.reference == PRELEV)).one()
    pending = [e for e in schedules.definitive_echeances(demande) if e.statut == "a_prelever"]
    due = max(e.rang for e in pending if e.date_prevue <= clock().date())
    auth.login("agent.casa")
    assert (
        "À prélever"
        in statuses(Page(client.get(f"/perception/demandes/{PRELEV}")), "echeancier").values()
    )
    response = client.post(
        f"/perception/demandes/{PRELEV}/echeances/{due}",
        data={"statut": "rejetee", "confirme": "1"},
    )
    assert response.status_code == 303
    shown = statuses(Page(client.get(f"/perception/demandes/{PRELEV}")), "echeancier")
    assert "À prélever" not in shown.values()
    assert list(shown.values()).count("Annulée") == len(pending) - 1
    auth.logout()
    auth.login("groupe")
    recap = Page(client.get(f"/demandes/{PRELEV}"))
    assert "À prélever" not in recap.text
    cells = [row[3] for row in recap.rows_after("echeancier-definitif")[1:]]
    assert cells.count("Annulée") == len(pending) - 1
