"""One page of a list: the rows shown and what the pager says about the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select

from extensions import db

# Pages shown on each side of the current one; with the first and the last, and a gap
# on each side, a pager never shows more than 2 × WINDOW + 3 numbers.
WINDOW = 2


@dataclass(frozen=True)
class Page:
    """Rows ``first`` to ``last`` of ``total`` (1-based), page ``page`` of ``pages``.

    ``extra`` carries what the table shows beside the rows (the search typed, the page
    size), so a template reads everything from one object.
    """

    rows: list
    total: int
    page: int
    size: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.page * self.size, self.total)

    @property
    def paged(self) -> bool:
        """More than one page: the pager's links are shown."""
        return self.pages > 1

    # The pager's links: each is the URL's paging arguments, None when it is disabled.

    @property
    def first_args(self) -> dict | None:
        return None if self.page == 1 else {"page": 1}

    @property
    def previous_args(self) -> dict | None:
        return None if self.page == 1 else {"page": self.page - 1}

    @property
    def next_args(self) -> dict | None:
        return {"page": self.page + 1} if self.page < self.pages else None

    @property
    def last_args(self) -> dict | None:
        return None if self.page == self.pages else {"page": self.pages}

    @property
    def window(self) -> list[int | None]:
        """The page numbers to link, None for a gap ("…"): the first page, the current
        one and WINDOW on each side, the last; a gap of one page shows that page instead.
        """
        pages = self.pages
        if pages <= 2 * WINDOW + 3:
            return list(range(1, pages + 1))
        shown = {1, *range(max(1, self.page - WINDOW), min(pages, self.page + WINDOW) + 1), pages}
        numbers: list[int | None] = []
        for p in sorted(shown):
            if numbers and p - numbers[-1] == 2:
                numbers.append(p - 1)
            elif numbers and p - numbers[-1] > 2:
                numbers.append(None)
            numbers.append(p)
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


def paginate(
    query: Select, page: int, size: int, *, reverse: tuple | None = None, **extra: Any
) -> Page:
    """One page of a SELECT: a COUNT, then the page's rows (the query carries its order).

    With ``reverse``, the same order backwards, a page in the second half is read from
    the end: the last page of 100 000 rows skips a few rows, not 99 980.
    """
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page = _clamp(page, total, size)
    start, stop = (page - 1) * size, min(page * size, total)
    if reverse is not None and start > total // 2:
        backwards = query.order_by(None).order_by(*reverse)
        rows = db.session.scalars(backwards.offset(total - stop).limit(stop - start)).all()
        return Page(list(reversed(rows)), total, page, size, extra)
    rows = db.session.scalars(query.offset(start).limit(size)).all()
    return Page(list(rows), total, page, size, extra)


def paginate_list(items: Sequence, page: int, size: int, **extra: Any) -> Page:
    """One page of a list already in memory (an account's own affiliés)."""
    page = _clamp(page, len(items), size)
    start = (page - 1) * size
    return Page(list(items[start : start + size]), len(items), page, size, extra)
