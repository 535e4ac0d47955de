"""Profile of the slider move (the simulation partial) in process, with pyinstrument.

    pip install pyinstrument        # not a requirement of the project
    python bench/profile_slider.py [--moves 200] [--database-url URL] [--page parametrage]
    python bench/profile_slider.py --against REV [--rounds 3] [--database-url URL]

Migrates a scratch database (a temporary SQLite file, or ``--database-url``: an empty
database you can throw away), loads the demo data and the largest affilié (9999001,
~12 000 lines), logs in as "groupe", chooses *Paiement par acomptes*, then prints:

- the SQL statements of one slider move;
- the median time, through Flask's test client, of ``/ping``, of a slider move to a
  position seen before (it answers from the panels kept per process), and of a move to a
  new position (an avance no request has typed before: simulated and rendered);
- pyinstrument's call tree over ``--moves`` slider moves (positions 1..60, all shown
  before: their panels are kept).

This is where the figures of docs/PERFORMANCE.md's "What is left" come from.

``--against REV`` (a git revision: ``596eeab``, ``HEAD~3``) shows a change's cost: the
script checks REV out into a temporary detached worktree (removed at the end), compiles
its translations, and measures the same figures, without the call tree, for REV and for
the current checkout (uncommitted changes included), ``--rounds`` times, the two trees
alternating. Each measure is a child process of the same interpreter running this
script with ``--root TREE --timings-only --json``: the app is imported from TREE, the
script and bench/seeding.py from the current checkout, so both trees are measured the
same way, through HTTP only. It prints a table: each figure's median over the rounds
and its lowest, and the ratio current / REV of the medians. With ``--database-url``, a
PostgreSQL server, each measure creates and drops a database of its own on it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/http.py would
# hide the standard library's http package. The app's folder goes first in profile().
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent

import sqlalchemy as sa  # noqa: E402


def bench_module(name: str):
    """bench/<name>.py of the current checkout, whichever tree the app comes from."""
    spec = importlib.util.spec_from_file_location(f"bench.{name}", _HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seeding = bench_module("seeding")  # imports the app only when it seeds
LARGE = seeding.LARGE
HX = {"HX-Request": "true", "Accept-Encoding": "gzip, deflate, br, zstd"}
RUNS = 300  # requests behind each median


def prepared_client(database_url: str):
    """The app on a seeded database, and a test client at the Simulation step of 9999001."""
    from commands import demo
    from db.models import Affilie
    from extensions import db

    app = seeding.seed_large(database_url, WTF_CSRF_ENABLED=False)
    with app.app_context():
        large = db.session.scalars(sa.select(Affilie).where(Affilie.numero == LARGE)).one()
        compte_id = large.comptes[0].id
        db.session.remove()
    client = app.test_client()
    answer = client.post(
        "/connexion", data={"utilisateur": "groupe", "mot_de_passe": demo.DEMO_PASSWORD}
    )
    assert answer.status_code == 302, answer.status_code
    answer = client.post(
        f"/demande/{LARGE}/parametrage",
        data={"modalite": "acomptes", "compte": str(compte_id), "garanties": "1"},
    )
    assert answer.status_code == 302, answer.status_code
    return app, client


def median_ms(request, runs: int) -> float:
    for i in range(20):  # warm-up: caches, compiled templates, pooled connections
        request(i)
    times = []
    for i in range(runs):
        start = time.perf_counter()
        request(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def statements_of(app, move) -> list[str]:
    """The SQL statements of one move, after a first one."""
    from extensions import db

    statements: list[str] = []

    def record(connection, cursor, statement, *rest):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    move(0)
    sa.event.listen(engine, "before_cursor_execute", record)
    move(23)
    sa.event.remove(engine, "before_cursor_execute", record)
    return statements


def moves(client, page: str):
    """A move (the slider through 1..60, or the Paramétrage page), and a move to a new
    position (an avance no request has typed before: its panel is not kept)."""

    def get(path: str):
        answer = client.get(path, headers=HX)
        assert answer.status_code == 200, (path, answer.status_code)

    def move(i: int):
        if page == "parametrage":
            get(f"/demande/{LARGE}/parametrage")
        else:
            get(f"/demande/{LARGE}/simulation?n={i % 60 + 1}")

    typed = itertools.count(200_000)  # centimes

    def new_move(i: int):
        c = next(typed)
        get(f"/demande/{LARGE}/simulation?n={i % 60 + 1}&avance={c // 100}.{c % 100:02d}")

    return move, new_move


def medians(client, page: str, move, new_move) -> dict[str, float]:
    """The median times in ms, by label."""
    result = {"median GET /ping (ms)": median_ms(lambda i: client.get("/ping"), RUNS)}
    if page == "parametrage":
        result["median parametrage page (ms)"] = median_ms(move, RUNS)
    else:
        result["median move, a kept position (ms)"] = median_ms(move, RUNS)
        result["median move, a new position (ms)"] = median_ms(new_move, RUNS)
    return result


def cprofile(move, moves: int) -> None:
    """The standard library's profiler: where the moves' time goes, by own time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(moves):
        move(i)
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"per move: {stats.total_tt / moves * 1000:.2f} ms under cProfile (inflated by it)")
    stats.sort_stats("tottime").print_stats(25)


def call_tree(move, moves: int) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("(pip install pyinstrument for the call tree; cProfile's totals instead)")
        cprofile(move, moves)
        return
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for i in range(moves):
        move(i)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


def profile(args) -> int:
    """The app of one tree: its figures, then (without --timings-only) the call tree."""
    sys.path.insert(0, str(Path(args.root).resolve() if args.root else ROOT))
    from extensions import db

    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'profile.db'}"
        app, client = prepared_client(url)
        move, new_move = moves(client, args.page)
        statements = statements_of(app, move)
        counted = f"SQL statements of one {args.page} request"
        times = medians(client, args.page, move, new_move)
        if args.json:
            print(json.dumps({counted: len(statements), **times}))
        else:
            print(f"{counted}: {len(statements)}")
            for statement in statements:
                print("  " + " ".join(statement.split())[:110])
            for label, value in times.items():
                print(f"{label}: {value:.2f}")
        if not args.timings_only:
            call_tree(move, args.moves)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 0


# ---------------------------------------------------------------- --against REV


def git(*command: str) -> str:
    return subprocess.run(
        ["git", *command], cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True
    ).stdout.strip()


@contextlib.contextmanager
def worktree(revision: str):
    """REV checked out, detached, into a temporary folder, its translations compiled."""
    with tempfile.TemporaryDirectory(prefix="profile-slider-") as scratch:
        tree = Path(scratch) / "tree"
        git("worktree", "add", "--quiet", "--detach", str(tree), revision)
        try:
            pybabel = Path(sys.executable).with_name("pybabel")
            subprocess.run(
                [str(pybabel), "--quiet", "compile", "-d", "translations"], cwd=tree, check=True
            )
            yield tree
        finally:
            git("worktree", "remove", "--force", str(tree))


@contextlib.contextmanager
def database_of_its_own(server_url: str | None):
    """A throwaway database on the PostgreSQL server (None: the child's SQLite file)."""
    if server_url is None:
        yield None
        return
    name = f"profile_slider_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.engine.make_url(server_url).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(tree: Path, args) -> dict[str, float]:
    """The figures of the app in ``tree``, measured by this script in a child process."""
    command = [sys.executable, str(Path(__file__).resolve()), "--root", str(tree)]
    command += ["--timings-only", "--json", "--page", args.page]
    with database_of_its_own(args.database_url) as url:
        if url:
            command += ["--database-url", url]
        out = subprocess.run(command, cwd=tree, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.splitlines()[-1])


def shown(label: str, value: float) -> str:
    """A time with two decimals, a count as it is."""
    return f"{value:.2f}" if label.endswith("(ms)") else f"{value:g}"


def compare(args) -> int:
    """The figures of REV and of the current checkout, the two alternating each round."""
    revision = args.against
    names = (revision, "current")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    print(f"{revision} ({git('rev-parse', '--short', revision)}) against the current checkout")
    with worktree(revision) as tree:
        trees = {revision: tree, "current": ROOT}
        for round_ in range(1, args.rounds + 1):
            for name in names if round_ % 2 else names[::-1]:
                runs[name].append(measure(trees[name], args))
                figures = ", ".join(shown(*figure) for figure in runs[name][-1].items())
                print(f"round {round_}/{args.rounds}, {name}: {figures}", flush=True)

    rows = [("figure", revision, "current", "ratio")]
    for label in runs["current"][0]:
        cells = []
        for name in names:
            values = [run[label] for run in runs[name]]
            median, lowest = statistics.median(values), min(values)
            cells.append(f"{shown(label, median)} (min {shown(label, lowest)})")
        before = statistics.median(run[label] for run in runs[revision])
        after = statistics.median(run[label] for run in runs["current"])
        rows.append((label, *cells, f"{after / before:.2f}" if before else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print()
    for i, row in enumerate(rows):
        print("| " + " | ".join(text.ljust(w) for text, w in zip(row, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print(f"\nmedian of the {args.rounds} rounds (min: the lowest); ratio: current / {revision}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200, help="moves under the profiler")
    parser.add_argument("--database-url", help="an empty scratch database (default: SQLite)")
    parser.add_argument("--page", choices=("partial", "parametrage"), default="partial")
    parser.add_argument("--against", metavar="REV", help="compare with this git revision")
    parser.add_argument("--rounds", type=int, default=3, help="with --against")
    parser.add_argument("--root", help="import the app from this tree (default: this one)")
    parser.add_argument("--timings-only", action="store_true", help="no call tree")
    parser.add_argument("--json", action="store_true", help="the figures as one JSON line")
    args = parser.parse_args(argv)
    if args.against and args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("with --against, --database-url is a PostgreSQL server")
    return compare(args) if args.against else profile(args)


if __name__ == "__main__":
    sys.exit(main())
