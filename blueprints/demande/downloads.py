"""The échéancier to keep, a simulation's or a request's: CSV or .ics, with its file name."""

from __future__ import annotations

from dataclasses import dataclass

from flask import (
    make_response,
)
from flask_babel import gettext as _

from common import echeancier_files, labels
from common.clock import now


@dataclass(frozen=True)
class EcheancierFile:
    """Whose plan a file holds: the affilié, the count, the events' UID prefix, and for a
    request its reference and status."""

    numero: str
    raison_sociale: str
    n: int
    uid_prefix: str
    demande: str = ""


def echeancier_file(fmt: str, rows, plan: EcheancierFile, *, indicative: bool):
    affilie = f"{plan.numero} {plan.raison_sociale}"
    if fmt == "csv":
        file_labels = {
            "rang": _("Échéance"),
            "date": _("Date indicative") if indicative else _("Date de prélèvement"),
            "montant": _("Montant"),
            "avance": _("Avance"),
            "total": _("Montant à payer"),
            "affilie": _("Affilié"),
        }
        if plan.demande:
            file_labels.update(
                statut=_("Statut"),
                statuts={code: str(label) for code, label in labels.ECHEANCE.items()},
                demande=_("Demande"),
            )
        body = echeancier_files.echeancier_csv(rows, file_labels, affilie, plan.demande)
        mimetype, name = "text/csv; charset=utf-8", f"echeancier-{plan.numero}.csv"
    else:
        body = echeancier_files.plan_ics(
            rows,
            uid_prefix=plan.uid_prefix,
            n=plan.n,
            description=affilie,
            indicative=indicative,
            stamp=now(),
        )
        mimetype, name = "text/calendar; charset=utf-8", f"echeancier-{plan.numero}.ics"
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def simulation_file(fmt: str, affilie, sim):
    """The échéancier of a simulation on screen: indicative dates, named by the count."""
    rows = [echeancier_files.Row(e.rang, e.date, e.montant) for e in sim.echeances]
    n = sim.nombre_echeances
    plan = EcheancierFile(affilie.numero, affilie.raison_sociale, n, f"{affilie.numero}-{n}")
    return echeancier_file(fmt, rows, plan, indicative=True)
