"""flask user disable|enable|reset-password|revoke, audited; flask audit show."""

from __future__ import annotations

import json
import os
import pwd

import pytest
from sqlalchemy import select

from commands.demo import DEMO_PASSWORD
from db.models import OperatorEvent, User
from extensions import db
from tests.conftest import FROZEN_NOW

NEW_PASSWORD = "un-nouveau-mot-de-passe"


def login(client, password=DEMO_PASSWORD, who="entreprise"):
    return client.post("/connexion", data={"utilisateur": who, "mot_de_passe": password})


def is_logged_in(client) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


def trail() -> list[tuple[str, str, str]]:
    rows = db.session.scalars(select(OperatorEvent).order_by(OperatorEvent.id))
    return [(e.action, e.target, e.operator) for e in rows]


def test_a_disabled_user_cannot_log_in_and_their_sessions_end(app, runner, monkeypatch):
    monkeypatch.setenv("SUDO_USER", "exploitant")
    client = app.test_client()
    assert login(client).status_code == 302 and is_logged_in(client)

    result = runner.invoke(args=["user", "disable", "entreprise"])
    assert result.exit_code == 0, result.output
    assert not is_logged_in(client)
    refused = login(app.test_client())
    assert refused.status_code == 401
    assert "Utilisateur ou mot de passe incorrect." in refused.get_data(as_text=True)

    assert runner.invoke(args=["user", "enable", "entreprise"]).exit_code == 0
    assert login(app.test_client()).status_code == 302
    exploitant = f"exploitant (SUDO_USER déclaré, compte {pwd.getpwuid(os.geteuid()).pw_name})"
    assert trail() == [
        ("user.disable", "entreprise", exploitant),
        ("user.enable", "entreprise", exploitant),
    ]


def test_reset_password_reads_stdin_ends_sessions_and_never_records_the_password(app, runner):
    client = app.test_client()
    login(client)
    result = runner.invoke(
        args=["user", "reset-password", "entreprise", "--password-stdin"],
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert not is_logged_in(client)
    assert login(app.test_client()).status_code == 401
    assert login(app.test_client(), password=NEW_PASSWORD).status_code == 302
    (event,) = db.session.scalars(select(OperatorEvent)).all()
    assert event.action == "user.reset_password"
    assert NEW_PASSWORD not in f"{event.detail} {event.target}"


def test_reset_password_refusals(runner):
    without = runner.invoke(args=["user", "reset-password", "entreprise"])
    assert without.exit_code == 1 and "--password-stdin" in without.output
    short = runner.invoke(
        args=["user", "reset-password", "entreprise", "--password-stdin"], input="court\n"
    )
    assert short.exit_code == 1 and "8 caractères" in short.output
    unknown = runner.invoke(args=["user", "revoke", "personne"])
    assert unknown.exit_code == 1 and "inconnu" in unknown.output
    assert trail() == []


def test_revoke_ends_every_session_but_keeps_the_account(app, runner):
    first, second = app.test_client(), app.test_client()
    login(first)
    login(second)
    assert runner.invoke(args=["user", "revoke", "entreprise"]).exit_code == 0
    assert not is_logged_in(first) and not is_logged_in(second)
    assert login(app.test_client()).status_code == 302
    assert [action for action, _t, _o in trail()] == ["user.revoke"]


def test_campaign_set_and_create_user_are_audited(runner):
    assert runner.invoke(args=["campaign", "set", "--guarantee-days", "45"]).exit_code == 0
    created = runner.invoke(
        args=[
            "create-user",
            "agent.fes",
            "--role",
            "agent",
            "--perception",
            "Perception Casablanca Anfa",
        ]
        + ["--password-stdin"],
        input="mot-de-passe-agent\n",
    )
    assert created.exit_code == 0, created.output
    events = db.session.scalars(select(OperatorEvent).order_by(OperatorEvent.id)).all()
    assert events[0].action == "campaign.set"
    assert "délai garanties" in events[0].detail and "→ 45" in events[0].detail
    assert events[1].action == "user.create" and events[1].target == "agent.fes"
    assert "mot-de-passe-agent" not in events[1].detail


def test_audit_show_filters(runner, monkeypatch):
    monkeypatch.setenv("SUDO_USER", "alice")
    runner.invoke(args=["user", "revoke", "entreprise"])
    monkeypatch.setenv("SUDO_USER", "brahim")
    runner.invoke(args=["user", "disable", "groupe"])
    runner.invoke(args=["campaign", "set", "--guarantee-days", "40"])

    def shown(*args) -> list[dict]:
        result = runner.invoke(args=["audit", "show", "--json", *args])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines()]

    assert [e["action"] for e in shown()] == ["campaign.set", "user.disable", "user.revoke"]
    assert [e["action"] for e in shown("--action", "user")] == ["user.disable", "user.revoke"]
    assert [e["target"] for e in shown("--operator", "alice")] == ["entreprise"]
    assert [e["action"] for e in shown("--target", "groupe")] == ["user.disable"]
    assert len(shown("--limit", "1")) == 1
    assert shown("--since", "2099-01-01") == []
    assert len(shown("--until", "2023-11-20")) == 3  # the frozen clock's day, included
    text = runner.invoke(args=["audit", "show"]).output
    assert "brahim" in text and "user.disable" in text and "groupe" in text
    bad = runner.invoke(args=["audit", "show", "--since", "hier"])
    assert bad.exit_code == 1 and "date invalide" in bad.output


def test_a_disabled_user_stays_disabled_for_the_loader(app, runner):
    runner.invoke(args=["user", "disable", "entreprise"])
    user = db.session.scalars(select(User).where(User.login == "entreprise")).one()
    assert user.is_active is False


FORGED = "alice\n2023-11-20 10:30:00  root         user.enable          groupe\x1b[2K\u2028"


def test_the_operator_name_is_recorded_as_declared_and_without_control_characters(
    runner, monkeypatch
):
    monkeypatch.setenv("SUDO_USER", FORGED)
    assert runner.invoke(args=["user", "revoke", "entreprise"]).exit_code == 0
    (event,) = db.session.scalars(select(OperatorEvent)).all()
    assert event.operator.startswith("alice\\x0a2023-11-20 10:30:00")
    assert "(SUDO_USER déclaré, compte " in event.operator
    assert event.operator.isprintable() and len(event.operator) <= 120
    # The declared name is still what --operator finds.
    monkeypatch.delenv("SUDO_USER")
    runner.invoke(args=["user", "revoke", "groupe"])
    found = runner.invoke(args=["audit", "show", "--json", "--operator", FORGED]).output
    assert [json.loads(line)["target"] for line in found.splitlines()] == ["entreprise"]


def test_without_sudo_the_operator_is_the_process_account(runner, monkeypatch):
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("USER", "quelquun")  # the environment does not name the account
    monkeypatch.setenv("LOGNAME", "quelquun")
    runner.invoke(args=["user", "revoke", "entreprise"])
    (event,) = db.session.scalars(select(OperatorEvent)).all()
    assert event.operator == pwd.getpwuid(os.geteuid()).pw_name


def test_audit_show_prints_one_line_per_event_whatever_the_trail_holds(runner):
    # A row written before names were cleaned: its control characters are shown escaped.
    db.session.add(
        OperatorEvent(
            at=FROZEN_NOW,
            operator="alice\nroot",
            action="user.revoke",
            target="groupe\r\x1b[1A",
            detail="ligne\u2028ligne",
        )
    )
    db.session.commit()
    text = runner.invoke(args=["audit", "show"]).output
    assert text.splitlines() == [
        "2023-11-20 10:30:00  alice\\x0aroot user.revoke          groupe\\x0d\\x1b[1A"
        "  ligne\\u2028ligne"
    ]


@pytest.mark.parametrize("option", ["--action", "--operator", "--target"])
@pytest.mark.parametrize("pattern", ["%", "_", "user%", "%.%", "u_er", "\\"])
def test_audit_show_filters_are_words_not_patterns(runner, monkeypatch, option, pattern):
    monkeypatch.setenv("SUDO_USER", "alice")
    runner.invoke(args=["user", "revoke", "entreprise"])
    runner.invoke(args=["campaign", "set", "--guarantee-days", "40"])
    result = runner.invoke(args=["audit", "show", "--json", option, pattern])
    assert result.exit_code == 0, result.output
    assert result.output == ""
