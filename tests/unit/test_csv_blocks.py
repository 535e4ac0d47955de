"""A file read a block at a time: the long-line check and the blocks of chosen lines say
what a line-by-line reading would."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services import csv_lines
from services.csv_lines import MAX_LINE_BYTES, _too_long_at, selected_blocks

lengths = st.lists(
    st.one_of(
        st.sampled_from((0, 40, 4095, 4096, 4097, 8191, 8192, 8193, 12288, 16385)),
        st.integers(0, 20000),
    ),
    min_size=1,
    max_size=12,
)


@given(lengths=lengths, last_end=st.booleans())
def test_the_first_line_too_long_is_found_where_splitting_finds_it(lengths, last_end):
    block = b"\n".join(b"x" * n for n in lengths) + (b"\n" if last_end else b"")
    offset, expected = 0, None
    for n in lengths:
        if n > MAX_LINE_BYTES:
            expected = offset
            break
        offset += n + 1
    assert _too_long_at(block) == expected


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    count=st.integers(1, 300),
    cuts=st.lists(st.integers(1, 320), max_size=8, unique=True),
    last_end=st.booleans(),
    data=st.data(),
)
def test_selected_blocks_give_the_lines_of_the_ranges(
    tmp_path_factory, monkeypatch, count, cuts, last_end, data
):
    monkeypatch.setattr(csv_lines, "BLOCK_BYTES", data.draw(st.sampled_from((64, 200, 1 << 20))))
    lines = [f"ligne {i} " + "x" * (i % 23) for i in range(1, count + 1)]
    path = tmp_path_factory.mktemp("blocs") / "f.csv"
    path.write_bytes("\n".join(lines).encode() + (b"\n" if last_end else b""))
    points = sorted(cuts)
    ranges = list(zip(points[::2], points[1::2], strict=False))

    got = []
    for first, block in selected_blocks(path, "f.csv", ranges):
        text = block.decode()  # the file's last line may come without its end
        got += list(enumerate(text.removesuffix("\n").split("\n"), first))

    assert got == [(n, lines[n - 1]) for a, b in ranges for n in range(a, min(b, count) + 1)]
