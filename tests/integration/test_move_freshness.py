"""A slider move, the simulation page and its files never show what a write replaced.

For each thing they show that a kept entry holds (the créance lines, the raison sociale,
the bank accounts, the perception, the arrangement, the account's link, the campaign),
written through the ORM and, where it applies, by ``flask import-data``: the version the
move reads in its one statement changes, so does the panel's ETag, and the next move shows
the new figure, the same as a process with nothing kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from db.models import Affilie, CampaignTier, CompteBancaire, LigneCreance, Perception, User
from domain.identifiers import rib_with_key
from extensions import db
from services import caches
from tests.integration.pages import Page

GUIDE = "4317542"
URL = f"/demande/{GUIDE}/simulation"
MOVE = {"HX-Request": "true"}
AFFILIES_HEADER = (
    "numero_affiliation,raison_sociale,regime,ice,perception,"
    "date_situation,date_arret_penalites,arrangement"
)
NEW_NAME = "ATLAS NOUVELLE RAISON"
NEW_BANK = "Banque Nouvelle du Maroc"
NEW_PERCEPTION = "Perception Fès Saïss"
RIB = rib_with_key("0117800000123456789012")
# The guide's créance replaced by one of 5 000,00 of principal and 1 500,00 of majorations.
NEW_LINES = [
    f"{GUIDE},202301,CSS,principal,5000.00",
    f"{GUIDE},202301,CSS,majorations,1500.00",
]
CSRF_TOKENS = re.compile(r'(name="csrf_token" value="|"X-CSRFToken": ")[^"]*"')


def guide() -> Affilie:
    return db.session.scalars(select(Affilie).where(Affilie.numero == GUIDE)).one()


def version() -> str:
    affilie = guide()
    db.session.refresh(affilie)
    return f"{affilie.jeton}:{affilie.lignes_jeton}"


def affilie_line(affilie: Affilie, **changes) -> str:
    fields = {
        "raison_sociale": affilie.raison_sociale,
        "regime": affilie.regime,
        "ice": affilie.ice or "",
        "perception": affilie.perception.name,
        "date_situation": affilie.date_situation.isoformat(),
        "date_arret_penalites": affilie.date_arret_penalites.isoformat(),
        "arrangement": "oui" if affilie.arrangement else "non",
        **changes,
    }
    return ",".join([affilie.numero, *fields.values()])


def import_files(runner, directory: Path, files: dict[str, list[str]]) -> None:
    directory.mkdir(exist_ok=True)
    for name, lines in files.items():
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import-data", str(directory)])
    assert result.exit_code == 0, result.output


def a_payer(response) -> str:
    text = re.sub(r"\s", " ", Page(response).by_id("picture-texte").text)
    return re.search(r"Montant à payer : (.+? MAD)", text)[1]


@dataclass
class Seen:
    """What the user is shown: the move (its tag, its figure), the page and the CSV."""

    etag: str | None
    a_payer: str | None
    page: str
    csv: str


def seen(client) -> Seen:
    move = client.get(f"{URL}?n=12", headers=MOVE)
    page = client.get(f"{URL}?n=12")
    csv = client.get(f"/demande/{GUIDE}/simulation/echeancier.csv?n=12")
    ok = move.status_code == 200
    return Seen(
        move.get_etag()[0] if ok else None,
        a_payer(move) if ok else None,
        # The page but its CSRF tokens, new each time.
        CSRF_TOKENS.sub("", page.get_data(as_text=True)),
        csv.get_data(as_text=True),
    )


@pytest.fixture
def started(client, auth, app):
    caches.clear()
    auth.login("groupe")
    compte = db.session.scalar(
        select(CompteBancaire.id).join(Affilie).where(Affilie.numero == GUIDE)
    )
    response = client.post(
        f"/demande/{GUIDE}/parametrage",
        data={"modalite": "acomptes", "compte": str(compte), "garanties": "1"},
    )
    assert response.status_code == 302
    yield client
    caches.clear()


# --- each write, and what it changes on screen ----------------------------------------------


def lines_by_orm(app, runner, tmp_path):
    affilie = guide()
    db.session.add(
        LigneCreance(
            affilie_id=affilie.id,
            periode="202301",
            rubrique="CSS",
            nature="principal",
            montant=5000,
        )
    )
    db.session.commit()


def lines_by_import(app, runner, tmp_path):
    header = "numero_affiliation,periode,rubrique,nature,montant"
    import_files(runner, tmp_path / "lignes", {"creances.csv": [header, *NEW_LINES]})


def name_by_orm(app, runner, tmp_path):
    guide().raison_sociale = NEW_NAME
    db.session.commit()


def name_by_import(app, runner, tmp_path):
    line = affilie_line(guide(), raison_sociale=NEW_NAME)
    import_files(runner, tmp_path / "nom", {"affilies.csv": [AFFILIES_HEADER, line]})


def bank_by_orm(app, runner, tmp_path):
    for compte in guide().comptes:
        compte.banque = NEW_BANK
    db.session.commit()


def bank_by_import(app, runner, tmp_path):
    lines = [f"{GUIDE},{c.rib},{NEW_BANK}" for c in guide().comptes]
    import_files(runner, tmp_path / "ribs", {"ribs.csv": ["numero_affiliation,rib,banque", *lines]})


def rates_by_orm(app, runner, tmp_path):
    for tier in db.session.scalars(select(CampaignTier)):
        tier.taux_penalites = tier.taux_penalites / 2
    db.session.commit()


@dataclass(frozen=True)
class Write:
    name: str
    write: Callable
    # What the user must see afterwards, besides a new tag.
    shows: Callable[[Seen, Seen], bool]


def new_figure(before: Seen, after: Seen) -> bool:
    return after.a_payer is not None and after.a_payer != before.a_payer


def new_name(before: Seen, after: Seen) -> bool:
    return NEW_NAME in after.page and NEW_NAME in after.csv and NEW_NAME not in before.page


def new_bank(before: Seen, after: Seen) -> bool:
    return NEW_BANK in after.page and NEW_BANK not in before.page


WRITES = [
    Write("lines-orm", lines_by_orm, new_figure),
    Write("lines-import", lines_by_import, new_figure),
    Write("name-orm", name_by_orm, new_name),
    Write("name-import", name_by_import, new_name),
    Write("bank-orm", bank_by_orm, new_bank),
    Write("bank-import", bank_by_import, new_bank),
    Write("campaign-orm", rates_by_orm, new_figure),
]


@pytest.mark.parametrize("case", WRITES, ids=[w.name for w in WRITES])
def test_each_write_gives_a_new_tag_and_the_new_figures(started, app, runner, tmp_path, case):
    before = seen(started)
    assert seen(started) == before  # kept, and the same
    affilie_version = version()
    case.write(app, runner, tmp_path)
    if not case.name.startswith("campaign"):
        assert version() != affilie_version
    after = seen(started)
    assert after.etag != before.etag
    assert case.shows(before, after)
    # The old tag is not answered a 304.
    old = started.get(f"{URL}?n=12", headers={**MOVE, "If-None-Match": f'"{before.etag}"'})
    assert old.status_code == 200
    # A process that kept nothing shows the same.
    caches.clear()
    assert seen(started) == after


def test_the_import_gives_the_new_creance_at_once(started, app, runner, tmp_path):
    """The outside probe's case: lines, name and RIBs of one affilié changed by one import."""
    before = seen(started)
    affilie = guide()
    files = {
        "affilies.csv": [AFFILIES_HEADER, affilie_line(affilie, raison_sociale=NEW_NAME)],
        "ribs.csv": [
            "numero_affiliation,rib,banque",
            *(f"{GUIDE},{c.rib},{NEW_BANK}" for c in affilie.comptes),
        ],
        "creances.csv": ["numero_affiliation,periode,rubrique,nature,montant", *NEW_LINES],
    }
    import_files(runner, tmp_path / "tout", files)
    after = seen(started)
    assert (before.a_payer, after.a_payer) == ("21 950,63 MAD", "5 750,00 MAD")
    assert new_name(before, after) and new_bank(before, after)
    caches.clear()
    assert seen(started) == after


def test_an_import_that_changes_nothing_keeps_the_version(started, app, runner, tmp_path):
    affilie = guide()
    before = version()
    import_files(
        runner,
        tmp_path / "pareil",
        {
            "affilies.csv": [AFFILIES_HEADER, affilie_line(affilie)],
            "ribs.csv": [
                "numero_affiliation,rib,banque",
                *(f"{GUIDE},{c.rib},{c.banque}" for c in affilie.comptes),
            ],
        },
    )
    assert version() == before


def refusal(client) -> str:
    response = client.get(f"{URL}?n=12")
    assert response.status_code == 302
    return " ".join(Page(client.get(response.headers["Location"])).flashes())


def test_the_arrangement_and_the_perception_by_the_orm(started, app):
    affilie = guide()
    affilie.arrangement = True
    db.session.commit()
    old_name = affilie.perception.name
    assert old_name in refusal(started)
    assert started.get(f"{URL}?n=12", headers=MOVE).status_code == 204  # HX-Redirect
    perception = db.session.get(Perception, affilie.perception_id)
    before = version()
    perception.name = "Perception renommée"
    db.session.commit()
    assert version() != before
    assert "Perception renommée" in refusal(started)


def test_the_arrangement_and_the_perception_by_the_import(started, app, runner, tmp_path):
    assert started.get(f"{URL}?n=12", headers=MOVE).status_code == 200
    line = affilie_line(guide(), arrangement="oui", perception=NEW_PERCEPTION)
    import_files(runner, tmp_path / "arrangement", {"affilies.csv": [AFFILIES_HEADER, line]})
    assert started.get(f"{URL}?n=12", headers=MOVE).status_code == 204
    assert NEW_PERCEPTION in refusal(started)


def test_the_link_is_read_with_the_user(started, app):
    assert started.get(f"{URL}?n=12", headers=MOVE).status_code == 200
    user = db.session.scalars(select(User).where(User.login == "groupe")).one()
    kept = list(user.affilies)
    user.affilies = [a for a in kept if a.numero != GUIDE]
    db.session.commit()
    assert started.get(f"{URL}?n=12", headers=MOVE).status_code == 404
    assert started.get(f"/demande/{GUIDE}/simulation/echeancier.csv?n=12").status_code == 404
    user.affilies = kept
    db.session.commit()
    assert started.get(f"{URL}?n=12", headers=MOVE).status_code == 200


# --- bulk and Core statements through the session ----------------------------------------


def _guide_id():
    return select(Affilie.id).where(Affilie.numero == GUIDE).scalar_subquery()


def _perception_of_guide():
    return select(Affilie.perception_id).where(Affilie.numero == GUIDE).scalar_subquery()


BULK = {
    "affilie-update": lambda: (
        update(Affilie).where(Affilie.numero == GUIDE).values(raison_sociale=NEW_NAME)
    ),
    "affilie-core-update": lambda: (
        Affilie.__table__.update()
        .where(Affilie.__table__.c.numero == GUIDE)
        .values(arrangement=True)
    ),
    "compte-insert": lambda: insert(CompteBancaire).values(
        affilie_id=_guide_id(), rib=RIB, banque=NEW_BANK
    ),
    "compte-delete": lambda: delete(CompteBancaire).where(CompteBancaire.affilie_id == _guide_id()),
    "perception-update": lambda: (
        update(Perception)
        .where(Perception.id == _perception_of_guide())
        .values(name="Perception renommée")
    ),
}


@pytest.mark.parametrize("name", BULK)
def test_bulk_statements_change_the_version_of_the_affilies_they_write(app, name):
    other = db.session.scalars(
        select(Affilie).where(Affilie.perception_id != guide().perception_id)
    ).first()
    before, other_before = version(), f"{other.jeton}:{other.lignes_jeton}"
    db.session.execute(BULK[name]())
    db.session.commit()
    db.session.refresh(other)
    assert version() != before
    assert f"{other.jeton}:{other.lignes_jeton}" == other_before
