"""The deployment of docs/DEPLOY.md, run: nginx with deploy/nginx.conf in front of two
gunicorn instances (deploy/gunicorn.conf.py) on PostgreSQL and Redis.

nginx's file is only rewritten for this machine: its ports, its certificate (self-signed,
made here), its paths. A client on 127.0.0.2 logs in, simulates and confirms over HTTPS
on a port that is not 443; its request id reaches nginx's log and the app's JSON lines,
with its own address (PROXY_HOPS=1); a bank return file of the size the app accepts passes
nginx, and a body over the app's MAX_CONTENT_LENGTH is refused by nginx itself. The outside
probe's six-request outages (a long query through the slash redirect, a forged If-None-Match)
leave the site answering; another Host never reaches the app; the access log holds no query;
the two instances share no control socket. Every process is stopped at the end, and every
wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from blueprints.perception import MAX_RETURN_BYTES
from config import Config
from tests.conftest import IS_POSTGRES, REDIS_DB_DEPLOY
from tests.integration.live_server import Browser, free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
CLIENT_ADDRESS = "127.0.0.2"  # not nginx's 127.0.0.1: the app must log this one
METRICS_TOKEN = "jeton-de-supervision-du-test-0123456789"
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB_DEPLOY}"
NUMERO = "4317542"
SITE = "127.0.0.1"  # the site's name here: the one nginx's server_name and TRUSTED_HOSTS pin
LONG = "A" * 3600  # a query that made Werkzeug's slash redirect a 4.2 KB header block

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not IS_POSTGRES, reason="the deployment runs on PostgreSQL"),
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make nginx)"),
    pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed"),
]


def redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=0.5)
    try:
        client.flushdb()
    except redis.RedisError:
        if os.environ.get("REDIS_REQUIRED"):
            raise
        pytest.skip("no Redis on 127.0.0.1:6379")
    return client


def wait_for(what: str, ready, deadline: float, processes=()) -> None:
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{what}: exited with {process.returncode}")
        if ready():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready in time")


def answers(port: int, path: str = "/healthz") -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGINT to all at once (a quick shutdown for gunicorn and nginx alike: the test is
    over, no request is left to finish), then SIGKILL past 10 s."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def nginx_conf(tmp: Path, upstreams: list[int], https_port: int, http_port: int) -> Path:
    """deploy/nginx.conf for this machine, inside a minimal main configuration."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    site = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    for original, replacement in (
        ("10.0.0.11:8000", f"127.0.0.1:{upstreams[0]}"),
        ("10.0.0.12:8000", f"127.0.0.1:{upstreams[1]}"),
        ("listen 443 ssl http2", f"listen 127.0.0.1:{https_port} ssl http2"),
        ("listen 80", f"listen 127.0.0.1:{http_port}"),
        ("server_name recouvrement.example.ma;", f"server_name {SITE};"),
        ("/etc/ssl/recouvrement.pem", str(cert)),
        ("/etc/ssl/recouvrement.key", str(key)),
        ("/var/log/nginx/recouvrement.access.log", str(tmp / "access.log")),
        ("/srv/recouvrement/static/", f"{ROOT / 'static'}/"),
    ):
        assert original in site, original
        site = site.replace(original, replacement)
    temp = tmp / "nginx-temp"
    temp.mkdir()
    # As root, nginx's workers would run as nobody, who cannot read pytest's folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx-test.conf"
    conf.write_text(
        f"""{user}daemon off;
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{site}
}}
""",
        encoding="utf-8",
    )
    return conf


class TlsBrowser(Browser):
    """The live tests' browser, over HTTPS, from CLIENT_ADDRESS, sending a Referer as a
    browser does (CSRF checks it on HTTPS)."""

    def __init__(self, port: int):
        super().__init__(port)
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate

    def connect(self, port: int) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            "127.0.0.1",
            port,
            timeout=self.timeout,
            context=self.context,
            source_address=(CLIENT_ADDRESS, 0),
        )

    def request(self, method, path, form=None, headers=None, port=None):
        headers = {"Referer": f"https://127.0.0.1:{self.port}/", **(headers or {})}
        return super().request(method, path, form=form, headers=headers, port=port)

    def upload(self, path: str, field: str, filename: str, data: bytes):
        """A multipart form post with the CSRF token and one file."""
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f"{self.csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; "
                f'name="{field}"; filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Referer": f"https://127.0.0.1:{self.port}{path}",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        conn = self.connect(self.port)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()


@pytest.fixture
def deployment(database_url, tmp_path):
    store = redis_or_skip()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "APP_ENV": "production",
        "SECRET_KEY": uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "PROXY_HOPS": "1",
        "METRICS_TOKEN": METRICS_TOKEN,
        "TRUSTED_HOSTS": SITE,
        # Where gunicorn's default control socket would go: two instances would share it.
        "HOME": str(tmp_path / "home"),
        "MAIL_BACKEND": "disabled",
    }
    ports = [free_port(), free_port()]
    https_port, http_port = free_port(), free_port()
    processes: list[subprocess.Popen] = []
    logs = [tmp_path / f"instance-{i}.log" for i in (1, 2)]
    try:
        for port, log in zip(ports, logs):
            metrics = tmp_path / f"metrics-{port}"
            metrics.mkdir()
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
                        + ["--bind", f"127.0.0.1:{port}", "--workers", "2", "app:create_app()"],
                        cwd=ROOT,
                        env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        conf = nginx_conf(tmp_path, ports, https_port, http_port)
        with (tmp_path / "nginx.stderr").open("wb") as out:
            nginx = subprocess.Popen(
                [NGINX, "-p", str(tmp_path), "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=out,
            )
        processes.append(nginx)
        deadline = time.monotonic() + 45
        for port in ports:
            wait_for(f"gunicorn :{port}", lambda p=port: answers(p), deadline, processes)
        wait_for("nginx", lambda: listening(https_port), deadline, processes)
        yield {"https": https_port, "instances": ports, "logs": logs, "tmp": tmp_path}
    finally:
        stop(processes)
        store.flushdb()
        store.close()


def app_lines(logs: list[Path]) -> list[dict]:
    lines = []
    for log in logs:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
    return lines


def scrape(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        response = conn.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        conn.close()


def test_the_deployment_through_nginx(deployment):
    """One deployment for every check: starting and stopping it is most of the time."""
    journey_over_https(deployment)
    bank_return_file_through_nginx(deployment)
    six_requests_no_longer_take_the_site_down(deployment)
    other_hosts_never_reach_the_app(deployment)
    assert not (deployment["tmp"] / "home" / ".gunicorn").exists()  # no shared control socket


def journey_over_https(deployment):
    port = deployment["https"]
    browser = TlsBrowser(port)

    health = browser.get("/healthz")
    assert health.status == 200
    assert json.loads(health.text) == {"status": "ok", "database": "ok", "redis": "ok"}
    assert "max-age=31536000" in health.headers["Strict-Transport-Security"]

    browser.login()
    token = browser.up_to_confirmation(NUMERO)
    confirmed = browser.post(f"/demande/{NUMERO}/confirmer", {"token": token})
    assert confirmed.status == 303, (confirmed.status, confirmed.text[:300])
    recap = browser.get(confirmed.location)
    assert recap.status == 200 and re.search(r"RM-?\d", recap.text)
    request_id = recap.headers["X-Request-ID"]

    # The id nginx made is in its access log and in the app's line for that request, which
    # has the client's own address, not nginx's.
    # nginx and the worker each write their line after answering: wait for them, bounded.
    access_log_path = deployment["tmp"] / "access.log"
    wait_for(
        "nginx's access line",
        lambda: request_id in access_log_path.read_text(),
        time.monotonic() + 5,
    )
    assert access_log_path.read_text().startswith(CLIENT_ADDRESS)

    def request_lines():
        return [
            entry
            for entry in app_lines(deployment["logs"])
            if entry.get("request_id") == request_id and entry["event"] == "request"
        ]

    wait_for("the app's request line", request_lines, time.monotonic() + 5)
    (line,) = request_lines()
    assert line["remote_addr"] == CLIENT_ADDRESS
    assert (line["method"], line["path"], line["status"]) == ("GET", "/demandes/<reference>", 200)
    assert isinstance(line["user"], int)
    events = [entry["event"] for entry in app_lines(deployment["logs"])]
    assert "login.success" in events and "demande.confirmation" in events

    # /metrics is not served through nginx; each instance adds up its workers.
    assert (
        browser.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status == 404
    )
    scraped = [scrape(p) for p in deployment["instances"]]
    confirmations = sum(
        float(found)
        for text in scraped
        for found in re.findall(
            r'^recouvrement_demandes_confirmees_total\{modalite="acomptes"\} (\S+)$', text, re.M
        )
    )
    assert confirmations == 1
    assert all("recouvrement_http_requests_total" in text for text in scraped)


def bank_return_file_through_nginx(deployment):
    port = deployment["https"]
    agent = TlsBrowser(port)
    agent.login("agent.casa")
    page = agent.get("/perception/prelevements/retour")
    assert page.status == 200
    header = b"reference,echeance,statut\n"
    # The largest file the app takes: blank lines after the header, which the reader skips.
    data = header + b"\n" * (MAX_RETURN_BYTES - len(header))
    status, text = agent.upload("/perception/prelevements/retour", "fichier", "retour.csv", data)
    # The app read it and answered (its own page, not nginx's 413).
    assert status in (200, 303, 422) and "nginx" not in text

    # The body limit is the app's: one byte over MAX_CONTENT_LENGTH is nginx's 413.
    over = b"\n" * (Config.MAX_CONTENT_LENGTH + 1)
    status, text = agent.upload("/perception/prelevements/retour", "fichier", "gros.csv", over)
    assert status == 413 and "nginx" in text


def six_requests_no_longer_take_the_site_down(deployment):
    """Each six-request outage of the probe, through nginx: the site answers 200 right after."""
    port = deployment["https"]
    visitor = TlsBrowser(port)
    for path in (f"/perception?q={LONG}", f"/perception//demandes?q={LONG}"):
        statuses = [visitor.get(path).status for _ in range(6)]
        assert 502 not in statuses, (path[:30], statuses)
        assert visitor.get("/connexion").status == 200

    affiliate = TlsBrowser(port)
    affiliate.login()
    numero = "3021458"  # groupe's, without a request in progress
    page = affiliate.get(f"/demande/{numero}/parametrage")
    compte = re.search(r'<option value="(\d+)"', page.text)[1]
    moved = affiliate.post(
        f"/demande/{numero}/parametrage",
        {"modalite": "acomptes", "compte": compte, "garanties": "1"},
    )
    assert moved.status == 302, moved.status
    move = f"/demande/{numero}/simulation?n=7"
    panel = affiliate.get(move, headers={"HX-Request": "true"})
    assert panel.status == 200
    tag = panel.headers["ETag"].strip('"')
    forged = {"HX-Request": "true", "If-None-Match": f'"{tag}:{"B" * 4000}"'}
    statuses = [affiliate.get(move, headers=forged).status for _ in range(6)]
    assert 502 not in statuses, statuses
    assert affiliate.get(move, headers={"HX-Request": "true"}).status == 200
    assert visitor.get("/connexion").status == 200
    assert visitor.get("/healthz").status == 200

    # The access log names paths, never a query: no search, no amount.
    log = (deployment["tmp"] / "access.log").read_text()
    assert "/perception" in log and "q=" not in log and "avance=" not in log and LONG not in log


def other_hosts_never_reach_the_app(deployment):
    """nginx closes a connection for any other name; the app refuses it too (TRUSTED_HOSTS)."""
    browser = TlsBrowser(deployment["https"])
    with pytest.raises(http.client.RemoteDisconnected):
        browser.get("/connexion", headers={"Host": "evil.example"})
    port = deployment["instances"][0]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/connexion", headers={"Host": "evil.example"})
        response = conn.getresponse()
        assert response.status == 400
        assert "evil" not in str(response.headers) + response.read().decode()
    finally:
        conn.close()
