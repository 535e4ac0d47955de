"""What a slider move reads, kept per process under versions read with the user.

A move must cost one statement: the session's user, with its revocation token, read on
every request (app.py ``load_user``). That same statement brings two versions:

- ``users.liens_jeton``: the account's affiliés, each with its bank accounts and its
  lines' version (``lignes_jeton``, the consolidation's key in ``queries``);
- the ``campagnes`` row of ``cache_versions``: the active campaign and its rate tiers.

Every write to those rows through the session replaces the version in the same
transaction (db/models.py), so an entry is never stale: there is no time-based expiry
anywhere. A missing version (a database loaded without the migration's row) is never
cached: it is read from the database each time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from db.models import Affilie, User, user_affilies
from domain.campaign import Campaign as CampaignRules
from extensions import db
from services import queries


@dataclass(frozen=True)
class CompteView:
    id: int
    rib: str
    banque: str


@dataclass(frozen=True)
class AffilieView:
    """An affilié as the simulation reads it (the attributes of ``db.models.Affilie``)."""

    id: int
    numero: str
    raison_sociale: str
    regime: str
    ice: str | None
    perception_name: str
    date_situation: date
    date_arret_penalites: date
    arrangement: bool
    lignes_jeton: str | None
    comptes: tuple[CompteView, ...]

    @classmethod
    def from_model(cls, affilie: Affilie) -> AffilieView:
        return cls(
            id=affilie.id,
            numero=affilie.numero,
            raison_sociale=affilie.raison_sociale,
            regime=affilie.regime,
            ice=affilie.ice,
            perception_name=affilie.perception.name,
            date_situation=affilie.date_situation,
            date_arret_penalites=affilie.date_arret_penalites,
            arrangement=affilie.arrangement,
            lignes_jeton=affilie.lignes_jeton,
            comptes=tuple(CompteView(c.id, c.rib, c.banque) for c in affilie.comptes),
        )


@dataclass(frozen=True)
class CampaignView:
    """The active campaign as the simulation reads it (``rules()`` as on the model)."""

    id: int
    code: str
    label: str
    max_echeances: int
    guarantee_days: int
    _rules: CampaignRules

    def rules(self) -> CampaignRules:
        return self._rules


class _Lru:
    """A bounded mapping shared by a worker's threads; the oldest entries go first."""

    def __init__(self, size: int):
        self._items: OrderedDict = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            return self._items.get(key)

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_LINKS = _Lru(4096)
_CAMPAIGNS = _Lru(16)
_NONE = object()  # "no active campaign", cached like a campaign


def affilies_of(user: User) -> dict[str, AffilieView]:
    """{numéro: affilié} of the account, under its ``liens_jeton``."""
    key = (db.engine.url, user.id, user.liens_jeton)
    found = _LINKS.get(key)
    if found is None:
        affilies = db.session.scalars(
            select(Affilie)
            .join(user_affilies, user_affilies.c.affilie_id == Affilie.id)
            .where(user_affilies.c.user_id == user.id)
            .options(joinedload(Affilie.perception), selectinload(Affilie.comptes))
        ).all()
        found = {a.numero: AffilieView.from_model(a) for a in affilies}
        if user.liens_jeton is not None:
            _LINKS.put(key, found)
    return found


def active_campaign(user: User) -> CampaignView | None:
    """The campaign new simulations use, under the campaigns' version read with ``user``."""
    version = getattr(user, "campagnes_jeton", None)
    key = (db.engine.url, version)
    found = _CAMPAIGNS.get(key) if version is not None else None
    if found is None:
        campaign = queries.active_campaign()
        found = _NONE
        if campaign is not None:
            found = CampaignView(
                id=campaign.id,
                code=campaign.code,
                label=campaign.label,
                max_echeances=campaign.max_echeances,
                guarantee_days=campaign.guarantee_days,
                _rules=campaign.rules(),
            )
        if version is not None:
            _CAMPAIGNS.put(key, found)
    return None if found is _NONE else found


def clear() -> None:
    """Forget every entry (tests that compare a cold read with a warm one)."""
    _LINKS.clear()
    _CAMPAIGNS.clear()
