"""Shapes of SQL that PostgreSQL cannot run at the national volume.

``x NOT IN (SELECT …)`` is hashed only while the subquery's rows fit in ``work_mem``;
beyond, it runs as a nested loop. A first load of 1 M créance lines for 300 000 new
affiliés was stuck for 20 minutes in one such UPDATE. ``NOT EXISTS`` says the same (the
numéros compared are never NULL) and is an anti-join at any size.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_IN_SUBQUERY = re.compile(r"NOT\s+IN\s*\(\s*SELECT", re.IGNORECASE)


def test_no_not_in_over_a_subquery_in_the_applications_sql():
    found = [
        f"{path.relative_to(ROOT)}:{text[: match.start()].count(chr(10)) + 1}"
        for folder in ("services", "commands", "db", "blueprints", "web", "common")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for text in [path.read_text(encoding="utf-8")]
        for match in NOT_IN_SUBQUERY.finditer(text)
    ]
    assert found == []


def test_the_pattern_finds_the_shape_it_guards_against():
    assert NOT_IN_SUBQUERY.search("AND numero NOT IN (SELECT numero FROM import_nouveaux)")
    assert NOT_IN_SUBQUERY.search("x not in\n  (select 1)")
    assert not NOT_IN_SUBQUERY.search("AND NOT EXISTS (SELECT 1 FROM import_nouveaux n)")
