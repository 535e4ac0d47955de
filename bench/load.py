"""Load test: N simulated affiliés walk the whole journey at once against gunicorn.

    python bench/load.py [--users 50] [--seconds 60] [--database-url URL] [--workers N]

Creates a throwaway PostgreSQL database on the ``--database-url`` server (default: the
``DATABASE_URL`` environment variable when it is PostgreSQL, else the local server),
migrates it, loads the demo data, starts gunicorn in production mode (CSRF on, sync
workers, ``cores + 1`` by default as in docs/PERFORMANCE.md) on 127.0.0.1 and runs
``--users`` threads, each one affiliate user with its own session:

    login  →  loop until the time is up:
                 Choisir un affilié (htmx search)  →  Paramétrage (page, then post)
                 →  Simulation page  →  5 simulation partials (htmx: slider, −, +, avance)
                 →  Valider  →  Validation page (the confirmation token)
           →  Confirmer, once, on its own affilié

Each user has a distinct affilié of the demo's 55 (those with no arrangement and no
request in progress), so each one's final Confirmer creates a real request; users beyond
the eligible affiliés share them and stop before Confirmer. There is no think time: the
figures are the server's capacity, not a model of human pacing. The client threads run on
the same machine, so they take some of its CPU.

Prints requests/s, p50/p95/p99 and the error count per request kind, then stops gunicorn
and drops the database. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/http.py would
# hide the standard library's http package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gzip  # noqa: E402
import http.client  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from http.cookies import SimpleCookie  # noqa: E402
from urllib.parse import urlencode, urlsplit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

LOGIN = "groupe"
USER_AGENT = "bench-load"  # one per session: flask-login's "strong" protection checks it
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SIMULATION_PARTIALS = 5
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN_RE = re.compile(r'name="token" value="([^"]+)"')
COMPTE_RE = re.compile(r'<option value="(\d+)"')
# The order of the report.
KINDS = (
    "login page GET",
    "login POST",
    "choisir (htmx)",
    "parametrage GET",
    "parametrage POST",
    "simulation GET",
    "simulation partial (htmx)",
    "valider POST",
    "validation GET",
    "confirmer POST",
)


# ---------------------------------------------------------------- database and server


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    name = f"bench_load_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(database_url: str) -> list[str]:
    """Migrate and seed; returns the affiliés of "groupe" that can file a request now."""
    from flask_migrate import upgrade

    from app import create_app
    from commands import demo
    from db.models import Demande, User
    from domain import lifecycle
    from extensions import db

    app = create_app(
        {"APP_ENV": "testing", "SECRET_KEY": "bench-setup", "SQLALCHEMY_DATABASE_URI": database_url}
    )
    with app.app_context():
        logging.disable(logging.INFO)  # Alembic's progress lines
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        demo.seed_demo()
        busy = set(
            db.session.scalars(
                sa.select(Demande.affilie_id).where(Demande.status.in_(lifecycle.IN_PROGRESS))
            )
        )
        user = db.session.scalars(sa.select(User).where(User.login == LOGIN)).one()
        eligible = [a.numero for a in user.affilies if not a.arrangement and a.id not in busy]
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        db.session.remove()
        db.engine.dispose()
    return eligible


def count_demandes(database_url: str) -> int:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        count = conn.scalar(sa.text("SELECT count(*) FROM demandes"))
    engine.dispose()
    return count


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database_url: str, port: int, workers: int) -> Iterator[None]:
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        # One host, no Redis: the per-process store, chosen on purpose.
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    env.pop("REDIS_URL", None)
    # Every simulated user logs in from 127.0.0.1: lift the per-address login limit (the
    # limiter still runs, so its cost stays in the figures).
    factory = "app:create_app({'LOGIN_ADDRESS_LIMIT': '100000 per minute'})"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(ROOT),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        factory,
    ]
    server = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if Session(port).request("GET", "/healthz")[0] == 200:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# ---------------------------------------------------------------- one simulated user


class Stats:
    """Latencies and errors per request kind, shared by every user thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.samples: list[str] = []

    def record(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if not ok:
                self.errors[kind] += 1
                if len(self.samples) < 10:
                    self.samples.append(f"{kind}: {detail}")


class Session:
    """One browser: its session cookie and CSRF token; gzip accepted; no redirect followed."""

    def __init__(self, port: int, stats: Stats | None = None):
        self.port = port
        self.stats = stats
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(self, method, path, form=None, htmx=False, kind=None, expect=(200,)):
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if htmx:
            headers["HX-Request"] = "true"
            headers["HX-Current-URL"] = f"http://127.0.0.1:{self.port}{path}"
        body = None
        if form is not None:
            body = urlencode({**form, "csrf_token": self.csrf})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
        except OSError as exc:
            if self.stats and kind:
                self.stats.record(kind, time.perf_counter() - started, False, repr(exc))
            raise
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        if response.getheader("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
        if found := CSRF_RE.search(text):
            self.csrf = found[1]
        if self.stats and kind:
            ok = status in expect
            self.stats.record(kind, elapsed, ok, f"{method} {path} -> {status}")
        return status, response.getheader("Location", ""), text


class Stop(Exception):
    """The user's journey cannot go on (the error is already counted)."""


def step(session: Session, kind: str, method: str, path: str, expect=(200,), **kwargs):
    status, location, text = session.request(method, path, kind=kind, expect=expect, **kwargs)
    if status not in expect:
        raise Stop(kind)
    return location, text


def journey(session: Session, numero: str, rng: random.Random) -> str:
    """One pass from Choisir un affilié to the confirmation page: returns its token."""
    base = f"/demande/{numero}"
    step(session, "choisir (htmx)", "GET", f"/demande/nouvelle?q={numero[:4]}", htmx=True)
    _, page = step(session, "parametrage GET", "GET", f"{base}/parametrage")
    compte = COMPTE_RE.search(page)[1]
    step(
        session,
        "parametrage POST",
        "POST",
        f"{base}/parametrage",
        form={"modalite": "acomptes", "compte": compte, "garanties": "1"},
        expect=(302,),
    )
    step(session, "simulation GET", "GET", f"{base}/simulation")
    n = 6
    for _ in range(SIMULATION_PARTIALS):
        action = rng.choice(("simuler", "simuler", "plus", "moins"))
        n = rng.randint(1, 60) if action == "simuler" else n
        avance = rng.choice(("", "", "1000", "2 500,00"))
        step(
            session,
            "simulation partial (htmx)",
            "POST",
            f"{base}/simulation",
            form={
                "action": action,
                "avance": avance,
                "nombre_echeances": str(n),
                "curseur": str(n),
            },
            htmx=True,
        )
    step(
        session,
        "valider POST",
        "POST",
        f"{base}/simulation",
        form={"action": "valider", "avance": "", "nombre_echeances": str(n), "cgu": "1"},
        expect=(302,),
    )
    _, page = step(session, "validation GET", "GET", f"{base}/validation")
    return TOKEN_RE.search(page)[1]


def user(port, stats, numero, may_confirm, deadline, seed, passes) -> None:
    from commands.demo import DEMO_PASSWORD

    rng = random.Random(seed)
    session = Session(port, stats)
    try:
        step(session, "login page GET", "GET", "/connexion", expect=(200,))
        step(
            session,
            "login POST",
            "POST",
            "/connexion",
            form={"utilisateur": LOGIN, "mot_de_passe": DEMO_PASSWORD},
            expect=(302,),
        )
        session.request("GET", "/")  # the fresh session's CSRF token
        token = None
        while time.monotonic() < deadline:
            try:
                token = journey(session, numero, rng)
                passes.append(1)
            except Stop:
                continue
        if may_confirm and token:
            step(
                session,
                "confirmer POST",
                "POST",
                f"/demande/{numero}/confirmer",
                form={"token": token},
                expect=(303,),
            )
    except (Stop, OSError):
        return


# ---------------------------------------------------------------- report


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(stats: Stats, elapsed: float, args, eligible: int, created: int, passes: int) -> int:
    total = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    print(
        f"\n{args.users} users, {args.workers} sync workers, {elapsed:.1f} s, "
        f"{os.cpu_count()} CPUs, PostgreSQL"
    )
    print(f"{total} requests, {total / elapsed:.1f} requests/s, {errors} errors, {passes} journeys")
    print(
        f"\n{'kind':<28}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'err':>6}"
    )
    for kind in KINDS:
        values = stats.latencies.get(kind)
        if not values:
            continue
        print(
            f"{kind:<28}{len(values):>7}{len(values) / elapsed:>8.1f}"
            f"{statistics.median(values) * 1000:>9.1f}{percentile(values, 0.95) * 1000:>9.1f}"
            f"{percentile(values, 0.99) * 1000:>9.1f}{stats.errors.get(kind, 0):>6}"
        )
    expected = min(args.users, eligible)
    print(
        f"\nrequests confirmed: {created} (expected {expected}: one per user with its own affilié)"
    )
    for sample in stats.samples:
        print(f"  error: {sample}")
    return 1 if errors or created != expected else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    env_url = os.environ.get("DATABASE_URL", "")
    parser.add_argument(
        "--database-url",
        default=env_url if env_url.startswith("postgresql") else DEFAULT_PG_URL,
        help="a PostgreSQL server (any database on it): the throwaway database goes there",
    )
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args(argv)
    if urlsplit(args.database_url.replace("+psycopg", "")).hostname not in (
        "127.0.0.1",
        "localhost",
    ):
        parser.error("--database-url must point at 127.0.0.1: this drives local traffic only")

    with throwaway_database(args.database_url) as database_url:
        eligible = prepare(database_url)
        before = count_demandes(database_url)
        port = free_port()
        stats = Stats()
        passes: list[int] = []
        with gunicorn(database_url, port, args.workers):
            started = time.monotonic()
            deadline = started + args.seconds
            threads = [
                threading.Thread(
                    target=user,
                    args=(
                        port,
                        stats,
                        eligible[i % len(eligible)],
                        i < len(eligible),
                        deadline,
                        args.seed + i,
                        passes,
                    ),
                    daemon=True,
                )
                for i in range(args.users)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=args.seconds + 120)
            elapsed = time.monotonic() - started
        created = count_demandes(database_url) - before
    return report(stats, elapsed, args, len(eligible), created, len(passes))


if __name__ == "__main__":
    sys.exit(main())
