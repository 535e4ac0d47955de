"""What a slider move reads, kept per process under versions read with the user.

A move must cost one statement: the session's user, with its revocation token, read on
every request (app.py ``load_user``). That same statement brings the versions (what each
covers and which writes change it: db/versions.py):

- the affilié the address names, read through the account's link to it: its ``jeton``
  (its row, its bank accounts, its perception's name) and its ``lignes_jeton`` (its
  lines, the consolidation's key in ``queries``); none when the link is gone;
- the ``campagnes`` row of ``cache_versions``: the active campaign and its rate tiers.

Every write to those rows changes a version in the same transaction, through the session
(db/versions.py) or, for ``import-data``, in its own SQL; so an entry is never stale: there
is no time-based expiry anywhere. A missing version is never cached: it is read from the
database each time.

The slider's rendered panels are kept too, under their ETag (blueprints/demande/caching.py): the
tag names every version above, the user, the values asked and the language, so equal
tags are equal bytes, and a write that changes what the panel shows changes the tag.
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
    jeton: str | None
    lignes_jeton: str | None
    comptes: tuple[CompteView, ...]

    @property
    def version(self) -> str:
        """``jeton:lignes_jeton`` as ``db.versions.affilie_version_sql`` reads it."""
        if self.jeton is None or self.lignes_jeton is None:
            return ""
        return f"{self.jeton}:{self.lignes_jeton}"

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
            jeton=affilie.jeton,
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


@dataclass(frozen=True)
class RenderedPanel:
    """A slider panel as sent: its tag, its body and the address htmx puts in the bar."""

    etag: str
    body: bytes
    replace_url: str

    @property
    def weight(self) -> int:
        # The body, the strings and, roughly, the key, the object and the mapping's node.
        return len(self.body) + len(self.replace_url) + len(self.etag) + 400


class _WeighedLru:
    """A mapping bounded by the total weight of its values; the least recently used go
    first. Shared by a worker's threads."""

    def __init__(self, budget: int, weigh):
        self._items: OrderedDict = OrderedDict()
        self._budget = budget
        self._weigh = weigh
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        weight = self._weigh(value)
        if weight > self._budget:
            return
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._weight -= self._weigh(previous)
            self._items[key] = value
            self._weight += weight
            while self._weight > self._budget:
                _, dropped = self._items.popitem(last=False)
                self._weight -= self._weigh(dropped)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def weight(self) -> int:
        return self._weight

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weight = 0


# A panel weighs about 5 KB: some 3 000 positions per worker, fifty drags end to end.
PANELS_BUDGET = 16 * 1024 * 1024
panels = _WeighedLru(PANELS_BUDGET, lambda panel: panel.weight)

# Their compressed bodies, by encoding and key: Flask-Compress's cache (its two settings are
# blueprints/demande/caching.py's ``compressed_key`` and ``CompressedPanels``).
COMPRESSED_BUDGET = 8 * 1024 * 1024
compressed = _WeighedLru(COMPRESSED_BUDGET, lambda body: len(body) + 300)


_AFFILIES = _Lru(4096)
_CAMPAIGNS = _Lru(16)
_NONE = object()  # "no active campaign", cached like a campaign


def affilie_of(user: User, numero: str) -> AffilieView | None:
    """Affilié ``numero`` if the account is linked to it, under the version read with
    ``user`` (None: no link)."""
    read, version = getattr(user, "affilie_version", (None, None))
    if read != numero:
        version = ""  # the statement read another one: ask the database
    if version is None:
        return None
    found = _AFFILIES.get((db.engine.url, numero, version)) if version else None
    if found is None:
        affilie = db.session.scalars(
            select(Affilie)
            .join(user_affilies, user_affilies.c.affilie_id == Affilie.id)
            .where(user_affilies.c.user_id == user.id, Affilie.numero == numero)
            .options(joinedload(Affilie.perception), selectinload(Affilie.comptes))
        ).one_or_none()
        if affilie is None:
            return None
        found = AffilieView.from_model(affilie)
        # Under the version of the row read: newer than the user's if a write came between.
        if found.version:
            _AFFILIES.put((db.engine.url, numero, found.version), found)
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
    _AFFILIES.clear()
    _CAMPAIGNS.clear()
    panels.clear()
    compressed.clear()
