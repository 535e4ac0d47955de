"""The key of a slider move (its ETag) names everything the panel is made of.

The table below names each thing: every column of the rows the panel or the move reads
(derived from the models, so that a column added later is a case or is said not shown,
with the reason), the rows themselves (a bank account, a créance line, a rate tier added
or removed), and the inputs of the request (language, day, user, modalité, count, avance).
For each, through HTTP only: a first move and its tag, then the write (through the ORM,
committed) or the other input, then the same move again with the old tag in
If-None-Match: no 304, a new tag, and where the thing is visible, its new value, exact:
in the panel, or on the page around it, or in the reason the move is refused with.
The writes by ``import-data`` are test_move_freshness.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select

from db.models import (
    Affilie,
    Campaign,
    CampaignTier,
    CompteBancaire,
    LigneCreance,
    Perception,
)
from domain.identifiers import rib_with_key
from extensions import db
from services import caches
from tests.integration.journey import GUIDE, INTEGRAL, Journey, mad, num, pct
from tests.integration.pages import Page

URL = f"/demande/{GUIDE}/simulation"
MOVE = {"HX-Request": "true"}
PANEL, PAGE, REFUSAL = "panel", "page", "refusal"
CLOSED = "La campagne de remise n'est pas ouverte à cette date."
NEW_RIB = rib_with_key("0117800000123456789012")

# The models whose rows the panel or the move reads.
MODELS = (Affilie, Perception, CompteBancaire, LigneCreance, Campaign, CampaignTier)


def model_columns() -> list[str]:
    """Every column of those models, as ``table.column``, in the models' order."""
    return [f"{m.__tablename__}.{c.key}" for m in MODELS for c in inspect(m).columns]


# The columns no case writes, and why: neither the panel nor the move shows them.
NOT_SHOWN = {
    "affilies.id": "the row's identity, never rewritten: the address names the numéro",
    "affilies.jeton": "a version: what the key is made of, not what it covers",
    "affilies.lignes_jeton": "a version: what the key is made of, not what it covers",
    "affilies.recherche": "the back office's folded search text, read by no affiliate step",
    "perceptions.id": "the row's identity, never rewritten",
    "comptes_bancaires.id": "the row's identity, never rewritten",
    "lignes_creance.id": "the row's identity, never rewritten",
    "campaigns.id": "the row's identity, never rewritten",
    "campaign_tiers.id": "the row's identity, never rewritten",
}


# --- what the user reads ----------------------------------------------------------------


def recap(label: str) -> Callable[[Page], str | None]:
    return lambda page: page.recap().get(label)


def by_id(ident: str) -> Callable[[Page], str]:
    return lambda page: page.by_id(ident).text


def entete(label: str) -> Callable[[Page], str | None]:
    """A row of the page's header block (raison sociale, dates, periods)."""

    def read(page: Page) -> str | None:
        block = page.find("dl", class_="entete")
        rows = {div.find("dt").text: div.find("dd").text for div in block.find_all("div")}
        return rows.get(label)

    return read


def choices(page: Page) -> str:
    """The page's modalité and bank account line."""
    return page.find("p", class_="choices").text


def periods(page: Page) -> str:
    """The échéancier's row heading: the créance's first and last periods."""
    return page.table_rows("echeancier")[1][0]


def majorations_generees(page: Page) -> str:
    return page.table_rows("echeancier")[1][3]


def flashes(page: Page) -> str:
    return " ".join(page.flashes())


def count_error(page: Page) -> str | None:
    return page.field_error("nombre_echeances")


@dataclass(frozen=True)
class Shown:
    """Where the user sees the thing, and what it reads before and after the change:
    the move's panel, the whole simulation page, or the page the move sends the user
    back to with the reason (a refusal: nothing before)."""

    read: Callable[[Page], str | None]
    before: str | None
    after: str
    where: str = PANEL


# --- the browser at the Simulation step ---------------------------------------------------


@dataclass
class Move:
    """The affiliate at the Simulation step, moving the slider (htmx)."""

    client: object
    journey: Journey
    clock: object
    query: dict = field(default_factory=lambda: {"n": "12"})
    headers: dict = field(default_factory=dict)

    def get(self, etag: str | None = None):
        headers = {**MOVE, **self.headers}
        if etag is not None:
            headers["If-None-Match"] = f'"{etag}"'
        return self.client.get(URL, query_string=self.query, headers=headers)

    def page(self) -> Page:
        response = self.client.get(URL, query_string=self.query, headers=self.headers)
        assert response.status_code == 200
        return Page(response)


@pytest.fixture
def started(client, auth, app, clock):
    caches.clear()
    journey = Journey(client, auth, app)
    journey.start(GUIDE, "acomptes")
    yield Move(client, journey, clock)
    caches.clear()


def tag_of(response) -> str | None:
    return response.get_etag()[0]


# --- the writes -------------------------------------------------------------------------


def guide() -> Affilie:
    return db.session.scalars(select(Affilie).where(Affilie.numero == GUIDE)).one()


def other_affilie() -> Affilie:
    return db.session.scalars(select(Affilie).where(Affilie.numero == INTEGRAL)).one()


def campaign() -> Campaign:
    return db.session.scalars(select(Campaign).where(Campaign.active.is_(True))).one()


def first_tier() -> CampaignTier:
    """The tier of plans up to 24 instalments: 50 % and 80 %."""
    return campaign().tiers[0]


def chosen_account() -> CompteBancaire:
    """The account the journey chose at Paramétrage (the affilié's first)."""
    return guide().comptes[0]


def line(periode="196901", nature="principal", rubrique="CSS") -> LigneCreance:
    return db.session.scalars(
        select(LigneCreance).where(
            LigneCreance.affilie_id == guide().id,
            LigneCreance.periode == periode,
            LigneCreance.nature == nature,
            LigneCreance.rubrique == rubrique,
        )
    ).one()


def setting(get: Callable[[], object], name: str, value) -> Callable[[Move], None]:
    """A write of one column of one row, committed."""

    def write(move: Move) -> None:
        row = get()
        setattr(row, name, value(getattr(row, name)) if callable(value) else value)
        db.session.commit()

    return write


def add_line(move: Move) -> None:
    db.session.add(
        LigneCreance(
            affilie_id=guide().id,
            periode="202301",
            rubrique="CSS",
            nature="majorations",
            montant=Decimal("1000.00"),
        )
    )
    db.session.commit()


def remove_line(move: Move) -> None:
    db.session.delete(line(nature="principal", rubrique="AMO"))
    db.session.commit()


def add_account(move: Move) -> None:
    affilie = guide()
    affilie.comptes.append(CompteBancaire(rib=NEW_RIB, banque="Banque Nouvelle du Maroc"))
    db.session.commit()


def remove_other_account(move: Move) -> None:
    """The account the journey did not choose."""
    affilie = guide()
    affilie.comptes.remove(affilie.comptes[1])
    db.session.commit()


def add_tier(move: Move) -> None:
    active = campaign()
    active.tiers.append(
        CampaignTier(
            position=2,
            max_echeances=12,
            taux_penalites=Decimal("60.00"),
            taux_astreintes=Decimal("90.00"),
        )
    )
    db.session.commit()


def remove_tier(move: Move) -> None:
    active = campaign()
    active.tiers.remove(active.tiers[0])
    db.session.commit()


def tier_to_another_campaign(move: Move) -> None:
    """The tier of up to 24 instalments handed to an inactive campaign."""
    other = Campaign(
        code="AUTRE",
        label="Une autre campagne",
        opens_on=date(2024, 1, 1),
        closes_on=date(2024, 12, 31),
        last_eligible_period="202312",
        integral_penalites=Decimal("60.00"),
        integral_astreintes=Decimal("90.00"),
        active=False,
    )
    db.session.add(other)
    db.session.flush()
    first_tier().campaign_id = other.id
    db.session.commit()


def perception(name: str) -> Perception:
    return db.session.scalars(select(Perception).where(Perception.name == name)).one()


# --- the inputs ---------------------------------------------------------------------------


def accept_language(move: Move) -> None:
    move.headers["Accept-Language"] = "ar-MA,ar;q=0.9"


def lang_parameter(move: Move) -> None:
    move.query["lang"] = "ar"


def language_switch(move: Move) -> None:
    response = move.client.post("/langue", data={"lang": "ar"})
    assert response.status_code == 302


def next_month(move: Move) -> None:
    move.clock.set(datetime(2023, 12, 1, 9, 0))


def other_user(move: Move) -> None:
    """Another account linked to the same affilié, in the same browser."""
    assert move.journey.auth.logout().status_code == 302
    move.journey.start(GUIDE, "acomptes", login="entreprise")


def full_payment(move: Move) -> None:
    response = move.journey.parametrer(GUIDE, "integral")
    assert response.status_code == 302


def count(move: Move) -> None:
    move.query["n"] = "13"


def avance(move: Move) -> None:
    move.query["avance"] = "1000"


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    change: Callable[[Move], None]
    # What the user sees of it (None: nothing, for the reason ``hidden`` gives).
    shows: Shown | None = None
    hidden: str = ""
    # The status of the move after the change.
    status: int = 200

    def __post_init__(self):
        assert (self.shows is None) == bool(self.hidden), self.name


def written(change, shows=None, *, hidden="", status=200) -> Case:
    """The case of a column of COLUMNS: named by its column (``column_cases``)."""
    return Case("", change, shows, hidden, status)


A_PAYER = "Montant à payer"
TAUX_PENALITES = "Taux de la remise sur les pénalités et frais de recouvrement"
TAUX_ASTREINTES = "Taux de la remise sur les astreintes"
PREMIERE = "Date indicative de la première échéance"
# The guide's créance: 27 707,49, of which 11 513,72 of penalties and fees, remitted at
# 50 % for 12 instalments. Its lines of 196901 the writes below change: 121,57 of principal
# CSS, 39,11 of principal AMO, 84,85 of majorations CSS.
GUIDE_A_PAYER = mad("21 950,63")
GUIDE_PERIODS = "Du : 196901 Au : 202311"
ACOMPTES = "Modalité de paiement : Paiement par acomptes"
MASK = "•••• •••• •••• •••• ••••"
# The account the journey chose, as the page shows it: the bank and the RIB's last digits.
GUIDE_ACCOUNT = f"{ACOMPTES} · Compte bancaire : Banque Populaire {MASK} 9073"


def palier(penalites: str, astreintes: str, bound: str) -> str:
    return (
        f"Taux de remise applicables : {pct(penalites)} sur les pénalités et frais, "
        f"{pct(astreintes)} sur les astreintes {bound}"
    )


def a_payer(after: str) -> Shown:
    return Shown(recap(A_PAYER), GUIDE_A_PAYER, mad(after))


# A write of each column of MODELS but those of NOT_SHOWN, and what it shows.
COLUMNS = {
    # the affilié's row
    "affilies.numero": written(
        setting(guide, "numero", "4317599"),
        hidden="the panel's address names the affilié: renumbered, it is no longer there",
        status=404,
    ),
    "affilies.raison_sociale": written(
        setting(guide, "raison_sociale", "ATLAS NOUVELLE RAISON"),
        Shown(entete("Raison sociale"), "ATLAS BÂTIMENT ET TRAVAUX", "ATLAS NOUVELLE RAISON", PAGE),
    ),
    "affilies.regime": written(
        setting(guide, "regime", "AMO"),
        hidden="listed in the back office, shown on no step of the simulation",
    ),
    "affilies.ice": written(
        setting(guide, "ice", None),
        hidden="listed in the back office, shown on no step of the simulation",
    ),
    "affilies.perception_id": written(
        setting(guide, "perception_id", lambda _: perception("Perception Rabat Agdal").id),
        hidden="named only by the refusal of an affilié under an arrangement",
    ),
    "affilies.date_situation": written(
        setting(guide, "date_situation", date(2023, 11, 15)),
        Shown(entete("Date situation de la créance"), "08/11/2023", "15/11/2023", PAGE),
    ),
    "affilies.date_arret_penalites": written(
        setting(guide, "date_arret_penalites", date(2023, 11, 16)),
        Shown(entete("Date d'arrêt des pénalités"), "08/11/2023", "16/11/2023", PAGE),
    ),
    "affilies.arrangement": written(
        setting(guide, "arrangement", True),
        Shown(
            flashes,
            None,
            "Cet affilié dispose d'un arrangement : veuillez vous adresser à votre "
            "perception (Perception Casablanca Anfa).",
            REFUSAL,
        ),
        status=204,
    ),
    # its perception
    "perceptions.name": written(
        setting(lambda: guide().perception, "name", "Perception renommée"),
        hidden="named only by the refusal of an affilié under an arrangement",
    ),
    # its bank accounts
    "comptes_bancaires.affilie_id": written(
        setting(chosen_account, "affilie_id", lambda _: other_affilie().id),
        Shown(choices, GUIDE_ACCOUNT, ACOMPTES, PAGE),
    ),
    "comptes_bancaires.rib": written(
        setting(chosen_account, "rib", NEW_RIB),
        Shown(
            choices,
            GUIDE_ACCOUNT,
            f"{ACOMPTES} · Compte bancaire : Banque Populaire {MASK} 1296",
            PAGE,
        ),
    ),
    "comptes_bancaires.banque": written(
        setting(chosen_account, "banque", "Banque Nouvelle du Maroc"),
        Shown(
            choices,
            GUIDE_ACCOUNT,
            f"{ACOMPTES} · Compte bancaire : Banque Nouvelle du Maroc {MASK} 9073",
            PAGE,
        ),
    ),
    # its créance lines
    "lignes_creance.affilie_id": written(
        setting(line, "affilie_id", lambda _: other_affilie().id),
        a_payer("21 829,06"),  # 121,57 of principal less
    ),
    "lignes_creance.periode": written(
        setting(line, "periode", "196801"),
        Shown(periods, GUIDE_PERIODS, "Du : 196801 Au : 202311"),
    ),
    "lignes_creance.rubrique": written(
        setting(lambda: line(nature="majorations"), "rubrique", "AST_TDTP"),
        a_payer("21 925,17"),  # 84,85 now astreintes, remitted at 80 %: 25,46 more off
    ),
    "lignes_creance.nature": written(
        setting(line, "nature", "majorations"),
        a_payer("21 889,84"),  # remise 50 % of 11 635,29: 5 817,65
    ),
    "lignes_creance.montant": written(
        setting(line, "montant", lambda montant: montant + 1000),
        a_payer("22 950,63"),  # principal, not remitted
    ),
    # the active campaign
    "campaigns.code": written(
        setting(campaign, "code", "05/2023-bis"),
        hidden="shown on no step of the simulation",
    ),
    "campaigns.label": written(
        setting(campaign, "label", "Un autre libellé"),
        hidden="shown at Paramétrage, not at the Simulation",
    ),
    "campaigns.opens_on": written(
        setting(campaign, "opens_on", date(2023, 11, 21)),
        Shown(flashes, None, CLOSED, REFUSAL),
        status=204,
    ),
    "campaigns.closes_on": written(
        setting(campaign, "closes_on", date(2023, 11, 19)),
        Shown(flashes, None, CLOSED, REFUSAL),
        status=204,
    ),
    "campaigns.last_eligible_period": written(
        setting(campaign, "last_eligible_period", "202212"),
        Shown(periods, GUIDE_PERIODS, "Du : 196901 Au : 202209"),
    ),
    "campaigns.integral_penalites": written(
        setting(campaign, "integral_penalites", Decimal("65.00")),
        hidden="the full payment's rate: an instalments panel shows its tier's",
    ),
    "campaigns.integral_astreintes": written(
        setting(campaign, "integral_astreintes", Decimal("95.00")),
        hidden="the full payment's rate: an instalments panel shows its tier's",
    ),
    "campaigns.max_echeances": written(
        setting(campaign, "max_echeances", 10),
        Shown(count_error, None, "Le nombre d'échéances doit être compris entre 1 et 10."),
        status=422,
    ),
    "campaigns.plan_surcharge_rate": written(
        setting(campaign, "plan_surcharge_rate", Decimal("2.00")),
        Shown(majorations_generees, num("798,92"), num("1 597,84")),
    ),
    "campaigns.guarantee_days": written(
        setting(campaign, "guarantee_days", 45),
        hidden="the delay of a confirmed request's guarantees: its deadline, not a simulation",
    ),
    "campaigns.active": written(
        setting(campaign, "active", False),
        Shown(flashes, None, CLOSED, REFUSAL),
        status=204,
    ),
    # its rate tiers
    "campaign_tiers.campaign_id": written(
        tier_to_another_campaign,
        Shown(recap(TAUX_PENALITES), pct("50,00"), pct("40,00")),
    ),
    "campaign_tiers.position": written(
        setting(first_tier, "position", 5),
        hidden="the rules order the tiers by their bound, whatever their position",
    ),
    "campaign_tiers.max_echeances": written(
        setting(first_tier, "max_echeances", 6),
        Shown(
            by_id("palier"),
            palier("50,00", "80,00", "(jusqu'à 24 échéances)"),
            palier("40,00", "70,00", "(au-delà de 6 échéances)"),
        ),
    ),
    "campaign_tiers.taux_penalites": written(
        setting(first_tier, "taux_penalites", Decimal("45.00")),
        Shown(recap(TAUX_PENALITES), pct("50,00"), pct("45,00")),
    ),
    "campaign_tiers.taux_astreintes": written(
        setting(first_tier, "taux_astreintes", Decimal("75.00")),
        Shown(recap(TAUX_ASTREINTES), pct("80,00"), pct("75,00")),
    ),
}


def unlisted(column: str) -> Case:
    """A column neither written by a case nor said not shown: a failing case."""

    def fail(move: Move) -> None:
        pytest.fail(f"{column}: write it in a case of COLUMNS, or say in NOT_SHOWN why not")

    return Case(column, fail, hidden="not listed")


def column_cases() -> list[Case]:
    """A case per column of the models, as inspection lists them, but those not shown."""
    return [
        replace(COLUMNS[column], name=column) if column in COLUMNS else unlisted(column)
        for column in model_columns()
        if column not in NOT_SHOWN
    ]


ROWS = [
    Case("a créance line added", add_line, a_payer("22 450,63")),  # 1 000 of majorations at 50 %
    Case("a créance line removed", remove_line, a_payer("21 911,52")),  # 39,11 of principal
    Case(
        "a bank account added",
        add_account,
        hidden="the simulation shows the account chosen at Paramétrage only",
    ),
    Case(
        "another bank account removed",
        remove_other_account,
        hidden="the simulation shows the account chosen at Paramétrage only",
    ),
    Case("a rate tier added", add_tier, Shown(recap(TAUX_PENALITES), pct("50,00"), pct("60,00"))),
    Case(
        "a rate tier removed", remove_tier, Shown(recap(TAUX_PENALITES), pct("50,00"), pct("40,00"))
    ),
]

INPUTS = [
    Case(
        "Accept-Language",
        accept_language,
        Shown(by_id("simulation-titre"), "Récapitulatif", "ملخص"),
    ),
    Case("?lang=", lang_parameter, Shown(by_id("simulation-titre"), "Récapitulatif", "ملخص")),
    Case(
        "language switch",
        language_switch,
        Shown(by_id("simulation-titre"), "Récapitulatif", "ملخص"),
    ),
    Case("a new month", next_month, Shown(recap(PREMIERE), "10/12/2023", "10/01/2024")),
    Case(
        "another user", other_user, hidden="the panel shows the affilié's figures, not the account"
    ),
    Case("the modalité", full_payment, a_payer("20 799,26")),  # 60 % of 11 513,72 remitted
    Case("n", count, Shown(recap("Nombre des échéances"), "12 mois", "13 mois")),
    Case("avance", avance, Shown(recap("Montant de l'avance"), mad("0,00"), mad("1 000,00"))),
]

CASES = [*column_cases(), *ROWS, *INPUTS]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_change_to_what_the_panel_shows_changes_its_key(started, case):
    move = started
    first = move.get()
    assert first.status_code == 200
    tag = tag_of(first)
    assert tag
    # Held as it was: the browser's copy is still good (the test can fail).
    assert move.get(tag).status_code == 304
    shows = case.shows
    if shows is not None and shows.before is not None:
        before = Page(first) if shows.where == PANEL else move.page()
        assert shows.read(before) == shows.before

    case.change(move)

    again = move.get(tag)
    assert again.status_code == case.status
    new_tag = tag_of(again)
    assert new_tag != tag
    if new_tag is not None:
        # The new copy is held in its turn.
        assert move.get(new_tag).status_code == 304
    if shows is None:
        return
    if shows.where == PANEL:
        after = Page(again)
    elif shows.where == PAGE:
        after = move.page()
    else:
        after = Page(move.client.get(again.headers["HX-Redirect"]))
    assert shows.read(after) == shows.after


def test_the_same_move_with_no_write_is_not_modified(started):
    first = started.get()
    tag = tag_of(first)
    again = started.get(tag)
    assert (again.status_code, tag_of(again)) == (304, tag)
    # Without the browser's copy: the same tag, the same bytes.
    fresh = started.get()
    assert (tag_of(fresh), fresh.get_data()) == (tag, first.get_data())


def test_a_day_that_keeps_the_first_debit_keeps_the_key(started):
    tag = tag_of(started.get())
    started.clock.set(datetime(2023, 11, 30, 18, 0))
    again = started.get(tag)
    assert (again.status_code, tag_of(again)) == (304, tag)


def test_every_column_is_a_case_or_said_not_shown():
    """A column added to a model the panel reads must be written by a case, or said not
    shown with the reason."""
    columns = set(model_columns())
    listed = COLUMNS.keys() | NOT_SHOWN.keys()
    assert columns - listed == set(), "columns neither written by a case nor said not shown"
    assert listed - columns == set(), "listed, but no column of the models (any more)"
    assert COLUMNS.keys() & NOT_SHOWN.keys() == set()
    assert all(NOT_SHOWN.values())
