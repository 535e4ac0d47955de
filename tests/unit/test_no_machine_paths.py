"""The project names no path of the machine it was made on: not its own checkout, the
home folder, the interpreter's or the temporary folders (a flame graph, a log or a
screenshot's metadata would carry them; bench/http.py writes its SVGs without them)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def machine_paths() -> set[str]:
    paths = {ROOT, Path.home(), Path(tempfile.gettempdir())}
    # The interpreter's own folder, unless it is the system's ("/usr": /usr/bin/chromium
    # is a path the project names on purpose).
    if len(Path(sys.base_prefix).resolve().parts) > 2:
        paths.add(Path(sys.base_prefix))
    return {f"{path}/" for path in paths if path != Path("/")}


def test_no_tracked_file_names_a_path_of_this_machine():
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.split(b"\0")
    found = []
    for name in filter(None, files):
        path = ROOT / name.decode()
        if not path.is_file() or path.is_symlink():
            continue
        content = path.read_bytes()
        if b"\0" in content:
            continue  # a binary file (an image): no text to read
        found += [f"{name.decode()}: {p}" for p in machine_paths() if p.encode() in content]
    assert found == []


def test_flame_graphs_name_programs_not_where_they_live():
    """py-spy writes each process's command line into its SVG, and cuts long labels short
    ("--chdir /w..", "(gunicorn/work.."): the committed graphs keep neither a folder nor
    the start of one, alone or after a module's name."""
    cut_short = re.compile(r"/[\w.\-]*\.\.<")
    found = [
        f"{svg.relative_to(ROOT)}: {what}"
        for svg in sorted((ROOT / "bench").glob("*.svg"))
        for text in [svg.read_text(encoding="utf-8")]
        for what in ("--chdir", ".venv/", *cut_short.findall(text))
        if what in text
    ]
    assert found == []


def test_each_flame_graph_names_its_own_command_and_file():
    """A graph's title is py-spy's command line: the program by its name and the output
    as the repository names it, not a folder left as "." or cut to "…"."""
    title = re.compile(r'<text id="title"[^>]*>([^<]*)</text>')
    found = []
    for svg in sorted((ROOT / "bench").glob("*.svg")):
        text = svg.read_text(encoding="utf-8")
        named = title.findall(text)
        own = f"--output {svg.relative_to(ROOT).as_posix()}"
        if len(named) != 1 or not named[0].startswith("py-spy record ") or own not in named[0]:
            found.append(f"{svg.relative_to(ROOT)}: {named}")
        if "…" in text:
            found.append(f"{svg.relative_to(ROOT)}: a path cut to '…'")
    assert found == []


def test_portable_cuts_a_label_at_its_package_not_inside_a_folder():
    """py-spy cuts a long label anywhere: "(gunicorn/work.." would read as the start of a
    path of its own. bench/http.py cuts it at the package, and does so once for good."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_http", ROOT / "bench" / "http.py")
    http = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = http  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(http)
    finally:
        del sys.modules[spec.name]
    svg = (
        "<text>ThreadWorker.handle_request (gunicorn/work..</text>"
        "<text>SyncWorker.handle (gunicorn/workers/sync...</text>"
        "<text>run (gunicorn/workers/sync.py:141)</text>"
    )
    once = http.portable(svg)
    assert once == (
        "<text>ThreadWorker.handle_request (gunicorn..</text>"
        "<text>SyncWorker.handle (gunicorn..</text>"
        "<text>run (gunicorn/workers/sync.py:141)</text>"
    )
    assert http.portable(once) == once
