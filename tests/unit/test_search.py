"""The folded text the back office searches."""

import pytest

from domain.search import fold, search_text


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("ATLAS BÂTIMENT", "atlas batiment"),
        ("Société  Générale ", "societe generale"),
        ("Fès-Saïss", "fes-saiss"),
        ("rm-2023-ABCD", "rm-2023-abcd"),
        ("مكتب", "مكتب"),
    ],
)
def test_fold_drops_accents_case_and_extra_spaces(typed, folded):
    assert fold(typed) == folded


def test_search_text_puts_the_fields_side_by_side_and_skips_the_missing():
    assert search_text("1234567", None, "CÉRAMIQUE") == "1234567 ceramique"
