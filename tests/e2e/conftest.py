"""Browser tests: the real app served from a background thread, driven by real Chromium.

Playwright cannot download a browser here, so it launches Debian's Chromium (``make
chromium``; the ``CHROMIUM`` environment variable points elsewhere). The app runs as in
production as far as the browser can tell: CSRF on (the form field and htmx's
``X-CSRFToken`` header), its CSP, a fresh copy of the demo database. Screenshots go to
``tests/artifacts/<test>/`` (git-ignored), one folder per test, emptied when it starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask, got_request_exception
from playwright.sync_api import Browser, BrowserContext, Page, Response, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import WSGIRequestHandler, make_server

from extensions import db
from tests.conftest import make_app

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
TIMEOUT_MS = 10_000  # fail in seconds, not after Playwright's default 30 s per step
_REPORTS = pytest.StashKey[dict]()


# --- helpers ----------------------------------------------------------------------------


def artifacts_dir() -> Path:
    """``tests/artifacts/<name of the running test>``."""
    # "tests/e2e/test_login.py::test_x[page] (call)" -> "test_x-page"
    test = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0].rsplit("::", 1)[-1]
    return ARTIFACTS / re.sub(r"[^\w.-]+", "-", test).strip("-")


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``tests/artifacts/<test>/<name>.png``."""
    path = artifacts_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=True)
    return path


def login(page: Page, base_url: str, login: str, password: str) -> Response:
    """Fill in the login form and submit it; returns the response to the form's POST."""
    page.goto(f"{base_url}/connexion")
    page.get_by_label("Utilisateur", exact=True).fill(login)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.startswith(f"{base_url}/connexion")
    ) as posted:
        page.get_by_role("button", name="ACCEPTER").click()
    page.wait_for_load_state()
    return posted.value


# --- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `make chromium` (Debian's package;"
            " Playwright cannot download its own browser here).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# --- the app in a background thread ---------------------------------------------------


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler, quiet and registered with the server while it runs, so that
    teardown can close the keep-alive connections Chromium leaves open."""

    def setup(self) -> None:
        super().setup()
        with self.server.handlers_lock:
            self.server.handlers[self.connection] = threading.current_thread()

    def finish(self) -> None:
        with self.server.handlers_lock:
            self.server.handlers.pop(self.connection, None)
        super().finish()

    def log_request(self, code="-", size="-") -> None:
        pass


@dataclass
class LiveServer:
    url: str
    app: Flask
    # Exceptions the app raised while serving: the browser only sees a 500 page.
    errors: list[BaseException] = field(default_factory=list)


@pytest.fixture
def live_server(database_url):
    """The real app on 127.0.0.1 and a free port, on a fresh copy of the demo database."""
    app = make_app(database_url, WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Handler)
    server.handlers, server.handlers_lock = {}, threading.Lock()
    live = LiveServer(url=f"http://127.0.0.1:{server.port}", app=app)

    def record(sender, exception, **extra):
        live.errors.append(exception)

    got_request_exception.connect(record, app)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        _close_connections(server)
        server.server_close()
        thread.join(timeout=10)
        got_request_exception.disconnect(record, app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if live.errors:
        pytest.fail(
            "The app raised while serving the browser: "
            + "; ".join(f"{type(e).__name__}: {e}" for e in live.errors),
            pytrace=False,
        )


def _close_connections(server) -> None:
    """End the handler threads still waiting on a keep-alive connection, and wait for them."""
    deadline = time.monotonic() + 10
    while True:
        with server.handlers_lock:
            pending = list(server.handlers.items())
        if not pending:
            return
        for connection, _thread in pending:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # the handler reads EOF and returns
            except OSError:
                pass  # already closed by the other side
        for _connection, thread in pending:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if time.monotonic() > deadline:
            pytest.fail("The live server's request threads did not stop.", pytrace=False)


# --- pages ------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(autouse=True)
def _fresh_artifacts():
    """Screenshots of an earlier run must not pass for this run's."""
    shutil.rmtree(artifacts_dir(), ignore_errors=True)


@pytest.fixture
def browser_problems() -> list[str]:
    """What the browser reported during the test: console errors (a CSP violation is one),
    uncaught script errors, failed sub-resources. Empty at the end, or the test fails; a
    test that expects some takes this fixture and empties it."""
    return []


def _open_page(request, browser: Browser, live_server: LiveServer, problems, **options):
    context: BrowserContext = browser.new_context(
        base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900}, **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            # Chromium logs every 4xx document too (a refused login is a 401): sub-resources
            # are checked below, from their responses.
            and not msg.text.startswith("Failed to load resource")
            and problems.append(f"console: {msg.text}")
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "response",
        lambda r: (
            r.status >= 400
            and r.request.resource_type != "document"
            # A refused simulation is a 422 panel shown beside its fields, like a form.
            and not (r.status == 422 and r.request.headers.get("hx-request"))
            and problems.append(f"{r.status} {r.request.method} {r.url}")
        ),
    )
    try:
        yield page
        reports = request.node.stash.get(_REPORTS, {})
        if any(report.failed for report in reports.values()):
            with contextlib.suppress(PlaywrightError):  # a crashed page has nothing to show
                shot(page, "echec")
    finally:
        context.close()
    if problems and not any(r.failed for r in request.node.stash.get(_REPORTS, {}).values()):
        pytest.fail("The browser reported: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def page(request, browser, live_server, browser_problems):
    """A new browser context per test: French, 1280×900, pointed at the live server."""
    yield from _open_page(request, browser, live_server, browser_problems)


@pytest.fixture
def js_disabled_page(request, browser, live_server, browser_problems):
    """The same, with JavaScript off: every journey must work without it."""
    yield from _open_page(
        request, browser, live_server, browser_problems, java_script_enabled=False
    )
