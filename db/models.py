"""Database models. Amounts are NUMERIC(14,2) and come back as ``Decimal``.

The schema is the same on SQLite and PostgreSQL; every change is an Alembic revision
under ``migrations/``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from db.types import DecimalType
from domain import lifecycle
from domain.campaign import Campaign as CampaignRules
from domain.campaign import Rates, RateTier
from domain.search import search_text
from extensions import db

Money = DecimalType(14)
Rate = DecimalType(5)

ROLE_AFFILIE = "affilie"
ROLE_AGENT = "agent"

user_affilies = Table(
    "user_affilies",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("affilie_id", ForeignKey("affilies.id", ondelete="CASCADE"), primary_key=True),
)


class Perception(db.Model):
    __tablename__ = "perceptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(160))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    perception_id: Mapped[int | None] = mapped_column(ForeignKey("perceptions.id"))
    # Changing it logs out every session of the account (see ``get_id``).
    session_token: Mapped[str] = mapped_column(String(64), default="")
    # False: the account is disabled (``flask user disable``): no login, no session.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Where the notices of the account's requests go (``flask user set-email``); the
    # affiliate may give another address for one request at Validation.
    email: Mapped[str | None] = mapped_column(String(254))

    perception: Mapped[Perception | None] = relationship()
    affilies: Mapped[list[Affilie]] = relationship(
        secondary=user_affilies, order_by="Affilie.numero"
    )

    __table_args__ = (CheckConstraint("role in ('affilie', 'agent')", name="role"),)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.active is not False

    @property
    def is_agent(self) -> bool:
        return self.role == ROLE_AGENT


class Affilie(db.Model):
    __tablename__ = "affilies"

    id: Mapped[int] = mapped_column(primary_key=True)
    numero: Mapped[str] = mapped_column(String(7), unique=True)
    raison_sociale: Mapped[str] = mapped_column(String(200))
    regime: Mapped[str] = mapped_column(String(80))
    ice: Mapped[str | None] = mapped_column(String(15))
    perception_id: Mapped[int] = mapped_column(ForeignKey("perceptions.id"))
    date_situation: Mapped[date] = mapped_column(Date)
    date_arret_penalites: Mapped[date] = mapped_column(Date)
    arrangement: Mapped[bool] = mapped_column(Boolean, default=False)
    # Changes with every write to the affilié's créance lines (db/versions.py):
    # the key under which a worker keeps its consolidated table. Random, not a counter,
    # so that a rolled-back write can never hand the same value to different lines.
    lignes_jeton: Mapped[str | None] = mapped_column(String(32), default=lambda: new_jeton())
    # Changes with every write to the row, its bank accounts or its perception's name: with
    # lignes_jeton, the version a slider move keeps the affilié under (db/versions.py).
    jeton: Mapped[str | None] = mapped_column(String(32), default=lambda: new_jeton())
    # What the back office searches: numéro, ICE and raison sociale folded (domain.search),
    # kept by the events below and by the importer.
    recherche: Mapped[str | None] = mapped_column(Text)

    perception: Mapped[Perception] = relationship()
    comptes: Mapped[list[CompteBancaire]] = relationship(
        back_populates="affilie", order_by="CompteBancaire.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_affilies_perception_numero", "perception_id", "numero"),
        # Trigrams answer LIKE '%…%' on PostgreSQL; SQLite keeps a plain index.
        Index(
            "ix_affilies_recherche",
            "recherche",
            postgresql_using="gin",
            postgresql_ops={"recherche": "gin_trgm_ops"},
        ),
    )

    @property
    def perception_name(self) -> str:
        return self.perception.name


def new_jeton() -> str:
    return uuid.uuid4().hex


class CompteBancaire(db.Model):
    __tablename__ = "comptes_bancaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    affilie_id: Mapped[int] = mapped_column(ForeignKey("affilies.id", ondelete="CASCADE"))
    rib: Mapped[str] = mapped_column(String(24))
    banque: Mapped[str] = mapped_column(String(120))

    affilie: Mapped[Affilie] = relationship(back_populates="comptes")

    __table_args__ = (UniqueConstraint("affilie_id", "rib", name="affilie_rib"),)


class LigneCreance(db.Model):
    __tablename__ = "lignes_creance"

    id: Mapped[int] = mapped_column(primary_key=True)
    affilie_id: Mapped[int] = mapped_column(ForeignKey("affilies.id", ondelete="CASCADE"))
    periode: Mapped[str] = mapped_column(String(6))
    rubrique: Mapped[str] = mapped_column(String(10))
    nature: Mapped[str] = mapped_column(String(12))
    montant: Mapped[Decimal] = mapped_column(Money)

    __table_args__ = (Index("ix_lignes_creance_affilie_periode", "affilie_id", "periode"),)


class EmpreinteImport(db.Model):
    """The md5 of an affilié's lines as the last import's file wrote them, kept while it
    holds: on PostgreSQL a trigger (revision 0012) deletes an affilié's fingerprints when
    its ``lignes_jeton`` changes. Written by the importer only (services.importer.empreintes),
    which reads them by file in numéro order (byte order, as it reads the file)."""

    __tablename__ = "empreintes_import"

    affilie_id: Mapped[int] = mapped_column(
        ForeignKey("affilies.id", ondelete="CASCADE"), primary_key=True
    )
    fichier: Mapped[str] = mapped_column(String(16), primary_key=True)
    numero: Mapped[str] = mapped_column(
        String(7).with_variant(String(7, collation="C"), "postgresql")
    )
    empreinte: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_empreintes_import_fichier_numero", "fichier", "numero", unique=True),
    )


@event.listens_for(Session, "before_flush")
def _search_text(session, flush_context, instances) -> None:
    """The folded search text of every affilié and request written through the session."""
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Affilie):
            obj.recherche = search_text(obj.numero, obj.ice, obj.raison_sociale)
    # A request's fields are its confirmation snapshot: written once.
    for obj in session.new:
        if isinstance(obj, Demande):
            ice = obj.affilie.ice if obj.affilie is not None else None
            obj.recherche = search_text(
                obj.reference, obj.numero_affiliation, ice, obj.raison_sociale
            )


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    last_eligible_period: Mapped[str] = mapped_column(String(6))
    integral_penalites: Mapped[Decimal] = mapped_column(Rate)
    integral_astreintes: Mapped[Decimal] = mapped_column(Rate)
    max_echeances: Mapped[int] = mapped_column(Integer, default=60)
    plan_surcharge_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("1.00"))
    guarantee_days: Mapped[int] = mapped_column(Integer, default=30)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    tiers: Mapped[list[CampaignTier]] = relationship(
        order_by="CampaignTier.position", cascade="all, delete-orphan"
    )

    def rules(self) -> CampaignRules:
        """The pure-domain view of this campaign."""
        return CampaignRules(
            code=self.code,
            label=self.label,
            opens_on=self.opens_on,
            closes_on=self.closes_on,
            last_eligible_period=self.last_eligible_period,
            integral=Rates(self.integral_penalites, self.integral_astreintes),
            tiers=tuple(
                RateTier(t.max_echeances, Rates(t.taux_penalites, t.taux_astreintes))
                for t in self.tiers
            ),
            max_echeances=self.max_echeances,
            plan_surcharge_rate=self.plan_surcharge_rate,
            guarantee_days=self.guarantee_days,
        )


class CampaignTier(db.Model):
    __tablename__ = "campaign_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    # NULL: no upper bound (the last tier).
    max_echeances: Mapped[int | None] = mapped_column(Integer)
    taux_penalites: Mapped[Decimal] = mapped_column(Rate)
    taux_astreintes: Mapped[Decimal] = mapped_column(Rate)


IN_PROGRESS_SQL = "status IN ('acceptee', 'en_attente_garanties', 'validee')"
assert {"acceptee", "en_attente_garanties", "validee"} == set(lifecycle.IN_PROGRESS)


class Demande(db.Model):
    """A confirmed request. Its figures are the snapshot taken at confirmation."""

    __tablename__ = "demandes"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    # One per confirmation screen: a second submission of the same screen (double
    # click, back button, second tab) finds the request the first one created.
    confirmation_token: Mapped[str] = mapped_column(String(64), unique=True)
    affilie_id: Mapped[int] = mapped_column(ForeignKey("affilies.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    perception_id: Mapped[int] = mapped_column(ForeignKey("perceptions.id"))
    status: Mapped[str] = mapped_column(String(24))
    modalite: Mapped[str] = mapped_column(String(10))
    rib: Mapped[str] = mapped_column(String(24))
    banque: Mapped[str] = mapped_column(String(120))
    confirmed_at: Mapped[datetime] = mapped_column(DateTime)
    validated_at: Mapped[datetime | None] = mapped_column(DateTime)
    conditions_version: Mapped[str] = mapped_column(String(40))
    conditions_accepted_at: Mapped[datetime] = mapped_column(DateTime)
    garanties_acceptees: Mapped[bool] = mapped_column(Boolean, default=False)

    # Snapshot of the créance and of every figure shown at confirmation.
    raison_sociale: Mapped[str] = mapped_column(String(200))
    numero_affiliation: Mapped[str] = mapped_column(String(7))
    campaign_label: Mapped[str] = mapped_column(String(200))
    date_situation: Mapped[date] = mapped_column(Date)
    date_arret_penalites: Mapped[date] = mapped_column(Date)
    periode_debut: Mapped[str] = mapped_column(String(6))
    periode_fin: Mapped[str] = mapped_column(String(6))
    consolidation_json: Mapped[str] = mapped_column(Text)
    creance_totale: Mapped[Decimal] = mapped_column(Money)
    principal: Mapped[Decimal] = mapped_column(Money)
    penalites_frais: Mapped[Decimal] = mapped_column(Money)
    astreintes: Mapped[Decimal] = mapped_column(Money)
    taux_penalites: Mapped[Decimal] = mapped_column(Rate)
    taux_astreintes: Mapped[Decimal] = mapped_column(Rate)
    remise: Mapped[Decimal] = mapped_column(Money)
    montant_a_payer: Mapped[Decimal] = mapped_column(Money)
    avance: Mapped[Decimal] = mapped_column(Money)
    nombre_echeances: Mapped[int] = mapped_column(Integer)
    mensualite: Mapped[Decimal] = mapped_column(Money)
    majorations_generees: Mapped[Decimal] = mapped_column(Money)
    # Référence, numéro, the affilié's ICE and raison sociale, folded (domain.search).
    recherche: Mapped[str | None] = mapped_column(Text)
    # Where this request's notices go (the account's address or the one given at
    # Validation; None: no notice), and in which language (that of the confirmation).
    email: Mapped[str | None] = mapped_column(String(254))
    langue: Mapped[str] = mapped_column(String(2), default="fr", server_default="fr")

    @property
    def penalites_astreintes(self) -> Decimal:
        """The guide's "Majorations, astreintes, et frais de recouvrement" column."""
        return self.penalites_frais + self.astreintes

    # The status as of a day is the one rule every screen, list and command reads: a plan
    # left without guarantees past its campaign's delay is expired before anyone writes it.
    def effective_status(self, today: date) -> str:
        return lifecycle.effective_status(
            self.status, self.confirmed_at.date(), today, self.campaign.guarantee_days
        )

    @property
    def guarantee_deadline(self) -> date:
        return lifecycle.guarantee_deadline(self.confirmed_at.date(), self.campaign.guarantee_days)

    def days_left(self, today: date) -> int:
        return lifecycle.days_left(self.confirmed_at.date(), today, self.campaign.guarantee_days)

    affilie: Mapped[Affilie] = relationship()
    user: Mapped[User] = relationship()
    campaign: Mapped[Campaign] = relationship()
    perception: Mapped[Perception] = relationship()
    echeances: Mapped[list[Echeance]] = relationship(
        order_by="(Echeance.definitive, Echeance.rang)",
        cascade="all, delete-orphan",
        back_populates="demande",
    )
    events: Mapped[list[AuditEvent]] = relationship(
        order_by="AuditEvent.id", cascade="all, delete-orphan", back_populates="demande"
    )
    garanties: Mapped[list[Garantie]] = relationship(
        order_by="Garantie.id", cascade="all, delete-orphan", back_populates="demande"
    )

    __table_args__ = (
        # At most one request in progress per affilié, enforced by the database itself.
        Index(
            "uq_demandes_affilie_en_cours",
            "affilie_id",
            unique=True,
            sqlite_where=text(IN_PROGRESS_SQL),
            postgresql_where=text(IN_PROGRESS_SQL),
        ),
        Index("ix_demandes_perception_status", "perception_id", "status"),
        # The requests list's order, and its order within one status, without a sort.
        Index("ix_demandes_perception_confirmed", "perception_id", "confirmed_at", "id"),
        Index(
            "ix_demandes_perception_status_confirmed",
            "perception_id",
            "status",
            "confirmed_at",
            "id",
        ),
        Index(
            "ix_demandes_recherche",
            "recherche",
            postgresql_using="gin",
            postgresql_ops={"recherche": "gin_trgm_ops"},
        ),
        CheckConstraint("modalite in ('integral', 'acomptes')", name="modalite"),
    )


class Echeance(db.Model):
    """One instalment: simulated at confirmation, definitive once validated."""

    __tablename__ = "echeances"

    id: Mapped[int] = mapped_column(primary_key=True)
    demande_id: Mapped[int] = mapped_column(ForeignKey("demandes.id", ondelete="CASCADE"))
    definitive: Mapped[bool] = mapped_column(Boolean, default=False)
    rang: Mapped[int] = mapped_column(Integer)
    date_prevue: Mapped[date] = mapped_column(Date)
    montant: Mapped[Decimal] = mapped_column(Money)
    # a_prelever | payee | rejetee
    statut: Mapped[str] = mapped_column(String(12), default=lifecycle.A_PRELEVER)
    resultat_at: Mapped[datetime | None] = mapped_column(DateTime)

    demande: Mapped[Demande] = relationship(back_populates="echeances")

    __table_args__ = (UniqueConstraint("demande_id", "definitive", "rang", name="demande_rang"),)


class Garantie(db.Model):
    __tablename__ = "garanties"

    id: Mapped[int] = mapped_column(primary_key=True)
    demande_id: Mapped[int] = mapped_column(
        ForeignKey("demandes.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(60))
    reference: Mapped[str] = mapped_column(String(80))
    deposee_le: Mapped[date] = mapped_column(Date)
    commentaire: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)

    demande: Mapped[Demande] = relationship(back_populates="garanties")


class AuditEvent(db.Model):
    """Who did what to a request, when, and why."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    demande_id: Mapped[int] = mapped_column(
        ForeignKey("demandes.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")

    demande: Mapped[Demande] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class Reintegration(db.Model):
    """Amounts put back on an affilié's debt when its request is cancelled for default.

    Art. 4 of the decision: the whole remise and the surcharges waived while the plan ran
    (the snapshot's majorations générées) are due again. Kept as a row of its own so that
    the request's snapshot stays untouched and the debt's history can be read back.
    """

    __tablename__ = "reintegrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A request is cancelled at most once, so it is reinstated at most once.
    demande_id: Mapped[int] = mapped_column(
        ForeignKey("demandes.id", ondelete="CASCADE"), unique=True
    )
    affilie_id: Mapped[int] = mapped_column(ForeignKey("affilies.id"), index=True)
    montant_remise: Mapped[Decimal] = mapped_column(Money)
    montant_majorations: Mapped[Decimal] = mapped_column(Money)
    # What the affilié had already paid on the request when it defaulted.
    montant_paye: Mapped[Decimal] = mapped_column(Money)
    at: Mapped[datetime] = mapped_column(DateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    by_label: Mapped[str] = mapped_column(String(120))

    demande: Mapped[Demande] = relationship()
    by: Mapped[User | None] = relationship()

    @property
    def total(self) -> Decimal:
        """Everything reinstated: the remise and the waived surcharges."""
        return lifecycle.reinstated_amounts(self.montant_remise, self.montant_majorations)

    @property
    def reste_du(self) -> Decimal:
        """What the affilié owes on the request now: unpaid balance plus reinstated amounts."""
        return self.demande.montant_a_payer - self.montant_paye + self.total


class Notice(db.Model):
    """An e-mail notice to the affiliate: the outbox (services/notices/).

    Written in the same transaction as the event that causes it; (request, kind, rang)
    is unique, so no event can queue the same notice twice. ``rang`` is the instalment
    (or the days before the guarantee deadline), -1 when the kind has none. A sender
    claims it until ``claimed_until``: a sender that dies leaves it to the next.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    demande_id: Mapped[int] = mapped_column(ForeignKey("demandes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    rang: Mapped[int] = mapped_column(Integer, default=-1)
    email: Mapped[str] = mapped_column(String(254))
    langue: Mapped[str] = mapped_column(String(2))
    # queued | sent | failed
    status: Mapped[str] = mapped_column(String(8), default="queued")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    claim: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(String(200), default="")

    demande: Mapped[Demande] = relationship()

    __table_args__ = (
        UniqueConstraint("demande_id", "kind", "rang", name="notice_once"),
        # What a sender claims: the queued notices due, oldest first.
        Index("ix_notices_status_next", "status", "next_attempt_at"),
        CheckConstraint("status in ('queued', 'sent', 'failed')", name="notice_status"),
    )


class LoginFailure(db.Model):
    """Wrong passwords typed for one login: the per-account lockout (security.py).

    Keyed by a hash of the typed login, so unknown logins are counted like real ones and
    the table never holds what was typed. The database, not Redis, holds it: the lockout
    stays in force whatever happens to the cache, on every instance at once.
    """

    __tablename__ = "login_failures"

    cle: Mapped[str] = mapped_column(String(64), primary_key=True)
    echecs: Mapped[int] = mapped_column(Integer)
    # The count restarts LOGIN_FAILURE_WINDOW_SECONDS after its first failure.
    premier_echec: Mapped[datetime] = mapped_column(DateTime, index=True)
    bloque_jusqua: Mapped[datetime | None] = mapped_column(DateTime)


class OperatorEvent(db.Model):
    """What an operator changed from the command line (accounts, campaigns): who, when,
    what. Never a password: a reset says that it happened, not to what."""

    __tablename__ = "operator_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # The system account that ran the command; behind sudo, the caller SUDO_USER declares,
    # labelled as declared (services/operators.py).
    operator: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(120), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


# ---------------------------------------------------------------- the caches' versions
# What each version covers and which writes change it: db/versions.py.

CAMPAGNES = "campagnes"


class CacheVersion(db.Model):
    """One version per cached family of rows that no single row carries (the campaigns)."""

    __tablename__ = "cache_versions"

    nom: Mapped[str] = mapped_column(String(40), primary_key=True)
    jeton: Mapped[str] = mapped_column(String(32))
