"""What the command modules share: the error exit and the checked e-mail address.

Every command module imports this one and none imports another command module, so the
commands form no import cycle (commands/cli.py only registers the others).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from domain.identifiers import InvalidEmail, normalize_email


def fail(message: str) -> NoReturn:
    """Print ``Erreur : message`` on standard error and exit with status 1."""
    click.echo(f"Erreur : {message}", err=True)
    sys.exit(1)


def checked_email(text: str) -> str:
    """The address normalized, or a ``fail`` naming what is wrong with it."""
    try:
        return normalize_email(text)
    except InvalidEmail as exc:
        fail(f"adresse électronique invalide : {exc}")
