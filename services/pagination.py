"""One page of a list: the rows shown and what the pager says about the others.

A list of 150 000 requests is not counted to the end on every page: the count stops past
``cap`` rows (10 000) and the pager then says "plus de 10 000 éléments", with links to
the pages around the one shown. The last page is still one click away: it is read
backwards from the end (``?fin=1``), and the pages before it are counted from the end
(``?fin=2``…) until the count reaches the start of the list again. A list of ``cap``
rows or fewer is counted exactly and numbered as always.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select, union_all
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ClauseElement, UnaryExpression

from extensions import db

# Past this many rows a list says "more than" rather than counting them all: counting
# 300 000 rows of an index takes ~100 ms on PostgreSQL, 10 001 rows ~2 ms.
COUNT_CAP = 10_000
# Pages shown on each side of the current one; with the first and the last, and a gap
# on each side, a pager never shows more than 2 × WINDOW + 3 numbers.
WINDOW = 2


@dataclass(frozen=True)
class Page:
    """Rows ``first`` to ``last`` of ``total`` (1-based), page ``page`` of ``pages``.

    ``more``: the list has more than ``total`` rows (the count stopped at the cap); its
    number of pages is unknown. ``from_end``: ``page`` counts from the end (1 is the
    last page) and ``first``/``last`` too; only ever so in a list of unknown length.
    ``extra`` carries what the table shows beside the rows (the search typed, the page
    size), so a template reads everything from one object.
    """

    rows: list
    total: int
    page: int
    size: int
    extra: dict[str, Any] = field(default_factory=dict)
    more: bool = False
    from_end: bool = False

    @property
    def pages(self) -> int | None:
        """The number of pages, None when the list's length is unknown."""
        return None if self.more else max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        if self.more:
            return (self.page - 1) * self.size + len(self.rows)
        return min(self.page * self.size, self.total)

    @property
    def paged(self) -> bool:
        """More than one page: the pager's links are shown."""
        return self.more or self.pages > 1

    # The pager's links: each is the URL's paging arguments, None when it is disabled.

    @property
    def first_args(self) -> dict | None:
        return None if self.page == 1 and not self.from_end else {"page": 1}

    @property
    def previous_args(self) -> dict | None:
        if self.from_end:
            return {"fin": self.page + 1}
        return None if self.page == 1 else {"page": self.page - 1}

    @property
    def next_args(self) -> dict | None:
        if self.from_end:
            return None if self.page == 1 else {"fin": self.page - 1}
        return {"page": self.page + 1} if self.more or self.page < self.pages else None

    @property
    def last_args(self) -> dict | None:
        if self.from_end:
            return None if self.page == 1 else {"fin": 1}
        if self.more:
            return {"fin": 1}
        return None if self.page == self.pages else {"page": self.pages}

    @property
    def window(self) -> list[int | None]:
        """The page numbers to link, None for a gap ("…"): the first page, the current
        one and WINDOW on each side, the last; a gap of one page shows that page instead.
        Known numbers only: none when counting from the end, no last one when unknown."""
        if self.from_end:
            return []
        pages = self.pages
        if pages is not None and pages <= 2 * WINDOW + 3:
            return list(range(1, pages + 1))
        shown = {1, *range(max(1, self.page - WINDOW), self.page + WINDOW + 1)}
        if pages is not None:
            shown = {p for p in shown if p <= pages} | {pages}
        numbers: list[int | None] = []
        for p in sorted(shown):
            if numbers and p - numbers[-1] == 2:
                numbers.append(p - 1)
            elif numbers and p - numbers[-1] > 2:
                numbers.append(None)
            numbers.append(p)
        if pages is None:
            numbers.append(None)
        return numbers

    def __getattr__(self, name: str) -> Any:
        if name == "extra":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        try:
            return self.extra[name]
        except KeyError:
            raise AttributeError(name) from None


def _clamp(page: int, total: int, size: int) -> int:
    """A page number past either end shows the nearest page that exists."""
    return min(max(page, 1), max(1, -(-total // size)))


def _by_name(term: Any) -> ColumnElement:
    """An ORDER BY term (``Demande.id.desc()``) on the column's name alone: the order of
    a UNION or of a subquery's rows."""
    term = term if isinstance(term, ClauseElement) else term.__clause_element__()
    if isinstance(term, UnaryExpression) and term.modifier in (operators.desc_op, operators.asc_op):
        named = literal_column(term.element.name)
        return named.desc() if term.modifier is operators.desc_op else named.asc()
    return literal_column(term.name)


def _rows(legs: tuple[Select, ...]):
    """The rows of every leg, in no order."""
    return legs[0] if len(legs) == 1 else union_all(*legs)


def _entities(legs: tuple[Select, ...], statement, *columns) -> Select:
    """The legs' entity (and ``columns``) loaded from ``statement``'s rows."""
    return select(legs[0].column_descriptions[0]["entity"], *columns).from_statement(statement)


def _read(legs: tuple[Select, ...], order: tuple, offset: int, limit: int) -> list:
    """Rows ``offset`` to ``offset + limit`` of the legs in ``order``. Each leg is
    ordered on its own, so that PostgreSQL reads each along its index and merges them
    (Merge Append) rather than sorting them all to show twenty."""
    if len(legs) == 1:
        statement = legs[0].order_by(*order).offset(offset).limit(limit)
    else:
        ordered = union_all(*(select(leg.order_by(*order).subquery()) for leg in legs))
        named = ordered.order_by(*(_by_name(term) for term in order))
        statement = _entities(legs, named.offset(offset).limit(limit))
    return list(db.session.scalars(statement))


def _count(legs: tuple[Select, ...], bound: int) -> int:
    """The legs' rows, counted up to ``bound`` at most."""
    ones = tuple(
        leg.with_only_columns(literal_column("1"), maintain_column_froms=True) for leg in legs
    )
    counted = select(func.count()).select_from(_rows(ones).limit(bound).subquery())
    return db.session.scalar(counted)


def _one_scan(legs: tuple[Select, ...], order: tuple, page: int, size: int, cap: int):
    """The page and the count of a list of ``cap`` rows or fewer in one statement: a
    text search finds its rows once instead of twice. (count, rows): the count stops at
    ``cap`` + 1, and is None when the page is past the end (no row to carry it)."""
    found = _rows(legs).limit(cap + 1).subquery()
    statement = (
        select(found, func.count().over().label("counted"))
        .order_by(*(_by_name(term) for term in order))
        .offset((page - 1) * size)
        .limit(size)
    )
    result = db.session.execute(_entities(legs, statement, literal_column("counted"))).all()
    return (result[0][1] if result else None), [row[0] for row in result]


def paginate(
    query: Select | tuple[Select, ...],
    page: int,
    size: int,
    *,
    order: tuple,
    reverse: tuple,
    from_end: int = 0,
    cap: int = COUNT_CAP,
    one_scan: bool = False,
    **extra: Any,
) -> Page:
    """One page of a SELECT in ``order`` (``reverse``: the same order backwards): page
    ``page``, or page ``from_end`` counted from the end when given. A tuple of SELECTs of
    one entity whose rows do not overlap is their UNION ALL.

    The count stops at ``cap`` rows, or just past the pages around the one asked for.
    When it stops, pages from the start are read forwards and pages from the end
    backwards; otherwise the list is numbered exactly and a page in its second half is
    read from the end: the last page of 100 000 rows skips a few rows, not 99 980.
    ``one_scan``: first try the page and its count in one statement (a text search, whose
    rows are few and costly to find).
    """
    legs = query if isinstance(query, tuple) else (query,)
    page, bound = max(page, 1), max(cap, (max(from_end, page) + WINDOW) * size) + 1
    counted = None
    if one_scan and not from_end and bound == cap + 1:
        counted, rows = _one_scan(legs, order, page, size, cap)
        if counted is None and page == 1:
            return Page([], 0, 1, size, extra)  # nothing found
        if counted is not None and counted <= cap:
            return Page(rows, counted, page, size, extra)
    if counted is None:
        counted = _count(legs, bound)
    if counted >= bound:
        if from_end:
            rows = _read(legs, reverse, (from_end - 1) * size, size)
            return Page(rows[::-1], cap, from_end, size, extra, True, True)
        return Page(_read(legs, order, (page - 1) * size, size), cap, page, size, extra, True)
    total = counted
    if from_end:
        page = max(1, -(-total // size)) - from_end + 1
    page = _clamp(page, total, size)
    start, stop = (page - 1) * size, min(page * size, total)
    if start > total // 2:
        rows = _read(legs, reverse, total - stop, stop - start)
        return Page(rows[::-1], total, page, size, extra)
    return Page(_read(legs, order, start, size), total, page, size, extra)


def paginate_list(items: Sequence, page: int, size: int, **extra: Any) -> Page:
    """One page of a list already in memory (an account's own affiliés)."""
    page = _clamp(page, len(items), size)
    start = (page - 1) * size
    return Page(list(items[start : start + size]), len(items), page, size, extra)
