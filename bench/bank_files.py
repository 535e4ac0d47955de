"""The bank's files at a perception's volume: the return file recorded and checked, the
debit file written, on PostgreSQL and SQLite.

    python bench/bank_files.py [--lines 80000 --lines 300000] [--database postgresql]
        [--database sqlite] [--mix payees --mix rejet2 --mix rejetees] [--json out.json]

For each database and size N, a base database is built once: migrated, the demo data, one
perception of max(300 000, N) affiliés and max(100 000, N) requests in prélèvement (half
full payments, one debit; half plans, the avance paid and the instalment due), written by
SQL. Then, each in a child process whose own figures it prints (time inside the call,
wall time with the interpreter's start, peak resident memory of the child alone):

- ``flask debit-file`` of the day (the bank's N + debits), its lines/s;
- the return file of the first N debits for each mix, checked (``--dry-run``) on the
  base, then recorded on a fresh copy of it (``CREATE DATABASE … TEMPLATE``, a file copy):
  ``payees`` every line paid and every request settled, ``rejet2`` every 50th line
  rejected, ``rejetees`` every line rejected and every request cancelled;
- with ``--upload``, the largest file the upload takes, posted by an agent to the page.

The figures are the record's and the check's lines/s. The machine it runs on may be
shared: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where bench/http.py would hide the
# standard library's http package from werkzeug.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bank_bench"
PERCEPTION = "Perception Casablanca Centre"
AGENT = "agent.bank"
PASSWORD = "Bank-bench-2023!"
DEBIT_DAY = date(2024, 1, 10)
TODAY = datetime(2024, 1, 12, 9, 0)
MIXES = {"payees": 0, "rejet2": 50, "rejetees": 1}
# Past this size, the one mix the issue measured (the others take minutes each).
LARGE = 100_000

FLOOR_SQL = """
UPDATE demandes SET status = 'annulee' WHERE id IN (
    SELECT demande_id FROM echeances
    WHERE definitive AND statut = 'a_prelever' AND date_prevue = :day
    ORDER BY demande_id LIMIT :n)
"""

AFFILIES_SQL = """
INSERT INTO affilies (numero, raison_sociale, regime, ice, perception_id, date_situation,
    date_arret_penalites, arrangement, lignes_jeton, recherche)
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :count)
SELECT CAST(8000000 + i AS VARCHAR(7)), 'SOCIÉTÉ ATLAS NÉGOCE ' || CAST(i AS VARCHAR(7)),
    'Régime général', NULL, :perception, :situation, :situation, :non,
    'j' || CAST(i AS VARCHAR(7)),
    CAST(8000000 + i AS VARCHAR(7)) || ' societe atlas negoce ' || CAST(i AS VARCHAR(7))
FROM n
"""

# Half full payments (acceptée), half plans (validée); amounts vary with the request.
REQUESTS_SQL = """
INSERT INTO demandes (reference, confirmation_token, affilie_id, user_id, campaign_id,
    perception_id, status, modalite, rib, banque, confirmed_at, validated_at,
    conditions_version, conditions_accepted_at, garanties_acceptees, raison_sociale,
    numero_affiliation, campaign_label, date_situation, date_arret_penalites, periode_debut,
    periode_fin, consolidation_json, creance_totale, principal, penalites_frais, astreintes,
    taux_penalites, taux_astreintes, remise, montant_a_payer, avance, nombre_echeances,
    mensualite, majorations_generees, recherche)
SELECT 'RM-2023-' || CAST(10000000 + a.id AS VARCHAR(8)), 'token-' || CAST(a.id AS VARCHAR(9)),
    a.id, (SELECT id FROM users WHERE login = 'groupe'), c.id, a.perception_id,
    CASE WHEN a.id % 2 = 0 THEN 'acceptee' ELSE 'validee' END,
    CASE WHEN a.id % 2 = 0 THEN 'integral' ELSE 'acomptes' END,
    '190780' || CAST(100000000000000000 + a.id AS VARCHAR(18)), 'Banque Populaire',
    :confirmed, CASE WHEN a.id % 2 = 1 THEN :validated END, 'v', :confirmed,
    a.id % 2 = 1, a.raison_sociale, a.numero, c.label, a.date_situation,
    a.date_arret_penalites, '201901', '202312', '{}',
    3000.00 + a.id % 1000, 1000.00 + a.id % 1000, 1500.00, 500.00, 60.00, 90.00,
    1350.00 + (a.id % 7) * 0.01, 1650.00 + a.id % 1000, 500.00 + a.id % 1000,
    1, 1150.00, 12.34 + (a.id % 97) * 0.5,
    'rm-2023-' || CAST(10000000 + a.id AS VARCHAR(8)) || ' ' || a.recherche
FROM affilies a
CROSS JOIN (SELECT id, label FROM campaigns ORDER BY id LIMIT 1) c
WHERE a.perception_id = :perception
ORDER BY a.id LIMIT :count
"""

# The plans' avance paid last month, every request's debit due on the day.
ECHEANCES_SQL = """
INSERT INTO echeances (demande_id, definitive, rang, date_prevue, montant, statut)
SELECT id, :oui, 0, :avance_day, avance, 'payee' FROM demandes WHERE status = 'validee'
UNION ALL
SELECT id, :oui, 1, :day, montant_a_payer - CASE WHEN status = 'validee' THEN avance ELSE 0 END,
    'a_prelever'
FROM demandes WHERE status IN ('acceptee', 'validee')
"""


# ---------------------------------------------------------------- the databases


def sqlite_url(workdir: Path, name: str) -> str:
    return f"sqlite:///{workdir / (name + '.db')}"


def pg_url(name: str) -> str:
    return str(sa.engine.make_url(PG_URL).set(database=name).render_as_string(False))


def create(url: str, template: str | None = None) -> None:
    """An empty database at ``url`` (dropped first), or a copy of ``template``'s."""
    parsed = sa.engine.make_url(url)
    if parsed.drivername.startswith("sqlite"):
        path = Path(parsed.database)
        path.unlink(missing_ok=True)
        if template is not None:
            shutil.copyfile(sa.engine.make_url(template).database, path)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        like = f' TEMPLATE "{sa.engine.make_url(template).database}"' if template else ""
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"{like}'))
    admin.dispose()


def drop(url: str) -> None:
    parsed = sa.engine.make_url(url)
    if parsed.drivername.startswith("sqlite"):
        Path(parsed.database).unlink(missing_ok=True)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def make_app(url: str):
    from app import create_app

    return create_app(
        {
            "APP_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "CLOCK": lambda: TODAY,
        }
    )


def build(url: str, affilies: int, requests: int) -> None:
    """Migrate, the demo data, the perception's agent, affiliés, requests and debits."""
    import logging

    from flask_migrate import upgrade

    from commands.demo import seed_demo
    from db.models import Perception, User
    from extensions import db

    create(url)
    app = make_app(url)
    with app.app_context():
        logging.disable(logging.INFO)
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        seed_demo()
        perception = Perception(name=PERCEPTION)
        db.session.add(perception)
        db.session.flush()
        agent = User(login=AGENT, display_name="Agent", role="agent", perception=perception)
        agent.set_password(PASSWORD)
        db.session.add(agent)
        db.session.flush()
        typed = {
            "situation": sa.bindparam("situation", type_=sa.Date()),
            "non": sa.bindparam("non", type_=sa.Boolean()),
        }
        db.session.execute(
            sa.text(AFFILIES_SQL).bindparams(*typed.values()),
            {"count": affilies, "perception": perception.id, "situation": date(2023, 11, 8)}
            | {"non": False},
        )
        db.session.execute(
            sa.text(REQUESTS_SQL).bindparams(
                sa.bindparam("confirmed", type_=sa.DateTime()),
                sa.bindparam("validated", type_=sa.DateTime()),
            ),
            {
                "perception": perception.id,
                "count": requests,
                "confirmed": datetime(2023, 11, 20, 10, 0),
                "validated": datetime(2023, 11, 21, 10, 0),
            },
        )
        db.session.execute(
            sa.text(ECHEANCES_SQL).bindparams(
                sa.bindparam("oui", type_=sa.Boolean()),
                sa.bindparam("day", type_=sa.Date()),
                sa.bindparam("avance_day", type_=sa.Date()),
            ),
            {"oui": True, "day": DEBIT_DAY, "avance_day": date(2023, 12, 10)},
        )
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM"))
            conn.execute(sa.text("ANALYZE"))
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- measuring in a child


def child(args: list[str]) -> dict:
    """Run ``_child`` in a fresh interpreter: its own figures, the wall time with the
    start, and its peak resident memory (VmHWM: the child's alone, not the parent's)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout + proc.stderr)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def _peak_mb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) // 1024


def _child(kind: str, url: str, path: str, dry_run_count: str) -> None:
    dry_run = bool(dry_run_count)
    from sqlalchemy import select

    from db.models import Perception
    from extensions import db
    from services import debit_file, return_file

    app = make_app(url)
    result: dict = {}
    with app.app_context():
        perception = db.session.scalar(select(Perception.id).where(Perception.name == PERCEPTION))
        if kind == "debit":
            started = time.perf_counter()
            with open(path, "w", encoding="utf-8", newline="") as stream:
                count = debit_file.write_debit_csv(debit_file.debit_batches(DEBIT_DAY), stream)
            db.session.commit()
            result = {"lines": count, "s": time.perf_counter() - started}
        elif kind == "retour":
            started = time.perf_counter()
            summary = return_file.import_return(
                Path(path), actor=None, perception_id=perception, dry_run=dry_run
            )
            result = {
                "lines": summary.lignes,
                "s": time.perf_counter() - started,
                "soldees": summary.soldees,
                "annulees": summary.annulees,
            }
        elif kind == "floor":
            # The floor: the status change alone of as many requests (rolled back).
            count = int(dry_run_count)
            started = time.perf_counter()
            db.session.execute(
                sa.text(FLOOR_SQL).bindparams(sa.bindparam("day", type_=sa.Date())),
                {"day": DEBIT_DAY, "n": count},
            )
            result = {"lines": count, "s": time.perf_counter() - started}
            db.session.rollback()
        elif kind == "upload":
            client = app.test_client()
            client.post("/connexion", data={"utilisateur": AGENT, "mot_de_passe": PASSWORD})
            data = Path(path).read_bytes()
            started = time.perf_counter()
            response = client.post(
                "/perception/prelevements/retour",
                data={"fichier": (__import__("io").BytesIO(data), "retour.csv")},
                content_type="multipart/form-data",
            )
            result = {"status": response.status_code, "s": time.perf_counter() - started}
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


# ---------------------------------------------------------------- the files


def return_file(debits: Path, out: Path, lines: int, every: int) -> int:
    """The bank's answer to the first ``lines`` debits: every ``every``-th rejected."""
    written = 0
    with debits.open() as source, out.open("w") as answer:
        next(source)
        answer.write("reference,echeance,statut\n")
        for n, line in enumerate(source):
            if n == lines:
                break
            reference, *_rest, rang = line.rstrip("\n").split(",")
            rejected = every and n % every == every - 1
            answer.write(f"{reference},{rang},{'rejetee' if rejected else 'payee'}\n")
            written += 1
    return written


def run(kind: str, lines: int, mixes: list[str], workdir: Path, upload: bool) -> list[dict]:
    affilies, requests = max(300_000, lines), max(100_000, lines)
    name = f"bank_bench_{lines}"
    base = pg_url(name) if kind == "postgresql" else sqlite_url(workdir, name)
    copy = pg_url(name + "_copie") if kind == "postgresql" else sqlite_url(workdir, name + "_c")
    started = time.perf_counter()
    build(base, affilies, requests)
    print(
        f"\n== {kind}, {lines:,} lines: {affilies:,} affiliés, {requests:,} requests, "
        f"built in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    results = []
    debits = workdir / f"debits-{kind}-{lines}.csv"
    create(copy, base)
    figures = child(["debit", copy, str(debits), ""])
    size = debits.stat().st_size
    print(
        f"   debit-file: {figures['lines']:,} lines, {size / 1e6:.1f} MB in {figures['s']:.2f} s "
        f"({figures['lines'] / figures['s']:,.0f} lines/s; {figures['wall_s']:.2f} s with the "
        f"start), {figures['peak_mb']} MB",
        flush=True,
    )
    results.append({"db": kind, "size": lines, "job": "debit-file", **figures})
    if lines > LARGE and mixes == list(MIXES):
        mixes = ["rejet2"]
    for mix in mixes:
        answer = workdir / f"retour-{kind}-{lines}-{mix}.csv"
        count = return_file(debits, answer, lines, MIXES[mix])
        for dry in (True, False):
            if not dry:
                create(copy, base)
            target = base if dry else copy
            figures = child(["retour", target, str(answer), "1" if dry else ""])
            job = f"import-retour{' --dry-run' if dry else ''} {mix}"
            print(
                f"   {job}: {count:,} lines, {answer.stat().st_size / 1e6:.1f} MB in "
                f"{figures['s']:.2f} s ({count / figures['s']:,.0f} lines/s; "
                f"{figures['wall_s']:.2f} s with the start), {figures['peak_mb']} MB"
                + (
                    ""
                    if dry
                    else f"; {figures['soldees']:,} settled, {figures['annulees']:,} cancelled"
                ),
                flush=True,
            )
            results.append({"db": kind, "size": lines, "job": job, **figures})
    create(copy, base)
    figures = child(["floor", copy, "", str(lines)])
    print(
        f"   floor: the status of {lines:,} requests changed alone in {figures['s']:.2f} s "
        f"({lines / figures['s']:,.0f} requests/s)",
        flush=True,
    )
    results.append({"db": kind, "size": lines, "job": "floor", **figures})
    if upload:
        from blueprints.perception import MAX_RETURN_LINES

        for mix in ("payees", "rejetees"):
            answer = workdir / f"retour-{kind}-upload-{mix}.csv"
            count = return_file(debits, answer, MAX_RETURN_LINES, MIXES[mix])
            create(copy, base)
            figures = child(["upload", copy, str(answer), ""])
            print(
                f"   upload {mix} of {count:,} lines ({answer.stat().st_size / 1e6:.2f} MB): "
                f"{figures['status']} in {figures['s']:.2f} s, {figures['peak_mb']} MB",
                flush=True,
            )
            results.append({"db": kind, "size": count, "job": f"upload {mix}", **figures})
    drop(copy)
    drop(base)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, action="append", default=None)
    parser.add_argument("--database", action="append", choices=("postgresql", "sqlite"))
    parser.add_argument("--mix", action="append", choices=tuple(MIXES))
    parser.add_argument("--upload", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", nargs=4, metavar=("KIND", "URL", "PATH", "DRY"))
    args = parser.parse_args()
    if args.child:
        kind, url, path, dry = args.child
        _child(kind, url, path, dry)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="bank-bench-") as workdir:
        for kind in args.database or ("postgresql", "sqlite"):
            for lines in args.lines or (80_000, 300_000):
                results += run(kind, lines, args.mix or list(MIXES), Path(workdir), args.upload)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("APP_ENV", "testing")
    main()
