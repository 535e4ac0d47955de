"""gunicorn settings of an instance:

    gunicorn -c deploy/gunicorn.conf.py --bind 10.0.0.11:8000 --workers 3 "app:create_app()"

Options given on the command line apply on top of these.
"""

import os
from pathlib import Path

# The app is loaded once, in the master: a refused configuration (app.py) stops gunicorn
# at once with its one-line reason, before any worker is forked.
preload_app = True
timeout = 30
graceful_timeout = 30
# The app writes one JSON line per request itself (web/observability.py): gunicorn's access
# log would say it twice. Its own messages go to standard error, as the app's.
accesslog = None
errorlog = "-"

# What a request may bring, set on purpose rather than left to defaults: the app's longest
# address (a search, a move, a login's ``next`` of at most 512 characters) is far below
# 4 094 bytes of request line; a header field may hold a browser's cookies (4 KB at most)
# and an If-None-Match; 50 fields are twice what a browser and nginx send together. Beyond
# these gunicorn answers 400 itself, before the app reads anything.
limit_request_line = 4094
limit_request_field_size = 8190
limit_request_fields = 50

# No control socket: the instances are driven by signals (kill -HUP reloads, see
# docs/DEPLOY.md), and gunicorn's default socket ($XDG_RUNTIME_DIR/gunicorn.ctl or
# ~/.gunicorn/gunicorn.ctl) is one path per user: two instances on one host would share it,
# and stopping one would delete the other's.
control_socket_disable = True


def _metrics_folder():
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(folder) if folder else None


def on_starting(server):
    """The counts of a previous run are not this run's: start from an empty folder."""
    folder = _metrics_folder()
    if folder is not None:
        for leftover in folder.glob("*.db"):
            leftover.unlink()


def child_exit(server, worker):
    """A worker's gauges leave with it (its counters stay in the sums)."""
    if _metrics_folder() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
