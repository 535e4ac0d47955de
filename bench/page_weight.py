"""Weight of every page and partial of the journey, raw and gzip-compressed (not a test).

    python bench/page_weight.py [--lang fr|ar|both]

Builds a temporary SQLite database, migrates it, loads the demo data, then walks the
affiliate's journey with Flask's test client asking for gzip as a browser does, and prints
one table per language: each response's status, raw bytes and bytes on the wire, and for a
full page its first load (HTML + the CSS and scripts it links, fetched cold). The budgets
(tests/integration/test_budgets.py): a first load ≤ 60 KB, a simulation partial ≤ 3 KB.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Python puts this script's folder first on the path, where bench/http.py would shadow the
# standard library's http package (which Werkzeug imports): the repository root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAGE_BUDGET = 60 * 1024
PARTIAL_BUDGET = 3 * 1024
GZIP = {"Accept-Encoding": "gzip"}
HX = {**GZIP, "HX-Request": "true"}
ASSET = re.compile(r'<(?:link[^>]*\bhref|script[^>]*\bsrc)="(/static/[^"]+)"')


@dataclass
class Row:
    kind: str  # page | partial | static
    label: str
    status: int
    raw: int
    wire: int
    first_load: int | None = None

    @property
    def verdict(self) -> str:
        if self.kind == "page":
            return "ok" if self.first_load <= PAGE_BUDGET else "OVER BUDGET"
        if self.kind == "partial" and self.label.startswith("simulation"):
            return "ok" if self.wire <= PARTIAL_BUDGET else "OVER BUDGET"
        return ""


def body_of(response) -> tuple[bytes, str]:
    wire = response.get_data()
    raw = gzip.decompress(wire) if response.headers.get("Content-Encoding") == "gzip" else wire
    return wire, raw.decode()


class Walk:
    def __init__(self, client):
        self.client = client
        self.rows: list[Row] = []

    def record(self, kind: str, label: str, response) -> str:
        wire, text = body_of(response)
        row = Row(kind, label, response.status_code, len(text.encode()), len(wire))
        if kind == "page":
            row.first_load = row.wire + sum(
                len(body_of(self.client.get(url, headers=GZIP))[0]) for url in ASSET.findall(text)
            )
        self.rows.append(row)
        return text

    def page(self, label: str, url: str, data=None) -> str:
        if data is None:
            return self.record("page", label, self.client.get(url, headers=GZIP))
        return self.record("page", label, self.client.post(url, data=data, headers=GZIP))

    def partial(self, label: str, url: str, data=None) -> str:
        if data is None:
            return self.record("partial", label, self.client.get(url, headers=HX))
        return self.record("partial", label, self.client.post(url, data=data, headers=HX))


def walk(client, lang: str) -> list[Row]:
    from commands.demo import ASTREINTES_NUMERO, DEMO_PASSWORD, GUIDE_NUMERO, INTEGRAL_NUMERO

    w = Walk(client)
    client.post("/langue", data={"lang": lang})
    html = w.page("login", "/connexion")
    for url in ASSET.findall(html):
        w.record("static", url.split("?")[0], client.get(url, headers=GZIP))
    w.page("login refusé", "/connexion", {"utilisateur": "groupe", "mot_de_passe": "x"})
    client.post("/connexion", data={"utilisateur": "groupe", "mot_de_passe": DEMO_PASSWORD})
    w.page("accueil", "/")
    w.page("choisir un affilié", "/demande/nouvelle")
    w.page("choisir un affilié (50)", "/demande/nouvelle?taille=50")
    w.partial("affiliés: recherche", "/demande/nouvelle?q=ATLAS")
    w.partial("affiliés: 50 par page", "/demande/nouvelle?taille=50")

    def start(numero: str, modalite: str) -> None:
        html = w.page(f"paramétrage {numero}", f"/demande/{numero}/parametrage")
        compte = re.search(r'<option value="(\d+)"', html).group(1)
        form = {"modalite": modalite, "compte": compte, "garanties": "1"}
        client.post(f"/demande/{numero}/parametrage", data=form)

    w.page("paramétrage erreurs", f"/demande/{GUIDE_NUMERO}/parametrage", {"modalite": ""})
    start(INTEGRAL_NUMERO, "integral")
    w.page("simulation intégral", f"/demande/{INTEGRAL_NUMERO}/simulation")

    start(ASTREINTES_NUMERO, "acomptes")
    sim = f"/demande/{ASTREINTES_NUMERO}/simulation"
    w.page("simulation acomptes", sim)
    w.partial("simulation +", sim, {"action": "plus", "nombre_echeances": "6"})
    w.partial("simulation −", sim, {"action": "moins", "nombre_echeances": "7"})
    w.partial("simulation curseur 24", sim, {"action": "curseur", "curseur": "24"})
    w.partial(
        "simulation 60 + avance",
        sim,
        {"action": "simuler", "nombre_echeances": "60", "avance": "1 234,56"},
    )
    w.partial("simulation erreurs", sim, {"action": "simuler", "avance": "abc"})
    w.page("simulation erreurs (sans JS)", sim, {"action": "simuler", "avance": "abc"})
    w.page("simulation 60 échéances", sim)
    w.partial("valider sans conditions", sim, {"action": "valider"})
    w.page("conditions générales", f"/demande/{ASTREINTES_NUMERO}/conditions")
    w.partial("dialogue de confirmation", sim, {"action": "valider", "cgu": "1"})
    html = w.page("validation (sans JS)", f"/demande/{ASTREINTES_NUMERO}/validation")
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    done = client.post(f"/demande/{ASTREINTES_NUMERO}/confirmer", data={"token": token})
    w.page("récapitulatif (60 échéances)", done.headers["Location"])
    w.page("accueil avec demande", "/")
    client.post("/deconnexion")
    w.page("session expirée", f"/session/expiree?lang={lang}")
    return w.rows


def print_table(lang: str, rows: list[Row]) -> None:
    print(f"\n{lang}: bytes raw / gzip (first load = HTML + linked CSS and JS, cold)")
    head = ("kind", "response", "status", "raw", "gzip", "1st load", "budget")
    print("{:8} {:34} {:>6} {:>8} {:>7} {:>9}  {}".format(*head))
    for r in rows:
        first = f"{r.first_load:9}" if r.first_load is not None else " " * 9
        print(f"{r.kind:8} {r.label:34} {r.status:6} {r.raw:8} {r.wire:7} {first}  {r.verdict}")


def fresh_app(path: Path):
    """The app on a new SQLite file, migrated and loaded with the demo data."""
    from flask_migrate import upgrade

    from app import create_app
    from commands.demo import seed_demo

    app = create_app(
        {
            "APP_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "bench-only",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        logging.disable(logging.INFO)  # Alembic's migration log
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        seed_demo()
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lang", choices=("fr", "ar", "both"), default="both")
    args = parser.parse_args()

    from extensions import db

    over = 0
    with tempfile.TemporaryDirectory() as tmp:
        for lang in ("fr", "ar") if args.lang == "both" else (args.lang,):
            # A fresh demo database per language: the walk confirms a request.
            app = fresh_app(Path(tmp) / f"weight-{lang}.db")
            with app.app_context():
                rows = walk(app.test_client(), lang)
                db.session.remove()
                db.engine.dispose()
            print_table(lang, rows)
            over += sum(r.verdict == "OVER BUDGET" for r in rows)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
