"""Lighthouse (mobile preset) on the login and Simulation pages, under gunicorn.

    python bench/lighthouse.py [--runs 5] [--lang fr|ar]

Needs Node and Chromium (CHROME_PATH, default /usr/bin/chromium); installs the pinned
``lighthouse`` npm package into the git-ignored ``.tools/`` on first use. The script
migrates a temporary SQLite database with the demo data, starts gunicorn in production
mode, signs in as "groupe" like a browser (the form's csrf_token), chooses "acomptes" for
the guide's affilié 4317542, then runs Lighthouse on /connexion and on the Simulation
page (the session cookie passed as a header). It prints each category's score, the
median of ``--runs``, and the goals: performance >= 0.98, accessibility and best
practices 1.0. Reports go to bench/results/ (git-ignored).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402

from bench.servers import ROOT, start_gunicorn, stop, wait_until_ready  # noqa: E402

LIGHTHOUSE_VERSION = "13.5.0"
LIGHTHOUSE = ROOT / ".tools" / "node_modules" / ".bin" / "lighthouse"
GUIDE = "4317542"
CATEGORIES = ("performance", "accessibility", "best-practices")
GOALS = {"performance": 0.98, "accessibility": 1.0, "best-practices": 1.0}
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"


def ensure_lighthouse() -> Path:
    if not LIGHTHOUSE.exists():
        subprocess.run(
            ["npm", "install", "--prefix", str(ROOT / ".tools"), "--no-audit", "--no-fund",
             f"lighthouse@{LIGHTHOUSE_VERSION}"],
            check=True,
        )  # fmt: skip
    return LIGHTHOUSE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Just enough of a browser to sign in: one cookie, the forms' csrf_token."""

    def __init__(self, base: str):
        self.base, self.cookie = base, ""
        self.opener = urllib.request.build_opener(NoRedirect)

    def request(self, path: str, form: dict | None = None) -> str:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.base + path, data=data)
        if self.cookie:
            req.add_header("Cookie", self.cookie)
        try:
            response = self.opener.open(req)
        except urllib.error.HTTPError as redirect:  # 302/303 arrive as errors here
            response = redirect
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("session="):
                self.cookie = header.split(";", 1)[0]
        return response.read().decode()

    def csrf(self, path: str) -> tuple[str, str]:
        html = self.request(path)
        return html, re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def sign_in_and_choose(base: str, lang: str) -> str:
    """The session cookie of "groupe", past Paramétrage for the guide's affilié."""
    browser = Browser(base)
    _, token = browser.csrf("/connexion")
    browser.request("/langue", {"lang": lang, "csrf_token": token})
    _, token = browser.csrf("/connexion")
    browser.request(
        "/connexion", {"utilisateur": "groupe", "mot_de_passe": "Demo-2023!", "csrf_token": token}
    )
    html, token = browser.csrf(f"/demande/{GUIDE}/parametrage")
    compte = re.search(r'<option value="(\d+)"', html)[1]
    form = {"modalite": "acomptes", "compte": compte, "garanties": "1", "csrf_token": token}
    browser.request(f"/demande/{GUIDE}/parametrage", form)
    assert "simulation-panel" in browser.request(f"/demande/{GUIDE}/simulation")
    return browser.cookie


def run_lighthouse(url: str, cookie: str, out: Path) -> dict[str, float]:
    command = [
        str(ensure_lighthouse()),
        url,
        "--quiet",
        "--output=json",
        f"--output-path={out}",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    subprocess.run(command, check=True, env=env)
    report = json.loads(out.read_text())
    failed = [
        audit["id"]
        for audit in report["audits"].values()
        if audit.get("score") is not None
        and audit["score"] < 1
        and audit.get("scoreDisplayMode") == "binary"
    ]
    if failed:
        print(f"    audits below 1 on {url}: {', '.join(sorted(failed))}")
    return {c: report["categories"][c]["score"] for c in CATEGORIES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lang", choices=("fr", "ar"), default="fr")
    args = parser.parse_args()
    if shutil.which("node") is None:
        print("Node is needed for Lighthouse", file=sys.stderr)
        return 2
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-lighthouse-") as tmp:
        database = f"sqlite:///{Path(tmp) / 'bench.db'}"
        from bench.seeding import seed_large

        seed_large(database)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # The session cookie is Secure; on http://127.0.0.1 it is sent as a header.
        server = start_gunicorn(database, port, 2)
        try:
            wait_until_ready(server, lambda: urllib.request.urlopen(base + "/ping").status == 200)
            cookie = sign_in_and_choose(base, args.lang)
            # Each worker's first answer fills its caches: measure the page, not that.
            for _ in range(4):
                Browser(base).request(f"/connexion?lang={args.lang}")
                warm = Browser(base)
                warm.cookie = cookie
                warm.request(f"/demande/{GUIDE}/simulation")
            pages = {
                "login": (f"{base}/connexion?lang={args.lang}", ""),
                "simulation": (f"{base}/demande/{GUIDE}/simulation", cookie),
            }
            ok = True
            for name, (url, page_cookie) in pages.items():
                scores = [
                    run_lighthouse(url, page_cookie, results / f"lighthouse-{name}-{i}.json")
                    for i in range(args.runs)
                ]
                median = {c: statistics.median(s[c] for s in scores) for c in CATEGORIES}
                line = "  ".join(f"{c} {median[c]:.2f}" for c in CATEGORIES)
                print(f"{name:11s} {line}  (median of {args.runs}, {args.lang})")
                ok &= all(median[c] >= GOALS[c] for c in CATEGORIES)
        finally:
            stop(server)
    print("goals met" if ok else "goals NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
