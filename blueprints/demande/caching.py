"""The move's HTTP caching, and the only place that reads If-None-Match or sets an ETag: the
panel's tag (everything the panel is made of), the 304 when the browser holds it, the
rendered panels this process keeps under their tag, and their compressed bodies (Flask-
Compress's cache, ``compressed_key`` and ``CompressedPanels``). The stores themselves are
services/caches.py's, bounded and shared by a worker's threads.
"""

from __future__ import annotations

import hashlib

from flask import (
    current_app,
    g,
    make_response,
    request,
)
from flask_babel import get_locale
from flask_login import current_user

from blueprints.demande.draft import Draft
from blueprints.demande.move import Move, move_url, simulate
from blueprints.demande.rendering import render_panel
from common.clock import now
from domain.simulation import next_debit_date
from extensions import db
from services import caches
from web.build import build_version


def panel_etag(affilie, draft: Draft, values: dict) -> str:
    """What the panel is made of: the affilié's versions (its row and accounts, its
    lines), the campaign's version, the count, the avance as typed, the language, the
    user and the first debit day its dates count from, plus the code that renders it.
    Equal tags, equal bytes: the panel holds no CSRF token and no nonce (the CSP has
    none), and of the request only its address, whose numéro the process's copy is kept
    under beside the tag (``_kept_key``)."""
    parts = (
        build_version(),
        current_user.id,
        affilie.jeton,
        affilie.lignes_jeton,
        getattr(current_user, "campagnes_jeton", None),
        draft.modalite,
        values["n"],
        values["avance"],
        str(get_locale()),
        # The indicative dates count from today: a new month, new dates.
        next_debit_date(now().date()),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _seen(etag: str) -> str | None:
    """The tag of the client's copy of this panel, if it has one: ours as we sent it, or
    as Flask-Compress marked it with one of its encodings (``"tag:br"``). What is answered
    is the tag built here, never the text the client sent."""
    sent = set(request.if_none_match)  # the strong tags; a weak one never matches
    for tag in (etag, *(f"{etag}:{encoding}" for encoding in _encodings())):
        if tag in sent:
            return tag
    return None


def _encodings() -> tuple[str, ...]:
    """The encodings Flask-Compress may add to an ETag (COMPRESS_ALGORITHM)."""
    algorithms = current_app.config["COMPRESS_ALGORITHM"]
    if isinstance(algorithms, str):
        algorithms = algorithms.split(",")
    return tuple(a.strip() for a in algorithms)


def _private_revalidated(response):
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _not_modified(tag: str):
    response = make_response("", 304)
    response.set_etag(tag)
    return _private_revalidated(response)


def _panel_response(body, status: int, etag: str | None, replace_url: str | None):
    """The panel's answer, the same whether its body was just rendered or kept."""
    response = make_response(body, status)
    if etag is not None:
        response.set_etag(etag)
        _private_revalidated(response)
        # The address bar follows the panel, replaced rather than pushed: a drag of the
        # slider is dozens of moves, and Back should leave the page, not replay them.
        response.headers["HX-Replace-Url"] = replace_url
    return response


def _kept_key(affilie, etag: str) -> tuple | None:
    """Where this process keeps the panel of ``etag``: none when a version was not read
    (the tag would not pin the data) or templates reload while the server runs."""
    versions = (affilie.jeton, affilie.lignes_jeton, getattr(current_user, "campagnes_jeton", None))
    if None in versions or current_app.jinja_env.auto_reload:
        return None
    # The database: a process may serve several (the tests do, with equal versions).
    return (db.engine.url, request.script_root, affilie.numero, etag)


def move_panel(numero: str, here, draft: Draft):
    """A move's panel for htmx: 304 when the browser holds it, the bytes this process kept
    under its ETag when it rendered it before, else simulated and rendered (and kept).

    The ETag names everything the panel is made of (``panel_etag``): the same tag is the
    same bytes, and any write the panel shows changes the tag, so a kept panel is never
    stale. Everything else a move checks (session, link, campaign dates, draft) ran before.
    The values are read from the address once (``Move``); a refused one (a 422) has no tag
    and is never kept; a full payment has no slider, hence no tag.
    """
    move = Move.of_url(here.campaign, draft)
    etag = key = None
    if draft.acomptes and not move.refused:
        etag = panel_etag(here.affilie, draft, move.values)
        key = _kept_key(here.affilie, etag)
    if key is not None and (kept := caches.panels.get(key)) is not None:
        if seen := _seen(kept.etag):
            return _not_modified(seen)
        g.kept_panel = repr(key)  # its compressed body is kept too (compressed_key)
        return _panel_response(kept.body, 200, kept.etag, kept.replace_url)
    result = simulate(here, draft, move)
    if result.sim is None:
        etag = key = None
    elif etag is not None and (seen := _seen(etag)):
        return _not_modified(seen)
    replace_url = move_url(numero, result.typed) if etag is not None else None
    body = render_panel(numero, here, draft, result)
    if key is not None:
        body = body.encode()
        caches.panels.put(key, caches.RenderedPanel(etag, body, replace_url))
        g.kept_panel = repr(key)
    return _panel_response(body, result.status, etag, replace_url)


# Flask-Compress keeps the compressed bodies of the kept panels, through the two settings
# app.py gives it. It asks about every answer it compresses; only a kept panel's answer names
# a key (``g.kept_panel``), every other answer is compressed as it comes.


def compressed_key(_request) -> str:
    """COMPRESS_CACHE_KEY: the kept panel this answer is, or "" for any other answer."""
    return g.get("kept_panel", "")


class CompressedPanels:
    """COMPRESS_CACHE_BACKEND: Flask-Compress's keys are ``"<encoding>;<compressed_key>"``."""

    def get(self, key: str) -> bytes | None:
        return None if key.endswith(";") else caches.compressed.get(key)

    def set(self, key: str, value: bytes) -> None:
        if not key.endswith(";"):
            caches.compressed.put(key, value)
