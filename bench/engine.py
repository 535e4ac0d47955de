"""Benchmark of the remise engine on the largest affilié (not a test: nothing is asserted).

    python bench/engine.py [--runs N] [--plot FILE.png] [--strict]

Builds a temporary SQLite database (and a temporary PostgreSQL one too when DATABASE_URL
is a PostgreSQL URL), migrates it, adds ``demo.add_large_affilie()`` (every period
196901-202412 × 6 rubriques × 3 natures, about 12 000 lines), then times:

  (a) queries.consolidation_for: the SQL GROUP BY the views use (its per-process cache
      emptied before each run), and a cache hit, what a slider move costs;
  (b) loading every raw line, then domain.creance.consolidate in Python;
  (c) one domain.simulation.simulate for 1, 60 and 120 instalments;
  (d) domain.creance.consolidate alone on 1k, 12k and 100k in-memory lines;
  (e) queries.consolidation_for on affiliés of 1k, 12k and 100k lines in the database.

Each figure is the best and the median of N runs of time.perf_counter. Budgets:
consolidation + one simulation < 20 ms in process; loading the lines < 100 ms on SQLite.
Two shapes are checked too: time no worse than linear in the number of lines ((d), (e)),
and flat in the slider's position (consolidation + simulation for 1, 60, 120 échéances).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where bench/http.py would hide the
# standard library's http package from werkzeug.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

BUDGET_CONSOLIDATION_AND_SIMULATION_MS = 20.0
BUDGET_LOAD_SQLITE_MS = 100.0
SCALING_SIZES = (1_000, 12_000, 100_000)
# Above this, time grew faster than the lines between two sizes (the margin absorbs noise).
WORSE_THAN_LINEAR = 1.3
# Above this, the slowest slider position costs noticeably more than the fastest.
NOT_FLAT = 1.25


@dataclasses.dataclass
class Timing:
    label: str
    runs: list[float]  # seconds
    budget_ms: float | None = None
    note: str = ""

    @property
    def best_ms(self) -> float:
        return min(self.runs) * 1000

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs) * 1000

    @property
    def verdict(self) -> str:
        if self.budget_ms is None:
            return ""
        # The median, not the best run: a budget is what a request usually costs.
        return "ok" if self.median_ms < self.budget_ms else "OVER BUDGET"


def measure(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up: caches, compiled statements, first page reads
    gc.collect()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def make_app(database_url: str):
    from app import create_app

    return create_app(
        {
            "APP_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "bench-only",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "RATELIMIT_ENABLED": False,
        }
    )


def bench_database(database_url: str, runs: int) -> tuple[list[Timing], int]:
    """(a), (b) and (c) on one database; returns the timings and the line count."""
    from flask_migrate import upgrade

    from commands import demo
    from db.models import Affilie, LigneCreance
    from domain.campaign import DECISION_05_2023
    from domain.creance import CreanceLine, consolidate
    from domain.simulation import simulate
    from extensions import db
    from services import queries

    campaign = DECISION_05_2023
    # The decision allows 60 instalments; 120 shows how the schedule scales.
    long_campaign = dataclasses.replace(campaign, max_echeances=120)
    last = campaign.last_eligible_period

    app = make_app(database_url)
    with app.app_context():
        try:
            # Alembic configures its loggers on every upgrade; keep the table readable.
            logging.disable(logging.INFO)
            try:
                upgrade()
            finally:
                logging.disable(logging.NOTSET)
            affilie = demo.add_large_affilie()
            affilie_id, situation = affilie.id, affilie.date_situation
            line_count = db.session.scalar(
                sa.select(sa.func.count()).where(LigneCreance.affilie_id == affilie_id)
            )
            db.session.expunge_all()

            # Loaded once, as a request has it already (own_affilie).
            large = db.session.get(Affilie, affilie_id)

            def sql_consolidation():
                queries._TABLES.clear()  # the GROUP BY itself, not the per-process cache
                return queries.consolidation_for(large, last)

            def cached_consolidation():
                return queries.consolidation_for(large, last)

            def load_lines():
                rows = db.session.execute(
                    sa.select(
                        LigneCreance.periode,
                        LigneCreance.rubrique,
                        LigneCreance.nature,
                        LigneCreance.montant,
                    ).where(LigneCreance.affilie_id == affilie_id)
                ).all()
                return [CreanceLine(*row) for row in rows]

            lines = load_lines()
            by_sql = sql_consolidation()
            by_python = consolidate(lines, last)
            if by_sql != by_python:
                raise SystemExit("SQL and Python consolidations differ: the benchmark is void")
            totals = by_sql.totals

            def simulation(n: int):
                rules = long_campaign if n > campaign.max_echeances else campaign
                return lambda: simulate(
                    totals,
                    rules,
                    starts_on=situation,
                    nombre_echeances=n,
                    avance=Decimal("10000.00"),
                )

            timings = [
                Timing(
                    "(a) consolidation SQL (queries.consolidation_for)",
                    measure(sql_consolidation, runs),
                ),
                Timing("(a) consolidation, cache hit", measure(cached_consolidation, runs)),
                Timing("(b) load raw lines", measure(load_lines, runs)),
                Timing(
                    "(b) consolidate in Python", measure(lambda: consolidate(lines, last), runs)
                ),
                Timing(
                    "(b) load + consolidate in Python",
                    measure(lambda: consolidate(load_lines(), last), runs),
                ),
            ]
            for n in (1, 60, 120):
                timings.append(
                    Timing(f"(c) simulation, {n} échéance(s)", measure(simulation(n), runs))
                )

            scaling = bench_sql_scaling(runs, last)
        finally:
            db.session.remove()
            db.engine.dispose()

    by_label = {t.label: t for t in timings}
    if database_url.startswith("sqlite"):
        by_label["(b) load raw lines"].budget_ms = BUDGET_LOAD_SQLITE_MS
    # The budget is on the sum: add run i to run i, so best and median are of real pairs
    # of runs, not a best of one plus a best of the other.
    for label in (
        "(a) consolidation SQL (queries.consolidation_for)",
        "(a) consolidation, cache hit",
        "(b) consolidate in Python",
    ):
        part = by_label.get(label)
        if part is None:
            continue
        for n in (1, 60, 120):
            sim = by_label[f"(c) simulation, {n} échéance(s)"]
            timings.append(
                Timing(
                    f"{label.split(' (store')[0]} + simulation {n}",
                    [a + b for a, b in zip(part.runs, sim.runs)],
                    budget_ms=BUDGET_CONSOLIDATION_AND_SIMULATION_MS,
                )
            )
    slider = [t for t in timings if t.label.startswith("(a) consolidation SQL + simulation")]
    spread = max(t.median_ms for t in slider) / min(t.median_ms for t in slider)
    slider[-1].note = f"slowest/fastest position ×{spread:.2f}" + (
        "" if spread <= NOT_FLAT else " NOT FLAT"
    )
    return timings + scaling, line_count


def bench_sql_scaling(runs: int, last: str) -> list[Timing]:
    """(e): queries.consolidation_for on affiliés of 1k, 12k and 100k lines (app context)."""
    from db.models import Affilie
    from extensions import db
    from services import queries

    def uncached(affilie):
        queries._TABLES.clear()
        return queries.consolidation_for(affilie, last)

    timings = []
    for size in SCALING_SIZES:
        affilie_id = add_synthetic_affilie(size)
        if db.engine.dialect.name == "postgresql":
            # Statistics as autovacuum leaves them after a bulk import.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(sa.text("ANALYZE lignes_creance"))
        n = max(5, runs * 1_000 // size) if size > 12_000 else runs
        timings.append(
            Timing(
                f"(e) consolidation SQL {size:>7,} lines",
                measure(lambda a=db.session.get(Affilie, affilie_id): uncached(a), n),
            )
        )
    return growth_notes(timings)


def add_synthetic_affilie(count: int) -> int:
    """An affilié with ``count`` lines (the keys of synthetic_lines); returns its id."""
    from commands.demo import SITUATION
    from db.models import Affilie, LigneCreance, Perception
    from extensions import db

    perception = db.session.scalars(sa.select(Perception).order_by(Perception.id)).first()
    affilie = Affilie(
        numero=f"8{count:06d}"[-7:],
        raison_sociale=f"SYNTHETIQUE {count}",
        regime="Régime général",
        perception=perception,
        date_situation=SITUATION,
        date_arret_penalites=SITUATION,
        arrangement=False,
    )
    db.session.add(affilie)
    db.session.flush()
    rows = [
        {
            "affilie_id": affilie.id,
            "periode": line.periode,
            "rubrique": line.rubrique,
            "nature": line.nature,
            "montant": line.montant,
        }
        for line in synthetic_lines(count)
    ]
    db.session.execute(sa.insert(LigneCreance), rows)
    db.session.commit()
    return affilie.id


def growth_notes(timings: list[Timing]) -> list[Timing]:
    """Per-line cost and growth against linear, from the best runs (the least disturbed)."""
    base = timings[0]
    for i, (size, t) in enumerate(zip(SCALING_SIZES, timings)):
        per_line_us = t.best_ms * 1000 / size
        growth = t.best_ms / base.best_ms / (size / SCALING_SIZES[0])
        t.note = f"{per_line_us:.2f} µs/line (best), ×{growth:.2f} of linear"
        if i:
            # Between neighbours: more than linear growth on this step means trouble.
            step = t.best_ms / timings[i - 1].best_ms / (size / SCALING_SIZES[i - 1])
            if step > WORSE_THAN_LINEAR:
                t.note += f", WORSE THAN LINEAR (×{step:.2f} since the previous size)"
    return timings


def synthetic_lines(count: int) -> list:
    """``count`` eligible lines cycling through periods, rubriques and natures."""
    from commands.demo import periods
    from domain.creance import NATURES, RUBRIQUES, CreanceLine

    rng = random.Random(count)
    keys = [(p, r, n) for p in periods("196901", "202412") for r in RUBRIQUES for n in NATURES]
    return [
        CreanceLine(*keys[i % len(keys)], Decimal(rng.randrange(1, 500000)).scaleb(-2))
        for i in range(count)
    ]


def bench_scaling(runs: int) -> list[Timing]:
    """(d): the pure consolidation's time against the number of lines."""
    from domain.creance import consolidate

    timings = []
    for size in SCALING_SIZES:
        lines = synthetic_lines(size)
        # Fewer runs on the biggest input: its median is steady after a handful.
        n = max(5, runs * 1_000 // size) if size > 12_000 else runs
        timings.append(
            Timing(
                f"(d) consolidate {size:>7,} lines",
                measure(lambda lines=lines: consolidate(lines, "202412"), n),
            )
        )
    # Growth from the best runs: the least disturbed by whatever else the machine does.
    return growth_notes(timings)


def print_table(title: str, timings: list[Timing], runs_note: str) -> None:
    width = max(len(t.label) for t in timings)
    print(f"\n{title}  ({runs_note})")
    print(f"  {'':<{width}}  {'best ms':>9}  {'median ms':>9}  {'budget':>8}  verdict / note")
    for t in timings:
        budget = f"< {t.budget_ms:g}" if t.budget_ms is not None else ""
        tail = " ".join(x for x in (t.verdict, t.note) if x)
        print(f"  {t.label:<{width}}  {t.best_ms:>9.3f}  {t.median_ms:>9.3f}  {budget:>8}  {tail}")


def postgres_database(base_url: str):
    """A context manager: a fresh PostgreSQL database next to DATABASE_URL's, dropped after."""
    from contextlib import contextmanager

    @contextmanager
    def scope():
        name = f"bench_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield (
                sa.engine.make_url(base_url)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return scope()


def plot(path: Path, results: dict[str, list[Timing]], scaling: list[Timing]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"\n--plot: matplotlib is not installed, no chart written to {path}.")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, timings in results.items():
        # The parts, not their sums with a simulation: those are in the printed table.
        shown = [t for t in timings if t.label[:3] in ("(a)", "(b)", "(c)") and "+" not in t.label]
        left.barh(
            [f"{name}: {t.label}" for t in shown],
            [t.median_ms for t in shown],
            label=name,
        )
    left.axvline(BUDGET_CONSOLIDATION_AND_SIMULATION_MS, color="red", linestyle="--", linewidth=1)
    left.set_xlabel("median ms")
    left.set_title("(a)–(c) on the largest affilié")
    left.invert_yaxis()
    series = {"(d) Python consolidate": scaling}
    for name, timings in results.items():
        series[f"(e) {name} GROUP BY"] = [t for t in timings if t.label.startswith("(e)")]
    for label, timings in series.items():
        # Best runs, as the growth notes: on a shared machine the medians of the few runs
        # of 100 000 lines move with the neighbours' load.
        best = [t.best_ms for t in timings]
        right.loglog(SCALING_SIZES, best, marker="o", label=label)
        right.loglog(
            SCALING_SIZES,
            [best[0] * s / SCALING_SIZES[0] for s in SCALING_SIZES],
            linestyle=":",
            color=right.lines[-1].get_color(),
            linewidth=1,
        )
    right.set_xlabel("créance lines of the affilié")
    right.set_ylabel("best ms")
    right.set_title("time against lines (dotted: linear)")
    right.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=80, pil_kwargs={"optimize": True})
    print(f"\nChart written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per figure (default 30)")
    parser.add_argument("--plot", type=Path, help="also draw the figures in FILE.png (matplotlib)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when over a budget")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    results: dict[str, list[Timing]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        timings, line_count = bench_database(f"sqlite:///{Path(tmp) / 'bench.db'}", args.runs)
        results["SQLite"] = timings
    print(f"Largest affilié: {line_count:,} créance lines; {args.runs} runs per figure.")
    if hasattr(os, "getloadavg"):
        # Medians move with the machine's load; read them with this in mind.
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{os.cpu_count()} CPU(s), load average {load}.")
    print_table("SQLite", results["SQLite"], "temporary file database")

    base_url = os.environ.get("DATABASE_URL", "")
    if base_url.startswith("postgresql"):
        with postgres_database(base_url) as url:
            results["PostgreSQL"], _ = bench_database(url, args.runs)
        print_table(
            "PostgreSQL", results["PostgreSQL"], "temporary database on DATABASE_URL's server"
        )
    else:
        print("\n(PostgreSQL skipped: DATABASE_URL is not a postgresql URL.)")

    scaling = bench_scaling(args.runs)
    print_table("Pure consolidation growth", scaling, "in-memory CreanceLine objects")

    over = [
        f"{name}: {t.label}"
        for name, timings in results.items()
        for t in timings
        if t.verdict == "OVER BUDGET"
    ]
    print()
    if over:
        print("OVER BUDGET:\n  " + "\n  ".join(over))
    else:
        print(
            f"All budgets met: consolidation + one simulation < "
            f"{BUDGET_CONSOLIDATION_AND_SIMULATION_MS:g} ms, "
            f"load < {BUDGET_LOAD_SQLITE_MS:g} ms on SQLite."
        )
    if args.plot:
        plot(args.plot, results, scaling)
    return 1 if over and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
