"""Command-line interface: ``flask --app app <command>``."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from commands import cli_backoffice, notifications, users
from commands.common import checked_email, fail
from commands.demo import DEMO_PASSWORD, seed_back_office_cases, seed_demo
from commands.progress import ImportProgress
from common.clock import today
from common.formatting import day
from common.formatting import plain_mad as mad
from db.models import Affilie, Campaign, CampaignTier, Perception, User
from domain.campaign import Rates
from domain.creance import is_valid_period
from domain.identifiers import is_valid_affiliation, mask_email
from domain.lifecycle import ACOMPTES, INTEGRAL
from domain.money import AmountError, parse_amount
from domain.simulation import SimulationError, check_open
from extensions import db
from services import operators, queries
from services.importer import ImportError_, import_directory
from web import observability

AMOUNT_MESSAGES = {
    "empty": "montant vide",
    "invalid": "montant invalide",
    "negative": "le montant ne peut pas être négatif",
    "too_many_decimals": "2 décimales au plus",
    "too_large": "montant trop grand",
}
SIMULATION_MESSAGES = {
    "avance_negative": "l'avance ne peut pas être négative",
    "avance_too_large": "l'avance doit être inférieure au montant à payer",
    "avance_decimals": "l'avance a 2 décimales au plus",
    "echeances_range": "le nombre d'échéances doit être compris entre 1 et {max}",
    "nothing_to_pay": "aucun montant à payer pour cet affilié",
    "campaign_closed": "la campagne « {label} » n'est pas ouverte le {day} ({opens} – {closes})",
}


def simulation_message(exc: SimulationError, campaign: Campaign, on: date) -> str:
    return SIMULATION_MESSAGES.get(exc.code, exc.code).format(
        max=campaign.max_echeances,
        label=campaign.label,
        day=day(on),
        opens=day(campaign.opens_on),
        closes=day(campaign.closes_on),
    )


def register(app: Flask) -> None:
    for command in (import_data, create_user, simulate_cmd, seed_demo_cmd, campaign_group):
        app.cli.add_command(command)
    cli_backoffice.register(app)  # the perception back office's commands
    users.register(app)  # accounts and the operators' audit trail
    notifications.register(app)  # the e-mail notices


@click.command("import-data")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the files and report; change nothing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def import_data(directory: Path, dry_run: bool, quiet: bool) -> None:
    """Import affilies.csv, ribs.csv and creances.csv from DIRECTORY (all or nothing).

    Exit status: 0 imported (or, with --dry-run, valid), 1 refused with the report of the
    bad lines, 2 usage error.
    """
    if not directory.is_dir():
        raise click.UsageError(f"{directory} n'est pas un dossier")
    files = (directory / f"{name}.csv" for name in ("affilies", "ribs", "creances"))
    bar = ImportProgress(files) if not quiet and sys.stderr.isatty() else None
    try:
        report = import_directory(directory, dry_run=dry_run, progress=bar)
    except ImportError_ as exc:
        if bar is not None:
            bar.close()
        for line in exc.errors:
            click.echo(f"Erreur : {line}", err=True)
        if exc.more:
            click.echo(f"Erreur : … et {exc.more} autre(s) ligne(s) refusée(s).", err=True)
        click.echo("Rien n'a été importé.", err=True)
        sys.exit(1)
    if bar is not None:
        bar.close()
    if not dry_run:
        observability.event(
            "import.creances", affilies=report.affilies, ribs=report.ribs, lignes=report.lignes
        )
    done = "Vérification terminée, rien n'a été importé" if dry_run else "Import terminé"
    seconds = f"{report.seconds:.1f}".replace(".", ",")
    click.echo(
        f"{done} : {report.affilies} affilié(s), {report.ribs} RIB, "
        f"{report.lignes} ligne(s) de créance en {seconds} s."
    )


@click.command("create-user")
@click.argument("login")
@click.option("--role", type=click.Choice(["affilie", "agent"]), required=True)
@click.option("--affiliations", default="", help="N1,N2,... (role affilie)")
@click.option("--perception", default=None, help="Perception name (role agent)")
@click.option("--name", default=None, help="Display name (default: the login)")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@click.option("--email", default=None, help="Where the notices of its requests go")
def create_user(login, role, affiliations, perception, name, password_stdin, email) -> None:
    """Create a user account (affiliate user or perception agent)."""
    if not password_stdin:
        fail("le mot de passe se donne sur l'entrée standard (--password-stdin)")
    if email is not None:
        email = checked_email(email)
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        fail("le mot de passe doit contenir au moins 8 caractères")
    if db.session.scalars(select(User).where(User.login == login)).first():
        fail(f"l'utilisateur « {login} » existe déjà")
    user = User(login=login, display_name=name or login, role=role, email=email)
    if role == "agent":
        found = db.session.scalars(select(Perception).where(Perception.name == perception)).first()
        if not perception or found is None:
            fail(f"perception inconnue « {perception or ''} » (--perception)")
        user.perception = found
    else:
        numeros = [n.strip() for n in affiliations.split(",") if n.strip()]
        if not numeros:
            fail("un compte affilié est lié à au moins un affilié (--affiliations)")
        linked = db.session.scalars(select(Affilie).where(Affilie.numero.in_(numeros))).all()
        unknown = sorted(set(numeros) - {a.numero for a in linked})
        if unknown:
            fail(f"affilié(s) inconnu(s) : {', '.join(unknown)}")
        user.affilies = list(linked)
    user.set_password(password)
    db.session.add(user)
    scope = perception if role == "agent" else ",".join(a.numero for a in user.affilies)
    mail = f", avis à {mask_email(email)}" if email else ""
    operators.record("user.create", login, f"rôle {role} ({scope}){mail}")
    operators.commit()
    click.echo(f"Utilisateur « {login} » créé ({role}).")


@click.command("simulate")
@click.argument("numero")
@click.option("--acomptes", type=int, default=None, help="Number of monthly instalments")
@click.option("--avance", default="0", help="Advance payment, e.g. 5000 or '5 000,00'")
@click.option("--date", "on", default=None, help="Day of the simulation, YYYY-MM-DD")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def simulate_cmd(numero, acomptes, avance, on, as_json) -> None:
    """Simulate the remise of an affilié (full payment unless --acomptes)."""
    if not is_valid_affiliation(numero):
        fail(f"numéro d'affiliation invalide « {numero} » (7 chiffres)")
    affilie = queries.affilie_by_numero(numero)
    if affilie is None:
        fail(f"affilié inconnu « {numero} »")
    try:
        on_day = date.fromisoformat(on) if on else today()
    except ValueError:
        fail(f"date invalide « {on} » (AAAA-MM-JJ)")
    try:
        avance_value = parse_amount(avance)
    except AmountError as exc:
        fail(f"--avance : {AMOUNT_MESSAGES[exc.code]}")
    if acomptes is None and avance_value:
        fail("--avance ne s'emploie qu'avec --acomptes")
    campaign = queries.active_campaign()
    if campaign is None:
        fail("aucune campagne de remise active")
    try:
        check_open(campaign.rules(), on_day)
        sim = queries.simulation_for(
            affilie, campaign, nombre_echeances=acomptes, avance=avance_value, today=on_day
        )
    except SimulationError as exc:
        fail(simulation_message(exc, campaign, on_day))
    if as_json:
        click.echo(json.dumps({"affiliation": numero, **sim.as_dict()}, ensure_ascii=False))
        return
    _print_simulation(affilie, campaign, sim)


def _print_simulation(affilie, campaign, sim) -> None:
    rows = [
        ("Affilié", f"{affilie.numero} — {affilie.raison_sociale}"),
        ("Type de la remise", campaign.label),
        (
            "Modalité de paiement",
            "Paiement intégral"
            if sim.modalite == INTEGRAL
            else f"Paiement par acomptes ({sim.nombre_echeances} mois)",
        ),
        ("Créance totale", mad(sim.creance_totale)),
        ("Créance en principal", mad(sim.principal)),
        ("Pénalités et frais de recouvrement", mad(sim.penalites_frais)),
        ("Taux de la remise sur les pénalités et frais", f"{sim.taux_penalites:.2f} %"),
        ("Astreintes", mad(sim.astreintes)),
        ("Taux de la remise sur les astreintes", f"{sim.taux_astreintes:.2f} %"),
        ("Montant de la remise", mad(sim.remise)),
        ("Montant à payer", mad(sim.montant_a_payer)),
    ]
    if sim.modalite == ACOMPTES:
        rows += [
            ("Montant de l'avance", mad(sim.avance)),
            ("Montant de la mensualité", mad(sim.mensualite)),
            ("Majorations générées (acomptes)", mad(sim.majorations_generees)),
        ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label:<{width}}  {value}")
    if sim.echeances:
        click.echo("Dates indicatives (si la demande était validée ce jour) :")
    for e in sim.echeances:
        label = "Avance" if e.rang == 0 else f"Échéance {e.rang}"
        click.echo(f"  {label:<14} {day(e.date)}  {mad(e.montant):>18}")


@click.command("seed-demo")
def seed_demo_cmd() -> None:
    """Load the demo data set (does nothing when it is already there)."""
    if seed_demo():
        seed_back_office_cases()
        click.echo("Données de démonstration chargées.")
    else:
        click.echo("Données de démonstration déjà présentes.")
    click.echo(
        f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD}) : groupe (55 affiliés), "
        "entreprise (1 affilié), agent.casa, agent.rabat, agent.marrakech."
    )


@click.group("campaign")
def campaign_group() -> None:
    """Read and change the remission campaigns' parameters."""


def _campaign_or_fail(code: str | None) -> Campaign:
    campaign = (
        db.session.scalars(select(Campaign).where(Campaign.code == code)).first()
        if code
        else queries.active_campaign()
    )
    if campaign is None:
        fail(f"campagne inconnue « {code} »" if code else "aucune campagne active")
    return campaign


@campaign_group.command("show")
@click.argument("code", required=False)
def campaign_show(code) -> None:
    """Show a campaign (default: the active one)."""
    c = _campaign_or_fail(code)
    click.echo(f"Campagne {c.code}{' (active)' if c.active else ''}")
    click.echo(f"  Libellé : {c.label}")
    click.echo(f"  Ouverture : {c.opens_on.isoformat()}   Clôture : {c.closes_on.isoformat()}")
    click.echo(f"  Dernière période éligible : {c.last_eligible_period}")
    click.echo(
        f"  Paiement intégral : pénalités {c.integral_penalites} %, "
        f"astreintes {c.integral_astreintes} %"
    )
    for t in c.tiers:
        bound = f"≤ {t.max_echeances} échéances" if t.max_echeances else "au-delà"
        click.echo(
            f"  Acomptes {bound} : pénalités {t.taux_penalites} %, astreintes {t.taux_astreintes} %"
        )
    click.echo(f"  Nombre maximal d'échéances : {c.max_echeances}")
    click.echo(f"  Majoration mensuelle pendant l'échéancier : {c.plan_surcharge_rate} %")
    click.echo(f"  Délai de dépôt des garanties : {c.guarantee_days} jours")


def _rates(text: str, option: str) -> Rates:
    """'60/90' -> Rates(60.00, 90.00)."""
    try:
        pen, ast = (parse_amount(part) for part in text.split("/"))
    except (ValueError, AmountError):
        fail(f"{option} : attendu PENALITES/ASTREINTES en %, par ex. 60/90")
    if pen > 100 or ast > 100:
        fail(f"{option} : un taux ne dépasse pas 100 %")
    return Rates(pen, ast)


@campaign_group.command("set")
@click.argument("code", required=False)
@click.option("--label")
@click.option("--opens", help="YYYY-MM-DD")
@click.option("--closes", help="YYYY-MM-DD")
@click.option("--last-period", help="YYYYMM")
@click.option("--integral", help="PENALITES/ASTREINTES, e.g. 60/90")
@click.option("--tier", "tiers", multiple=True, help="MAX:PEN/AST, e.g. 24:50/80; last ':40/70'")
@click.option("--max-echeances", type=int)
@click.option("--surcharge-rate", help="Monthly surcharge rate during a plan, in %")
@click.option("--guarantee-days", type=int)
def campaign_set(
    code,
    label,
    opens,
    closes,
    last_period,
    integral,
    tiers,
    max_echeances,
    surcharge_rate,
    guarantee_days,
) -> None:
    """Change a campaign's parameters (default: the active one)."""
    c = _campaign_or_fail(code)
    before = _campaign_settings(c)
    if label is not None:
        if not label.strip():
            fail("--label : libellé vide")
        c.label = label.strip()
    for option, value, attr in (("--opens", opens, "opens_on"), ("--closes", closes, "closes_on")):
        if value is not None:
            try:
                setattr(c, attr, date.fromisoformat(value))
            except ValueError:
                fail(f"{option} : date invalide « {value} » (AAAA-MM-JJ)")
    if c.closes_on < c.opens_on:
        fail("la date de clôture précède la date d'ouverture")
    if last_period is not None:
        if not is_valid_period(last_period):
            fail(f"--last-period : période invalide « {last_period} » (AAAAMM)")
        c.last_eligible_period = last_period
    if integral is not None:
        rates = _rates(integral, "--integral")
        c.integral_penalites, c.integral_astreintes = rates.penalites, rates.astreintes
    if tiers:
        parsed = []
        for spec in tiers:
            bound, _, rates_text = spec.partition(":")
            if bound and not bound.isdigit():
                fail(f"--tier : borne invalide « {bound} »")
            parsed.append((int(bound) if bound else None, _rates(rates_text, "--tier")))
        bounds = [b for b, _ in parsed]
        if bounds[-1] is not None or None in bounds[:-1] or bounds[:-1] != sorted(bounds[:-1]):
            fail("--tier : bornes croissantes, la dernière sans borne (ex. 24:50/80 :40/70)")
        c.tiers = [
            CampaignTier(
                position=i,
                max_echeances=b,
                taux_penalites=r.penalites,
                taux_astreintes=r.astreintes,
            )
            for i, (b, r) in enumerate(parsed)
        ]
    if max_echeances is not None:
        if not 1 <= max_echeances <= 240:
            fail("--max-echeances : entre 1 et 240")
        c.max_echeances = max_echeances
    if surcharge_rate is not None:
        try:
            c.plan_surcharge_rate = parse_amount(surcharge_rate)
        except AmountError:
            fail("--surcharge-rate : taux invalide")
    if guarantee_days is not None:
        if not 1 <= guarantee_days <= 365:
            fail("--guarantee-days : entre 1 et 365")
        c.guarantee_days = guarantee_days
    after = _campaign_settings(c)
    changes = [f"{k} : {before[k]} → {after[k]}" for k in after if before[k] != after[k]]
    if changes:
        operators.record("campaign.set", c.code, " ; ".join(changes))
    operators.commit()
    click.echo(f"Campagne {c.code} mise à jour.")


def _campaign_settings(c: Campaign) -> dict[str, str]:
    """What ``campaign set`` can change, as text: the audit trail says before → after."""
    return {
        "libellé": c.label,
        "ouverture": c.opens_on.isoformat(),
        "clôture": c.closes_on.isoformat(),
        "dernière période": c.last_eligible_period,
        "intégral": f"{c.integral_penalites}/{c.integral_astreintes}",
        "paliers": " ".join(
            f"{t.max_echeances or ''}:{t.taux_penalites}/{t.taux_astreintes}" for t in c.tiers
        ),
        "échéances max": str(c.max_echeances),
        "majoration": str(c.plan_surcharge_rate),
        "délai garanties": str(c.guarantee_days),
    }
