"""Every page of the journey and of the back office, in French and Arabic, is valid HTML.

The pages are collected with the test client, written to files, and checked by the Nu
Html Checker (vnu, the W3C's validator) in one Java run: `make vnu` installs it in
`.tools/` (`make test` does it first).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from commands.demo import seed_back_office_cases
from config import BASE_DIR

VNU_JAR = BASE_DIR / ".tools" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
GUIDE = "4317542"  # plan, confirmed in French
ASTREINTES = "3021458"  # plan, confirmed in Arabic
INTEGRAL = "2145873"  # full payment, simulated only
BACK_OFFICE_CASES = ("ATTENTE", "DELAI", "EXPIREE", "VALIDEE", "PRELEV", "DEFAUT", "SOLDEE")


def _compte(html: str) -> str:
    return re.search(r'<option value="(\d+)"', html).group(1)


class Collector:
    def __init__(self, app, lang: str, folder: Path):
        self.client = app.test_client()
        self.lang, self.folder, self.pages = lang, folder, {}
        self.client.post("/langue", data={"lang": lang})

    def keep(self, name: str, response, status: int = 200) -> str:
        html = response.get_data(as_text=True)
        assert response.status_code == status, (name, response.status_code)
        assert html.startswith("<!doctype html>"), name
        path = self.folder / f"{self.lang}-{name}.html"
        path.write_text(html, encoding="utf-8")
        self.pages[str(path)] = name
        return html

    def get(self, name: str, url: str, status: int = 200) -> str:
        return self.keep(name, self.client.get(url), status)

    def login(self, login: str) -> None:
        self.client.post("/deconnexion")
        self.client.post("/langue", data={"lang": self.lang})
        response = self.client.post(
            "/connexion", data={"utilisateur": login, "mot_de_passe": "Demo-2023!"}
        )
        assert response.status_code == 302, login


def collect(app, lang: str, folder: Path, numero: str) -> dict[str, str]:
    pages = Collector(app, lang, folder)
    pages.get("login", "/connexion")
    pages.get("aide", "/aide")
    pages.get("accessibilite", "/accessibilite")
    pages.get("conditions-generales", "/conditions-generales")
    pages.get("introuvable", "/nulle-part", 404)
    pages.get("session-expiree", "/session/expiree")

    pages.login("groupe")
    pages.get("accueil", "/")
    pages.get("choisir", "/demande/nouvelle")
    html = pages.get("parametrage", f"/demande/{numero}/parametrage")
    url = f"/demande/{numero}/parametrage"
    pages.keep("parametrage-erreurs", pages.client.post(url, data={"modalite": ""}), 422)
    form = {"modalite": "acomptes", "compte": _compte(html), "garanties": "1"}
    assert pages.client.post(url, data=form).status_code == 302
    pages.get("simulation", f"/demande/{numero}/simulation")
    pages.get("conditions", f"/demande/{numero}/conditions")
    refused = pages.client.post(f"/demande/{numero}/simulation", data={"action": "valider"})
    pages.keep("simulation-erreurs", refused, 422)
    valider = {"action": "valider", "cgu": "1", "nombre_echeances": "12", "avance": ""}
    assert pages.client.post(f"/demande/{numero}/simulation", data=valider).status_code == 302
    html = pages.get("validation", f"/demande/{numero}/validation")
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    confirmed = pages.client.post(f"/demande/{numero}/confirmer", data={"token": token})
    pages.get("recapitulatif", confirmed.headers["Location"])

    html = pages.get("parametrage-integral", f"/demande/{INTEGRAL}/parametrage")
    form = {"modalite": "integral", "compte": _compte(html)}
    pages.client.post(f"/demande/{INTEGRAL}/parametrage", data=form)
    pages.get("simulation-integral", f"/demande/{INTEGRAL}/simulation")

    pages.login("agent.casa")
    pages.get("bo-demandes", "/perception/demandes")
    pages.get("bo-demandes-filtre", "/perception/demandes?statut=validee&du=2099-01-01")
    for case in BACK_OFFICE_CASES:
        pages.get(f"bo-{case.lower()}", f"/perception/demandes/RM-DEMO-CAS-{case}")
    pages.get("bo-affilies", f"/perception/affilies?q={GUIDE[:3]}")
    pages.get("bo-affilie", f"/perception/affilies/{GUIDE}")
    pages.get("bo-affilie-integral", f"/perception/affilies/{GUIDE}?modalite=integral")
    pages.get("bo-retour", "/perception/prelevements/retour")
    pages.get("bo-interdit", "/demande/nouvelle", 403)
    return pages.pages


def test_every_page_is_valid_html_in_both_languages(app, tmp_path):
    java = shutil.which("java")
    if java is None or not VNU_JAR.exists():
        pytest.fail("the Nu Html Checker is missing: run `make vnu` (Java and npm needed)")
    seed_back_office_cases()
    pages = {}
    pages.update(collect(app, "fr", tmp_path, GUIDE))
    pages.update(collect(app, "ar", tmp_path, ASTREINTES))
    assert len(pages) >= 50

    run = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--errors-only", "--format", "json", *pages],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    messages = json.loads(run.stderr or run.stdout)["messages"]
    errors = [
        f"{pages.get(m.get('url', '').removeprefix('file:'), m.get('url'))}:"
        f"{m.get('lastLine')}: {m['message']}"
        for m in messages
        if m["type"] == "error" or m.get("subType") == "fatal"
    ]
    assert errors == [], "\n".join(errors)
