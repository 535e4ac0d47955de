"""Process CPU time per request through the WSGI call, the app beside a bare Flask app.

    python bench/fixed_cost.py [--rounds 7] [--calls 400] [--profile ping|kept|new]
    python bench/fixed_cost.py --against REV [--rounds 5]

No server, no socket: the app is built as production runs it (APP_ENV=production, CSRF on,
the secure session cookie, Flask-Compress, the JSON request log on standard error — send
it to a file: ``2>requests.log``), on a scratch SQLite copy of bench/seeding.py's
database. The script signs in as "groupe" like a browser (the login page's token),
chooses *Paiement par acomptes* for 9999001, then calls the app's WSGI callable with the
environ a browser's request makes, keeping the session cookie each answer sends, as wrk
does in bench/http.py:

  (flask) GET /ping of a bare Flask app answering "ok"   the framework alone
  (ping)  GET /ping with the signed-in session cookie
  (kept)  a slider move to a position shown before (htmx, n = 1..60): the kept panel
  (new)   a move to an avance never typed before: simulated and rendered

Each figure is ``time.process_time()`` over ``--calls`` calls, in µs per request, the
median of ``--rounds`` rounds, the four kinds interleaved within each round. It measures
CPU, not waiting: the other tenants of a shared machine move it far less than a wall
clock. ``--profile KIND`` prints cProfile's figures of that kind instead.

``--against REV`` measures REV (its files from ``git archive``, its translations
compiled) and the current checkout in alternate child processes (``--children`` a tree,
``--rounds`` rounds each), and prints both trees' medians, their ratio, and each
request's share of the bare app's CPU in the same child (a loaded machine moves both
trees' µs; the shares move less).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Run as a script, this folder would come first on sys.path, and bench/http.py would hide
# the standard library's http package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent

LARGE = "9999001"
LOGIN = "groupe"
KINDS = ("flask", "ping", "kept", "new")
BROWSER = {
    "User-Agent": "bench-fixed-cost",
    "Accept-Encoding": "gzip, deflate, br, zstd",
}


def bare_app():
    from flask import Flask

    app = Flask("bare")

    @app.get("/ping")
    def ping():
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    return app


class Caller:
    """Calls a WSGI app with a browser's environ, keeping the session cookie it is sent."""

    def __init__(self, app, cookie: str = ""):
        self.app = app
        self.cookie = cookie

    def environ(self, path: str, htmx: bool = False) -> dict:
        from werkzeug.test import EnvironBuilder

        headers = dict(BROWSER)
        if htmx:
            headers["HX-Request"] = "true"
        if self.cookie:
            headers["Cookie"] = self.cookie
        builder = EnvironBuilder(
            path=path,
            base_url="https://localhost",
            headers=headers,
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        try:
            return builder.get_environ()
        finally:
            builder.close()

    def __call__(self, environ: dict) -> int:
        environ = dict(environ)
        if self.cookie:
            environ["HTTP_COOKIE"] = self.cookie
        status = []

        def start_response(code, headers, exc_info=None):
            status.append(int(code.split()[0]))
            for name, value in headers:
                if name == "Set-Cookie" and value.startswith("session="):
                    self.cookie = value.split(";", 1)[0]

        body = self.app(environ, start_response)
        try:
            for _chunk in body:
                pass
        finally:
            if hasattr(body, "close"):
                body.close()
        return status[0]


def signed_in(app) -> str:
    """The session cookie of "groupe" at the Simulation step of 9999001, acomptes chosen."""
    import re

    from commands.demo import DEMO_PASSWORD

    client = app.test_client()
    base = "https://localhost"
    page = client.get(f"{base}/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        f"{base}/connexion",
        data={"utilisateur": LOGIN, "mot_de_passe": DEMO_PASSWORD, "csrf_token": token},
        headers={"Referer": f"{base}/connexion"},  # Flask-WTF's check over HTTPS
    )
    assert answer.status_code == 302, answer.status_code
    page = client.get(f"{base}/demande/{LARGE}/parametrage").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    compte = re.search(r'<option value="(\d+)"', page).group(1)
    answer = client.post(
        f"{base}/demande/{LARGE}/parametrage",
        data={"modalite": "acomptes", "compte": compte, "garanties": "1", "csrf_token": token},
        headers={"Referer": f"{base}/demande/{LARGE}/parametrage"},
    )
    assert answer.status_code == 302, answer.status_code
    cookie = client.get_cookie("session", domain="localhost")
    return f"session={cookie.value}"


def production_app(database: str):
    """The app as gunicorn builds it in bench/servers.py (production mode)."""
    os.environ.update(
        APP_ENV="production",
        SECRET_KEY="f" * 32,
        DATABASE_URL=f"sqlite:///{database}",
        RATELIMIT_STORAGE_URI="memory://",
        MAIL_BACKEND="disabled",
        SESSION_MINUTES="600",
    )
    os.environ.pop("REDIS_URL", None)
    from app import create_app

    return create_app()


def requests_of(app):
    """The four kinds of request: for each, its caller and the environs of ``count`` calls
    (a new position's built before they are timed: only the WSGI call counts)."""
    caller = Caller(app, signed_in(app))
    flask = Caller(bare_app())
    bare_ping = flask.environ("/ping")
    ping = caller.environ("/ping")
    kept = [caller.environ(f"/demande/{LARGE}/simulation?n={n}", htmx=True) for n in range(1, 61)]
    typed = itertools.count(200_000)  # centimes: an avance no request has typed before

    def new(count: int) -> list[dict]:
        paths = []
        for i, c in zip(range(count), typed):
            avance = f"{c // 100}.{c % 100:02d}"
            paths.append(f"/demande/{LARGE}/simulation?n={i % 60 + 1}&avance={avance}")
        return [caller.environ(path, htmx=True) for path in paths]

    requests = {
        "flask": (flask, lambda count: [bare_ping] * count),
        "ping": (caller, lambda count: [ping] * count),
        "kept": (caller, lambda count: [kept[i % 60] for i in range(count)]),
        "new": (caller, new),
    }
    for kind, (call, environs) in requests.items():
        # Warm-up: every kept panel, the compiled templates, the caches.
        assert all(call(environ) == 200 for environ in environs(120)), kind
    return requests


def timed(call, environs: list[dict]) -> float:
    """Process CPU time per call, in µs, over the calls in one stretch."""
    start = time.process_time()
    for environ in environs:
        call(environ)
    return (time.process_time() - start) / len(environs) * 1e6


def measure(database: str, rounds: int, calls: int) -> dict[str, float]:
    requests = requests_of(production_app(database))
    figures: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        for kind in KINDS:
            call, environs = requests[kind]
            figures[kind].append(timed(call, environs(calls)))
    return {kind: statistics.median(values) for kind, values in figures.items()}


def profile(database: str, kind: str, calls: int) -> None:
    import cProfile
    import pstats

    call, environs = requests_of(production_app(database))[kind]
    prepared = environs(calls)
    profiler = cProfile.Profile()
    profiler.enable()
    for environ in prepared:
        call(environ)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)


# ---------------------------------------------------------------- the database


def seeded(folder: Path) -> Path:
    """bench/seeding.py's database in ``folder`` (seeded once by the current checkout)."""
    path = folder / "seeded.db"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--seed", str(path)],
            cwd=ROOT,
            check=True,
        )
    return path


def seed(path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.seeding import seed_large
    from extensions import db

    with seed_large(f"sqlite:///{path}").app_context():
        db.engine.dispose()


# ---------------------------------------------------------------- --against REV


def tree_of(revision: str, folder: Path) -> Path:
    """REV's files (``git archive``), its translations compiled."""
    tree = folder / "tree"
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, check=True, stdout=subprocess.PIPE
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "--quiet", "compile", "-d", "translations"], cwd=tree, check=True)
    return tree


def child(tree: Path, database: Path, args) -> dict[str, float]:
    """The figures of the app in ``tree``, on a copy of ``database``, in a child process."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "bench.db"
        shutil.copy(database, copy)
        command = [sys.executable, str(Path(__file__).resolve()), "--root", str(tree)]
        command += ["--database", str(copy), "--rounds", str(args.rounds)]
        command += ["--calls", str(args.calls), "--json"]
        with open(os.devnull, "w") as log:
            out = subprocess.run(
                command, cwd=tree, check=True, stdout=subprocess.PIPE, stderr=log, text=True
            ).stdout
    return json.loads(out.splitlines()[-1])


def compare(args) -> None:
    with tempfile.TemporaryDirectory(prefix="fixed-cost-") as scratch:
        folder = Path(scratch)
        database = seeded(folder)
        trees = {args.against: tree_of(args.against, folder), "current": ROOT}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for round_ in range(args.children):
            order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
            for name in order:
                runs[name].append(child(trees[name], database, args))
                shown = ", ".join(f"{k} {v:.0f}" for k, v in runs[name][-1].items())
                print(f"child {round_ + 1}/{args.children}, {name}: {shown}", flush=True)
    print(
        "\nµs of process CPU per request, and the bare app's share of it (median of the children)"
    )
    print(
        f"| request | {args.against} | current | ratio | {args.against} × bare | current × bare |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for kind in KINDS:
        before, after = (statistics.median(run[kind] for run in runs[name]) for name in trees)
        shares = (
            statistics.median(run["flask"] / run[kind] for run in runs[name]) for name in trees
        )
        share_before, share_after = shares
        print(
            f"| {kind} | {before:.0f} | {after:.0f} | {after / before:.3f} | "
            f"{share_before:.3f} | {share_after:.3f} |"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=400, help="calls per kind and round")
    parser.add_argument("--profile", choices=KINDS[1:])
    parser.add_argument("--against", metavar="REV")
    parser.add_argument("--children", type=int, default=4, help="with --against, per tree")
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seed:
        seed(Path(args.seed))
        return 0
    if args.against:
        compare(args)
        return 0
    sys.path.insert(0, str(Path(args.root).resolve() if args.root else ROOT))
    with tempfile.TemporaryDirectory(prefix="fixed-cost-") as scratch:
        database = Path(args.database) if args.database else seeded(Path(scratch))
        if args.profile:
            profile(str(database), args.profile, args.calls)
            return 0
        figures = measure(str(database), args.rounds, args.calls)
    if args.json:
        print(json.dumps(figures))
    else:
        for kind in KINDS:
            ratio = figures["flask"] / figures[kind]
            print(f"{kind:>6}: {figures[kind]:7.1f} µs per request ({ratio:.3f}× the bare app)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
