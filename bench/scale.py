"""National scale: the import beside a raw COPY, the batch jobs and the back-office searches.

    python bench/scale.py --lines 1000000 [--lines 3000000 ...] [--affilies 300000]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/scale_bench]
        [--requests 100000] [--runs 30] [--json results.json] [--import-only]
        [--repeat 2] [--every-floor]
    python bench/scale.py --searches-direct [--affilies 300000] [--requests 100000]
    python bench/scale.py --searches-only      # again, on the database as it is
    python bench/scale.py --bank-return [--affilies 300000] [--requests 100000]

For each size, --repeat times (2 by default), on a database created for the run:

1. a deterministic export of N créance lines for A affiliés (A = --affilies, at most N),
   one RIB each, every affilié in one perception, raison sociale with accents; and the
   next night's export, where every hundredth affilié has a new name and new amounts;
2. ``COPY`` of creances.csv into an index-free table of text columns: the floor of a
   re-import;
3. ``flask import-data`` on the empty database, in a child process (its wall time, and
   the peak resident memory of that process alone);
4. the floor of a first load: the file's typed rows COPYed into an index-free copy of
   ``lignes_creance``, its key, index and foreign key built after (--every-floor adds the
   same COPY with them kept, and with the foreign key alone);
5. the same import again (nothing changed), then the next night's (1 % changed);
6. R requests in prélèvement with a debit due on one day and R/2 plans past their
   guarantee deadline, written by SQL; then ``flask debit-file`` and
   ``flask expire-requests`` in child processes;
7. the back office's searches, through the app (test client, an agent of the
   perception): p50 and p95 of --runs runs each.

--searches-direct skips the export and the import: the affiliés are written by COPY
(same numéros, names, ICE and folded search text), then steps 6 and 7, with the expiry
and a VACUUM ANALYZE before the searches; a minute instead of ten.

--bank-return writes the affiliés by COPY and the requests of step 6, then writes the
debit file and the bank's answer to it (every 50th debit rejected) and runs
``flask import-retour`` on it, with --dry-run first: lines/s and peak resident memory.

Prints the import's table (min and median of the runs, each against its floor of the
same run) and the batch jobs'; --json writes every figure for docs/PERFORMANCE.md and its chart
(bench/scale_chart.py). PostgreSQL only: the goals are PostgreSQL's.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where bench/http.py would hide the
# standard library's http package from werkzeug.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/scale_bench"
PERCEPTION = "Perception Casablanca Centre"
AGENT = "agent.scale"
PASSWORD = "Scale-bench-2023!"
DEBIT_DAY = "2024-01-10"
WORDS = (
    "ATLAS",
    "BÂTIMENT",
    "SOCIÉTÉ",
    "NÉGOCE",
    "TRAVAUX",
    "MAROC",
    "ÉLECTRICITÉ",
    "FÈS",
    "SAÏSS",
    "CÉRAMIQUE",
    "TRANSPORTS",
    "AGRO",
    "DISTRIBUTION",
    "HÔTELLERIE",
    "IMMOBILIÈRE",
    "TEXTILE",
)
FORMS = ("SARL", "SA", "SARL AU", "SNC")
RUBRIQUES = ("CSS", "AMO", "TFP", "AF", "AST_BDS", "AST_TDTP")
NATURES = ("principal", "majorations", "frais")


# ---------------------------------------------------------------- the export


def numero(i: int) -> str:
    return f"{1_000_000 + i:07d}"


def raison_sociale(i: int) -> str:
    a, b = WORDS[i % 16], WORDS[(i // 16) % 16]
    return f"{a} {b} {FORMS[i % 4]} {i}"


def generate(directory: Path, lines: int, affilies: int) -> None:
    """affilies.csv, ribs.csv and creances.csv, the same bytes for the same sizes."""
    from domain.identifiers import ice_with_check, rib_with_key

    with (directory / "affilies.csv").open("w", encoding="utf-8") as out:
        out.write(
            "numero_affiliation,raison_sociale,regime,ice,perception,"
            "date_situation,date_arret_penalites,arrangement\n"
        )
        out.writelines(
            f"{numero(i)},{raison_sociale(i)},Régime général,{ice_with_check(f'{i:013d}')},"
            f"{PERCEPTION},2023-11-08,2023-11-08,non\n"
            for i in range(affilies)
        )
    with (directory / "ribs.csv").open("w", encoding="utf-8") as out:
        out.write("numero_affiliation,rib,banque\n")
        out.writelines(
            f"{numero(i)},{rib_with_key(f'190780{i:016d}')},Banque Populaire\n"
            for i in range(affilies)
        )
    combos = [(r, n) for r in RUBRIQUES for n in NATURES]
    with (directory / "creances.csv").open("w", encoding="utf-8") as out:
        out.write("numero_affiliation,periode,rubrique,nature,montant\n")
        batch = []
        for i in range(affilies):
            first, last = i * lines // affilies, (i + 1) * lines // affilies
            num = numero(i)
            for j in range(last - first):
                year, month = divmod(j // 18, 12)
                rubrique, nature = combos[j % 18]
                k = first + j
                batch.append(
                    f"{num},{2024 - year:04d}{12 - month:02d},{rubrique},{nature},"
                    f"{(k * 7919) % 1_000_000}.{k % 100:02d}\n"
                )
            if len(batch) > 50_000:
                out.writelines(batch)
                batch.clear()
        out.writelines(batch)


# ---------------------------------------------------------------- measuring


def recreate(url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(
        sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def raw_copy(url: str, path: Path) -> float:
    """Seconds to COPY the file into an index-free table of text columns."""
    import psycopg

    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "CREATE TABLE copy_brut (numero text, periode text, rubrique text, "
            "nature text, montant text)"
        )
        conn.commit()
        started = time.perf_counter()
        with conn.cursor().copy("COPY copy_brut FROM STDIN (FORMAT csv, HEADER true)") as copy:
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE copy_brut")
        conn.commit()
    return seconds


# A small intermediate process runs the command and says the peak resident memory of its
# one child, as `/usr/bin/time -v` does: the child's own figure, not the bench's. (The
# bench's wait4 counted the bench itself: a forked child's maximum starts at its
# parent's size, so it could never show less than ~135 MB.)
_MEASURE = (
    "import resource, subprocess, sys\n"
    "status = subprocess.call(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "sys.stderr.write(f'\\npeak-rss-kb {peak}\\n')\n"
    "sys.exit(status)\n"
)


def flask(url: str, *args: str) -> tuple[float, int, int, str]:
    """(seconds, peak resident MB of the command alone, exit status, output) of one flask
    command."""
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "testing", "SECRET_KEY": "bench"}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-S", "-c", _MEASURE, sys.executable, "-m", "flask", "--app", "app"]
        + list(args),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    seconds = time.perf_counter() - started
    output, _, peak = proc.stdout.decode().rpartition("\npeak-rss-kb ")
    return seconds, int(peak) // 1024, proc.returncode, output


def make_app(url: str):
    from app import create_app
    from tests.conftest import Clock  # noqa: F401 (the clock's shape)

    return create_app(
        {
            "APP_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def prepare(url: str) -> None:
    """Migrate, load the demo data (campaign, users), add the perception's agent."""
    from flask_migrate import upgrade

    from commands.demo import seed_demo
    from db.models import Perception, User
    from extensions import db

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
        db.session.commit()
        db.engine.dispose()


REQUESTS_SQL = """
INSERT INTO demandes (reference, confirmation_token, affilie_id, user_id, campaign_id,
    perception_id, status, modalite, rib, banque, confirmed_at, validated_at,
    conditions_version, conditions_accepted_at, garanties_acceptees, raison_sociale,
    numero_affiliation, campaign_label, date_situation, date_arret_penalites, periode_debut,
    periode_fin, consolidation_json, creance_totale, principal, penalites_frais, astreintes,
    taux_penalites, taux_astreintes, remise, montant_a_payer, avance, nombre_echeances,
    mensualite, majorations_generees, recherche)
SELECT r.reference, md5(r.reference), a.id, (SELECT id FROM users WHERE login = 'groupe'),
    c.id, a.perception_id, s.status, :modalite, '190780' || lpad(a.id::text, 18, '0'),
    'Banque Populaire', s.confirmed + (a.id % 1000) * interval '1 minute',
    CASE WHEN s.status = 'validee' THEN s.confirmed + interval '1 day' END,
    'v', s.confirmed, s.status <> 'acceptee', a.raison_sociale, a.numero, c.label,
    a.date_situation, a.date_arret_penalites, '201901', '202312', '{}', 3000.00, 1000.00,
    1500.00, 500.00, 60.00, 90.00, 1350.00, 1650.00, 0.00, 1, 1650.00, 0.00,
    lower(r.reference) || ' ' || a.recherche
FROM affilies a
CROSS JOIN (SELECT id, label FROM campaigns ORDER BY id LIMIT 1) c
CROSS JOIN (SELECT CAST(:status AS text) AS status,
                   CAST(:confirmed AS timestamp) AS confirmed) s
CROSS JOIN LATERAL (
    SELECT 'RM-2023-' || upper(lpad(to_hex(a.id * 7 + CAST(:salt AS integer)), 8, '0'))
        AS reference
) r
WHERE a.perception_id = (SELECT id FROM perceptions WHERE name = :perception)
ORDER BY a.id OFFSET :offset LIMIT :count
"""

ECHEANCES_SQL = """
INSERT INTO echeances (demande_id, definitive, rang, date_prevue, montant, statut)
SELECT id, true, 1, CAST(:day AS date), montant_a_payer, 'a_prelever' FROM demandes
WHERE status IN ('acceptee', 'validee')
"""


def add_requests(url: str, count: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        half = count // 2
        for status, modalite, offset, n, confirmed in (
            ("acceptee", "integral", 0, half, "2023-11-20 10:00"),
            ("validee", "acomptes", half, count - half, "2023-11-20 10:00"),
            ("en_attente_garanties", "acomptes", count, count // 2, "2023-09-01 10:00"),
        ):
            conn.execute(
                sa.text(REQUESTS_SQL),
                {
                    "salt": offset,
                    "status": status,
                    "modalite": modalite,
                    "confirmed": confirmed,
                    "perception": PERCEPTION,
                    "offset": offset,
                    "count": n,
                },
            )
        conn.execute(sa.text(ECHEANCES_SQL), {"day": DEBIT_DAY})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def add_affilies(url: str, count: int) -> None:
    """The affiliés of step 1 straight into the table by COPY, without the import: the
    same numéros, raisons sociales, ICE and folded ``recherche``, in seconds rather than
    minutes, for measuring the back office alone (--searches-direct)."""
    import psycopg

    from domain.identifiers import ice_with_check
    from domain.search import search_text

    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as conn:
        perception = conn.execute(
            "SELECT id FROM perceptions WHERE name = %s", (PERCEPTION,)
        ).fetchone()[0]
        columns = (
            "numero, raison_sociale, regime, ice, perception_id, date_situation, "
            "date_arret_penalites, arrangement, lignes_jeton, jeton, recherche"
        )
        with conn.cursor().copy(f"COPY affilies ({columns}) FROM STDIN") as copy:
            for i in range(count):
                num, name, ice = numero(i), raison_sociale(i), ice_with_check(f"{i:013d}")
                copy.write_row(
                    (
                        num,
                        name,
                        "Régime général",
                        ice,
                        perception,
                        "2023-11-08",
                        "2023-11-08",
                        False,
                        f"{i:032x}",
                        f"{i:032x}",
                        search_text(num, ice, name),
                    )
                )
        conn.commit()


def searches_direct(url: str, affilies: int, requests: int, runs: int) -> dict:
    """A fresh database with the affiliés by COPY, the requests of step 6 and their
    expiry, then the searches of step 7."""
    recreate(url)
    prepare(url)
    started = time.perf_counter()
    add_affilies(url, affilies)
    add_requests(url, requests)
    _seconds, _rss, status, output = flask(url, "expire-requests")
    assert status == 0, output
    engine = sa.create_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))  # what autovacuum does after the expiry
    engine.dispose()
    print(f"   data written in {time.perf_counter() - started:.1f} s", flush=True)
    return searches(url, runs)


def bank_return(url: str, affilies: int, requests: int, workdir: Path) -> None:
    """The debit file of a day and the bank's return file of it, through import-retour."""
    recreate(url)
    prepare(url)
    add_affilies(url, affilies)
    add_requests(url, requests)
    debits = workdir / "debits.csv"
    _seconds, _rss, status, output = flask(
        url, "debit-file", "--date", DEBIT_DAY, "--output", str(debits)
    )
    assert status == 0, output
    answer = workdir / "retour.csv"
    with debits.open() as source, answer.open("w") as out:
        next(source)
        out.write("reference,echeance,statut\n")
        for n, line in enumerate(source):
            reference, *_rest, rang = line.rstrip("\n").split(",")
            out.write(f"{reference},{rang},{'rejetee' if n % 50 == 49 else 'payee'}\n")
    lines = sum(1 for _ in answer.open()) - 1
    print(f"   return file: {lines:,} lines, {answer.stat().st_size / 1e6:.1f} MB", flush=True)
    for step in ("--dry-run", None):
        args = ["import-retour", str(answer), "--perception", PERCEPTION, "--quiet"]
        seconds, rss, status, output = flask(url, *args, *([step] if step else []))
        assert status == 0, output
        print(
            f"   import-retour{' --dry-run' if step else ''}: {seconds:.2f} s "
            f"({lines / seconds:,.0f} lines/s), {rss} MB — {output.strip()}",
            flush=True,
        )


def searches(url: str, runs: int) -> dict[str, tuple[float, float]]:
    """{search: (p50 ms, p95 ms)} through the app, as an agent of the perception."""
    from extensions import db

    app = make_app(url)
    client = app.test_client()
    client.post("/connexion", data={"utilisateur": AGENT, "mot_de_passe": PASSWORD})
    with app.app_context():
        some = db.session.execute(
            sa.text(
                "SELECT d.numero_affiliation, d.reference, a.ice FROM demandes d "
                "JOIN affilies a ON a.id = d.affilie_id ORDER BY d.id DESC LIMIT 1"
            )
        ).one()
        db.engine.dispose()
    numero_, reference, ice = some
    htmx = {"HX-Request": "true"}

    def last(path: str) -> str:
        """Where the list's "Dernier" link leads, as an agent would follow it."""
        text = client.get(path, headers=htmx).get_data(as_text=True)
        return html.unescape(re.search(r'<a class="page" href="([^"]+)"[^>]*>Dernier<', text)[1])

    cases = {
        "demandes: page 1": "/perception/demandes",
        "demandes: last page": last("/perception/demandes"),
        "demandes: numéro": f"/perception/demandes?q={numero_}",
        "demandes: raison sociale": "/perception/demandes?q=batiment%20societe",
        "demandes: ICE": f"/perception/demandes?q={ice}",
        "demandes: référence": f"/perception/demandes?q={reference.lower()}",
        "demandes: statut validée": "/perception/demandes?statut=validee",
        "demandes: statut expirée, last page": last("/perception/demandes?statut=expiree"),
        "demandes: statut expirée, page 1": "/perception/demandes?statut=expiree",
        "affiliés: page 1": "/perception/affilies",
        "affiliés: last page": last("/perception/affilies"),
        "affiliés: numéro": f"/perception/affilies?q={numero_}",
        "affiliés: raison sociale": "/perception/affilies?q=c%C3%A9ramique%20atlas",
        "affiliés: ICE": f"/perception/affilies?q={ice}",
        # One word in an eighth of the names: the text search with many rows.
        "affiliés: one word, 12 % of them": "/perception/affilies?q=atlas",
    }
    results = {}
    for label, path in cases.items():
        times = []
        for _ in range(runs + 2):
            started = time.perf_counter()
            response = client.get(path, headers=htmx)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        times = sorted(times[2:])
        results[label] = (statistics.median(times), times[int(0.95 * (len(times) - 1))])
    return results


def lines_of(output: str, pattern: str) -> str:
    match = re.search(pattern, output)
    return match.group(0) if match else output.strip()[-200:]


def changed_export(source: Path, target: Path) -> None:
    """The next night's export: every hundredth affilié has a new raison sociale and one
    centime more on each of its lines; the rest is the same bytes."""
    target.mkdir(exist_ok=True)
    (target / "ribs.csv").write_bytes((source / "ribs.csv").read_bytes())
    for name in ("affilies.csv", "creances.csv"):
        with (
            (source / name).open(encoding="utf-8") as lines,
            (target / name).open("w", encoding="utf-8") as out,
        ):
            out.write(next(lines))
            for line in lines:
                if int(line[:7]) % 100 == 7:
                    first, rest = line.split(",", 1)
                    if name == "affilies.csv":
                        line = f"{first},NOUVEAU {rest}"
                    else:
                        head, montant = line.rstrip("\n").rsplit(",", 1)
                        cents = round(float(montant) * 100) + 1
                        line = f"{head},{cents // 100}.{cents % 100:02d}\n"
                out.write(line)


FLOOR_TABLE = "CREATE TABLE floor_lignes (LIKE lignes_creance INCLUDING DEFAULTS)"
FLOOR_KEY = "ALTER TABLE floor_lignes ADD PRIMARY KEY (id)"
FLOOR_INDEX = "CREATE INDEX ON floor_lignes (affilie_id, periode)"
FLOOR_FK = (
    "ALTER TABLE floor_lignes ADD FOREIGN KEY (affilie_id) REFERENCES affilies (id) "
    "ON DELETE CASCADE"
)


def typed_floors(url: str, path: Path, workdir: Path, every: bool) -> dict[str, float]:
    """Seconds to COPY the file's typed rows into a copy of ``lignes_creance``: without
    any index or key, which are built after (the floor of a first load); and, with
    ``every``, with the key and indexes kept, and with the foreign key alone."""
    import psycopg

    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
    typed = workdir / "typed.csv"
    with psycopg.connect(dsn) as conn:
        ids = dict(conn.execute("SELECT numero, id FROM affilies").fetchall())
        with path.open(encoding="utf-8") as lines, typed.open("w") as out:
            next(lines)
            for line in lines:
                out.write(f"{ids[line[:7]]}{line[7:]}")
        variants = {"floor_s": ((), (FLOOR_KEY, FLOOR_INDEX, FLOOR_FK))}
        if every:
            variants["floor_kept_s"] = ((FLOOR_KEY, FLOOR_INDEX, FLOOR_FK), ())
            variants["floor_fk_only_s"] = ((FLOOR_FK,), ())
        found = {}
        for label, (before, after) in variants.items():
            conn.execute("DROP TABLE IF EXISTS floor_lignes")
            conn.execute(FLOOR_TABLE)
            for statement in before:
                conn.execute(statement)
            conn.commit()
            started = time.perf_counter()
            columns = "affilie_id, periode, rubrique, nature, montant"
            with conn.cursor().copy(f"COPY floor_lignes ({columns}) FROM STDIN (FORMAT csv)") as cp:
                with typed.open("rb") as handle:
                    while block := handle.read(1 << 20):
                        cp.write(block)
            for statement in after:
                conn.execute(statement)
            conn.commit()
            found[label] = time.perf_counter() - started
        conn.execute("DROP TABLE floor_lignes")
        conn.commit()
    typed.unlink()
    return found


def empty_of_lines(url: str) -> None:
    """No créance line, as on a first install: the demo data's go (its campaign and
    users stay), and the import's first load is one."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM lignes_creance"))
    engine.dispose()


IMPORT_STEPS = (
    ("first", "first load (empty database)"),
    ("unchanged", "nothing changed"),
    ("changed", "1 % of affiliés changed"),
)


def run(
    url: str,
    lines: int,
    affilies: int,
    requests: int,
    runs: int,
    workdir: Path,
    import_only: bool = False,
    repeat: int = 2,
    every_floor: bool = False,
) -> dict:
    affilies = min(affilies, lines)
    print(f"\n== {lines:,} lines, {affilies:,} affiliés".replace(",", " "), flush=True)
    export = workdir / f"export-{lines}"
    export.mkdir(exist_ok=True)
    if not (export / "creances.csv").exists():
        started = time.perf_counter()
        generate(export, lines, affilies)
        changed_export(export, workdir / f"export-{lines}-changed")
        print(f"   export written in {time.perf_counter() - started:.1f} s", flush=True)
    changed = workdir / f"export-{lines}-changed"
    size = (export / "creances.csv").stat().st_size
    result = {"lines": lines, "affilies": affilies, "mb": round(size / 1e6, 1), "runs": []}
    for n in range(repeat):
        recreate(url)
        prepare(url)
        empty_of_lines(url)
        one = {"copy_s": raw_copy(url, export / "creances.csv")}
        print(f"   [{n + 1}] raw COPY: {one['copy_s']:.2f} s", flush=True)
        for step, directory in (("first", export), ("unchanged", export), ("changed", changed)):
            seconds, rss, status, output = flask(url, "import-data", str(directory), "--quiet")
            assert status == 0, output
            one[f"{step}_s"], one[f"{step}_rss_mb"] = seconds, rss
            # The command's own time, without the interpreter's and the app's start.
            own = re.search(r" en ([0-9]+,[0-9]+) s\.", output)
            one[f"{step}_own_s"] = float(own.group(1).replace(",", "."))
            print(f"   [{n + 1}] {step}: {seconds:.2f} s, {rss} MB — {output.strip()}", flush=True)
            if step == "first":
                one.update(typed_floors(url, export / "creances.csv", workdir, every_floor))
                print(f"   [{n + 1}] floors: {one}", flush=True)
        result["runs"].append(one)
    # The first run's figures under the names the chart reads.
    result["copy_s"] = statistics.median(r["copy_s"] for r in result["runs"])
    result["import_s"] = statistics.median(r["first_s"] for r in result["runs"])
    result["import_rss_mb"] = max(r["first_rss_mb"] for r in result["runs"])
    if import_only:
        return result
    add_requests(url, requests)
    out = workdir / "debits.csv"
    seconds, rss, status, output = flask(
        url, "debit-file", "--date", DEBIT_DAY, "--output", str(out)
    )
    assert status == 0, output
    debits = sum(1 for _ in out.open()) - 1
    # The command's own time (query, CSV, file), without the interpreter's start.
    own = float(re.search(r" en ([0-9]+,[0-9]+) s\.", output).group(1).replace(",", "."))
    result.update(debit_s=seconds, debit_own_s=own, debit_rss_mb=rss, debit_lines=debits)
    print(
        f"   debit-file: {debits} lines in {seconds:.2f} s ({own:.2f} s in the command, "
        f"{debits / own:,.0f} lines/s), {rss} MB",
        flush=True,
    )
    seconds, rss, status, output = flask(url, "expire-requests")
    assert status == 0, output
    result.update(expire_s=seconds, expire_rss_mb=rss, expired=int(output.split()[0]))
    print(f"   expire-requests: {output.strip()} in {seconds:.2f} s, {rss} MB", flush=True)
    result["search_ms"] = searches(url, runs)
    for label, (p50, p95) in result["search_ms"].items():
        print(f"   {label:<40} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms", flush=True)
    return result


def import_table(results: list[dict]) -> str:
    """The import against its floors, measured in the same runs: min and median of each."""
    rows = [
        "| lines | case | min s | median s | floor (median s) | ratio floor / median "
        "| the command's own s (median) | goal |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(r: dict, key: str) -> tuple[float, float]:
        values = [run[key] for run in r["runs"] if key in run]
        return min(values), statistics.median(values)

    for r in results:
        n = f"{r['lines']:,}".replace(",", " ")
        copy = cell(r, "copy_s")
        floor = cell(r, "floor_s")
        for key, label in (
            ("copy_s", "raw COPY of creances.csv into an index-free text table"),
            ("floor_kept_s", "COPY of the typed rows, key, indexes and foreign key kept"),
            ("floor_fk_only_s", "same, the foreign key alone kept"),
            ("floor_s", "same, nothing kept, key, index and foreign key built after"),
        ):
            if any(key in run for run in r["runs"]):
                low, mid = cell(r, key)
                rows.append(f"| {n} | {label} | {low:.2f} | {mid:.2f} | | | | |")
        for step, label in IMPORT_STEPS:
            low, mid = cell(r, f"{step}_s")
            base = floor if step == "first" else copy
            rows.append(
                f"| {n} | `flask import-data`, {label} | {low:.2f} | {mid:.2f} "
                f"| {base[1]:.2f} | {base[1] / mid:.3f}× | {cell(r, f'{step}_own_s')[1]:.2f} "
                "| ≥ 0.25× |"
            )
        peak = max(run[f"{s}_rss_mb"] for run in r["runs"] for s, _ in IMPORT_STEPS)
        rows.append(f"| {n} | peak RSS of the command alone | | | | {peak} MB | | ≤ 250 MB |")
    return "\n".join(rows)


def table(results: list[dict]) -> str:
    rows = [
        "| lines | debit-file lines | s (process / command) | lines/s (command) | MB "
        "| expire-requests | s | MB | worst search p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        worst = max(r["search_ms"].items(), key=lambda kv: kv[1][1])
        rows.append(
            f"| {r['lines']:,} | {r['debit_lines']:,} | {r['debit_s']:.2f} / "
            f"{r['debit_own_s']:.2f} | {r['debit_lines'] / r['debit_own_s']:,.0f} "
            f"| {r['debit_rss_mb']} "
            f"| {r['expired']:,} | {r['expire_s']:.2f} | {r['expire_rss_mb']} "
            f"| {worst[1][1]:.1f} ({worst[0]}) |".replace(",", " ")
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, action="append", default=None)
    parser.add_argument("--affilies", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get("SCALE_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--import-only", action="store_true", help="Steps 1 to 5 only")
    parser.add_argument("--repeat", type=int, default=2, help="Runs of steps 2 to 5 per size")
    parser.add_argument(
        "--every-floor",
        action="store_true",
        help="Also the typed COPY with the indexes and key kept, and with the key alone",
    )
    parser.add_argument(
        "--searches-only", action="store_true", help="Only the searches, on the database as it is"
    )
    parser.add_argument(
        "--searches-direct",
        action="store_true",
        help="A fresh database with the affiliés written by COPY (no import), the "
        "requests and their expiry, then the searches",
    )
    parser.add_argument(
        "--bank-return",
        action="store_true",
        help="The affiliés by COPY, the requests, the debit file and its return file",
    )
    args = parser.parse_args()
    if args.bank_return:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="scale-"))
        bank_return(args.database_url, args.affilies, args.requests, workdir)
        return
    if args.searches_only or args.searches_direct:
        if args.searches_direct:
            found = searches_direct(args.database_url, args.affilies, args.requests, args.runs)
        else:
            found = searches(args.database_url, args.runs)
        for label, (p50, p95) in found.items():
            print(f"| {label} | {p50:.1f} | {p95:.1f} |")
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="scale-"))
    results = [
        run(
            args.database_url,
            n,
            args.affilies,
            args.requests,
            args.runs,
            workdir,
            import_only=args.import_only,
            repeat=args.repeat,
            every_floor=args.every_floor,
        )
        for n in args.lines or [1_000_000, 3_000_000]
    ]
    print()
    print(import_table(results))
    if not args.import_only:
        print()
        print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
