"""docs/DEPLOY.md shows deploy/nginx.conf as it is, and nginx accepts that file."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx.conf"


def test_the_guide_shows_the_configuration_file_unchanged():
    guide = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```nginx\n(.*?)```", guide, re.S)
    assert CONF.read_text(encoding="utf-8") in blocks


def test_the_configuration_keeps_what_the_probe_needed():
    conf = CONF.read_text(encoding="utf-8")
    assert "http2 on;" not in conf.replace('plus "http2 on;"', "")
    assert "proxy_set_header Host $http_host;" in conf
    assert "proxy_http_version 1.1;" in conf and 'proxy_set_header Connection "";' in conf
    # The app's MAX_CONTENT_LENGTH is 4 MB: nginx must let the same body through.
    assert "client_max_body_size 4m;" in conf
    # No answer marks an instance down, and every header block the app sends fits.
    assert re.findall(r"server \S+ max_fails=0;", conf) and "max_fails=3" not in conf
    assert "proxy_buffer_size 16k;" in conf
    # The access log has paths, not queries (amounts, searches).
    assert '"$request"' not in conf and '"$request_method $uri"' in conf
    # Only the site's name reaches the app; the default server closes the connection.
    assert re.search(r"default_server;\s+listen 80 default_server;\s+server_name _;", conf)
    assert "return 444;" in conf and "https://$host" not in conf
    # Only login POSTs are throttled by nginx.
    assert re.search(
        r"map \$request_method \$login_post_key \{\s*POST\s+\$binary_remote_addr;", conf
    )


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed")
def test_nginx_accepts_the_configuration(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    conf = CONF.read_text(encoding="utf-8")
    conf = conf.replace("/etc/ssl/recouvrement.pem", str(cert))
    conf = conf.replace("/etc/ssl/recouvrement.key", str(key))
    conf = conf.replace("listen 443", "listen 127.0.0.1:18443").replace(
        "listen 80", "listen 127.0.0.1:18080"
    )
    (tmp_path / "site.conf").write_text(conf)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path};\n"
        f" include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_gunicorn_limits_requests_and_shares_no_control_socket():
    settings = {}
    exec((ROOT / "deploy" / "gunicorn.conf.py").read_text(encoding="utf-8"), settings)
    assert settings["limit_request_line"] == 4094
    assert settings["limit_request_field_size"] == 8190
    assert settings["limit_request_fields"] == 50
    assert settings["control_socket_disable"] is True
