"""Page: the numbers every paged table shows, and the clamping of a page out of range."""

import pytest

from services.pagination import Page, paginate_list


def test_a_page_says_which_rows_of_how_many():
    page = Page(rows=list(range(10)), total=55, page=2, size=10)
    assert (page.pages, page.first, page.last) == (6, 11, 20)


def test_the_last_page_ends_at_the_total():
    page = Page(rows=list(range(5)), total=55, page=6, size=10)
    assert (page.pages, page.first, page.last) == (6, 51, 55)


def test_an_empty_list_is_one_page_showing_nothing():
    page = paginate_list([], 3, 10)
    assert (page.rows, page.page, page.pages, page.first, page.last) == ([], 1, 1, 0, 0)


@pytest.mark.parametrize(("asked", "shown"), [(-4, 1), (0, 1), (1, 1), (3, 3), (99, 3)])
def test_a_page_number_out_of_range_shows_the_nearest_page(asked, shown):
    page = paginate_list(list(range(25)), asked, 10)
    assert page.page == shown
    assert page.rows == list(range(25))[(shown - 1) * 10 : shown * 10]


def test_what_the_table_shows_beside_its_rows_reads_as_attributes():
    page = paginate_list(["a"], 1, 10, q="atlas", taille=10)
    assert (page.q, page.taille) == ("atlas", 10)
    with pytest.raises(AttributeError):
        page.absent  # noqa: B018
