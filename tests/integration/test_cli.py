"""CLI commands: simulate, create-user, seed-demo, campaign show|set."""

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from db.models import Affilie, Campaign, User
from extensions import db


def test_simulate_json_gives_the_worked_instalments_example(runner):
    result = runner.invoke(
        args=[
            "simulate",
            "4317542",
            "--acomptes",
            "2",
            "--avance",
            "5000",
            "--date",
            "2023-11-20",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == {
        "affiliation": "4317542",
        "modalite": "acomptes",
        "creance_totale": "27707.49",
        "principal": "16193.77",
        "penalites_frais": "11513.72",
        "astreintes": "0.00",
        "taux_penalites": "50.00",
        "taux_astreintes": "80.00",
        "remise": "5756.86",
        "montant_a_payer": "21950.63",
        "avance": "5000.00",
        "nombre_echeances": 2,
        "mensualite": "8475.32",
        "majorations_generees": "139.12",
        "echeances": [
            {"rang": 0, "date": "2023-12-10", "montant": "5000.00"},
            {"rang": 1, "date": "2024-01-10", "montant": "8475.32"},
            {"rang": 2, "date": "2024-02-10", "montant": "8475.31"},
        ],
    }


def test_simulate_json_full_payment_example(runner):
    result = runner.invoke(args=["simulate", "2145873", "--json", "--date", "2023-11-20"])
    data = json.loads(result.output)
    assert (data["modalite"], data["creance_totale"], data["principal"]) == (
        "integral",
        "114664.08",
        "57051.95",
    )
    assert (data["penalites_frais"], data["taux_penalites"], data["taux_astreintes"]) == (
        "57612.13",
        "60.00",
        "90.00",
    )
    assert (data["remise"], data["montant_a_payer"], data["echeances"]) == (
        "34567.28",
        "80096.80",
        [],
    )


def test_simulate_text_output(runner):
    result = runner.invoke(args=["simulate", "2145873", "--date", "2023-11-20"])
    assert result.exit_code == 0
    assert "Montant de la remise" in result.output and "34 567,28 MAD" in result.output
    assert "80 096,80 MAD" in result.output


def test_simulate_astreintes_use_their_own_rate(runner):
    result = runner.invoke(args=["simulate", "3021458", "--json", "--date", "2023-11-20"])
    data = json.loads(result.output)
    # M = 3150.40 + 790.10 + 120.00 = 4060.50 ; A = 2400.00 + 1300.50 = 3700.50
    assert (data["penalites_frais"], data["astreintes"]) == ("4060.50", "3700.50")
    # round(4060.50 x 60 %) + round(3700.50 x 90 %) = 2436.30 + 3330.45
    assert data["remise"] == "5766.75"


def test_simulate_ignores_periods_after_the_campaign(runner):
    # 2145873 also owes 1 500,00 for 2025 periods: current debt, not in the remise.
    data = json.loads(runner.invoke(args=["simulate", "2145873", "--json"]).output)
    assert data["principal"] == "57051.95"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "12345"], "Erreur : numéro d'affiliation invalide « 12345 » (7 chiffres)"),
        (["simulate", "1111111"], "Erreur : affilié inconnu « 1111111 »"),
        (
            ["simulate", "4317542", "--acomptes", "0"],
            "Erreur : le nombre d'échéances doit être compris entre 1 et 60",
        ),
        (
            ["simulate", "4317542", "--acomptes", "61"],
            "Erreur : le nombre d'échéances doit être compris entre 1 et 60",
        ),
        (
            ["simulate", "4317542", "--acomptes", "6", "--avance", "abc"],
            "Erreur : --avance : montant invalide",
        ),
        (
            ["simulate", "4317542", "--acomptes", "6", "--avance", "1,234"],
            "Erreur : --avance : 2 décimales au plus",
        ),
        (
            ["simulate", "4317542", "--acomptes", "6", "--avance", "-5"],
            "Erreur : --avance : le montant ne peut pas être négatif",
        ),
        (
            ["simulate", "4317542", "--acomptes", "6", "--avance", "21950.63"],
            "Erreur : l'avance doit être inférieure au montant à payer",
        ),
        (
            ["simulate", "4317542", "--avance", "100"],
            "Erreur : --avance ne s'emploie qu'avec --acomptes",
        ),
        (
            ["simulate", "4317542", "--date", "2023-13-01"],
            "Erreur : date invalide « 2023-13-01 » (AAAA-MM-JJ)",
        ),
        (
            ["simulate", "4317542", "--date", "2023-11-06"],
            "Erreur : la campagne « Remise suite à la décision ministérielle N° 05/2023 du "
            "17/10/2023 » n'est pas ouverte le 06/11/2023 (07/11/2023 – 31/12/2030)",
        ),
    ],
)
def test_simulate_refuses_bad_arguments(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output


def test_create_user_agent_and_affiliate(runner):
    result = runner.invoke(
        args=[
            "create-user",
            "agent.fes",
            "--role",
            "agent",
            "--perception",
            "Perception Rabat Agdal",
            "--password-stdin",
        ],
        input="un-mot-de-passe\n",
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "create-user",
            "duo",
            "--role",
            "affilie",
            "--affiliations",
            "4317542,2145873",
            "--password-stdin",
        ],
        input="un-mot-de-passe\n",
    )
    assert result.exit_code == 0, result.output
    agent = db.session.scalars(select(User).where(User.login == "agent.fes")).one()
    assert agent.perception.name == "Perception Rabat Agdal"
    assert agent.check_password("un-mot-de-passe")
    assert agent.password_hash.startswith("scrypt:")
    duo = db.session.scalars(select(User).where(User.login == "duo")).one()
    assert [a.numero for a in duo.affilies] == ["2145873", "4317542"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            [
                "create-user",
                "x",
                "--role",
                "agent",
                "--perception",
                "Nulle part",
                "--password-stdin",
            ],
            "motdepasse1\n",
            "perception inconnue « Nulle part »",
        ),
        (
            [
                "create-user",
                "x",
                "--role",
                "affilie",
                "--affiliations",
                "9999999",
                "--password-stdin",
            ],
            "motdepasse1\n",
            "affilié(s) inconnu(s) : 9999999",
        ),
        (
            [
                "create-user",
                "groupe",
                "--role",
                "affilie",
                "--affiliations",
                "4317542",
                "--password-stdin",
            ],
            "motdepasse1\n",
            "l'utilisateur « groupe » existe déjà",
        ),
        (
            [
                "create-user",
                "x",
                "--role",
                "affilie",
                "--affiliations",
                "4317542",
                "--password-stdin",
            ],
            "court\n",
            "au moins 8 caractères",
        ),
    ],
)
def test_create_user_refusals(runner, args, stdin, message):
    before = db.session.scalar(select(func.count()).select_from(User))
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code == 1
    assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_seed_demo_is_idempotent(runner):
    before = db.session.scalar(select(func.count()).select_from(Affilie))
    result = runner.invoke(args=["seed-demo"])
    assert "déjà présentes" in result.output
    assert db.session.scalar(select(func.count()).select_from(Affilie)) == before == 55


def test_campaign_show(runner):
    result = runner.invoke(args=["campaign", "show"])
    assert result.exit_code == 0
    assert "Remise suite à la décision ministérielle N° 05/2023 du 17/10/2023" in result.output
    assert "Paiement intégral : pénalités 60.00 %, astreintes 90.00 %" in result.output
    assert "Acomptes ≤ 24 échéances : pénalités 50.00 %, astreintes 80.00 %" in result.output
    assert "Acomptes au-delà : pénalités 40.00 %, astreintes 70.00 %" in result.output
    assert "Dernière période éligible : 202412" in result.output


def test_campaign_set_changes_rates_and_dates(runner):
    result = runner.invoke(
        args=[
            "campaign",
            "set",
            "--closes",
            "2025-01-15",
            "--tier",
            "12:55/85",
            "--tier",
            ":45/75",
            "--max-echeances",
            "36",
        ]
    )
    assert result.exit_code == 0, result.output
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.closes_on == date(2025, 1, 15)
    rules = campaign.rules()
    assert str(rules.rates_for(12).penalites) == "55.00"
    assert str(rules.rates_for(13).astreintes) == "75.00"
    assert rules.max_echeances == 36
    closed = runner.invoke(args=["simulate", "4317542", "--date", "2025-01-16"])
    assert closed.exit_code == 1
    assert "n'est pas ouverte le 16/01/2025" in closed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["campaign", "set", "--opens", "2023-02-30"], "--opens : date invalide « 2023-02-30 »"),
        (
            ["campaign", "set", "--closes", "2020-01-01"],
            "la date de clôture précède la date d'ouverture",
        ),
        (["campaign", "set", "--tier", "24:50/80"], "--tier : bornes croissantes"),
        (["campaign", "set", "--integral", "60"], "--integral : attendu PENALITES/ASTREINTES"),
        (["campaign", "set", "--integral", "160/90"], "un taux ne dépasse pas 100 %"),
        (["campaign", "set", "--last-period", "202413"], "--last-period : période invalide"),
        (["campaign", "show", "99/2099"], "campagne inconnue « 99/2099 »"),
    ],
)
def test_campaign_set_refusals(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output
    db.session.rollback()
    assert db.session.scalars(select(Campaign)).one().closes_on == date(2030, 12, 31)
