"""Real gunicorn servers and a small cookie-keeping HTTP client, for the live tests.

Only the standard library talks HTTP here (``http.client``): the suite adds no client
dependency. The servers run the real factory with CSRF and the rate limiter switched on,
exactly as in production except ``APP_ENV=development`` (cookies without ``Secure``,
because the tests speak plain HTTP to 127.0.0.1).
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from commands.demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CONFIRMATION_TOKEN_RE = re.compile(r'name="token" value="([^"]+)"')
COMPTE_RE = re.compile(r'<option value="(\d+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """One gunicorn master with its workers, serving ``app:create_app()`` on 127.0.0.1."""

    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 2,
        log_path: Path | None = None,
        options: tuple[str, ...] = (),
    ):
        self.port = free_port()
        self.database_url = database_url
        self.workers = workers
        self.log_path = log_path
        self.options = options  # more gunicorn options (an access log, say)
        self.process: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        env = {
            **os.environ,
            "APP_ENV": "development",
            "SECRET_KEY": "live-test-secret",
            "DATABASE_URL": self.database_url,
            "PYTHONPATH": str(ROOT),
        }
        env.pop("REDIS_URL", None)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "30",
                # The app is imported once, then forked: a quicker start on a busy machine
                # (create_app opens no connection, so no socket is shared by the workers).
                "--preload",
                *self.options,
                "app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        if log is not subprocess.DEVNULL:
            log.close()
        return self

    def wait_ready(self, deadline: float) -> None:
        """Poll /healthz until every worker could have booted (or ``deadline`` passes)."""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.1)
        raise TimeoutError(f"gunicorn on port {self.port} did not answer /healthz")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # graceful: workers finish their request
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@dataclass
class Response:
    status: int
    headers: Message
    text: str
    # The session cookie as this response left it, for replaying what came next.
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str:
        return urlsplit(self.headers.get("Location", "")).path


class Browser:
    """One user: its cookies and the CSRF token of the last page it read."""

    def __init__(self, port: int, timeout: float = 15):
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None

    def request(
        self,
        method: str,
        path: str,
        form: dict | list | None = None,
        headers: dict | None = None,
        port: int | None = None,
    ) -> Response:
        """One request, no redirect followed; the cookies and CSRF token are kept."""
        sent = {"User-Agent": "espace-recouvrement-tests", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn = self.connect(port or self.port)
        try:
            conn.request(method, path, body=body, headers=sent)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", "replace")
        finally:
            conn.close()
        self._keep_cookies(raw.headers.get_all("Set-Cookie") or [])
        if found := CSRF_RE.search(text):
            self.csrf = found[1]
        return Response(raw.status, raw.headers, text, dict(self.cookies))

    def connect(self, port: int) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)

    def _keep_cookies(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict | None = None, **kwargs) -> Response:
        """A form post carrying the CSRF token, as the page's own form would."""
        data = dict(form or {})
        if self.csrf and "csrf_token" not in data:
            data["csrf_token"] = self.csrf
        return self.request("POST", path, form=data, **kwargs)

    def login(self, login: str = "groupe", password: str = DEMO_PASSWORD) -> None:
        self.get("/connexion")
        response = self.post("/connexion", {"utilisateur": login, "mot_de_passe": password})
        assert response.status == 302, (response.status, response.text[:500])
        # The session starts afresh at login: read the new session's token.
        self.get("/")

    def up_to_confirmation(self, numero: str, *, n: int = 6, avance: str = "") -> str:
        """Paramétrage (instalments), simulation, Valider: returns the page's token."""
        page = self.get(f"/demande/{numero}/parametrage")
        assert page.status == 200, (page.status, page.location)
        compte = COMPTE_RE.search(page.text)[1]
        response = self.post(
            f"/demande/{numero}/parametrage",
            {"modalite": "acomptes", "compte": compte, "garanties": "1"},
        )
        assert response.status == 302, response.status
        self.get(f"/demande/{numero}/simulation")
        response = self.post(
            f"/demande/{numero}/simulation",
            {
                "action": "valider",
                "avance": avance,
                "nombre_echeances": str(n),
                "curseur": str(n),
                "cgu": "1",
            },
        )
        assert response.status == 302, (response.status, response.text[:500])
        page = self.get(f"/demande/{numero}/validation")
        assert page.status == 200, page.status
        return CONFIRMATION_TOKEN_RE.search(page.text)[1]
