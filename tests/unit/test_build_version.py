"""The code version in every panel's ETag follows each file a rendered panel depends on."""

from __future__ import annotations

import pytest

from web import build


@pytest.fixture
def tree(tmp_path, monkeypatch):
    for name in ("app.py", "config.py", "templates/base.html", "common/formatting.py"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n")
    monkeypatch.setattr(build, "BASE_DIR", tmp_path)
    build.build_version.cache_clear()
    yield tmp_path
    build.build_version.cache_clear()


def version_after(tree, name: str, text: str) -> str:
    (tree / name).write_text(text)
    build.build_version.cache_clear()
    return build.build_version()


@pytest.mark.parametrize(
    "name", ["app.py", "config.py", "templates/base.html", "common/formatting.py"]
)
def test_a_change_to_any_source_changes_the_version(tree, name):
    before = build.build_version()
    assert len(before) == 16
    assert version_after(tree, name, "# changed\n") != before


def test_a_file_that_renders_nothing_leaves_it(tree):
    before = build.build_version()
    assert version_after(tree, "README.md", "notes\n") == before
