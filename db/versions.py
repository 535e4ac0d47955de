"""What a slider move keeps per process (services/caches.py, services/queries.py, the
rendered panels) and the versions it is kept under. The move reads them in its one
statement, the user's (app.py ``load_user``), so a kept entry is used only under the
version the database holds now. Random values, not counters: a rolled-back write never
hands its value to other data. A NULL version is never kept: read from the database.

- ``affilies.lignes_jeton`` covers the affilié's créance lines (the consolidation). Changed
  by every write to ``lignes_creance`` through the session (ORM objects, bulk and Core
  statements: the events below) and by ``import-data`` for exactly the affiliés whose
  lines it changes.
- ``affilies.jeton`` covers the affilié's row (raison sociale, régime, ICE, perception,
  dates, arrangement), its bank accounts (``comptes_bancaires``) and its perception's
  name. Changed by every write to those through the session (below) and by
  ``import-data`` for exactly the affiliés whose row or RIBs it changes (in
  ``services/importer/fusion.py``, with their ``lignes_jeton``; the affiliés it creates
  get both as they are inserted).
- the link between the account and the affilié (``user_affilies``) is no version: the
  user's statement reads the affilié's two versions through the link, so an account that
  lost it reads none, and the move answers 404.
- the ``campagnes`` row of ``cache_versions`` covers the active campaign and its rate
  tiers. Changed by every write to ``campaigns`` or ``campaign_tiers`` through the session.

A write that goes around the session (SQL typed by hand, another program) must change
the versions itself, in its own transaction, as ``import-data`` does.

The listeners below are registered when the ``db`` package is imported (db/__init__.py);
db/models.py does not import this module.
"""

from __future__ import annotations

from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.orm import Session

from db.models import (
    CAMPAGNES,
    Affilie,
    CacheVersion,
    Campaign,
    CampaignTier,
    CompteBancaire,
    LigneCreance,
    Perception,
    new_jeton,
    user_affilies,
)
from extensions import db

# ---------------------------------------------------------------- the lines' version
# Whatever writes créance lines through the session (the importer's bulk statements, the
# demo data, an ORM object), the affilié's lignes_jeton changes in the same transaction.


@event.listens_for(Session, "do_orm_execute")
def _bulk_line_writes(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    if _mapper_of(state) is not LigneCreance.__mapper__:
        return
    statement = state.statement
    ids: set[int] | None = None  # None: every affilié
    if state.is_insert:
        rows = state.parameters
        rows = [rows] if isinstance(rows, dict) else list(rows or [])
        if rows and all("affilie_id" in r for r in rows):
            ids = {r["affilie_id"] for r in rows}
    elif statement.whereclause is not None and not _changes_owner(statement, state.parameters):
        ids = set(
            state.session.scalars(
                select(LigneCreance.affilie_id).distinct().where(statement.whereclause)
            )
        )
    change = update(Affilie).values(lignes_jeton=new_jeton())
    if ids is not None:
        if not ids:
            return
        change = change.where(Affilie.id.in_(ids))
    state.session.execute(change)


def _changes_owner(statement, parameters) -> bool:
    """An UPDATE that may give rows (lines, bank accounts) to another affilié changes two
    affiliés."""
    return "affilie_id" in _set_columns(statement, parameters)


def _set_columns(statement, parameters) -> set[str]:
    """The columns an UPDATE sets, by its values or its parameters."""
    values = getattr(statement, "_values", None) or {}
    names = {getattr(k, "key", k) for k in values}
    if isinstance(parameters, dict):
        names |= set(parameters)
    return names


@event.listens_for(Session, "before_flush")
def _line_objects(session, flush_context, instances) -> None:
    ids: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, LigneCreance):
            history = inspect(obj).attrs.affilie_id.history
            ids.update(i for i in (*history.added, *history.unchanged, *history.deleted) if i)
    for affilie_id in ids:
        affilie = session.get(Affilie, affilie_id)
        if affilie is not None:
            affilie.lignes_jeton = new_jeton()


# What a kept panel shows of the affilié besides its lines; the importer's fingerprints
# hold for the version they were kept with (services.importer.empreintes).
_AFFILIE_FIELDS = (
    "numero",
    "raison_sociale",
    "regime",
    "ice",
    "perception_id",
    "date_situation",
    "date_arret_penalites",
    "arrangement",
)


@event.listens_for(Session, "before_flush")
def _affilie_objects(session, flush_context, instances) -> None:
    """An affilié's fields or RIBs written through the session: a new lignes_jeton."""
    changed: set[Affilie] = set()
    for obj in session.dirty:
        if isinstance(obj, Affilie):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in _AFFILIE_FIELDS):
                changed.add(obj)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, CompteBancaire):
            affilie = obj.affilie
            if affilie is None and obj.affilie_id is not None:
                affilie = session.get(Affilie, obj.affilie_id)
            if affilie is not None and affilie not in session.new:
                changed.add(affilie)
    for affilie in changed:
        affilie.lignes_jeton = new_jeton()


# -------------------------------------------------- the affilié's and the campaigns' versions


def campagnes_jeton_sql():
    """The campaigns' version as a scalar subquery, read in the user's own statement."""
    return select(CacheVersion.jeton).where(CacheVersion.nom == CAMPAGNES).scalar_subquery()


def affilie_version_sql(user_id, numero):
    """The version of affilié ``numero`` as a scalar subquery, read in the user's own
    statement: ``jeton:lignes_jeton``; "" when one of them is NULL (not to be kept); NULL
    when the account ``user_id`` is not linked to it."""
    return (
        select(func.coalesce(Affilie.jeton + ":" + Affilie.lignes_jeton, ""))
        .join(user_affilies, user_affilies.c.affilie_id == Affilie.id)
        .where(user_affilies.c.user_id == user_id, Affilie.numero == numero)
        .scalar_subquery()
    )


_affilies = Affilie.__table__
_versions = CacheVersion.__table__
# A bulk UPDATE of the affiliés that sets only these needs no new ``jeton``.
_VERSION_COLUMNS = {"jeton", "lignes_jeton"}


def _bump_campagnes(connection) -> None:
    jeton = new_jeton()
    changed = connection.execute(
        update(_versions).where(_versions.c.nom == CAMPAGNES).values(jeton=jeton)
    )
    if changed.rowcount == 0:
        connection.execute(_versions.insert().values(nom=CAMPAGNES, jeton=jeton))


def _renew_affilies(connection, affilie_ids=None) -> None:
    """A new ``jeton`` for these affiliés (a set, or a subquery of their ids; None: all)."""
    change = update(_affilies).values(jeton=new_jeton())
    if affilie_ids is not None:
        change = change.where(_affilies.c.id.in_(affilie_ids))
    connection.execute(change)


@event.listens_for(Session, "before_flush")
def _versioned_objects(session, flush_context, instances) -> None:
    affilies: set[int] = set()
    perceptions: set[int] = set()
    campaigns = False
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (Campaign, CampaignTier)):
            campaigns = True
        elif isinstance(obj, Affilie):
            if obj not in session.deleted:
                obj.jeton = new_jeton()
        elif isinstance(obj, CompteBancaire):
            history = inspect(obj).attrs.affilie_id.history
            affilies.update(i for i in (*history.added, *history.unchanged, *history.deleted) if i)
            if obj.affilie is not None and obj.affilie.id is not None:
                affilies.add(obj.affilie.id)
        elif isinstance(obj, Perception) and obj in session.dirty and obj.id is not None:
            perceptions.add(obj.id)
    for affilie_id in affilies:
        affilie = session.get(Affilie, affilie_id)
        if affilie is not None:
            affilie.jeton = new_jeton()
    if perceptions:
        owners = select(_affilies.c.id).where(_affilies.c.perception_id.in_(perceptions))
        _renew_affilies(session.connection(), owners)
    if campaigns:
        _bump_campagnes(session.connection())


@event.listens_for(Session, "do_orm_execute")
def _versioned_bulk_writes(state) -> None:
    """Bulk and Core statements through the session: the versions change before the
    statement runs, on the rows its WHERE names then."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    statement = state.statement
    mapper = _mapper_of(state)
    where = None if state.is_insert else statement.whereclause
    connection = state.session.connection()
    if mapper in (Campaign.__mapper__, CampaignTier.__mapper__):
        _bump_campagnes(connection)
    elif mapper is Affilie.__mapper__:
        # A new affilié gets its version as it is inserted; a deleted one is read by no one.
        if state.is_update and not _sets_only(statement, state.parameters, _VERSION_COLUMNS):
            _renew_affilies(connection, None if where is None else select(Affilie.id).where(where))
    elif mapper is CompteBancaire.__mapper__:
        ids = _inserted_values(state, "affilie_id")
        if ids is None and (where is None or _changes_owner(statement, state.parameters)):
            _renew_affilies(connection)  # which affiliés it touches cannot be read: all
        elif ids is None:
            _renew_affilies(connection, select(CompteBancaire.affilie_id).where(where))
        else:
            _renew_affilies(connection, ids)
    elif mapper is Perception.__mapper__ and state.is_update:
        renamed = select(Perception.id)
        if where is not None:
            renamed = renamed.where(where)
        _renew_affilies(
            connection, select(_affilies.c.id).where(_affilies.c.perception_id.in_(renamed))
        )


def _mapper_of(state):
    """The mapped class a statement writes: an ORM statement's, or a Core statement's
    table's (``Affilie.__table__.update()``)."""
    if state.bind_mapper is not None:
        return state.bind_mapper
    table = getattr(state.statement, "table", None)
    return next((m for m in db.Model.registry.mappers if m.local_table is table), None)


def _sets_only(statement, parameters, columns: set[str]) -> bool:
    names = _set_columns(statement, parameters)
    return bool(names) and names <= columns


def _inserted_values(state, column: str) -> set | None:
    """The values of ``column`` in an INSERT's rows (a set, or a SELECT of the one value
    of ``.values()``), or None when they cannot be read."""
    if not state.is_insert:
        return None
    values = getattr(state.statement, "_values", None) or {}
    given = {getattr(k, "key", k): v for k, v in values.items()}
    if column in given:
        return select(given[column])
    rows = state.parameters
    rows = [rows] if isinstance(rows, dict) else list(rows or [])
    if rows and all(column in r for r in rows):
        return {r[column] for r in rows}
    return None
