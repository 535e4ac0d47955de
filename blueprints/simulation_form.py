"""The simulation form, shared by the affiliate's journey and the agent's preview.

Both read the number of instalments (typed, slider, − / +) and the avance the same way,
with the same messages, and run the same server-side simulation.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from common.formatting import mad
from domain.money import AmountError, latin_digits, parse_amount
from domain.simulation import Simulation, SimulationError
from services import queries

# Where the slider starts (the guide's screens).
DEFAULT_ECHEANCES = 6

AVANCE_MESSAGES = {
    "invalid": _l("Le montant de l'avance doit être un nombre, par exemple 5 000,00."),
    "negative": _l("Le montant de l'avance ne peut pas être négatif."),
    "ambiguous": _l(
        "Le montant de l'avance est ambigu : écrivez 5 000 pour cinq mille dirhams,"
        " 5,00 pour cinq dirhams."
    ),
    "too_many_decimals": _l("Le montant de l'avance ne peut pas avoir plus de 2 décimales."),
    "too_large": _l("Le montant de l'avance doit être inférieur au montant à payer."),
}


def read_echeances(form, previous: int, maximum: int) -> tuple[int, str | None]:
    """The requested count: typed number or slider, then − / + applied.

    ``previous`` is the count of the simulation on screen; on an error it stays.
    """
    typed = latin_digits(form.get("nombre_echeances", "").strip())
    slider = form.get("curseur", "").strip()
    # Without JavaScript both fields arrive; the one the user changed is the one that
    # differs from the last simulation.
    raw = typed
    if slider and slider != str(previous) and typed in ("", str(previous)):
        raw = slider
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
        return previous, _(
            "Le nombre d'échéances doit être un nombre entier compris entre 1 et %(max)s.",
            max=maximum,
        )
    n = int(raw)
    action = form.get("action", "")
    if action == "moins":
        n -= 1
    elif action == "plus":
        n += 1
    if action in ("moins", "plus"):
        n = min(max(n, 1), maximum)
    if not 1 <= n <= maximum:
        return previous, _(
            "Le nombre d'échéances doit être compris entre 1 et %(max)s.", max=maximum
        )
    return n, None


def read_avance(text: str) -> tuple[Decimal | None, str | None]:
    if not text.strip():
        return Decimal("0.00"), None
    try:
        # The page's language decides "5.000": five thousand as the Arabic pages write it.
        return parse_amount(text, locale=str(get_locale() or "fr")), None
    except AmountError as exc:
        return None, str(AVANCE_MESSAGES.get(exc.code, AVANCE_MESSAGES["invalid"]))


def simulate_plan(affilie, campaign, consolidation, *, n: int, n_error, avance_text: str):
    """The instalments simulation from the count and the typed avance:
    (simulation or None, errors, typed values to show back)."""
    errors: dict[str, str] = {}
    if n_error:
        errors["nombre_echeances"] = n_error
    avance, avance_error = read_avance(avance_text)
    if avance_error:
        errors["avance"] = avance_error
    typed = {"avance": avance_text, "n": n}
    if errors:
        return None, errors, typed
    try:
        sim = queries.simulation_for(
            affilie, campaign, nombre_echeances=n, avance=avance, consolidation=consolidation
        )
    except SimulationError as exc:
        if exc.code != "avance_too_large":
            errors["avance"] = str(AVANCE_MESSAGES["invalid"])
        else:
            errors["avance"] = _(
                "Le montant de l'avance doit être inférieur au montant à payer (%(montant)s).",
                montant=mad(exc.montant_a_payer),
            )
        return None, errors, typed
    return sim, errors, typed


def schedule_of(sim: Simulation | None) -> list[tuple]:
    """(rang, date, montant) rows, the shape the récapitulatif partial reads."""
    return [(e.rang, e.date, e.montant) for e in sim.echeances] if sim else []


def instalments(schedule: list[tuple]) -> list[tuple]:
    """The monthly instalments of (rang, date, montant) rows, without the avance (rang 0):
    the templates' ``instalments`` filter (Jinja's selectattr tests each row through its
    own calls, some 60 µs for a 60-row schedule)."""
    return [row for row in schedule if row[0] > 0]
