"""``flask import-data DIR``: affiliés, RIBs and créance lines from CSV, all or nothing.

A national export is tens of millions of lines, so nothing here holds a file in memory:
each file is read a line at a time (``csv_lines``) into a staging table of the import's
own transaction, checked there, and merged into the real tables by a few set-based
statements. On PostgreSQL the créance lines go through ``COPY`` and are checked in SQL;
on SQLite they are checked in Python and inserted in batches. Either way:

- one transaction: readers see the previous situation until the commit, and a bad row
  anywhere, the last line of the file included, leaves the database as it was;
- the first ``MAX_REPORTED`` bad lines are reported in full (file, line, field), the
  others counted;
- ``lignes_jeton`` changes, in the same transaction, for exactly the affiliés whose lines,
  own fields (raison sociale, dates…) or RIBs changed, and ``jeton`` (what a slider move
  reads with the user) for those whose fields or RIBs changed: what a kept panel shows;
  an unchanged affilié keeps its versions and its workers' consolidated table.

Where each part lives: ``lignes`` what a line of each file must be (and the report of
the bad ones), ``controles`` the checks in SQL over the staged rows, ``fusion`` the
merge, ``bases`` what differs between PostgreSQL and SQLite (staging, the first load's
new table), ``empreintes`` which affiliés a nightly export changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from extensions import db
from services.importer.bases import staging_loader
from services.importer.controles import _check_staged
from services.importer.fusion import _merge
from services.importer.lignes import (
    AFFILIES_COLUMNS,
    CREANCES_COLUMNS,
    FILES,
    MAX_REPORTED,
    RIBS_COLUMNS,
    Progress,
    _Errors,
    _FirstLines,
    _stage_affilies,
    _stage_ribs,
    stage_in_batches,
)

# What the commands, the bank's return file and the tests use.
__all__ = [
    "AFFILIES_COLUMNS",
    "CREANCES_COLUMNS",
    "MAX_REPORTED",
    "RIBS_COLUMNS",
    "ImportError_",
    "ImportReport",
    "import_directory",
    "stage_in_batches",
    "staging_loader",
]


class ImportError_(Exception):
    """The import was refused; ``errors`` lists the bad rows shown, ``more`` counts the
    bad lines beyond them."""

    def __init__(self, errors: list[str], more: int = 0):
        super().__init__("\n".join(errors))
        self.errors = errors
        self.more = more


@dataclass
class ImportReport:
    affilies: int = 0
    ribs: int = 0
    lignes: int = 0
    # Affiliés whose créance lines the import changed (their lignes_jeton is new).
    affilies_modifies: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)


def import_directory(
    directory: Path, *, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Check every file, then write everything in one transaction (or, dry, nothing)."""
    started = time.perf_counter()
    files = {name: directory / f"{name}.csv" for name in FILES}
    if not any(p.exists() for p in files.values()):
        raise ImportError_(
            [f"{directory} : aucun des fichiers affilies.csv, ribs.csv, creances.csv"]
        )
    report = ImportReport(dry_run=dry_run)
    errors = _Errors()
    structural = _FirstLines()
    loader = staging_loader()
    try:
        loader.create_staging()
        if files["affilies"].exists():
            report.affilies = _stage_affilies(files["affilies"], loader, errors, progress)
        if files["ribs"].exists():
            report.ribs = _stage_ribs(files["ribs"], loader, errors, progress)
        if files["creances"].exists():
            report.lignes = loader.stage_lignes(files["creances"], structural, progress)
        loader.analyze()
        _check_staged(loader, errors, structural)
        if errors:
            raise ImportError_(errors.shown, errors.more)
        if progress is not None:
            progress("", 0, 0)
        _merge(loader, report)
        if progress is not None:
            progress("", 1, 0)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        loader.drop_staging()
    if not dry_run:
        loader.after_commit()
    report.seconds = time.perf_counter() - started
    return report
