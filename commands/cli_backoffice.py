"""The perception back office's commands: ``flask expire-requests``, ``flask debit-file``,
``flask import-retour``."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from commands.common import fail
from commands.progress import ImportProgress
from common.formatting import day
from db.models import Perception
from extensions import db
from services import demandes, return_file
from services.backoffice import Refused
from services.debit_file import debit_batches, write_debit_csv


def register(app: Flask) -> None:
    for command in (expire_requests, debit_file, import_retour):
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
        fail(f"date invalide « {on} » (AAAA-MM-JJ)")
    batches = debit_batches(due)
    if output is None:
        write_debit_csv(batches, _Echo())
        # The full-payment debits created on the way are part of the schedule from now on.
        db.session.commit()
        return
    started = time.perf_counter()
    with output.open("w", encoding="utf-8", newline="") as stream:
        count = write_debit_csv(batches, stream)
    db.session.commit()
    seconds = f"{time.perf_counter() - started:.2f}".replace(".", ",")
    click.echo(
        f"{count} prélèvement(s) du {day(due)} écrit(s) dans {output} en {seconds} s.", err=True
    )


@click.command("import-retour")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--perception", required=True, help="The perception's name, as in the import.")
@click.option("--dry-run", is_flag=True, help="Check the file and report; record nothing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def import_retour(file: Path, perception: str, dry_run: bool, quiet: bool) -> None:
    """Record the bank's return file FILE (reference,echeance,statut) of a perception's
    debits: every result or, if a line is bad, none.

    Exit status: 0 recorded (or, with --dry-run, valid), 1 refused with the report of the
    bad lines, 2 usage error.
    """
    if not file.is_file():
        raise click.UsageError(f"{file} n'est pas un fichier")
    found = db.session.scalar(select(Perception.id).where(Perception.name == perception))
    if found is None:
        raise click.UsageError(f"perception inconnue : « {perception} »")
    bar = ImportProgress([file]) if not quiet and sys.stderr.isatty() else None
    started = time.perf_counter()
    try:
        summary = return_file.import_return(
            file, actor=None, perception_id=found, dry_run=dry_run, progress=bar
        )
    except (return_file.ReturnFileError, Refused) as exc:
        if bar is not None:
            bar.close()
        errors = exc.errors if isinstance(exc, return_file.ReturnFileError) else [exc.message]
        for line in errors:
            click.echo(f"Erreur : {line}", err=True)
        click.echo("Rien n'a été enregistré.", err=True)
        sys.exit(1)
    if bar is not None:
        bar.close()
    seconds = f"{time.perf_counter() - started:.1f}".replace(".", ",")
    if dry_run:
        click.echo(
            f"Vérification terminée, rien n'a été enregistré : {summary.lignes} ligne(s), "
            f"{summary.payees} payée(s), {summary.rejetees} rejetée(s) en {seconds} s."
        )
        return
    click.echo(
        f"Fichier retour enregistré : {summary.lignes} ligne(s), {summary.payees} payée(s), "
        f"{summary.rejetees} rejetée(s) ; {summary.soldees} demande(s) soldée(s), "
        f"{summary.annulees} annulée(s) en {seconds} s."
    )


class _Echo:
    """A text stream onto click.echo, so the CLI runner and a pipe both get the file."""

    def write(self, text: str) -> None:
        click.echo(text, nl=False)
