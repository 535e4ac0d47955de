"""The perception back office's commands: ``flask expire-requests``, ``flask debit-file``."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import click
from flask import Flask

from extensions import db
from services import bank_files, demandes
from web.formatting import day


def register(app: Flask) -> None:
    for command in (expire_requests, debit_file):
        app.cli.add_command(command)


@click.command("expire-requests")
def expire_requests() -> None:
    """Expire the requests still waiting for guarantees past their deadline (idempotent)."""
    count = demandes.expire_overdue()
    click.echo(f"{count} demande(s) expirée(s).")


@click.command("debit-file")
@click.option("--date", "on", required=True, help="Day of the debits, YYYY-MM-DD")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file to write (default: standard output)",
)
def debit_file(on: str, output: Path | None) -> None:
    """Write the bank debits due on --date as CSV: reference,affiliation,rib,montant,echeance."""
    try:
        due = date.fromisoformat(on)
    except ValueError:
        click.echo(f"Erreur : date invalide « {on} » (AAAA-MM-JJ)", err=True)
        sys.exit(1)
    lines = bank_files.debit_lines(due)
    if output is None:
        bank_files.write_debit_csv(lines, _Echo())
        # The full-payment debits created on the way are part of the schedule from now on.
        db.session.commit()
        return
    started = time.perf_counter()
    with output.open("w", encoding="utf-8", newline="") as stream:
        count = bank_files.write_debit_csv(lines, stream)
    db.session.commit()
    seconds = f"{time.perf_counter() - started:.2f}".replace(".", ",")
    click.echo(
        f"{count} prélèvement(s) du {day(due)} écrit(s) dans {output} en {seconds} s.", err=True
    )


class _Echo:
    """A text stream onto click.echo, so the CLI runner and a pipe both get the file."""

    def write(self, text: str) -> None:
        click.echo(text, nl=False)
