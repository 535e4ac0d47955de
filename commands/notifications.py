"""``flask notifications plan|send|list``: the e-mail notices (services/notices/).

``plan`` runs daily (the guarantee and debit reminders due today in Casablanca), ``send``
every minute (everything due, claimed so that several senders never send one notice
twice). docs/DEPLOY.md gives their systemd units.
"""

from __future__ import annotations

import sys
import time

import click
from flask import Flask, current_app

from extensions import db
from services.notices import planning, sending


def register(app: Flask) -> None:
    app.cli.add_command(notifications_group)


@click.group("notifications")
def notifications_group() -> None:
    """E-mail notices: queue the day's reminders, send what is due."""


@notifications_group.command("plan")
def plan_cmd() -> None:
    """Queue today's reminders (Casablanca's day); a second run queues nothing new."""
    planned = planning.plan()
    click.echo(
        f"Rappels mis en file : {planned.garanties} de garanties, "
        f"{planned.prelevements} de prélèvement."
    )


@notifications_group.command("send")
@click.option("--limit", type=click.IntRange(1), default=None, help="Try at most N notices")
@click.option(
    "--every",
    type=click.IntRange(1),
    default=None,
    help="Keep running, sending every N seconds (make run; production uses the timer)",
)
def send_cmd(limit: int | None, every: int | None) -> None:
    """Send the notices due. Exit status 0, or 1 when some failed for good."""
    backend = sending.backend_from_config(current_app.config)
    if backend is None:
        click.echo("Avis désactivés (MAIL_BACKEND=disabled) : rien n'est envoyé.")
        return
    while every is not None:
        sending.send_due(backend, limit=limit)
        db.session.remove()
        time.sleep(every)
    report = sending.send_due(backend, limit=limit)
    click.echo(
        f"Avis envoyés : {report.sent} ; à réessayer : {report.retried} ; "
        f"en échec : {report.failed}."
    )
    if report.failed:
        sys.exit(1)
