"""HTTP benchmark: every answer of the app beside a bare Flask app, under gunicorn + wrk.

    python bench/http.py [--seconds 8] [--rounds 3] [--dbs sqlite,postgres] [--pages]

For each database (a temporary SQLite file; a throwaway PostgreSQL database created and
dropped on ``--pg-url``'s server), the script migrates, loads the demo data and the
largest affilié (``demo.add_large_affilie()``, 9999001, ~12 000 créance lines) and links
it to the login "groupe". It starts two gunicorns with the same settings (``--workers``
sync workers by default): the app in production mode (CSRF on, the JSON request log on)
and a bare Flask app the script writes into a temporary folder, one route answering
"ok". It logs in like a browser (the login page's csrf_token and session cookie),
chooses "acomptes" on the Paramétrage step of 9999001, and measures with wrk, one after
the other, interleaved, ``--rounds`` times:

  (flask) GET /ping on the bare Flask app          "ok": what the framework costs
  (ping)  GET /ping, the signed-in session cookie   the app's constant route
  (kept)  GET /demande/9999001/simulation?n=1..60  a move to a position its worker has
          (htmx)                                    shown: the kept panel
  (new)   GET /demande/9999001/simulation?n=…&avance=…  a move no worker has seen (a
          (htmx)                                    unique avance): simulated and rendered
  with --pages, also:
  (page)  GET /demande/9999001/parametrage         the full Paramétrage de la remise page
  (table) GET /demande/nouvelle?q=NEGOCE (htmx)    the affiliés table partial

With ``--flame bench/flame-after``, py-spy (a dev requirement) records each endpoint's
first round into bench/flame-after-<database>-<endpoint>.svg, with this machine's paths
taken out (``portable``): the programs named alone ("python", "py-spy"), no folder.

It prints, per endpoint, requests/s (the median and the lowest of the rounds), its ratio
to the bare Flask app (each round's ratio to the bare app of the same round: median and
lowest), p50 and p99 (medians over the rounds), and the goals: ping ≥ 0.50×, kept ≥
0.25×, new ≥ 0.20× the bare app, p99 of a move < 50 ms at 16 connections. With both
databases a last table puts them side by side. No request sends If-None-Match: every
answer has a body (a revisit's 304 would flatter the figures). Like a browser, wrk keeps
the session cookie an answer sends (the same script for the bare app). The app's log
lines go to a temporary file, counted at the end against the requests sent (one each).
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

USER_AGENT = "bench-http"
# What a current browser sends: Flask-Compress answers with its preferred algorithm.
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Each endpoint's goal: its requests/s as a share of the bare Flask app's, in one run.
GOALS = {"ping": 0.50, "kept": 0.25, "new": 0.20}
GOAL_P99_MS = 50.0  # a move (kept or new), at 16 connections
MOVES = ("kept", "new")
BARE = "flask"

# The framework alone, served by the same gunicorn with the same settings: the reference.
BARE_APP = """\
from flask import Flask

app = Flask(__name__)


@app.get("/ping")
def ping():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}
"""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    htmx: bool = False
    query: str | None = None  # a Lua expression for the query string, evaluated per request
    page: bool = False  # measured with --pages only


ENDPOINTS = (
    Endpoint(BARE, "bare Flask app, GET /ping", "/ping"),
    Endpoint("ping", "GET /ping, signed-in session", "/ping"),
    Endpoint(
        "kept",
        "move, a position kept (htmx)",
        f"/demande/{LARGE}/simulation",
        htmx=True,
        # The slider sweeps 1..60, as the browser sends it (app.js): after the warm-up
        # every worker has shown each position, and keeps its panel.
        query='"?n=" .. position()',
    ),
    Endpoint(
        "new",
        "move, a new position (htmx)",
        f"/demande/{LARGE}/simulation",
        htmx=True,
        # An avance no request has typed before (centimes counted from a block of its
        # own per wrk run and thread): the panel is simulated and rendered.
        query='"?n=" .. position() .. "&avance=" .. unseen_avance()',
    ),
    Endpoint("page", f"parametrage page {LARGE}", f"/demande/{LARGE}/parametrage", page=True),
    Endpoint("table", "affiliés q=NEGOCE (htmx)", "/demande/nouvelle?q=NEGOCE", True, page=True),
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


def lua_script(endpoint: Endpoint, cookie: str, block: int) -> str:
    """wrk's script for ``endpoint``; ``block`` numbers this wrk run, so that the new
    positions of one run are never those of another."""
    headers = {
        "Cookie": cookie,
        "User-Agent": USER_AGENT,
        "Accept-Encoding": ACCEPT_ENCODING,
    }
    if endpoint.htmx:
        headers["HX-Request"] = "true"
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    query = endpoint.query or '""'
    lines.append(
        textwrap.dedent(
            f"""
            local threads = 0
            function setup(thread)
              threads = threads + 1
              thread:set("thread_number", threads)
            end
            local n = 0
            function position()
              n = n % 60 + 1
              return n
            end
            local typed = 0
            function unseen_avance()
              typed = typed + 1
              -- 2 000,00 MAD of centimes per run and thread, far below the sum due.
              local c = ({block} * 4 + thread_number) * 200000 + typed
              return string.format("%d.%02d", math.floor(c / 100), c % 100)
            end
            request = function()
              return wrk.format(nil, {json.dumps(endpoint.path)} .. {query})
            end
            -- A browser keeps the session cookie each answer sends (its sliding expiry).
            response = function(status, headers, body)
              local sent = headers["Set-Cookie"]
              local session = sent and sent:match("^(session=[^;]*)")
              if session then
                wrk.headers["Cookie"] = session
              end
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
    wrk: str, port: int, endpoint: Endpoint, script: Path, seconds: int, connections: int
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
        f"http://127.0.0.1:{port}{endpoint.path}",
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


@contextlib.contextmanager
def flame_graph(svg: Path | None, pid: int, seconds: int) -> Iterator[None]:
    """py-spy's flame graph of the gunicorn ``pid`` and its workers while the block runs
    (``seconds`` long), written to ``svg``; nothing when ``svg`` is None."""
    if svg is None:
        yield
        return
    py_spy = Path(sys.executable).with_name("py-spy")
    recorder = subprocess.Popen(
        [
            str(py_spy),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--nonblocking",  # the workers are not paused to be sampled
            "--rate",
            "200",
            "--duration",
            str(max(1, seconds - 1)),
            "--output",
            str(svg),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.wait(timeout=60)
        if svg.exists():
            svg.write_text(portable(svg.read_text(encoding="utf-8")), encoding="utf-8")


def portable(text: str, roots: tuple[str, ...] = ()) -> str:
    """A flame graph that names no path of the machine it was recorded on: py-spy writes
    its own command line and each process's (``--chdir``, the temporary folders) into the
    SVG. The checkout (and ``roots``) become ".", the virtualenv's programs are named
    alone ("python", "py-spy"), gunicorn's ``--chdir`` goes, and what is left under the
    same top folders (temporary folders, labels cut short) becomes "…"."""
    named = [(sys.prefix, ".venv"), *((root, ".") for root in (*roots, str(ROOT)))]
    for path, name in named:
        text = text.replace(path, name)
    tops = {
        Path(p).resolve().parts[1]
        for p in (ROOT, tempfile.gettempdir(), sys.prefix, sys.base_prefix, *roots)
        if len(Path(p).resolve().parts) > 1
    }
    pattern = "|".join(sorted(re.escape(top) for top in tops))
    # A path of its own: not a module's (gunicorn/workers/…) nor part of a longer word.
    text = re.sub(rf"(?<![\w/.\-])/(?:{pattern})\b[^\s\"'&;<>)]*", "…", text)
    # A label the graph cut short ("--chdir /w.."): the start of a path all the same.
    text = re.sub(r"(?<![\w/.\-])/[\w.\-]*\.\.(?=<)", "…", text)
    # A module's label cut inside its path ("(gunicorn/work..", "(gunicorn/workers/sy.."):
    # cut at the package, so that no fragment reads as the start of a path ("(gunicorn..").
    text = re.sub(r"(?<=[\w.\-])/[\w./\-]*\.\.(?=<)", "..", text)
    # The command lines name programs, not where they live: "python -m gunicorn …",
    # "py-spy record …", without the folder gunicorn was told to work in.
    text = text.replace(".venv/bin/", "")
    # A file under the checkout as the repository names it: "bench/…svg", not "./bench/…".
    text = re.sub(r"(--output |>)\./", r"\1", text)
    return re.sub(r" --chdir [^\s&<]+", "", text)


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
def gunicorn(database_url: str, args, log, app: str = "app:create_app()", chdir=None):
    """A gunicorn serving ``app`` with the benchmark's settings; yields its port and the
    master's process id."""
    port = free_port()
    server = start_gunicorn(
        database_url,
        port,
        args.workers,
        "--worker-class",
        args.worker_class,
        # gunicorn turns a sync worker given --threads > 1 into gthread, silently: the
        # threads only for gthread, so that "sync" is the single-threaded worker that
        # production runs (deploy/gunicorn.conf.py) and the reference measured.
        *(("--threads", str(args.threads)) if args.worker_class == "gthread" else ()),
        app,
        stderr=log,
        # Long enough for every round on one signed session cookie.
        SESSION_MINUTES="600",
        **({"chdir": chdir} if chdir else {}),
    )
    try:
        # A shared 2-core machine under load may take most of a minute to boot the workers.
        wait_until_ready(
            server, lambda: Browser(port).request("GET", "/ping")[0] == 200, seconds=120
        )
        yield port, server.pid
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


@dataclasses.dataclass
class Measured:
    """One endpoint's rounds, and the bare app's rounds of the same run beside them."""

    rounds: list[Result]
    bare: list[Result]

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.rounds)

    @property
    def rps_min(self) -> float:
        return min(r.rps for r in self.rounds)

    def ratios(self) -> list[float]:
        return [r.rps / b.rps if b.rps else 0.0 for r, b in zip(self.rounds, self.bare)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios())

    @property
    def ratio_min(self) -> float:
        return min(self.ratios())

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.rounds)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.rounds)

    @property
    def p99_max_ms(self) -> float:
        return max(r.p99_ms for r in self.rounds)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)

    def as_dict(self) -> dict:
        return {
            "rounds": [dataclasses.asdict(r) | {"rps": r.rps} for r in self.rounds],
            "rps_median": self.rps,
            "rps_min": self.rps_min,
            "ratio_median": self.ratio,
            "ratio_min": self.ratio_min,
            "p50_ms_median": self.p50_ms,
            "p99_ms_median": self.p99_ms,
            "p99_ms_max": self.p99_max_ms,
        }


def goals(measured: dict[str, Measured]) -> list[tuple[str, bool]]:
    """Each goal's line and whether this run meets it (on the median round)."""
    lines = []
    for key, goal in GOALS.items():
        m = measured[key]
        lines.append((f"({key}) >= {goal:.2f}× the bare app: {m.ratio:.2f}×", m.ratio >= goal))
    worst = max(MOVES, key=lambda k: measured[k].p99_ms)
    p99 = measured[worst].p99_ms
    lines.append((f"p99 of a move < {GOAL_P99_MS:g} ms: {p99:.1f} ms ({worst})", p99 < GOAL_P99_MS))
    return lines


def report(name: str, measured: dict[str, Measured], args, logged: str) -> dict:
    print(
        f"\n{name}: gunicorn {args.workers} × {args.worker_class}"
        f"{f' ({args.threads} threads)' if args.worker_class == 'gthread' else ''}, "
        f"wrk -t2 -c{args.connections}, {args.seconds} s × {args.rounds} round(s)"
    )
    print(
        f"| {'endpoint':<42} | {'req/s':>7} | {'min':>7} | {'× bare':>6} | {'min ×':>6} | "
        f"{'p50 ms':>7} | {'p99 ms':>7} | {'errors':>6} |"
    )
    widths = (8, 8, 7, 7, 8, 8, 7)
    print(f"|{'-' * 44}|" + "".join(f"{'-' * w}:|" for w in widths))
    for key, m in measured.items():
        label = next(e.label for e in ENDPOINTS if e.key == key)
        print(
            f"| ({key}) {label:<{39 - len(key)}} | {m.rps:>7.0f} | {m.rps_min:>7.0f} | "
            f"{m.ratio:>5.2f}× | {m.ratio_min:>5.2f}× | {m.p50_ms:>7.2f} | {m.p99_ms:>7.2f} | "
            f"{m.errors:>6} |"
        )
    for line, met in goals(measured):
        print(f"  {'met' if met else 'NOT met'}: {line}")
    print(f"  {logged}")
    failed = {k: m.errors for k, m in measured.items() if m.errors}
    if failed:
        # An error page is cheap: these figures do not measure the real answers.
        print(
            "WARNING: errors or non-2xx/3xx answers, the figures are void: "
            + ", ".join(f"({k}) {n}" for k, n in failed.items())
        )
    return {key: m.as_dict() for key, m in measured.items()}


def count_request_lines(log: Path) -> int:
    with log.open(encoding="utf-8", errors="replace") as lines:
        return sum('"event": "request"' in line for line in lines)


def bench_one(name: str, database_url: str, wrk: str, args) -> dict:
    print(f"\n== {name}: preparing the database (migrate, demo, {LARGE}) ...", flush=True)
    prepare(database_url)
    endpoints = [e for e in ENDPOINTS if args.pages or not e.page]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-http-")))
        (tmp / "bare.py").write_text(BARE_APP)
        app_log = tmp / "app.log"
        log = stack.enter_context(app_log.open("wb"))
        bare = stack.enter_context(
            gunicorn(database_url, args, subprocess.DEVNULL, "bare:app", chdir=tmp)
        )
        served = stack.enter_context(gunicorn(database_url, args, log))
        browser = walk_to_simulation(served[0])
        sent = 0
        blocks = iter(range(10**6))

        def measure(endpoint: Endpoint, seconds: int, flame: Path | None = None) -> Result:
            nonlocal sent
            port, pid = bare if endpoint.key == BARE else served
            script = tmp / f"{endpoint.key}.lua"
            script.write_text(lua_script(endpoint, browser.cookie, next(blocks)))
            with flame_graph(flame, pid, seconds):
                result = run_wrk(wrk, port, endpoint, script, seconds, args.connections)
            if endpoint.key != BARE:
                sent += result.requests
            return result

        # Warm-up: every worker compiles its templates, opens its pool connections and
        # shows every position of the slider (the kept panels).
        for endpoint in endpoints:
            measure(endpoint, 3)
        runs: dict[str, list[Result]] = {e.key: [] for e in endpoints}
        # Interleaved, the bare app first: a slow minute on a shared machine hits all.
        for round_ in range(args.rounds):
            for endpoint in endpoints:
                print(
                    f"   round {round_ + 1}/{args.rounds}: ({endpoint.key}) {endpoint.label}",
                    flush=True,
                )
                flame = None
                if args.flame and round_ == 0:
                    flame = Path(f"{args.flame}-{name.lower()}-{endpoint.key}.svg")
                runs[endpoint.key].append(measure(endpoint, args.seconds, flame))
        log.flush()
        # wrk counts the answers it read; a request cut at the end of a run is logged
        # but not counted: a few more lines than requests is expected.
        logged = f"request log lines: {count_request_lines(app_log)} for {sent} requests read"
    measured = {key: Measured(results, runs[BARE]) for key, results in runs.items()}
    return report(name, measured, args, logged)


def machine() -> str:
    cpus = os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpus} CPU(s), load average {load}, Python {sys.version.split()[0]}"


def side_by_side(results: dict[str, dict]) -> None:
    """The databases of this run next to each other: each endpoint against the bare app."""
    names = list(results)
    print("\nSide by side (one run; medians of the rounds):")
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    keys = list(next(iter(results.values())))
    for key in keys:
        print(
            f"| ({key}) req/s | "
            + " | ".join(f"{results[n][key]['rps_median']:.0f}" for n in names)
            + " |"
        )
    for key in keys:
        if key != BARE:
            print(
                f"| ({key}) × bare | "
                + " | ".join(f"{results[n][key]['ratio_median']:.2f}×" for n in names)
                + " |"
            )
    for key in MOVES:
        print(
            f"| ({key}) p99 ms | "
            + " | ".join(f"{results[n][key]['p99_ms_median']:.1f}" for n in names)
            + " |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per endpoint")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--dbs", default="sqlite,postgres", help="sqlite,postgres or one")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    # One sync worker per core, as the reference measurement of the bare app.
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--worker-class", default="sync", choices=("sync", "gthread"), help="gunicorn -k"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
        help="an admin URL on the PostgreSQL server (a throwaway database is made next to it)",
    )
    parser.add_argument(
        "--pages", action="store_true", help="also the Paramétrage page and the affiliés table"
    )
    parser.add_argument(
        "--flame",
        help="py-spy flame graphs of the first round: PREFIX-<database>-<endpoint>.svg",
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
