"""Operator commands on accounts, and the operators' audit trail.

``flask user disable|enable|reset-password|revoke LOGIN`` and ``flask audit show``. Each
change is recorded in ``operator_events`` (services/operators.py) with who ran it and
when, in the same transaction as the change.
"""

from __future__ import annotations

import json
import secrets
import sys
from datetime import date, datetime, timedelta

import click
from flask import Flask
from sqlalchemy import select

from commands.common import checked_email, fail
from db.models import User
from domain.identifiers import mask_email
from extensions import db
from services import operators
from web import security

MIN_PASSWORD_LENGTH = 8


def register(app: Flask) -> None:
    for command in (user_group, audit_group):
        app.cli.add_command(command)


def _user_or_fail(login: str) -> User:
    user = db.session.scalars(select(User).where(User.login == login)).first()
    if user is None:
        fail(f"utilisateur inconnu « {login} »")
    return user


def _end_sessions(user: User) -> None:
    # Every session cookie carries the old token (User.get_id): none is valid any more.
    user.session_token = secrets.token_hex(16)


def read_password() -> str:
    """The new password from the first line of standard input, never from an argument
    (it would stay in the shell's history and in ``ps``)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        fail(f"le mot de passe doit contenir au moins {MIN_PASSWORD_LENGTH} caractères")
    return password


@click.group("user")
def user_group() -> None:
    """Disable, enable, reset the password of, or sign out an account."""


@user_group.command("disable")
@click.argument("login")
def user_disable(login: str) -> None:
    """Disable an account: no more logins, and its open sessions end."""
    user = _user_or_fail(login)
    if not user.active:
        click.echo(f"Le compte « {login} » est déjà désactivé.")
        return
    user.active = False
    _end_sessions(user)
    operators.record("user.disable", login)
    operators.commit()
    click.echo(f"Compte « {login} » désactivé ; ses sessions sont terminées.")


@user_group.command("enable")
@click.argument("login")
def user_enable(login: str) -> None:
    """Enable a disabled account again."""
    user = _user_or_fail(login)
    if user.active:
        click.echo(f"Le compte « {login} » est déjà actif.")
        return
    user.active = True
    operators.record("user.enable", login)
    operators.commit()
    click.echo(f"Compte « {login} » réactivé.")


@user_group.command("reset-password")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input")
def user_reset_password(login: str, password_stdin: bool) -> None:
    """Set a new password; the account's sessions end and its failed logins are forgotten."""
    if not password_stdin:
        fail("le mot de passe se donne sur l'entrée standard (--password-stdin)")
    user = _user_or_fail(login)
    user.set_password(read_password())
    _end_sessions(user)
    security.reset_login_failures(login)
    operators.record("user.reset_password", login)
    operators.commit()
    click.echo(f"Mot de passe de « {login} » changé ; ses sessions sont terminées.")


@user_group.command("revoke")
@click.argument("login")
def user_revoke(login: str) -> None:
    """End every open session of the account (a stolen cookie stops working)."""
    user = _user_or_fail(login)
    _end_sessions(user)
    operators.record("user.revoke", login)
    operators.commit()
    click.echo(f"Sessions de « {login} » terminées.")


@user_group.command("set-email")
@click.argument("login")
@click.argument("address")
def user_set_email(login: str, address: str) -> None:
    """Set the address where the notices of the account's next requests go."""
    user = _user_or_fail(login)
    user.email = checked_email(address)
    operators.record("user.set_email", login, mask_email(user.email))
    operators.commit()
    click.echo(f"Adresse des avis de « {login} » : {mask_email(user.email)}.")


@click.group("audit")
def audit_group() -> None:
    """The operators' audit trail."""


def _day(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time())
    except ValueError:
        fail(f"{option} : date invalide « {value} » (AAAA-MM-JJ)")


@audit_group.command("show")
@click.option("--action", help="user, user.disable, campaign.set...")
@click.option("--target", help="A login or a campaign code")
@click.option("--operator", help="The system account that ran the command")
@click.option("--since", help="From this day, YYYY-MM-DD")
@click.option("--until", help="Up to this day included, YYYY-MM-DD")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line")
def audit_show(action, target, operator, since, until, limit, as_json) -> None:
    """The operators' changes, latest first."""
    until_day = _day(until, "--until")
    found = operators.events(
        action=action,
        target=target,
        operator=operator,
        since=_day(since, "--since"),
        until=until_day + timedelta(days=1) if until_day else None,
        limit=limit,
    )
    for entry in found:
        if as_json:
            record = {
                "at": entry.at.isoformat(),
                "operator": entry.operator,
                "action": entry.action,
                "target": entry.target,
                "detail": entry.detail,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            # One line per event: whatever a field holds, its control characters escaped.
            operator, action, target, detail = (
                operators.printable(value)
                for value in (entry.operator, entry.action, entry.target, entry.detail)
            )
            detail = f"  {detail}" if detail else ""
            click.echo(
                f"{entry.at:%Y-%m-%d %H:%M:%S}  {operator:<12} {action:<20} {target}{detail}"
            )
    if not found and not as_json:
        click.echo("Aucun événement.")
