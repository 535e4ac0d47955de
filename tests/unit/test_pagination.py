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


@pytest.mark.parametrize(
    ("page", "window"),
    [
        (1, [1, 2, 3, None, 45]),
        (4, [1, 2, 3, 4, 5, 6, None, 45]),
        (5, [1, 2, 3, 4, 5, 6, 7, None, 45]),  # a gap of one page shows it
        (20, [1, None, 18, 19, 20, 21, 22, None, 45]),
        (43, [1, None, 41, 42, 43, 44, 45]),
        (45, [1, None, 43, 44, 45]),
    ],
)
def test_a_long_list_links_a_window_of_pages(page, window):
    assert Page(rows=[0] * 20, total=890, page=page, size=20).window == window


def test_seven_pages_or_fewer_are_all_linked():
    assert Page(rows=[0] * 10, total=70, page=1, size=10).window == [1, 2, 3, 4, 5, 6, 7]
    assert Page(rows=[0] * 10, total=10, page=1, size=10).window == [1]


def test_a_list_counted_to_its_cap_links_no_last_page():
    page = Page(rows=[0] * 20, total=10_000, page=1, size=20, more=True)
    assert (page.pages, page.window, page.last) == (None, [1, 2, 3, None], 20)
    assert (page.next_args, page.last_args) == ({"page": 2}, {"fin": 1})
    from_end = Page(rows=[0] * 20, total=10_000, page=2, size=20, more=True, from_end=True)
    assert from_end.window == []
    assert (from_end.first, from_end.last) == (21, 40)
    assert (from_end.first_args, from_end.previous_args) == ({"page": 1}, {"fin": 3})
    assert (from_end.next_args, from_end.last_args) == ({"fin": 1}, {"fin": 1})
