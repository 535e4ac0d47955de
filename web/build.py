"""The version of the code and texts that render a page: part of every ETag we send."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from config import BASE_DIR

# What a rendered panel depends on besides its data: templates, translations, the rules
# and the formatting code. A deployment that changes any of them changes every tag.
_SOURCES = (
    "templates",
    "partials",
    "translations",
    "domain",
    "common",
    "web",
    "blueprints",
    "services",
)
_SUFFIXES = {".html", ".mo", ".py"}
# The factory's Jinja filters and globals, and the settings they read, live at the top.
_FILES = ("app.py", "config.py")


@lru_cache(maxsize=1)
def build_version() -> str:
    digest = hashlib.sha256()
    paths = [BASE_DIR / name for name in _FILES]
    for folder in _SOURCES:
        paths.extend(sorted((BASE_DIR / folder).rglob("*")))
    for path in paths:
        if path.suffix in _SUFFIXES and path.is_file():
            digest.update(str(path.relative_to(BASE_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
