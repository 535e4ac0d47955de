"""The import's paths give the state the rules say, export after export.

A first load (no créance line yet: on PostgreSQL the lines go into a new table whose key,
index and foreign key are built afterwards, then swapped in) and the nightly re-imports
that follow it are checked against a model of the rules, in plain Python: an affilié is
written as the file has it, a RIB is added or gets the file's bank (the last line wins),
and each affilié named in creances.csv gets exactly the file's lines. The lines' version
(``lignes_jeton``) changes for exactly the affiliés whose fields, RIBs or lines changed.
"""

from __future__ import annotations

import csv
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from db.models import Affilie, CompteBancaire, LigneCreance, Perception
from domain.identifiers import ice_with_check, rib_with_key
from extensions import db
from services.importer import AFFILIES_COLUMNS, CREANCES_COLUMNS, RIBS_COLUMNS, import_directory
from tests.conftest import IS_POSTGRES

NUMEROS = ("8000001", "8000002", "8000003", "8000004")
RIBS = (rib_with_key("0117800000123456789012"), rib_with_key("2307800000999999999999"))
ICE = ice_with_check("0099887760000")

affilie_fields = st.tuples(
    # A comma makes the writer quote the field; accents go through the line-by-line path.
    st.sampled_from(("ATLAS SARL", "SAÏSS CÉRAMIQUE", "RIF, MARBRE")),
    st.sampled_from(("Régime général", "AMO")),
    st.sampled_from(("", ICE)),
    st.sampled_from(("Perception Fès Saïss", "Perception Rabat Agdal")),
    st.sampled_from(("2023-11-08", "2024-01-31")),
    st.sampled_from(("2023-11-08", "2024-01-31")),
    st.booleans(),
)
line_keys = st.tuples(
    st.sampled_from(("202301", "202312")),
    st.sampled_from(("CSS", "AMO")),
    st.sampled_from(("principal", "majorations")),
)
amounts = st.sampled_from((Decimal("1.00"), Decimal("250.50"), Decimal("0.10")))
exports = st.fixed_dictionaries(
    {
        "affilies": st.none() | st.dictionaries(st.sampled_from(NUMEROS), affilie_fields),
        "ribs": st.none()
        | st.lists(
            st.tuples(
                st.sampled_from(NUMEROS),
                st.sampled_from(RIBS),
                st.sampled_from(("Bank of Africa", "CIH Bank")),
            ),
            max_size=5,
        ),
        "creances": st.dictionaries(
            st.sampled_from(NUMEROS), st.dictionaries(line_keys, amounts, max_size=4), max_size=3
        ),
        # An export lists each affilié's lines together, in numéro order: the nightly pass
        # reads the changed ones only. Any other order is read whole.
        "in_order": st.booleans(),
    }
)


@dataclass
class Model:
    """What the database should hold for the generated affiliés, and which of them the
    last export changed."""

    affilies: dict[str, tuple] = field(default_factory=dict)
    ribs: dict[tuple[str, str], str] = field(default_factory=dict)
    lines: dict[str, dict[tuple, Decimal]] = field(default_factory=dict)

    def apply(self, export: dict) -> set[str]:
        changed: set[str] = set()
        for numero, fields in (export["affilies"] or {}).items():
            if self.affilies.get(numero) != fields:
                changed.add(numero)
            self.affilies[numero] = fields
        for numero, rib, banque in export["ribs"] or []:
            if self.ribs.get((numero, rib)) != banque:
                changed.add(numero)
            self.ribs[(numero, rib)] = banque
        for numero, lines in export["creances"].items():
            if self.lines.get(numero, {}) != lines:
                changed.add(numero)
            self.lines[numero] = dict(lines)
        return changed

    def state(self) -> dict:
        return {
            "affilies": {
                n: (*f[:2], f[2] or None, f[3], f[4], f[5], f[6]) for n, f in self.affilies.items()
            },
            "ribs": dict(self.ribs),
            "lines": {(n, *k): m for n, lines in self.lines.items() for k, m in lines.items()},
        }


def valid(export: dict, known: set[str]) -> dict:
    """The export without the RIBs and lines of affiliés neither known nor in the file."""
    known = known | set(export["affilies"] or {})
    return {
        "affilies": export["affilies"],
        "ribs": None if export["ribs"] is None else [r for r in export["ribs"] if r[0] in known],
        # An affilié without any line is not named by creances.csv.
        "creances": {n: lines for n, lines in export["creances"].items() if n in known and lines},
        "in_order": export.get("in_order", True),
    }


def write_export(directory: Path, export: dict) -> None:
    for name in ("affilies", "ribs", "creances"):
        (directory / f"{name}.csv").unlink(missing_ok=True)

    def ordered(rows):
        # A stable sort: a RIB's lines keep their order (the last one wins).
        return sorted(rows, key=lambda row: row[0]) if export.get("in_order", True) else rows

    if export["affilies"] is not None:
        with (directory / "affilies.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(AFFILIES_COLUMNS)
            for numero, (*fields, arrangement) in ordered(export["affilies"].items()):
                writer.writerow((numero, *fields, "oui" if arrangement else "non"))
    if export["ribs"] is not None:
        with (directory / "ribs.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(RIBS_COLUMNS)
            writer.writerows(ordered(export["ribs"]))
    with (directory / "creances.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CREANCES_COLUMNS)
        for numero, lines in ordered(export["creances"].items()):
            for (periode, rubrique, nature), montant in lines.items():
                writer.writerow((numero, periode, rubrique, nature, f"{montant}"))


def database_state() -> dict:
    db.session.expire_all()
    affilies = db.session.execute(
        select(
            Affilie.numero,
            Affilie.raison_sociale,
            Affilie.regime,
            Affilie.ice,
            Perception.name,
            Affilie.date_situation,
            Affilie.date_arret_penalites,
            Affilie.arrangement,
        )
        .join(Perception)
        .where(Affilie.numero.in_(NUMEROS))
    ).all()
    ribs = db.session.execute(
        select(Affilie.numero, CompteBancaire.rib, CompteBancaire.banque).join(Affilie)
    ).all()
    lines = db.session.execute(
        select(
            Affilie.numero,
            LigneCreance.periode,
            LigneCreance.rubrique,
            LigneCreance.nature,
            LigneCreance.montant,
        ).join(Affilie)
    ).all()
    return {
        "affilies": {
            n: (r, g, i, p, s.isoformat(), a.isoformat(), bool(ar))
            for n, r, g, i, p, s, a, ar in affilies
        },
        "ribs": {(n, rib): b for n, rib, b in ribs if n in NUMEROS},
        "lines": {(n, p, r, na): Decimal(str(m)) for n, p, r, na, m in lines if n in NUMEROS},
    }


def jetons() -> dict[str, str]:
    return dict(
        db.session.execute(
            select(Affilie.numero, Affilie.lignes_jeton).where(Affilie.numero.in_(NUMEROS))
        ).all()
    )


def start_empty() -> None:
    """No créance line at all (the next import is a first load), none of the generated
    affiliés."""
    db.session.execute(sa.delete(LigneCreance))
    generated = select(Affilie.id).where(Affilie.numero.in_(NUMEROS)).scalar_subquery()
    db.session.execute(sa.delete(CompteBancaire).where(CompteBancaire.affilie_id.in_(generated)))
    db.session.execute(sa.delete(Affilie).where(Affilie.numero.in_(NUMEROS)))
    db.session.commit()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(exports, min_size=2, max_size=3))
def test_a_first_load_then_nightly_imports_give_the_state_of_the_rules(app, tmp_path, sequence):
    start_empty()
    model = Model()
    for export in sequence:
        export = valid(export, set(model.affilies))
        before = jetons()
        changed = model.apply(export)
        write_export(tmp_path, export)

        import_directory(tmp_path)

        assert database_state() == model.state()
        after = jetons()
        assert all(after.values())
        assert {n for n in after if after[n] != before.get(n)} == changed


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL's first load builds a new table")
def test_a_first_load_swaps_in_a_table_with_its_key_index_and_foreign_key(app, tmp_path):
    start_empty()
    export = {
        "affilies": {
            NUMEROS[0]: (
                "ATLAS SARL",
                "AMO",
                "",
                "Perception Fès Saïss",
                *["2023-11-08"] * 2,
                False,
            )
        },
        "ribs": None,
        "creances": {NUMEROS[0]: {("202301", "CSS", "principal"): Decimal("1.00")}},
    }
    write_export(tmp_path, export)

    import_directory(tmp_path)

    constraints = db.session.execute(
        text(
            "SELECT conname, contype, convalidated FROM pg_constraint "
            "WHERE conrelid = 'lignes_creance'::regclass ORDER BY conname"
        )
    ).all()
    assert constraints == [
        ("fk_lignes_creance_affilie_id_affilies", "f", True),
        ("pk_lignes_creance", "p", True),
    ]
    indexes = db.session.scalars(
        text("SELECT indexname FROM pg_indexes WHERE tablename = 'lignes_creance' ORDER BY 1")
    ).all()
    assert indexes == ["ix_lignes_creance_affilie_periode", "pk_lignes_creance"]
    owner = db.session.scalar(text("SELECT pg_get_serial_sequence('lignes_creance', 'id')"))
    assert owner == "public.lignes_creance_id_seq"
    assert not db.session.scalar(text("SELECT to_regclass('lignes_creance_chargement')"))
    # A line written afterwards takes the next number; deleting the affilié removes it.
    db.session.add(
        LigneCreance(
            affilie_id=db.session.scalar(select(Affilie.id).where(Affilie.numero == NUMEROS[0])),
            periode="202302",
            rubrique="CSS",
            nature="frais",
            montant=Decimal("2.00"),
        )
    )
    db.session.commit()
    assert db.session.scalar(select(sa.func.count()).select_from(LigneCreance)) == 2


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrent readers: PostgreSQL")
def test_readers_are_not_held_during_a_first_load(app, database_url, tmp_path):
    """A reader of the lines is answered at once during the whole first load (the old,
    empty table) and after it (the new one): the swap's lock lasts until the commit,
    which follows it at once."""
    start_empty()
    lines = {
        (f"20{y:02d}{m:02d}", r, n): Decimal("1.00")
        for y in range(10, 24)
        for m in range(1, 13)
        for r in ("CSS", "AMO")
        for n in ("principal", "majorations")
    }
    export = {
        "affilies": {
            n: ("ATLAS SARL", "AMO", "", "Perception Fès Saïss", *["2023-11-08"] * 2, False)
            for n in NUMEROS
        },
        "ribs": None,
        "creances": dict.fromkeys(NUMEROS, lines),
    }
    write_export(tmp_path, export)
    reader = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    waits: list[float] = []
    seen: set[int] = set()
    stop = threading.Event()

    def poll() -> None:
        with reader.connect() as conn:
            while not stop.is_set():
                started = time.perf_counter()
                seen.add(conn.execute(text("SELECT count(*) FROM lignes_creance")).scalar())
                conn.commit()
                waits.append(time.perf_counter() - started)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        import_directory(tmp_path)
        time.sleep(0.2)
    finally:
        stop.set()
        poller.join()
    reader.dispose()
    assert seen <= {0, len(lines) * len(NUMEROS)} and len(lines) * len(NUMEROS) in seen
    assert max(waits) < 1.0


def test_lines_written_since_the_last_import_are_checked_again(app, tmp_path):
    """A fingerprint holds for the version it was kept with: lines written by another
    way since (the version changed) are compared with the file again and put back."""
    export = {
        "affilies": {
            NUMEROS[0]: (
                "ATLAS SARL",
                "AMO",
                "",
                "Perception Fès Saïss",
                *["2023-11-08"] * 2,
                False,
            )
        },
        "ribs": None,
        "creances": {NUMEROS[0]: {("202301", "CSS", "principal"): Decimal("1.00")}},
    }
    write_export(tmp_path, export)
    import_directory(tmp_path)
    line = db.session.scalars(
        select(LigneCreance).join(Affilie).where(Affilie.numero == NUMEROS[0])
    ).one()
    line.montant = Decimal("9.99")
    db.session.commit()

    import_directory(tmp_path)

    db.session.expire_all()
    assert db.session.scalars(
        select(LigneCreance.montant).join(Affilie).where(Affilie.numero == NUMEROS[0])
    ).all() == [Decimal("1.00")]


def test_a_name_or_bank_written_since_the_last_import_is_put_back(app, tmp_path):
    """Written through the application, an affilié's name or a RIB's bank gives it a new
    version: the next import compares it with the file again, as it compares lines."""
    export = {
        "affilies": {
            NUMEROS[0]: (
                "ATLAS SARL",
                "AMO",
                "",
                "Perception Fès Saïss",
                *["2023-11-08"] * 2,
                False,
            )
        },
        "ribs": [(NUMEROS[0], RIBS[0], "CIH Bank")],
        "creances": {NUMEROS[0]: {("202301", "CSS", "principal"): Decimal("1.00")}},
    }
    write_export(tmp_path, export)
    import_directory(tmp_path)
    before = database_state()
    affilie = db.session.scalars(select(Affilie).where(Affilie.numero == NUMEROS[0])).one()
    version = affilie.lignes_jeton
    affilie.raison_sociale = "AUTRE NOM"
    db.session.commit()
    assert affilie.lignes_jeton != version
    version = affilie.lignes_jeton
    affilie.comptes[0].banque = "Autre Banque"
    db.session.commit()
    assert affilie.lignes_jeton != version

    import_directory(tmp_path)

    assert database_state() == before


def _read_again(monkeypatch) -> dict[str, list[int]]:
    """The line numbers, by file, that the import reads again to check them (the others
    it only fingerprints)."""
    from services.importer import bases, lignes

    seen: dict[str, list[int]] = {}
    rows, line_rows = lignes._rows, bases._line_rows

    def spy_rows(path, *args):
        for number, row in rows(path, *args):
            seen.setdefault(path.name, []).append(number)
            yield number, row

    def spy_line_rows(path, *args):
        for number, *rest in line_rows(path, *args):
            seen.setdefault(path.name, []).append(number)
            yield number, *rest

    monkeypatch.setattr(lignes, "_rows", spy_rows)
    monkeypatch.setattr(bases, "_line_rows", spy_line_rows)
    return seen


def _nightly_export() -> dict:
    fields = ("ATLAS SARL", "AMO", "", "Perception Fès Saïss", *["2023-11-08"] * 2, False)
    return {
        "affilies": dict.fromkeys(NUMEROS[:3], fields),
        "ribs": [(n, RIBS[0], "CIH Bank") for n in NUMEROS[:3]],
        "creances": {
            n: {
                ("202301", "CSS", "principal"): Decimal("1.00"),
                ("202312", "AMO", "majorations"): Decimal("0.10"),
            }
            for n in NUMEROS[:3]
        },
    }


@pytest.mark.skipif(not IS_POSTGRES, reason="the nightly fingerprints: PostgreSQL")
def test_a_nightly_export_reads_again_only_the_lines_of_the_affilies_it_changes(
    app, tmp_path, monkeypatch
):
    start_empty()
    export = _nightly_export()
    write_export(tmp_path, export)
    import_directory(tmp_path)
    seen = _read_again(monkeypatch)

    import_directory(tmp_path)
    assert seen == {}

    # 8000002 renamed, one line of 8000003 changed (affiliés.csv line 3, creances.csv 6-7).
    export["affilies"][NUMEROS[1]] = ("AUTRE NOM", *export["affilies"][NUMEROS[1]][1:])
    export["creances"][NUMEROS[2]][("202301", "CSS", "principal")] = Decimal("2.00")
    write_export(tmp_path, export)
    before = database_state()
    import_directory(tmp_path)
    assert seen == {"affilies.csv": [3], "creances.csv": [6, 7]}
    after = database_state()
    assert after["affilies"][NUMEROS[1]][0] == "AUTRE NOM"
    assert after["lines"][(NUMEROS[2], "202301", "CSS", "principal")] == Decimal("2.00")
    assert {k: v for k, v in after["lines"].items() if k[0] != NUMEROS[2]} == {
        k: v for k, v in before["lines"].items() if k[0] != NUMEROS[2]
    }

    # The fingerprints of the files that did not change for them hold on with their new
    # version: the same export again reads nothing again.
    seen.clear()
    import_directory(tmp_path)
    assert seen == {}


@pytest.mark.skipif(not IS_POSTGRES, reason="the nightly fingerprints: PostgreSQL")
def test_an_export_out_of_numero_order_is_read_whole_every_night(app, tmp_path, monkeypatch):
    start_empty()
    export = _nightly_export() | {"in_order": False}
    export["creances"] = dict(reversed(export["creances"].items()))
    write_export(tmp_path, export)
    import_directory(tmp_path)
    seen = _read_again(monkeypatch)

    import_directory(tmp_path)

    assert seen == {"creances.csv": [2, 3, 4, 5, 6, 7]}
    assert database_state()["lines"] == {
        (n, "202301", "CSS", "principal"): Decimal("1.00") for n in NUMEROS[:3]
    } | {(n, "202312", "AMO", "majorations"): Decimal("0.10") for n in NUMEROS[:3]}


@pytest.mark.skipif(not IS_POSTGRES, reason="the nightly fingerprints: PostgreSQL")
def test_blank_lines_and_crlf_do_not_hide_a_changed_affilie(app, tmp_path, monkeypatch):
    """The ranges read again are line numbers of the file as it is: blank lines before
    the header and between the groups, CRLF, no end of line at the end."""
    start_empty()
    export = _nightly_export()
    write_export(tmp_path, export)
    import_directory(tmp_path)
    seen = _read_again(monkeypatch)
    header = ",".join(CREANCES_COLUMNS)

    def write(amount: str) -> None:
        rows = [
            "",
            header,
            f"{NUMEROS[0]},202301,CSS,principal,1.00",
            "",
            f"{NUMEROS[0]},202312,AMO,majorations,0.10",
            f"{NUMEROS[1]},202301,CSS,principal,{amount}",
            "",
            f"{NUMEROS[1]},202312,AMO,majorations,0.10",
            f"{NUMEROS[2]},202301,CSS,principal,1.00",
            f"{NUMEROS[2]},202312,AMO,majorations,0.10",
        ]
        (tmp_path / "creances.csv").write_bytes("\r\n".join(rows).encode())

    write("1.00")
    import_directory(tmp_path)
    assert seen == {}  # the same lines as the first export's, differently written

    write("3.00")
    import_directory(tmp_path)

    assert seen == {"creances.csv": [6, 8]}
    assert database_state()["lines"][(NUMEROS[1], "202301", "CSS", "principal")] == Decimal("3.00")
