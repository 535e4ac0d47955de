"""HTTP benchmark: the simulation partial next to the web stack's floor, under gunicorn + wrk.

    python bench/http.py [--seconds 20] [--dbs sqlite,postgres] [--rounds 1]

For each database (a temporary SQLite file; a throwaway PostgreSQL database created and
dropped on ``--pg-url``'s server), the script migrates, loads the demo data and the
largest affilié (``demo.add_large_affilie()``, 9999001, ~12 000 créance lines) and links
it to the login "groupe". It starts gunicorn in production mode (CSRF on), logs in like a
browser (the login page's csrf_token and session cookie, then the X-CSRFToken header),
chooses "acomptes" on the Paramétrage step of 9999001, and measures with wrk, one after
the other and repeated ``--rounds`` times:

  (a) GET  /ping                                   constant "ok": the web stack's floor
  (b) GET  /demande/9999001/simulation?n=1..60 (htmx)  a move of the slider: the panel
  (c) GET  /demande/9999001/parametrage            the full Paramétrage de la remise page
  (d) GET  /demande/nouvelle?q=NEGOCE   (htmx)     the affiliés table partial

It prints requests/s, p50, p95, p99 for each, the ratio b/a and the goals:
(b) >= 60 % of (a)'s requests/s and p99(b) < 30 ms at 16 connections; with both
databases, a last table puts them side by side. Each move sends no If-None-Match: every
answer is rendered (a revisit's 304 would flatter the figures).
Needs wrk (Debian: apt-get install wrk); the script installs it when it can.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# standard library's http package (which werkzeug, urllib and http.client need).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import urllib.parse  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.seeding import LARGE, LOGIN, seed_large  # noqa: E402
from bench.servers import start_gunicorn, stop, wait_until_ready  # noqa: E402

USER_AGENT = "bench-http"  # the same for login and wrk: flask-login's "strong" protection
# What a current browser sends: Flask-Compress answers with its preferred algorithm.
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GOAL_RATIO = 0.60
GOAL_P99_MS = 30.0


@dataclasses.dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    method: str
    path: str
    htmx: bool = False
    body: str | None = None  # a Lua expression for the body, evaluated per request
    query: str | None = None  # a Lua expression for the query string, evaluated per request


ENDPOINTS = (
    Endpoint("a", "GET /ping (constant)", "GET", "/ping"),
    Endpoint(
        "b",
        f"GET move of the slider {LARGE}",
        "GET",
        f"/demande/{LARGE}/simulation",
        htmx=True,
        # The slider sweeps 1..60, as the browser sends it (app.js): ?n=…
        query='"?n=" .. position()',
    ),
    Endpoint("c", f"GET parametrage page {LARGE}", "GET", f"/demande/{LARGE}/parametrage"),
    Endpoint("d", "GET affiliés table partial q=NEGOCE", "GET", "/demande/nouvelle?q=NEGOCE", True),
)


@dataclasses.dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx answers, socket errors and timeouts

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# ---------------------------------------------------------------- wrk


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    apt = ["apt-get", "install", "-y", "-qq", "wrk"]
    if os.geteuid() != 0:
        apt = ["sudo", "-n", *apt]
    print("wrk not found: trying " + " ".join(apt), flush=True)
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        subprocess.run(apt, check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = shutil.which("wrk")
    if not found:
        raise SystemExit(
            "wrk is needed: install it with `sudo apt-get install -y wrk` (Debian/Ubuntu) "
            "or build it from https://github.com/wg/wrk, then run this script again."
        )
    return found


def lua_script(endpoint: Endpoint, cookie: str, csrf: str) -> str:
    headers = {
        "Cookie": cookie,
        "User-Agent": USER_AGENT,
        "Accept-Encoding": ACCEPT_ENCODING,
    }
    if endpoint.htmx:
        headers["HX-Request"] = "true"
    if endpoint.method == "POST":
        headers["X-CSRFToken"] = csrf
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    lines = [f'wrk.method = "{endpoint.method}"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if endpoint.body or endpoint.query:
        path = f"{json.dumps(endpoint.path)} .. {endpoint.query}" if endpoint.query else "nil"
        lines.append(
            textwrap.dedent(
                f"""
                local n = 0
                function position()
                  n = n % 60 + 1
                  return n
                end
                request = function()
                  return wrk.format(nil, {path}, nil, {endpoint.body or "nil"})
                end"""
            )
        )
    # One parseable line; latencies are in microseconds.
    lines.append(
        textwrap.dedent(
            """
            done = function(summary, latency, requests)
              local e = summary.errors
              io.write(string.format("BENCH %d %d %.0f %.0f %.0f %d\\n",
                summary.requests, summary.duration,
                latency:percentile(50), latency:percentile(95), latency:percentile(99),
                e.connect + e.read + e.write + e.status + e.timeout))
            end"""
        )
    )
    return "\n".join(lines) + "\n"


def run_wrk(
    wrk: str, base: str, endpoint: Endpoint, script: Path, seconds: int, connections: int
) -> Result:
    command = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        base + endpoint.path,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.MULTILINE)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests, duration_us, p50, p95, p99, errors = (int(x) for x in match.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        errors = max(errors, int(non_2xx.group(1)))
    return Result(requests, duration_us / 1e6, p50 / 1000, p95 / 1000, p99 / 1000, errors)


# ---------------------------------------------------------------- databases


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    name = f"bench_http_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(database_url: str) -> None:
    """Migrate, seed the demo data and the largest affilié, linked to "groupe"."""
    from extensions import db

    with seed_large(database_url).app_context():
        db.engine.dispose()


# ---------------------------------------------------------------- server and browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database_url: str, port: int, args) -> Iterator[str]:
    server = start_gunicorn(
        database_url,
        port,
        args.workers,
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "app:create_app()",
        # Long enough for every round on one signed session cookie.
        SESSION_MINUTES="600",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # A shared 2-core machine under load may take most of a minute to boot 3 workers.
        wait_until_ready(
            server, lambda: Browser(port).request("GET", "/ping")[0] == 200, seconds=120
        )
        yield base
    finally:
        stop(server)


class Browser:
    """Just enough of a browser: one session cookie, the CSRF token, no redirects followed."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""
        self.csrf = ""

    def request(self, method, path, form=None, htmx=False, keep_cookie=True):
        headers = {"User-Agent": USER_AGENT}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if htmx:
            headers["HX-Request"] = "true"
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.csrf
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            set_cookie = response.getheader("Set-Cookie") or ""
        finally:
            connection.close()
        if keep_cookie and set_cookie.startswith("session="):
            self.cookie = set_cookie.split(";", 1)[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', text)
        if token and keep_cookie:
            self.csrf = token.group(1)
        return response.status, text

    def expect(self, status, method, path, **kwargs) -> str:
        got, text = self.request(method, path, **kwargs)
        if got != status:
            raise RuntimeError(f"{method} {path}: {got}, expected {status}")
        return text


def walk_to_simulation(port: int) -> Browser:
    """Log in as "groupe", choose acomptes for 9999001: the session wrk will replay."""
    from commands.demo import DEMO_PASSWORD

    browser = Browser(port)
    browser.expect(200, "GET", "/connexion")
    browser.expect(
        302, "POST", "/connexion", form={"utilisateur": LOGIN, "mot_de_passe": DEMO_PASSWORD}
    )
    page = browser.expect(200, "GET", f"/demande/{LARGE}/parametrage")
    compte = re.search(r'<option value="(\d+)"', page).group(1)
    browser.expect(
        302,
        "POST",
        f"/demande/{LARGE}/parametrage",
        form={"modalite": "acomptes", "compte": compte, "garanties": "1"},
    )
    browser.expect(200, "GET", f"/demande/{LARGE}/simulation")
    # Check each measured answer once; these must not change the replayed cookie.
    panel = browser.expect(
        200, "GET", f"/demande/{LARGE}/simulation?n=24", htmx=True, keep_cookie=False
    )
    if 'id="simulation-panel"' not in panel or "<html" in panel:
        raise RuntimeError("the slider's move did not answer with the panel partial")
    table = browser.expect(200, "GET", "/demande/nouvelle?q=NEGOCE", htmx=True, keep_cookie=False)
    if "<html" in table:
        raise RuntimeError("the affiliés search did not answer with the table partial")
    return browser


# ---------------------------------------------------------------- report


def median_result(results: list[Result]) -> Result:
    return Result(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p95_ms=statistics.median(r.p95_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
    )


def report(name: str, results: dict[str, Result], args) -> dict:
    print(
        f"\n{name}: gunicorn {args.workers} × {args.worker_class}"
        f"{f' ({args.threads} threads)' if args.worker_class == 'gthread' else ''}, "
        f"wrk -t2 -c{args.connections}, {args.seconds} s × {args.rounds} round(s)"
    )
    print(
        f"| {'endpoint':<40} | {'req/s':>8} | {'p50 ms':>7} | {'p95 ms':>7} | "
        f"{'p99 ms':>7} | {'errors':>6} |"
    )
    print(f"|{'-' * 42}|{'-' * 9}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 7}:|")
    for endpoint in ENDPOINTS:
        r = results[endpoint.key]
        print(
            f"| ({endpoint.key}) {endpoint.label:<36} | {r.rps:>8.1f} | {r.p50_ms:>7.2f} | "
            f"{r.p95_ms:>7.2f} | {r.p99_ms:>7.2f} | {r.errors:>6} |"
        )
    a, b = results["a"], results["b"]
    ratio = b.rps / a.rps if a.rps else 0.0
    ok_ratio = ratio >= GOAL_RATIO
    ok_p99 = b.p99_ms < GOAL_P99_MS
    print(
        f"ratio b/a = {ratio:.2f}× "
        f"(goal >= {GOAL_RATIO:.2f}×: {'met' if ok_ratio else 'NOT met'}); "
        f"p99(b) = {b.p99_ms:.1f} ms (goal < {GOAL_P99_MS:g} ms: "
        f"{'met' if ok_p99 else 'NOT met'})"
    )
    failed = {k: r.errors for k, r in results.items() if r.errors}
    if failed:
        # An error page is cheap: these figures do not measure the real answers.
        print(
            "WARNING: errors or non-2xx/3xx answers, the figures are void: "
            + ", ".join(f"({k}) {n}" for k, n in failed.items())
        )
    return {
        "endpoints": {k: dataclasses.asdict(v) | {"rps": v.rps} for k, v in results.items()},
        "ratio_b_a": ratio,
    }


def bench_one(name: str, database_url: str, wrk: str, args) -> dict:
    print(f"\n== {name}: preparing the database (migrate, demo, {LARGE}) ...", flush=True)
    prepare(database_url)
    port = free_port()
    with gunicorn(database_url, port, args) as base, tempfile.TemporaryDirectory() as tmp:
        browser = walk_to_simulation(port)
        scripts = {}
        for endpoint in ENDPOINTS:
            scripts[endpoint.key] = Path(tmp) / f"{endpoint.key}.lua"
            scripts[endpoint.key].write_text(lua_script(endpoint, browser.cookie, browser.csrf))
        # Warm-up: every worker compiles its templates and opens its pool connections.
        for endpoint in ENDPOINTS:
            run_wrk(wrk, base, endpoint, scripts[endpoint.key], 2, args.connections)
        runs: dict[str, list[Result]] = {e.key: [] for e in ENDPOINTS}
        # Interleaved: a b c d, a b c d, ... so a slow minute on a shared machine hits all.
        for round_ in range(args.rounds):
            for endpoint in ENDPOINTS:
                print(
                    f"   round {round_ + 1}/{args.rounds}: ({endpoint.key}) {endpoint.label}",
                    flush=True,
                )
                runs[endpoint.key].append(
                    run_wrk(
                        wrk,
                        base,
                        endpoint,
                        scripts[endpoint.key],
                        args.seconds,
                        args.connections,
                    )
                )
    return report(name, {k: median_result(v) for k, v in runs.items()}, args)


def machine() -> str:
    cpus = os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpus} CPU(s), load average {load}, Python {sys.version.split()[0]}"


def side_by_side(results: dict[str, dict]) -> None:
    """The databases of this run next to each other: the move (b) against the floor (a)."""
    names = list(results)
    print("\nSide by side (one run):")
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    rows = [
        ("(a) req/s", lambda r: f"{r['endpoints']['a']['rps']:.0f}"),
        ("(b) req/s", lambda r: f"{r['endpoints']['b']['rps']:.0f}"),
        ("ratio b/a", lambda r: f"{r['ratio_b_a']:.2f}×"),
        ("(b) p50 ms", lambda r: f"{r['endpoints']['b']['p50_ms']:.2f}"),
        ("(b) p95 ms", lambda r: f"{r['endpoints']['b']['p95_ms']:.2f}"),
        ("(b) p99 ms", lambda r: f"{r['endpoints']['b']['p99_ms']:.2f}"),
    ]
    for label, cell in rows:
        print(f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="wrk duration per endpoint")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    parser.add_argument("--dbs", default="sqlite,postgres", help="sqlite,postgres or one")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    # 2 cores: 3 sync workers beat gthread (3 × 2, 2 × 4) and 5 sync on the partial's p95.
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    parser.add_argument(
        "--worker-class", default="sync", choices=("sync", "gthread"), help="gunicorn -k"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
        help="an admin URL on the PostgreSQL server (a throwaway database is made next to it)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    dbs = [d.strip() for d in args.dbs.split(",") if d.strip()]
    unknown = set(dbs) - {"sqlite", "postgres"}
    if unknown or not dbs:
        parser.error(f"--dbs takes sqlite and/or postgres, not {', '.join(unknown) or 'nothing'}")
    if args.seconds < 1 or args.rounds < 1:
        parser.error("--seconds and --rounds must be at least 1")

    wrk = ensure_wrk()
    print(machine())
    print(
        "Absolute figures move with whatever else runs on the machine; "
        "compare the endpoints of one run with each other."
    )
    results = {}
    for name in dbs:
        scope = sqlite_database() if name == "sqlite" else postgres_database(args.pg_url)
        with scope as url:
            results[name] = bench_one(
                "SQLite" if name == "sqlite" else "PostgreSQL", url, wrk, args
            )
    if len(results) > 1:
        side_by_side(results)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
