"""Profile of the slider move (the simulation partial) in process, with pyinstrument.

    pip install pyinstrument        # not a requirement of the project
    python bench/profile_slider.py [--moves 200] [--database-url URL] [--page parametrage]

Migrates a scratch database (a temporary SQLite file, or ``--database-url``: an empty
database you can throw away), loads the demo data and the largest affilié (9999001,
~12 000 lines), logs in as "groupe", chooses *Paiement par acomptes*, then prints:

- the SQL statements of one slider move;
- the median time of ``/ping`` and of a slider move through Flask's test client (a
  position seen before answers from the panels kept per process), and of a move whose
  panel is simulated and rendered;
- pyinstrument's call tree over ``--moves`` slider moves (positions 1..60).

This is where the figures of docs/PERFORMANCE.md's "What is left" come from.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and bench/http.py would
# hide the standard library's http package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.seeding import LARGE, seed_large  # noqa: E402

HX = {"HX-Request": "true", "Accept-Encoding": "gzip, deflate, br, zstd"}


def prepared_client(database_url: str):
    """The app on a seeded database, and a test client at the Simulation step of 9999001."""
    from commands import demo
    from db.models import Affilie
    from extensions import db

    app = seed_large(database_url, WTF_CSRF_ENABLED=False)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--database-url", help="an empty scratch database (default: SQLite)")
    parser.add_argument("--page", choices=("partial", "parametrage"), default="partial")
    args = parser.parse_args(argv)

    from extensions import db

    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'profile.db'}"
        app, client = prepared_client(url)

        def move(i: int):
            if args.page == "parametrage":
                answer = client.get(f"/demande/{LARGE}/parametrage", headers=HX)
            else:
                answer = client.get(f"/demande/{LARGE}/simulation?n={i % 60 + 1}", headers=HX)
            assert answer.status_code == 200, answer.status_code
            return answer

        statements: list[str] = []
        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        move(0)
        statements.clear()
        move(23)
        print(f"SQL statements of one {args.page} request: {len(statements)}")
        for statement in statements:
            print("  " + " ".join(statement.split())[:110])
        statements.clear()

        print(f"median GET /ping: {median_ms(lambda i: client.get('/ping'), 300):.2f} ms")
        print(f"median {args.page}: {median_ms(move, 300):.2f} ms")
        if args.page == "partial":
            from services import caches

            def rendered(i: int):
                # The same positions, none kept: the simulation and the render every time.
                caches.panels.clear()
                caches.compressed.clear()
                return move(i)

            print(f"median partial, rendered (no kept panel): {median_ms(rendered, 300):.2f} ms")

        try:
            from pyinstrument import Profiler
        except ImportError:
            print("(pip install pyinstrument for the call tree; cProfile's totals instead)")
            cprofile(move, args.moves)
            return 0
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for i in range(args.moves):
            move(i)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
