"""``flask import-data DIR``: affiliés, RIBs and créance lines from CSV, all or nothing."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from db.models import LigneCreance, Perception
from extensions import db
from services import queries
from tests.conftest import IS_POSTGRES
from tests.integration.import_files import (
    CREANCES_HEADER,
    ICE,
    NEW,
    RIB,
    counts,
    errors,
    good_batch,
    import_data,
    write,
)


def test_import_creates_affilie_rib_and_lines(runner, tmp_path):
    write(tmp_path, good_batch())
    before = counts()

    result = import_data(runner, tmp_path)

    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"Import terminé : 1 affilié\(s\), 1 RIB, 4 ligne\(s\) de créance en [0-9]+,[0-9] s\.\n",
        result.output,
    )
    assert counts() == {
        "Affilie": before["Affilie"] + 1,
        "LigneCreance": before["LigneCreance"] + 4,
        "CompteBancaire": before["CompteBancaire"] + 1,
        "Perception": before["Perception"] + 1,
    }
    affilie = queries.affilie_by_numero(NEW)
    assert (affilie.raison_sociale, affilie.ice, affilie.arrangement) == (
        "SAISS CERAMIQUE",
        ICE,
        False,
    )
    assert affilie.perception.name == "Perception Fès Saïss"
    assert [(c.rib, c.banque) for c in affilie.comptes] == [(RIB, "Bank of Africa")]
    consolidation = queries.consolidation_for(affilie, "202412")
    assert consolidation.cell("principal", "CSS") == Decimal("1000.00")
    assert consolidation.cell("majorations", "CSS") == Decimal("250.50")
    assert consolidation.cell("majorations", "AST_BDS") == Decimal("80.00")
    assert consolidation.cell("principal", "AMO") == Decimal("0.00")
    assert (consolidation.periode_debut, consolidation.periode_fin) == ("201901", "202312")


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL's planner statistics")
def test_an_import_refreshes_the_lines_statistics_at_once(runner, tmp_path):
    write(tmp_path, good_batch())
    assert import_data(runner, tmp_path).exit_code == 0
    estimated = db.session.scalar(
        text("SELECT reltuples FROM pg_class WHERE relname = 'lignes_creance'")
    )
    assert estimated == db.session.scalar(select(func.count()).select_from(LigneCreance))


def test_reimport_is_idempotent_and_replaces_the_lines(runner, tmp_path):
    """A new creances.csv is a new situation: it replaces the affilié's lines, not adds."""
    write(tmp_path, good_batch())
    assert import_data(runner, tmp_path).exit_code == 0
    after_first = counts()
    assert import_data(runner, tmp_path).exit_code == 0
    assert counts() == after_first

    guide = queries.affilie_by_numero("4317542")
    other = queries.affilie_by_numero("2145873")
    other_before = queries.consolidation_for(other, "202412")
    (tmp_path / "affilies.csv").unlink()
    (tmp_path / "ribs.csv").unlink()
    write(
        tmp_path,
        {
            "creances.csv": [
                CREANCES_HEADER,
                "4317542,202201,CSS,principal,5000.00",
                "4317542,202305,CSS,majorations,1200.40",
            ]
        },
    )

    result = import_data(runner, tmp_path)

    assert result.exit_code == 0, result.output
    assert "0 affilié(s), 0 RIB, 2 ligne(s) de créance" in result.output
    lines = db.session.scalars(
        select(LigneCreance).where(LigneCreance.affilie_id == guide.id)
    ).all()
    assert sorted((line.periode, line.montant) for line in lines) == [
        ("202201", Decimal("5000.00")),
        ("202305", Decimal("1200.40")),
    ]
    consolidation = queries.consolidation_for(guide, "202412")
    assert consolidation.total == Decimal("6200.40")
    assert (consolidation.periode_debut, consolidation.periode_fin) == ("202201", "202305")
    assert queries.consolidation_for(other, "202412") == other_before


# (file, line number to replace or, one past the end, to add; its text; the one error)
BAD_ROWS = {
    "bad period": (
        "creances.csv",
        3,
        f"{NEW},202313,CSS,majorations,250.50",
        "creances.csv, ligne 3, champ periode : période invalide « 202313 » (AAAAMM)",
    ),
    "unknown rubrique": (
        "creances.csv",
        2,
        f"{NEW},201901,CNSS,principal,1000.00",
        "creances.csv, ligne 2, champ rubrique : rubrique inconnue « CNSS » "
        "(attendu CSS AMO TFP AF AST_BDS AST_TDTP)",
    ),
    "unknown nature": (
        "creances.csv",
        2,
        f"{NEW},201901,CSS,penalites,1000.00",
        "creances.csv, ligne 2, champ nature : nature inconnue « penalites » "
        "(attendu principal majorations frais)",
    ),
    "3 decimals": (
        "creances.csv",
        4,
        f"{NEW},202312,AST_BDS,majorations,12.345",
        "creances.csv, ligne 4, champ montant : 2 décimales au plus « 12.345 »",
    ),
    "decimal comma": (
        "creances.csv",
        2,
        f'{NEW},201901,CSS,principal,"1000,00"',
        "creances.csv, ligne 2, champ montant : montant invalide « 1000,00 »",
    ),
    "amount beyond NUMERIC(14, 2)": (
        "creances.csv",
        2,
        f"{NEW},201901,CSS,principal,1234567890123.45",
        "creances.csv, ligne 2, champ montant : montant trop grand « 1234567890123.45 » "
        "(12 chiffres avant la virgule au plus)",
    ),
    "unknown affiliation in creances": (
        "creances.csv",
        6,
        "1234567,202301,CSS,principal,10.00",
        "creances.csv, ligne 6, champ numero_affiliation : affilié inconnu « 1234567 »",
    ),
    "missing column": (
        "creances.csv",
        1,
        "numero_affiliation,periode,rubrique,montant",
        "creances.csv, ligne 1 : colonne manquante : nature",
    ),
    "extra field": (
        "creances.csv",
        3,
        f"{NEW},202312,CSS,majorations,250.50,oui",
        "creances.csv, ligne 3 : nombre de champs incorrect",
    ),
    "missing field": (
        "creances.csv",
        5,
        f"{NEW},202502,AMO,principal",
        "creances.csv, ligne 5 : nombre de champs incorrect",
    ),
    "bad RIB key": (
        "ribs.csv",
        2,
        f"{NEW},{RIB[:22]}{(int(RIB[22:]) + 1) % 100:02d},Bank of Africa",
        "ribs.csv, ligne 2, champ rib : RIB invalide (24 chiffres, clé modulo 97)",
    ),
    "RIB of 23 digits": (
        "ribs.csv",
        2,
        f"{NEW},{RIB[1:]},Bank of Africa",
        "ribs.csv, ligne 2, champ rib : RIB invalide (24 chiffres, clé modulo 97)",
    ),
    "bad ICE": (
        "affilies.csv",
        3,
        f"7111111,RIF MARBRE,AMO,{ICE[:13]}{(int(ICE[13:]) + 1) % 100:02d},"
        "Perception Rabat Agdal,2023-11-08,2023-11-08,non",
        "affilies.csv, ligne 3, champ ice : ICE invalide (15 chiffres, clé ISO 7064)",
    ),
    "6-digit affiliation": (
        "affilies.csv",
        3,
        "711111,RIF MARBRE,AMO,,Perception Rabat Agdal,2023-11-08,2023-11-08,non",
        "affilies.csv, ligne 3, champ numero_affiliation : 7 chiffres attendus",
    ),
    "non-ASCII digits in affiliation": (
        "affilies.csv",
        3,
        "٧١١١١١١,RIF MARBRE,AMO,,Perception Rabat Agdal,2023-11-08,2023-11-08,non",
        "affilies.csv, ligne 3, champ numero_affiliation : 7 chiffres attendus",
    ),
    "date not AAAA-MM-JJ": (
        "affilies.csv",
        3,
        "7111111,RIF MARBRE,AMO,,Perception Rabat Agdal,08/11/2023,2023-W45-3,non",
        "affilies.csv, ligne 3, champ date_situation : date invalide (AAAA-MM-JJ)",
        "affilies.csv, ligne 3, champ date_arret_penalites : date invalide (AAAA-MM-JJ)",
    ),
    "duplicate affilié": (
        "affilies.csv",
        3,
        f"{NEW},SAISS CERAMIQUE BIS,AMO,,Perception Rabat Agdal,2023-11-08,2023-11-08,non",
        "affilies.csv, ligne 3, champ numero_affiliation : affilié en double",
    ),
    "unknown affiliation in ribs": (
        "ribs.csv",
        3,
        f"7654321,{RIB},Bank of Africa",
        "ribs.csv, ligne 3, champ numero_affiliation : affilié inconnu « 7654321 »",
    ),
}


# Imported text is clean text: a control character (C0, C1, format, line or paragraph
# separator) inside a name would reach the pages, the CSV and the calendar file raw.
CONTROL_CHARACTERS = {
    "tab": "\t",
    "CR": "\r",
    "VT": "\x0b",
    "FF": "\x0c",
    "NEL": "\x85",
    "LINE SEPARATOR": "\u2028",
    "PARAGRAPH SEPARATOR": "\u2029",
    "FS": "\x1c",
    "GS": "\x1d",
    "RS": "\x1e",
    "ESC": "\x1b",
    "zero width space": "\u200b",
    "right-to-left override": "\u202e",
}
for label, char in CONTROL_CHARACTERS.items():
    code = f"U+{ord(char):04X}"
    BAD_ROWS[f"{label} in raison_sociale"] = (
        "affilies.csv",
        3,
        f"7111111,RIF{char}MARBRE,Régime général,,Perception Rabat Agdal,2023-11-08,2023-11-08,non",
        f"affilies.csv, ligne 3, champ raison_sociale : caractère de contrôle {code} "
        "(ni tabulation ni saut de ligne dans un texte)",
    )
BAD_ROWS["control character in regime and perception"] = (
    "affilies.csv",
    3,
    "7111111,RIF MARBRE,Régime\x0bgénéral,,Perception\x85Rabat,2023-11-08,2023-11-08,non",
    "affilies.csv, ligne 3, champ regime : caractère de contrôle U+000B "
    "(ni tabulation ni saut de ligne dans un texte)",
    "affilies.csv, ligne 3, champ perception : caractère de contrôle U+0085 "
    "(ni tabulation ni saut de ligne dans un texte)",
)
BAD_ROWS["control character in banque"] = (
    "ribs.csv",
    2,
    f"{NEW},{RIB},Bank\u2028ATTACH:of Africa",
    "ribs.csv, ligne 2, champ banque : caractère de contrôle U+2028 "
    "(ni tabulation ni saut de ligne dans un texte)",
)


@pytest.mark.parametrize(
    ("filename", "line", "text", "expected"),
    [(f, n, t, list(e)) for f, n, t, *e in BAD_ROWS.values()],
    ids=list(BAD_ROWS),
)
def test_bad_row_rejects_the_whole_import(runner, tmp_path, filename, line, text, expected):
    files = good_batch()
    files[filename][line - 1 : line] = [text]
    write(tmp_path, files)
    before = counts()

    result = import_data(runner, tmp_path)

    assert result.exit_code == 1
    assert errors(result.output) == [f"Erreur : {e}" for e in expected]
    assert result.output.endswith("Rien n'a été importé.\n")
    assert_nothing_written(before)


def test_non_utf8_file_is_rejected(runner, tmp_path):
    files = good_batch()
    write(tmp_path, {k: v for k, v in files.items() if k != "ribs.csv"})
    # Excel's "CSV" on Windows: Latin-1, not UTF-8.
    write(
        tmp_path, {"ribs.csv": files["ribs.csv"][:1] + [f"{NEW},{RIB},Société Générale"]}, "cp1252"
    )
    before = counts()

    result = import_data(runner, tmp_path)

    assert result.exit_code == 1
    assert errors(result.output) == ["Erreur : ribs.csv : le fichier n'est pas en UTF-8"]
    assert result.output.endswith("Rien n'a été importé.\n")
    assert_nothing_written(before)


def test_every_bad_row_is_listed(runner, tmp_path):
    files = good_batch()
    files["creances.csv"][2:4] = [
        f"{NEW},202313,CSS,majorations,250.50",
        f"{NEW},202312,XX,frais,1.001",
    ]
    write(tmp_path, files)
    before = counts()

    result = import_data(runner, tmp_path)

    assert result.exit_code == 1
    assert errors(result.output) == [
        "Erreur : creances.csv, ligne 3, champ periode : période invalide « 202313 » (AAAAMM)",
        "Erreur : creances.csv, ligne 4, champ rubrique : rubrique inconnue « XX » "
        "(attendu CSS AMO TFP AF AST_BDS AST_TDTP)",
        "Erreur : creances.csv, ligne 4, champ montant : 2 décimales au plus « 1.001 »",
    ]
    assert_nothing_written(before)


def test_directory_without_any_file(runner, tmp_path):
    result = import_data(runner, tmp_path)
    assert result.exit_code == 1
    assert "aucun des fichiers affilies.csv, ribs.csv, creances.csv" in result.output
    assert "Rien n'a été importé." in result.output


def assert_nothing_written(before: dict[str, int]) -> None:
    db.session.rollback()
    assert counts() == before
    # The valid affilié of the same batch was not written either.
    assert queries.affilie_by_numero(NEW) is None
    assert not db.session.scalar(
        select(func.count()).select_from(Perception).where(Perception.name.like("%Fès%"))
    )
