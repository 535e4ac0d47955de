"""The import at volume: hostile files, all or nothing at the last line, bounded memory,
readers during an import, and the lines' version of exactly the affiliés that changed."""

from __future__ import annotations

import csv
import threading
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from bench.scale import generate
from db.models import Affilie, CompteBancaire, LigneCreance
from domain.identifiers import rib_with_key
from extensions import db
from services.csv_lines import MAX_LINE_BYTES
from services.importer import AFFILIES_COLUMNS, MAX_REPORTED, ImportError_, import_directory
from tests.conftest import IS_POSTGRES
from tests.integration.import_files import (
    CREANCES_HEADER,
    NEW,
    counts,
    errors,
    good_batch,
    import_data,
    write,
)

# --- hostile files ------------------------------------------------------------------------


def write_creances(directory: Path, body: bytes) -> None:
    """The good batch, with creances.csv replaced by these bytes."""
    files = good_batch()
    del files["creances.csv"]
    write(directory, files)
    (directory / "creances.csv").write_bytes(body)


GOOD_LINES = [f"{NEW},201901,CSS,principal,1000.00", f"{NEW},202312,CSS,majorations,250.5"]

# (the file's bytes, the error lines expected)
REFUSED = {
    "Latin-1": (
        (CREANCES_HEADER + "\n" + GOOD_LINES[0] + ",é\n").encode("latin-1"),
        ["creances.csv : le fichier n'est pas en UTF-8"],
    ),
    "header repeated mid-file": (
        "\n".join([CREANCES_HEADER, GOOD_LINES[0], CREANCES_HEADER, GOOD_LINES[1]]).encode(),
        ["creances.csv, ligne 3 : ligne d'en-tête répétée au milieu du fichier"],
    ),
    "extra column in the header": (
        "\n".join([CREANCES_HEADER + ",commentaire", GOOD_LINES[0] + ",x"]).encode(),
        [
            "creances.csv, ligne 1 : colonne inattendue : commentaire (colonnes attendues : "
            "numero_affiliation,periode,rubrique,nature,montant)"
        ],
    ),
    "missing field": (
        "\n".join([CREANCES_HEADER, f"{NEW},201901,CSS,1000.00", GOOD_LINES[1]]).encode(),
        ["creances.csv, ligne 2 : nombre de champs incorrect"],
    ),
    "extra field": (
        "\n".join([CREANCES_HEADER, GOOD_LINES[0], GOOD_LINES[1] + ",1"]).encode(),
        ["creances.csv, ligne 3 : nombre de champs incorrect"],
    ),
    "quoted newline": (
        "\n".join([CREANCES_HEADER, f'{NEW},201901,CSS,"princi', 'pal",1000.00']).encode(),
        [
            "creances.csv, ligne 2 : guillemet non fermé (un champ ne peut pas contenir de "
            "saut de ligne ni de guillemet seul)",
            "creances.csv, ligne 3 : nombre de champs incorrect",
        ],
    ),
    "unterminated quote on the last line": (
        "\n".join(
            [CREANCES_HEADER, GOOD_LINES[0], f'{NEW},202312,CSS,majorations,"250.5']
        ).encode(),
        [
            "creances.csv, ligne 3 : guillemet non fermé (un champ ne peut pas contenir de "
            "saut de ligne ni de guillemet seul)"
        ],
    ),
    "empty file": (b"", ["creances.csv : fichier vide (pas même la ligne d'en-tête)"]),
    "duplicate key": (
        "\n".join([CREANCES_HEADER, GOOD_LINES[0], GOOD_LINES[1], GOOD_LINES[0]]).encode(),
        [
            "creances.csv, ligne 4 : ligne en double (même affilié, période, rubrique et "
            "nature qu'à la ligne 2)"
        ],
    ),
    "thousands separator": (
        "\n".join([CREANCES_HEADER, f"{NEW},201901,CSS,principal,1 000.00"]).encode(),
        [
            "creances.csv, ligne 2, champ montant : séparateur de milliers (écrire 1234567.89) "
            "« 1 000.00 »"
        ],
    ),
    "quoted thousands separator": (
        "\n".join([CREANCES_HEADER, f'{NEW},201901,CSS,principal,"1,000.00"']).encode(),
        [
            "creances.csv, ligne 2, champ montant : séparateur de milliers (écrire 1234567.89) "
            "« 1,000.00 »"
        ],
    ),
    "NUL byte": (
        "\n".join([CREANCES_HEADER, GOOD_LINES[0] + "\x00"]).encode(),
        ["creances.csv, ligne 2 : caractère nul (le fichier n'est pas un texte CSV)"],
    ),
}


@pytest.mark.parametrize(("body", "expected"), list(REFUSED.values()), ids=list(REFUSED))
def test_a_hostile_file_is_refused_with_its_message(runner, tmp_path, body, expected):
    write_creances(tmp_path, body)
    before = counts()

    result = import_data(runner, tmp_path)

    assert result.exit_code == 1, result.output
    assert errors(result.output) == [f"Erreur : {e}" for e in expected]
    assert "Traceback" not in result.output
    assert result.output.endswith("Rien n'a été importé.\n")
    db.session.rollback()
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    [
        ("\ufeff" + CREANCES_HEADER + "\n" + "\n".join(GOOD_LINES) + "\n").encode(),
        (CREANCES_HEADER + "\r\n" + "\r\n".join(GOOD_LINES) + "\r\n").encode(),
        # Quoted fields, columns in another order, spaces around values, blank lines.
        (
            "montant,nature,rubrique,periode,numero_affiliation\n\n"
            f'"1000.00",principal,CSS,201901, {NEW}\n'
            f"250.5 ,majorations,CSS,202312,{NEW}\n"
        ).encode(),
    ],
    ids=["BOM", "CRLF", "quoted, reordered, spaced"],
)
def test_what_a_spreadsheet_adds_is_read_as_the_plain_file(runner, tmp_path, body):
    write_creances(tmp_path, body)

    result = import_data(runner, tmp_path)

    assert result.exit_code == 0, result.output
    affilie = db.session.scalars(select(Affilie).where(Affilie.numero == NEW)).one()
    lines = db.session.execute(
        select(LigneCreance.periode, LigneCreance.montant).where(
            LigneCreance.affilie_id == affilie.id
        )
    ).all()
    assert sorted(lines) == [("201901", Decimal("1000.00")), ("202312", Decimal("250.50"))]


def test_a_100_mb_line_is_refused_without_being_read_whole(app, tmp_path):
    write_creances(tmp_path, b"")
    with (tmp_path / "creances.csv").open("wb") as out:
        out.write((CREANCES_HEADER + "\n").encode())
        chunk = b"9" * (1 << 20)
        for _ in range(100):
            out.write(chunk)
        out.write(b"\n")
    tracemalloc.start()
    try:
        with pytest.raises(ImportError_) as refused:
            import_directory(tmp_path)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.errors == [
        f"creances.csv, ligne 2 : ligne de plus de {MAX_LINE_BYTES} octets (le fichier "
        "n'est pas un export CSV ligne à ligne)"
    ]
    assert peak < 5 * 1024 * 1024, f"{peak / 1e6:.1f} MB"


def test_the_first_bad_lines_are_shown_and_the_others_counted(runner, tmp_path):
    lines = [CREANCES_HEADER] + [f"{NEW},{2023 + n}13,CSS,frais,1" for n in range(250)]
    write_creances(tmp_path, ("\n".join(lines) + "\n").encode())

    result = import_data(runner, tmp_path)

    assert result.exit_code == 1
    shown = errors(result.output)
    assert len(shown) == MAX_REPORTED + 1
    assert shown[0] == (
        "Erreur : creances.csv, ligne 2, champ periode : période invalide « 202313 » (AAAAMM)"
    )
    assert shown[-1] == "Erreur : … et 150 autre(s) ligne(s) refusée(s)."


# --- the command -------------------------------------------------------------------------


def test_dry_run_checks_everything_and_changes_nothing(runner, tmp_path):
    write(tmp_path, good_batch())
    before = counts()

    result = runner.invoke(args=["import-data", str(tmp_path), "--dry-run"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "Vérification terminée, rien n'a été importé : 1 affilié(s), 1 RIB, 4 ligne(s)"
    )
    db.session.rollback()
    assert counts() == before


def test_a_bad_file_in_a_dry_run_is_reported_the_same(runner, tmp_path):
    files = good_batch()
    files["creances.csv"].append(f"{NEW},202313,CSS,frais,1")
    write(tmp_path, files)

    result = runner.invoke(args=["import-data", str(tmp_path), "--dry-run"])

    assert result.exit_code == 1
    assert errors(result.output) == [
        "Erreur : creances.csv, ligne 6, champ periode : période invalide « 202313 » (AAAAMM)"
    ]


def test_usage_errors_exit_with_2(runner, tmp_path):
    assert runner.invoke(args=["import-data", str(tmp_path / "absent")]).exit_code == 2
    assert runner.invoke(args=["import-data", str(tmp_path), "--bavard"]).exit_code == 2


def test_no_progress_bar_without_a_terminal(runner, tmp_path):
    write(tmp_path, good_batch())
    result = runner.invoke(args=["import-data", str(tmp_path)])
    assert result.exit_code == 0
    assert result.output.count("\n") == 1 and "\r" not in result.output


# --- the same state as the database's own --------------------------------------------------


def export_database(directory: Path) -> None:
    """The seeded database's affiliés, RIBs and lines, as the core system exports them."""
    rows = db.session.execute(
        select(Affilie).options(sa.orm.joinedload(Affilie.perception))
    ).scalars()
    with (directory / "affilies.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(AFFILIES_COLUMNS)
        for a in rows:
            writer.writerow(
                (
                    a.numero,
                    a.raison_sociale,
                    a.regime,
                    a.ice or "",
                    a.perception.name,
                    a.date_situation.isoformat(),
                    a.date_arret_penalites.isoformat(),
                    "oui" if a.arrangement else "non",
                )
            )
    with (directory / "ribs.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("numero_affiliation", "rib", "banque"))
        for numero, rib, banque in db.session.execute(
            select(Affilie.numero, CompteBancaire.rib, CompteBancaire.banque).join(
                CompteBancaire.affilie
            )
        ):
            writer.writerow((numero, rib, banque))
    with (directory / "creances.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CREANCES_HEADER.split(","))
        for numero, periode, rubrique, nature, montant in db.session.execute(
            select(
                Affilie.numero,
                LigneCreance.periode,
                LigneCreance.rubrique,
                LigneCreance.nature,
                LigneCreance.montant,
            ).join(Affilie, Affilie.id == LigneCreance.affilie_id)
        ):
            writer.writerow((numero, periode, rubrique, nature, f"{montant:.2f}"))


def state() -> dict:
    affilies = db.session.execute(
        select(
            Affilie.numero,
            Affilie.raison_sociale,
            Affilie.regime,
            Affilie.ice,
            Affilie.perception_id,
            Affilie.date_situation,
            Affilie.date_arret_penalites,
            Affilie.arrangement,
        )
    ).all()
    ribs = db.session.execute(
        select(CompteBancaire.affilie_id, CompteBancaire.rib, CompteBancaire.banque)
    ).all()
    lines = db.session.execute(
        select(
            LigneCreance.affilie_id,
            LigneCreance.periode,
            LigneCreance.rubrique,
            LigneCreance.nature,
            LigneCreance.montant,
        )
    ).all()
    return {"affilies": sorted(affilies), "ribs": sorted(ribs), "lines": sorted(lines)}


def jetons() -> dict[str, tuple[str, str]]:
    """{numéro: (its lines' version, its row's and RIBs' version)}."""
    rows = db.session.execute(select(Affilie.numero, Affilie.lignes_jeton, Affilie.jeton))
    return {numero: (lignes, jeton) for numero, lignes, jeton in rows}


def test_the_demo_data_exported_and_imported_is_the_same_state(runner, tmp_path):
    """Every affilié, RIB and line the demo wrote, read back through the import: the
    lines deleted first come back identical, and a second import changes nothing, not even
    a lignes_jeton or a jeton."""
    export_database(tmp_path)
    before = state()
    db.session.execute(sa.delete(LigneCreance))
    db.session.commit()

    result = import_data(runner, tmp_path)

    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert state() == before
    versions = jetons()
    assert import_data(runner, tmp_path).exit_code == 0
    db.session.expire_all()
    assert state() == before
    assert jetons() == versions


def test_only_the_affilies_whose_lines_changed_get_a_new_version(runner, tmp_path):
    export_database(tmp_path)
    versions = jetons()
    path = tmp_path / "creances.csv"
    lines = path.read_text().splitlines()
    # One amount of the guide's affilié changes; another affilié loses one line.
    guide = next(i for i, line in enumerate(lines) if line.startswith("4317542,"))
    numero, periode, rubrique, nature, montant = lines[guide].split(",")
    lines[guide] = f"{numero},{periode},{rubrique},{nature},{Decimal(montant) + 1}"
    other = next(i for i, line in enumerate(lines) if line.startswith("2145873,"))
    del lines[other]
    path.write_text("\n".join(lines) + "\n")

    assert import_data(runner, tmp_path).exit_code == 0

    db.session.expire_all()
    after = jetons()
    assert {n for n in after if after[n] != versions[n]} == {"4317542", "2145873"}


def test_a_changed_name_rib_or_line_gives_a_new_version_and_nothing_else_does(runner, tmp_path):
    """The version a kept panel is keyed on covers the affilié's lines, its own fields
    (raison sociale…) and its RIBs: each change gives exactly that affilié a new
    lignes_jeton, in the import's transaction; an unchanged affilié keeps its own."""
    export_database(tmp_path)
    versions = jetons()

    def edit(name: str, numero: str, change) -> None:
        path = tmp_path / name
        lines = path.read_text().splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{numero},"))
        lines[at] = change(lines[at])
        path.write_text("\n".join(lines) + "\n")

    # A new raison sociale, a new bank for a RIB, a new RIB, one amount.
    edit("affilies.csv", "4317542", lambda line: line.replace(",", ",NOUVEAU NOM ", 1))
    edit("ribs.csv", "2145873", lambda line: line.rsplit(",", 1)[0] + ",Autre Banque")
    with (tmp_path / "ribs.csv").open("a") as out:
        out.write(f"3021458,{rib_with_key('0117800000999999999999')},Bank of Africa\n")
    edit(
        "creances.csv",
        "5098213",
        lambda line: line.rsplit(",", 1)[0] + f",{Decimal(line.rsplit(',', 1)[1]) + 1}",
    )

    assert import_data(runner, tmp_path).exit_code == 0

    db.session.expire_all()
    after = jetons()
    assert {n for n in after if after[n] != versions[n]} == {
        "4317542",
        "2145873",
        "3021458",
        "5098213",
    }
    # The same files again: nothing changes, not even a version.
    assert import_data(runner, tmp_path).exit_code == 0
    db.session.expire_all()
    assert jetons() == after


def test_an_affilie_the_import_creates_comes_with_its_version(app, tmp_path):
    """A new affilié is written once, with its version; it counts among those changed."""
    export_database(tmp_path)
    versions = jetons()
    with (tmp_path / "affilies.csv").open("a", encoding="utf-8") as out:
        out.write("7654321,NOUVEL AFFILIÉ SARL,Régime général,,Perception Test,")
        out.write("2023-11-08,2023-11-08,non\n")
    with (tmp_path / "creances.csv").open("a", encoding="utf-8") as out:
        out.write("7654321,202301,CSS,principal,100.00\n7654321,202301,CSS,majorations,5.25\n")

    report = import_directory(tmp_path)

    db.session.expire_all()
    after = jetons()
    assert report.affilies_modifies == 1
    assert None not in after.pop("7654321")
    assert after == versions
    assert db.session.scalars(
        select(LigneCreance.montant)
        .join(Affilie)
        .where(Affilie.numero == "7654321")
        .order_by(LigneCreance.montant)
    ).all() == [Decimal("5.25"), Decimal("100.00")]


# --- volume: a bad last line, memory, a reader meanwhile ------------------------------------

# 300 000 lines on PostgreSQL (COPY, checked in SQL: a few seconds). SQLite checks each
# line in Python, ~10 times slower: 100 000 lines keep the suite's budget, and the bound
# below does not depend on the count (the whole-file reader grew ~1.3 KB a line).
VOLUME_LINES = 300_000 if IS_POSTGRES else 100_000
VOLUME_AFFILIES = VOLUME_LINES // 100


@pytest.fixture(scope="module")
def volume_export(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("volume")
    generate(directory, VOLUME_LINES, VOLUME_AFFILIES)
    return directory


def test_300_000_lines_import_in_bounded_memory_and_a_bad_last_line_changes_nothing(
    app, volume_export, tmp_path
):
    """Python's allocations stay a few MB whatever the file (the whole-file reader held
    every row, ~1.3 KB a line); then the same file, every amount changed and its last
    line wrong, is refused whole."""
    tracemalloc.start()
    try:
        report = import_directory(volume_export)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (report.affilies, report.lignes) == (VOLUME_AFFILIES, VOLUME_LINES)
    assert peak < 20 * 1024 * 1024, f"{peak / 1e6:.1f} MB"

    before = state()
    for name in ("affilies.csv", "ribs.csv"):
        (tmp_path / name).write_bytes((volume_export / name).read_bytes())
    body = (volume_export / "creances.csv").read_bytes()
    # Every line changes its amount, and the very last one is wrong.
    body = body.replace(b".", b"1.").rsplit(b"\n", 2)[0]
    body += b"\n1000000,202413,CSS,principal,1.00\n"
    (tmp_path / "creances.csv").write_bytes(body)
    with pytest.raises(ImportError_) as refused:
        import_directory(tmp_path)
    assert refused.value.errors == [
        f"creances.csv, ligne {VOLUME_LINES + 1}, champ periode : période invalide "
        "« 202413 » (AAAAMM)"
    ]
    db.session.expire_all()
    assert state() == before


@pytest.mark.parametrize("end", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_bad_lines_deep_in_a_large_file_are_reported_at_their_line(app, tmp_path, end):
    """Past the first megabyte, where PostgreSQL takes plain blocks whole: an empty line
    is skipped, a short line, a line of spaces, a bad period and a quoted amount are
    reported at their own line numbers, as the line-by-line reader reports them."""
    keys = [(r, n) for r in ("CSS", "AMO", "TFP", "AF") for n in ("principal", "frais")]
    lines = [
        f"{NEW},{1900 + i // 96:04d}{i // 8 % 12 + 1:02d},{','.join(keys[i % 8])},{i}.00"
        for i in range(80_000)
    ]
    lines[40_000] = ""
    lines[50_000] = f"{NEW},201901,CSS,principal"
    lines[60_000] = "   "
    lines[70_000] = f"{NEW},201913,CSS,principal,1.00"
    lines[75_000] = f'{NEW},299912,TFP,frais,"1,000.00"'
    body = end.join(line.encode() for line in [CREANCES_HEADER, *lines]) + end
    assert len(body) > 2 * 1024 * 1024
    write_creances(tmp_path, body)
    with pytest.raises(ImportError_) as refused:
        import_directory(tmp_path)
    errors_ = refused.value.errors
    assert errors_[:4] == [
        "creances.csv, ligne 50002 : nombre de champs incorrect",
        "creances.csv, ligne 60002 : nombre de champs incorrect",
        "creances.csv, ligne 70002, champ periode : période invalide « 201913 » (AAAAMM)",
        "creances.csv, ligne 75002, champ montant : séparateur de milliers (écrire "
        "1234567.89) « 1,000.00 »",
    ]
    assert len(errors_) == 4 and refused.value.more == 0


def test_a_reader_sees_the_old_situation_or_the_new_never_a_mix(app, database_url, tmp_path):
    """Between the merge and the commit the lines are all written in the import's
    transaction; another connection still reads the previous situation, whole."""
    write(tmp_path, good_batch())
    assert import_directory(tmp_path).lignes == 4
    reader = sa.create_engine(database_url, poolclass=sa.pool.NullPool)

    def situation() -> tuple[int, Decimal]:
        with reader.connect() as conn:
            count, total = conn.execute(
                sa.text(
                    "SELECT count(*), coalesce(sum(l.montant), 0) FROM lignes_creance l "
                    "JOIN affilies a ON a.id = l.affilie_id WHERE a.numero = :n"
                ),
                {"n": NEW},
            ).one()
        return count, Decimal(str(total)).quantize(Decimal("0.01"))

    old = situation()
    new_lines = [
        f"{NEW},{2000 + y:04d}{m:02d},CSS,principal,10.00" for y in range(20) for m in (1, 2, 3)
    ]
    write(tmp_path, {"creances.csv": [CREANCES_HEADER, *new_lines]})
    new = (len(new_lines), Decimal("600.00"))
    seen: list[tuple] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.append(situation())

    during: list[tuple] = []

    def progress(name: str, done: int, lines: int) -> None:
        if not name:  # the writing phase: the file is staged, the merge comes
            during.append(situation())

    # SQLite serialises its connections: the reader reads at the progress callbacks.
    poller = threading.Thread(target=poll) if IS_POSTGRES else None
    if poller:
        poller.start()
    try:
        import_directory(tmp_path, progress=progress)
    finally:
        stop.set()
        if poller:
            poller.join()
    assert during and set(during) == {old}
    assert situation() == new
    assert set(seen) <= {old, new}
    reader.dispose()
