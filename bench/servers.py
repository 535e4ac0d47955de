"""Starting and stopping the gunicorn a benchmark measures."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time


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
