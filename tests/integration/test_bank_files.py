"""The bank's files: the return file gives the very database state the agent's own rules
give (``apply_result`` then ``settle``, request by request) for any mix of paid and
rejected debits; hostile files and files over the upload's limit are refused cleanly;
the debit file's exact bytes."""

from __future__ import annotations

import random
import shutil
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from db.models import Affilie, AuditEvent, Demande, Echeance, Perception, Reintegration, User
from domain import lifecycle
from extensions import db
from services import backoffice
from tests.conftest import IS_POSTGRES, _pg_admin_engine, _pg_url, make_app
from tests.integration.back_office import AGENT_CASA, upload

CASA = "Perception Casablanca Anfa"
SOURCE = "fichier retour de la banque"
TODAY = datetime(2024, 4, 12, 9, 0)
NINE = time(9, 0)


# --- requests in prélèvement, drawn at random --------------------------------------------


def cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def debit_day(n: int) -> date:
    """The n-th debit day of a plan validated in November 2023: 10/12/2023, 10/01/2024…"""
    return date(2023 + (11 + n) // 12, (11 + n) % 12 + 1, 10)


def new_request(
    i: int, *, full: bool, remise: Decimal, majorations: Decimal, debits: list[tuple]
) -> Demande:
    """A request of Casablanca Anfa being debited, its figures copied from a demo request;
    ``debits``: its definitive schedule as (rang, day, montant, statut)."""
    model = db.session.scalars(select(Demande).order_by(Demande.id)).first()
    perception = db.session.scalars(select(Perception).where(Perception.name == CASA)).one()
    skip = {"id", "reference", "confirmation_token", "affilie_id", "perception_id", "recherche"}
    base = {c.name: getattr(model, c.name) for c in Demande.__table__.columns if c.name not in skip}
    affilie = Affilie(
        numero=f"{8100000 + i}",
        raison_sociale=f"SOCIÉTÉ DES ESSAIS {i}",
        regime="Régime général",
        perception_id=perception.id,
        date_situation=date(2023, 11, 8),
        date_arret_penalites=date(2023, 11, 8),
    )
    demande = Demande(
        **{
            **base,
            "reference": f"RM-2023-ESSAI{i:03d}",
            "confirmation_token": f"essai-{i}",
            "affilie": affilie,
            "numero_affiliation": affilie.numero,
            "raison_sociale": affilie.raison_sociale,
            "rib": f"190780{8100000 + i:018d}",
            "perception_id": perception.id,
            "status": lifecycle.ACCEPTEE if full else lifecycle.VALIDEE,
            "modalite": lifecycle.INTEGRAL if full else lifecycle.ACOMPTES,
            "remise": remise,
            "majorations_generees": majorations,
        }
    )
    demande.echeances = [
        Echeance(
            definitive=True,
            rang=rang,
            date_prevue=day,
            montant=montant,
            statut=statut,
            resultat_at=None if statut == lifecycle.A_PRELEVER else datetime.combine(day, NINE),
        )
        for rang, day, montant, statut in debits
    ]
    db.session.add(demande)
    return demande


def requests_in_prelevement(rng: random.Random, count: int) -> list[Demande]:
    """``count`` requests being debited: full payments (one debit) and plans (an avance and
    1 to 4 instalments, the first ones sometimes already paid), every debit due by TODAY,
    amounts to the centime."""
    made = []
    for i in range(count):
        full = rng.random() < 0.4
        rangs = [1] if full else list(range(rng.randint(2, 5)))
        paid = 0 if full else rng.randrange(len(rangs) - 1)
        debits = [
            (
                rang,
                debit_day(n),
                cents(rng, 100, 120_000),
                lifecycle.PAYEE if n < paid else lifecycle.A_PRELEVER,
            )
            for n, rang in enumerate(rangs)
        ]
        remise, majorations = cents(rng, 0, 90_000), cents(rng, 0, 3_000)
        made.append(
            new_request(i, full=full, remise=remise, majorations=majorations, debits=debits)
        )
    db.session.commit()
    return made


def bank_answer(rng: random.Random, made: list[Demande], rejected: float) -> list[tuple]:
    """(reference, rang, statut) of a random subset of the debits still due, in a random
    order: each rejected with probability ``rejected``; some requests get no line."""
    lines = []
    for demande in made:
        due = [e for e in demande.echeances if e.statut == lifecycle.A_PRELEVER]
        if rng.random() < 0.15:
            continue
        answered = due if rng.random() < 0.6 else due[: rng.randint(1, len(due))]
        for e in answered:
            statut = lifecycle.REJETEE if rng.random() < rejected else lifecycle.PAYEE
            lines.append((demande.reference, e.rang, statut))
    rng.shuffle(lines)
    return lines


def return_csv(lines: list[tuple]) -> str:
    return "reference,echeance,statut\n" + "".join(f"{r},{n},{s}\n" for r, n, s in lines)


def state() -> dict:
    """Everything a return file writes, without the rows' own ids."""
    session = db.session
    trail: dict[int, list[tuple]] = {}
    for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        row = (e.at, e.actor_id, e.actor_label, e.action, e.from_status, e.to_status, e.reason)
        trail.setdefault(e.demande_id, []).append(row)
    return {
        "demandes": session.execute(select(Demande.id, Demande.status).order_by(Demande.id)).all(),
        "echeances": session.execute(
            select(
                Echeance.demande_id,
                Echeance.definitive,
                Echeance.rang,
                Echeance.date_prevue,
                Echeance.montant,
                Echeance.statut,
                Echeance.resultat_at,
            ).order_by(Echeance.demande_id, Echeance.definitive, Echeance.rang)
        ).all(),
        "reintegrations": session.execute(
            select(
                Reintegration.demande_id,
                Reintegration.affilie_id,
                Reintegration.montant_remise,
                Reintegration.montant_majorations,
                Reintegration.montant_paye,
                Reintegration.at,
                Reintegration.by_id,
                Reintegration.by_label,
            ).order_by(Reintegration.demande_id)
        ).all(),
        "trail": trail,
    }


@pytest.fixture
def twin(database_url, clock):
    """``twin()``: a copy of the test's database as committed now, in an app of its own."""
    made: list[tuple] = []

    def copy():
        db.session.remove()
        db.engine.dispose()  # PostgreSQL copies a database nobody is connected to
        if IS_POSTGRES:
            name = f"t_{uuid.uuid4().hex[:12]}"
            source = database_url.rsplit("/", 1)[1]
            with _pg_admin_engine().connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
            url = _pg_url(name)
        else:
            source = Path(database_url.removeprefix("sqlite:///"))
            target = source.with_name(f"twin-{uuid.uuid4().hex[:8]}.db")
            shutil.copyfile(source, target)
            url = f"sqlite:///{target}"
        app = make_app(url, clock)
        made.append((app, url))
        return app

    yield copy
    for app, url in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if IS_POSTGRES:
            with _pg_admin_engine().connect() as conn:
                name = url.rsplit("/", 1)[1]
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def recorded_by_the_agents_rules(lines: list[tuple], login: str | None) -> None:
    """The reference: each line through ``apply_result``, then ``settle`` for each request
    the file names, in the order of their ids, in one transaction."""
    actor = db.session.scalars(select(User).where(User.login == login)).one() if login else None
    touched = {}
    for reference, rang, statut in lines:
        demande = db.session.scalars(select(Demande).where(Demande.reference == reference)).one()
        echeance = backoffice.find_echeance(demande, rang)
        backoffice.apply_result(demande, echeance, statut, actor, SOURCE)
        touched[demande.id] = demande
    for demande_id in sorted(touched):
        backoffice.settle(touched[demande_id], actor)
    db.session.commit()


@pytest.mark.parametrize("through", ["upload", "command"])
@pytest.mark.parametrize(("seed", "rejected"), [(1, 0.0), (2, 0.15), (3, 0.5), (4, 1.0)])
def test_the_return_file_writes_what_the_agents_rules_write(
    app, client, auth, runner, clock, twin, tmp_path, through, seed, rejected
):
    rng = random.Random(seed)
    made = requests_in_prelevement(rng, 40)
    lines = bank_answer(rng, made, rejected)
    clock.set(TODAY)
    reference = twin()
    with reference.app_context():
        recorded_by_the_agents_rules(lines, AGENT_CASA if through == "upload" else None)
        expected = state()
    if through == "upload":
        auth.login(AGENT_CASA)
        response = client.post(
            "/perception/prelevements/retour",
            data={"fichier": (__import__("io").BytesIO(return_csv(lines).encode()), "r.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 303, response.get_data(as_text=True)
    else:
        path = tmp_path / "retour.csv"
        path.write_text(return_csv(lines))
        result = runner.invoke(args=["import-retour", str(path), "--perception", CASA])
        assert result.exit_code == 0, result.output
    got = state()
    # Each part apart first: a difference shows where it is.
    assert got["demandes"] == expected["demandes"]
    assert got["echeances"] == expected["echeances"]
    assert got["reintegrations"] == expected["reintegrations"]
    assert got["trail"] == expected["trail"]
    statuses = {s for _i, s in got["demandes"]}
    if rejected == 1.0:
        assert lifecycle.SOLDEE not in statuses and lifecycle.ANNULEE in statuses
    if rejected == 0.0:
        assert lifecycle.ANNULEE not in statuses and lifecycle.SOLDEE in statuses


def test_a_cancellation_to_the_centime(app, runner, clock, tmp_path):
    """A plan with its avance paid, one instalment paid and two rejected by the same file:
    cancelled once, from the first rejected, the paid amounts summed to the centime; the
    trail in the order of the file."""
    payee, due = lifecycle.PAYEE, lifecycle.A_PRELEVER
    demande = new_request(
        0,
        full=False,
        remise=Decimal("12345.67"),
        majorations=Decimal("0.01"),
        debits=[
            (0, date(2023, 12, 10), Decimal("5000.05"), payee),
            (1, date(2024, 1, 10), Decimal("1000.10"), due),
            (2, date(2024, 2, 10), Decimal("999.99"), due),
            (3, date(2024, 3, 10), Decimal("999.99"), due),
            (4, date(2024, 5, 10), Decimal("999.99"), due),
        ],
    )
    db.session.commit()
    clock.set(TODAY)
    ref = demande.reference
    path = tmp_path / "retour.csv"
    path.write_text(return_csv([(ref, 3, "rejetee"), (ref, 1, "payee"), (ref, 2, "rejetee")]))
    result = runner.invoke(args=["import-retour", str(path), "--perception", CASA])
    assert result.exit_code == 0, result.output
    got = state()
    assert dict(got["demandes"])[demande.id] == lifecycle.ANNULEE
    assert [tuple(r[2:]) for r in got["echeances"] if r[0] == demande.id] == [
        (0, date(2023, 12, 10), Decimal("5000.05"), "payee", datetime(2023, 12, 10, 9)),
        (1, date(2024, 1, 10), Decimal("1000.10"), "payee", TODAY),
        (2, date(2024, 2, 10), Decimal("999.99"), "rejetee", TODAY),
        (3, date(2024, 3, 10), Decimal("999.99"), "rejetee", TODAY),
        (4, date(2024, 5, 10), Decimal("999.99"), "a_prelever", None),
    ]
    assert got["reintegrations"] == [
        (
            demande.id,
            demande.affilie_id,
            Decimal("12345.67"),
            Decimal("0.01"),
            Decimal("6000.15"),
            TODAY,
            None,
            "Système",
        )
    ]
    assert got["trail"][demande.id][-4:] == [
        (
            TODAY,
            None,
            "Système",
            "prelevement",
            None,
            None,
            f"Prélèvement de l'échéance 3 du 10/03/2024 (999,99 MAD) : rejetée ({SOURCE})",
        ),
        (
            TODAY,
            None,
            "Système",
            "prelevement",
            None,
            None,
            f"Prélèvement de l'échéance 1 du 10/01/2024 (1 000,10 MAD) : payée ({SOURCE})",
        ),
        (
            TODAY,
            None,
            "Système",
            "prelevement",
            None,
            None,
            f"Prélèvement de l'échéance 2 du 10/02/2024 (999,99 MAD) : rejetée ({SOURCE})",
        ),
        (
            TODAY,
            None,
            "Système",
            "defaut",
            "validee",
            "annulee",
            "Prélèvement rejeté (échéance 2 du 10/02/2024) : remise de 12 345,67 MAD et "
            "majorations générées de 0,01 MAD réintégrées (12 345,68 MAD)",
        ),
    ]


# --- hostile files and the upload's limit ----------------------------------------------


def test_a_nul_byte_is_refused_with_its_line_on_the_page(app, client, auth, clock):
    made = requests_in_prelevement(random.Random(5), 2)
    clock.set(TODAY)
    before = state()
    ref = made[0].reference
    due = next(e.rang for e in made[0].echeances if e.statut == lifecycle.A_PRELEVER)
    auth.login(AGENT_CASA)
    page = upload(
        client,
        f"reference,echeance,statut\n{ref},{due},payee\n{ref},{due},pay\x00ee\n"
        "RM-2023-INCONNU1,1,payee\n\x00\n",
    )
    assert page.status == 422
    assert page.field_error("fichier") == (
        "Le fichier contient des erreurs : aucun résultat n'a été enregistré."
    )
    assert page.by_id("erreurs-fichier").split("Ligne ")[1:] == [
        "3 : caractère nul (ce n'est pas un fichier retour CSV). ",
        "4, champ reference : demande « RM-2023-INCONNU1 » inconnue dans votre perception. ",
        "5 : caractère nul (ce n'est pas un fichier retour CSV).",
    ]
    assert state() == before


def test_a_nul_byte_is_refused_with_its_line_on_the_command_line(app, runner, clock, tmp_path):
    made = requests_in_prelevement(random.Random(5), 2)
    clock.set(TODAY)
    before = state()
    path = tmp_path / "retour.csv"
    path.write_bytes(f"reference,echeance,statut\n{made[0].reference},\x001,payee\n".encode())
    for dry_run in ((), ("--dry-run",)):
        result = runner.invoke(args=["import-retour", str(path), "--perception", CASA, *dry_run])
        assert result.exit_code == 1, result.exception
        assert result.stderr.splitlines() == [
            "Erreur : Ligne 2 : caractère nul (ce n'est pas un fichier retour CSV).",
            "Rien n'a été enregistré.",
        ]
    assert state() == before


def test_the_upload_refuses_a_file_over_its_limit_next_to_the_field(app, client, auth, clock):
    from blueprints.perception import MAX_RETURN_LINES

    made = requests_in_prelevement(random.Random(6), 1)
    clock.set(TODAY)
    before = state()
    good = f"{made[0].reference},1,payee\n"
    # Short lines: the test client's own body stays under its 500 KB spool.
    over = "reference,echeance,statut\n" + good + "X,1,payee\n" * MAX_RETURN_LINES
    auth.login(AGENT_CASA)
    page = upload(client, over)
    assert page.status == 422
    assert page.field_error("fichier") == (
        f"Le fichier compte plus de {MAX_RETURN_LINES:,} lignes : aucun résultat n'a été "
        "enregistré. Un fichier plus long s'enregistre par la commande flask import-retour."
    ).replace(",", "\u202f", 1)
    assert not page.ids.get("erreurs-fichier")
    assert state() == before
    # In Arabic, the same figure as the page writes figures.
    client.post("/langue", data={"lang": "ar"})
    page = upload(client, over)
    assert page.status == 422
    arabic = (
        f"يتضمن الملف أكثر من {MAX_RETURN_LINES:,} سطر: لم تُسجَّل أي نتيجة. "
        "يُسجَّل الملف الأطول بواسطة الأمر flask import-retour."
    )
    assert page.field_error("fichier").endswith(arabic.replace(",", "."))
    client.post("/langue", data={"lang": "fr"})
    # At the limit, the file is read and checked (its unknown references are refused).
    page = upload(client, over.replace("X,1,payee\n", "", 1))
    assert page.status == 422
    assert page.by_id("erreurs-fichier").startswith(
        "Lignes refusées Ligne 3, champ reference : demande « X » inconnue"
    )
    assert state() == before


# --- the debit file ---------------------------------------------------------------------


def test_the_debit_file_is_exactly_its_lines_each_ended(app, runner, clock, tmp_path):
    payee, due = lifecycle.PAYEE, lifecycle.A_PRELEVER
    day = date(2024, 1, 10)
    for i, full, debits in (
        (2, True, [(1, day, Decimal("80096.80"), due)]),
        (
            1,
            False,
            [(0, date(2023, 12, 10), Decimal("5000.00"), payee), (1, day, Decimal("0.05"), due)],
        ),
        (
            3,
            False,
            [(0, day, Decimal("1234567.89"), due), (1, date(2024, 2, 10), Decimal("10.00"), due)],
        ),
        (4, True, [(1, day, Decimal("10.00"), payee)]),
    ):
        new_request(i, full=full, remise=Decimal(0), majorations=Decimal(0), debits=debits)
    db.session.commit()
    ribs = dict(db.session.execute(select(Demande.reference, Demande.rib)).all())
    expected = (
        "reference,affiliation,rib,montant,echeance\n"
        f"RM-2023-ESSAI001,8100001,{ribs['RM-2023-ESSAI001']},0.05,1\n"
        f"RM-2023-ESSAI002,8100002,{ribs['RM-2023-ESSAI002']},80096.80,1\n"
        f"RM-2023-ESSAI003,8100003,{ribs['RM-2023-ESSAI003']},1234567.89,0\n"
    )
    result = runner.invoke(args=["debit-file", "--date", "2024-01-10"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == expected.encode()
    path = tmp_path / "debits.csv"
    result = runner.invoke(args=["debit-file", "--date", "2024-01-10", "--output", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == expected.encode()
    assert result.stdout_bytes == b""
    assert result.stderr.endswith(" s.\n")
    # A day without debits: the header, ended too.
    result = runner.invoke(args=["debit-file", "--date", "2024-03-10"])
    assert result.stdout_bytes == b"reference,affiliation,rib,montant,echeance\n"
