"""A real gunicorn of three workers, slider moves on every one, then ``flask import-data``
changes the affilié's créance lines, raison sociale and RIBs: every worker answers the new
figures at once (the page, the CSV and the move), and none answers a 304 to the old tag.

Each worker keeps the affilié, its consolidation and the rendered panels in memory; what
keeps them fresh is the version the move reads in its one statement, which the import
changes in its own transaction. The workers' access log names which worker answered, so
the test knows each of the three kept the old figures before the import.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.live_server import COMPTE_RE, ROOT, Browser, Gunicorn

GUIDE = "4317542"
URL = f"/demande/{GUIDE}/simulation"
MOVE = {"HX-Request": "true"}
WORKERS = 3
NEW_NAME = "ATLAS NOUVELLE RAISON"
NEW_BANK = "Banque Nouvelle du Maroc"
BEFORE, AFTER = "21 950,63 MAD", "5 750,00 MAD"
# The worker's pid, then the request line (gunicorn's access log).
ACCESS = re.compile(r"^<(\d+)> GET (\S+) ", re.MULTILINE)


@pytest.fixture
def server(database_url, tmp_path):
    log = tmp_path / "gunicorn.log"
    instance = Gunicorn(
        database_url,
        workers=WORKERS,
        log_path=log,
        options=("--access-logfile", "-", "--access-logformat", "%(p)s %(r)s %(s)s"),
    )
    try:
        instance.start()
        instance.wait_ready(time.monotonic() + 60)
        yield instance
    finally:
        instance.stop()


def a_payer(text: str) -> str:
    return re.search(r"Montant à payer : (.+? MAD)", re.sub(r"\s", " ", text))[1]


def flask_import(database_url: str, directory: Path) -> None:
    env = {
        **os.environ,
        "APP_ENV": "development",
        "SECRET_KEY": "live-test-secret",
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "import-data", str(directory)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def import_files(database_url: str, directory: Path) -> None:
    """The guide's affilié with a new raison sociale, a new bank for each of its RIBs and a
    new créance: 5 000,00 of principal and 1 500,00 of majorations."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT a.id, a.regime, a.ice, p.name, a.date_situation, "
                "a.date_arret_penalites, a.arrangement FROM affilies a "
                "JOIN perceptions p ON p.id = a.perception_id WHERE a.numero = :n"
            ),
            {"n": GUIDE},
        ).one()
        ribs = conn.scalars(
            sa.text("SELECT rib FROM comptes_bancaires WHERE affilie_id = :id"), {"id": row[0]}
        ).all()
    engine.dispose()
    _, regime, ice, perception, situation, arret, arrangement = row
    directory.mkdir()
    files = {
        "affilies.csv": [
            "numero_affiliation,raison_sociale,regime,ice,perception,"
            "date_situation,date_arret_penalites,arrangement",
            f"{GUIDE},{NEW_NAME},{regime},{ice or ''},{perception},{situation},{arret},"
            f"{'oui' if arrangement else 'non'}",
        ],
        "ribs.csv": ["numero_affiliation,rib,banque", *(f"{GUIDE},{r},{NEW_BANK}" for r in ribs)],
        "creances.csv": [
            "numero_affiliation,periode,rubrique,nature,montant",
            f"{GUIDE},202301,CSS,principal,5000.00",
            f"{GUIDE},202301,CSS,majorations,1500.00",
        ],
    }
    for name, lines in files.items():
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def moves_on_every_worker(browser: Browser, log: Path, headers: dict) -> list:
    """Moves, pages and CSVs sent nine at a time until each worker has answered moves;
    every answer, in the order sent."""
    start = log.stat().st_size
    answers = []

    def one(k: int):
        user = Browser(browser.port)
        user.cookies = dict(browser.cookies)
        path = (f"{URL}?n=12", f"{URL}?n=12", f"/demande/{GUIDE}/simulation/echeancier.csv?n=12")
        return user.get(path[k % 3], headers=headers if k % 3 == 0 else {}), k % 3

    with ThreadPoolExecutor(max_workers=9) as pool:
        for _ in range(12):
            answers.extend(pool.map(one, range(27)))
            time.sleep(0.2)  # the access log is written after the answer
            served = {pid for pid, path in ACCESS.findall(log.read_text()[start:]) if "?n=" in path}
            if len(served) == WORKERS and len(answers) >= 54:
                return answers
    raise AssertionError(f"only {len(served)} of the {WORKERS} workers answered")


def test_every_worker_answers_the_new_figures_after_an_import(server, database_url, tmp_path):
    browser = Browser(server.port)
    browser.login("groupe")
    page = browser.get(f"/demande/{GUIDE}/parametrage")
    compte = COMPTE_RE.search(page.text)[1]
    response = browser.post(
        f"/demande/{GUIDE}/parametrage",
        {"modalite": "acomptes", "compte": compte, "garanties": "1"},
    )
    assert response.status == 302
    log = server.log_path

    before = moves_on_every_worker(browser, log, MOVE)
    tags = set()
    for answer, kind in before:
        assert answer.status == 200, answer.status
        if kind == 0:
            assert a_payer(answer.text) == BEFORE
            tags.add(answer.headers["ETag"])
        elif kind == 1:
            assert NEW_NAME not in answer.text and NEW_BANK not in answer.text
    (old_tag,) = tags
    assert browser.get(f"{URL}?n=12", headers={**MOVE, "If-None-Match": old_tag}).status == 304

    import_files(database_url, tmp_path / "import")
    flask_import(database_url, tmp_path / "import")

    after = moves_on_every_worker(browser, log, {**MOVE, "If-None-Match": old_tag})
    tags = set()
    for answer, kind in after:
        assert answer.status == 200, answer.status  # never a 304 to the old tag
        if kind == 0:
            assert a_payer(answer.text) == AFTER
            tags.add(answer.headers["ETag"])
        elif kind == 1:
            assert a_payer(answer.text) == AFTER
            assert NEW_NAME in answer.text and NEW_BANK in answer.text
        else:
            assert NEW_NAME in answer.text
    assert len(tags) == 1 and old_tag not in tags
