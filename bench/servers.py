"""Starting and stopping the gunicorn a benchmark measures."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_gunicorn(
    database_url: str,
    port: int,
    workers: int,
    *options: str,
    chdir: Path = ROOT,
    stderr=None,
    **env: str,
):
    """gunicorn serving the app in production mode on 127.0.0.1:``port``, without Redis
    (the login limits in memory); ``options`` go before the app factory, the last one.
    ``chdir``: where the app's module is (another app, such as the bare Flask of
    bench/http.py, lives elsewhere); ``stderr``: where the workers' log lines go."""
    environment = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        # One host, no Redis: the per-process store, chosen on purpose.
        "RATELIMIT_STORAGE_URI": "memory://",
        # A benchmark sends no notice by e-mail.
        "MAIL_BACKEND": "disabled",
        **env,
    }
    environment.pop("REDIS_URL", None)
    *options, factory = options or ("app:create_app()",)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(chdir),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        *options,
        factory,
    ]
    return subprocess.Popen(command, env=environment, stderr=stderr, start_new_session=True)


def wait_until_ready(server: subprocess.Popen, probe, seconds: float = 30) -> None:
    """Call ``probe()`` until it answers True; fail if the server exits or takes too long."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(OSError):
            if probe():
                return
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("gunicorn did not start")
        time.sleep(0.2)


def stop(server: subprocess.Popen) -> None:
    """SIGTERM, as a supervisor would; kill it if it has not stopped within 20 s."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
