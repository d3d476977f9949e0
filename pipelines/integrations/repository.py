"""Integrations in the store: create, read, update, archive (what deleting does), restore, purge,
and the history of their mappings.

Deleting only archives: the row and everything it received stay, and every lookup that acts on
integrations ignores it (`pipelines.store.joins.live`), so an undo is possible for the retention
period. Purging is the one path that really deletes rows."""

from __future__ import annotations

import base64
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from pipelines import secrets
from pipelines.clock import as_utc, utcnow
from pipelines.integrations import audit_trail
from pipelines.integrations.model import KINDS, Integration, StoredIntegration, fields_of, parse_integration
from pipelines.integrations.secret_fields import masked_view, merge_secrets, split_secrets
from pipelines.mapping import MappingError, compile_mapping
from pipelines.store.binds import connection, inserted_id, transaction
from pipelines.store.joins import live
from pipelines.store.schema import callback_outbox, inbox, integrations, mapping_versions
from pipelines.targets import FIELDS
from pipelines.vocabulary import InboxStatus

# Who a change is recorded as when the caller does not say (seeding, scripts): never a person's name.
UNKNOWN_ACTOR = "system"


class IntegrationExists(ValueError):
    pass


class ArchivedNameTaken(IntegrationExists):
    """The name belongs to an archived integration: names are unique across live and archived ones,
    so the archived one must be restored or purged before the name is used again."""

    def __init__(self) -> None:
        super().__init__("an archived integration has this name: restore or purge it first")


class IntegrationNotFound(LookupError):
    pass


def _name_clash(conn: sa.Connection, name: str, *, other_than: int | None = None) -> None:
    """Raise `IntegrationExists` (or `ArchivedNameTaken`) when `name`, in any case, is taken."""
    query = sa.select(integrations.c.archived_at).where(sa.func.lower(integrations.c.name) == name.lower())
    if other_than is not None:
        query = query.where(integrations.c.id != other_than)
    row = conn.execute(query).first()
    if row is None:
        return
    if row.archived_at is not None:
        raise ArchivedNameTaken()
    raise IntegrationExists(f"an integration named {name!r} already exists")


class MappingRejected(ValueError):
    """The field mapping does not compile; `issues` say which field and where."""

    def __init__(self, issues: list[dict[str, str]]):
        self.issues = issues
        super().__init__("; ".join(f"{i['field']}: {i['message']}" for i in issues))


def check_mapping(field_mapping: dict[str, Any], target: str) -> None:
    """Reject a mapping that does not compile, or maps to fields the target lacks, before anything is saved."""
    try:
        compile_mapping(field_mapping, FIELDS[target])
    except MappingError as exc:
        raise MappingRejected([{"field": f"field_mapping.{issue.field}", "message": issue.message} for issue in exc.issues]) from exc


def new_callback_secret() -> str:
    """A fresh callback signing secret: Standard Webhooks' `whsec_` + base64 of 24 random bytes (not
    url-safe base64: that is what its libraries decode)."""
    return "whsec_" + base64.b64encode(_random.token_bytes(24)).decode()


def _prepare(config: Integration) -> Integration:
    """Fill what the store generates: the callback signing secret when callbacks are configured."""
    if config.callback_url and config.callback_secret is None:
        config = config.model_copy(update={"callback_secret": SecretStr(new_callback_secret())})
    return config


def _keep_previous_callback_secret(before: Integration, after: Integration, changes: dict[str, Any], now: datetime) -> Integration:
    """On a callback secret rotation, keep the old secret signing alongside the new one for the
    integration's overlap, unless the change itself says what the previous secret is."""
    old, new = before.callback_secret, after.callback_secret
    if old is None or new is None or old.get_secret_value() == new.get_secret_value():
        return after
    if "previous_secret" in (changes.get("callbacks") or {}):
        return after
    overlap = after.callbacks.rotation_overlap_hours
    callbacks = after.callbacks.model_copy(
        update={
            "previous_secret": old if overlap else None,
            "previous_secret_expires_at": now + timedelta(hours=overlap) if overlap else None,
        }
    )
    return after.model_copy(update={"callbacks": callbacks})


def _row_values(config: Integration) -> dict[str, Any]:
    # Every configuration value is JSON-native once the secrets are taken out.
    plain, found = split_secrets(config.model_dump(mode="python"))
    return {
        "name": config.name,
        "type": config.type,
        "target": config.target,
        "is_active": config.is_active,
        "config": plain,
        "secrets": secrets.encrypt(found),
    }


def _from_row(row: sa.Row) -> StoredIntegration:
    data = merge_secrets(row.config, secrets.decrypt(row.secrets))
    data["is_active"] = row.is_active
    return StoredIntegration(
        id=row.id,
        config=parse_integration(data, stored=True),  # checked when saved; connect time judges again
        mapping_version=row.mapping_version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        callbacks_disabled_reason=row.callbacks_disabled_reason,
    )


def create_integration(engine: sa.Engine, config: Integration, *, actor: str = UNKNOWN_ACTOR) -> StoredIntegration:
    check_mapping(config.field_mapping, config.target)
    config = _prepare(config)
    now = utcnow()
    with engine.begin() as conn:
        _name_clash(conn, config.name)
        new_id = inserted_id(
            conn.execute(integrations.insert().values(**_row_values(config), mapping_version=1, created_at=now, updated_at=now))
        )
        conn.execute(
            mapping_versions.insert().values(
                integration_id=new_id, version=1, field_mapping=config.field_mapping, note="created", created_at=now
            )
        )
        row = conn.execute(sa.select(integrations).where(integrations.c.id == new_id)).one()
        audit_trail.record_created(conn, actor, config)
    return _from_row(row)


def get_integration(engine: sa.Engine | sa.Connection, name: str, *, archived: bool = False) -> StoredIntegration:
    """The live integration of that name; with `archived`, the archived one instead (an archived
    integration is unknown to every other caller)."""
    archived_or_live = integrations.c.archived_at.is_not(None) if archived else live()
    with connection(engine) as conn:
        row = conn.execute(sa.select(integrations).where(integrations.c.name == name, archived_or_live)).first()
    if row is None:
        raise IntegrationNotFound(f"no {'archived ' if archived else ''}integration named {name!r}")
    return _from_row(row)


def get_integration_by_id(engine: sa.Engine | sa.Connection, integration_id: int) -> StoredIntegration:
    with connection(engine) as conn:
        row = conn.execute(sa.select(integrations).where(integrations.c.id == integration_id)).first()
    if row is None:
        raise IntegrationNotFound(f"no integration with id {integration_id}")
    return _from_row(row)


def list_integrations(engine: sa.Engine, *, active_only: bool = False, archived: bool = False) -> list[StoredIntegration]:
    """Live integrations by name; with `archived`, only the archived ones."""
    query = sa.select(integrations).order_by(integrations.c.name)
    query = query.where(integrations.c.archived_at.is_not(None) if archived else live())
    if active_only:
        query = query.where(integrations.c.is_active.is_(True))
    with engine.connect() as conn:
        return [_from_row(row) for row in conn.execute(query)]


def update_integration(
    engine: sa.Engine, name: str, changes: dict[str, Any], *, note: str | None = None, actor: str = UNKNOWN_ACTOR
) -> StoredIntegration:
    """Apply a partial change (PATCH semantics; nested settings merge). Secrets omitted stay as they were."""
    current = get_integration(engine, name)
    kept = merge_secrets(current.config.model_dump(mode="json"), _current_secrets(current))
    merged = _deep_merge(_kept_for_kind(kept, changes.get("type")), changes)
    config = parse_integration(merged)  # raises ValidationError with field paths
    mapping_changed = config.field_mapping != current.config.field_mapping
    if mapping_changed or config.target != current.target:
        check_mapping(config.field_mapping, config.target)
    config = _prepare(config)
    now = utcnow()
    config = _keep_previous_callback_secret(current.config, config, changes, now)
    with engine.begin() as conn:
        if config.name != current.name:
            _name_clash(conn, config.name, other_than=current.id)
        version = current.mapping_version + 1 if mapping_changed else current.mapping_version
        conn.execute(
            integrations.update()
            .where(integrations.c.id == current.id)
            .values(**_row_values(config), mapping_version=version, updated_at=now)
        )
        if mapping_changed:
            conn.execute(
                mapping_versions.insert().values(
                    integration_id=current.id,
                    version=version,
                    field_mapping=config.field_mapping,
                    note=note,
                    created_at=now,
                )
            )
        row = conn.execute(sa.select(integrations).where(integrations.c.id == current.id)).one()
        audit_trail.record_update(conn, actor, current.config, config, note)
    return _from_row(row)


def _kept_for_kind(current: dict[str, Any], new_type: Any) -> dict[str, Any]:
    """A change of `type` keeps the settings the new kind shares and leaves the old kind's block behind."""
    kind = KINDS.get(new_type) if isinstance(new_type, str) else None
    return current if kind is None else fields_of(kind, current)


def set_active(engine: sa.Engine, name: str, active: bool, *, actor: str = UNKNOWN_ACTOR) -> StoredIntegration:
    return update_integration(engine, name, {"is_active": active}, actor=actor)


class IntegrationBusy(ValueError):
    """Purging would discard acknowledged work: webhooks not yet processed, callbacks not yet sent."""

    def __init__(self, name: str, waiting: dict[str, int]):
        self.waiting = waiting
        listed = ", ".join(f"{count} {what}" for what, count in waiting.items())
        super().__init__(f"{name} still has {listed}; purging it would discard them")


def waiting_work(bind: sa.Engine | sa.Connection, integration_id: int) -> dict[str, int]:
    """What a client was promised and Crossdock has not finished: acknowledged webhooks still pending
    in the inbox, and status callbacks still queued for delivery."""
    with connection(bind) as conn:
        pending_webhooks = conn.execute(
            sa.select(sa.func.count())
            .select_from(inbox)
            .where(inbox.c.integration_id == integration_id, inbox.c.status == InboxStatus.PENDING)
        ).scalar_one()
        queued_callbacks = conn.execute(
            sa.select(sa.func.count())
            .select_from(callback_outbox)
            .where(callback_outbox.c.integration_id == integration_id, callback_outbox.c.status == "pending")
        ).scalar_one()
    found = {"acknowledged webhook(s) not yet processed": pending_webhooks, "status callback(s) not yet delivered": queued_callbacks}
    return {what: count for what, count in found.items() if count}


def archive_integration(engine: sa.Engine, name: str, *, actor: str = UNKNOWN_ACTOR) -> dict[str, int]:
    """What deleting does: archive the live integration. Nothing it received is touched; receivers,
    pollers and deliveries ignore it until it is restored. Returns the acknowledged work it holds
    (processed again after a restore, discarded by a purge)."""
    current = get_integration(engine, name)
    with engine.begin() as conn:
        held = waiting_work(conn, current.id)
        conn.execute(
            integrations.update().where(integrations.c.id == current.id, live()).values(archived_at=utcnow(), archived_by=actor[:255])
        )
        audit_trail.record_archived(conn, actor, current.name, held)
    return held


def restore_integration(engine: sa.Engine, name: str, *, actor: str = UNKNOWN_ACTOR) -> StoredIntegration:
    """Undo a delete: the archived integration is live again, as it was, with all its data."""
    current = get_integration(engine, name, archived=True)
    with engine.begin() as conn:
        conn.execute(
            integrations.update().where(integrations.c.id == current.id).values(archived_at=None, archived_by=None, updated_at=utcnow())
        )
        audit_trail.record_restored(conn, actor, current.name)
        row = conn.execute(sa.select(integrations).where(integrations.c.id == current.id)).one()
    return _from_row(row)


def purge_integration(engine: sa.Engine, name: str, *, force: bool = False, actor: str = UNKNOWN_ACTOR) -> None:
    """Really delete an archived integration and everything stored for it (no undo). Refused
    (`IntegrationBusy`) while it holds acknowledged webhooks or callbacks, unless `force`."""
    current = get_integration(engine, name, archived=True)
    with engine.begin() as conn:
        waiting = waiting_work(conn, current.id)
        if waiting and not force:
            raise IntegrationBusy(current.name, waiting)
        conn.execute(integrations.delete().where(integrations.c.id == current.id))
        audit_trail.record_purged(conn, actor, current.name, waiting, reason="requested")


def purge_expired(engine: sa.Engine, retention_days: int, *, now: datetime | None = None) -> list[str]:
    """Purge every integration archived more than `retention_days` ago, as the system (the daily
    retention schedule); held work is discarded with it. Returns the purged names."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    purged: list[str] = []
    with engine.connect() as conn:
        expired = conn.execute(
            sa.select(integrations.c.id, integrations.c.name).where(integrations.c.archived_at < cutoff).order_by(integrations.c.id)
        ).all()
    for row in expired:
        with engine.begin() as conn:
            waiting = waiting_work(conn, row.id)
            gone = conn.execute(integrations.delete().where(integrations.c.id == row.id, integrations.c.archived_at < cutoff)).rowcount
            if gone:
                audit_trail.record_purged(conn, UNKNOWN_ACTOR, row.name, waiting, reason=f"archived more than {retention_days} day(s) ago")
                purged.append(row.name)
    return purged


@dataclass(frozen=True)
class ArchivedEntry:
    """An archived integration as the archive lists show it: what it was, when and by whom it was deleted."""

    name: str
    type: str
    target: str
    archived_at: datetime
    archived_by: str | None


@dataclass(frozen=True)
class MappingVersion:
    """One saved version of an integration's field mapping; `active` is the one in use."""

    version: int
    field_mapping: dict[str, Any]
    note: str | None
    created_at: datetime
    active: bool


def archived_view(engine: sa.Engine) -> list[ArchivedEntry]:
    """The archived integrations as the archive lists show them: name, type, target, when and by
    whom they were deleted. No configuration: an archived integration is not edited, only restored."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                integrations.c.name, integrations.c.type, integrations.c.target, integrations.c.archived_at, integrations.c.archived_by
            )
            .where(integrations.c.archived_at.is_not(None))
            .order_by(integrations.c.archived_at.desc())
        ).all()
    return [ArchivedEntry(r.name, r.type, r.target, as_utc(r.archived_at), r.archived_by) for r in rows]


def set_callbacks_disabled(engine: sa.Engine | sa.Connection, integration_id: int, reason: str | None) -> None:
    """Stop (reason) or resume (None) callback delivery for an integration."""
    with transaction(engine) as conn:
        conn.execute(
            integrations.update().where(integrations.c.id == integration_id).values(callbacks_disabled_reason=reason, updated_at=utcnow())
        )


def list_mapping_versions(engine: sa.Engine, name: str) -> list[MappingVersion]:
    current = get_integration(engine, name)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(mapping_versions).where(mapping_versions.c.integration_id == current.id).order_by(mapping_versions.c.version.desc())
        ).mappings()
        return [
            MappingVersion(r["version"], r["field_mapping"], r["note"], as_utc(r["created_at"]), r["version"] == current.mapping_version)
            for r in rows
        ]


def save_mapping(
    engine: sa.Engine, name: str, field_mapping: dict[str, Any], note: str | None = None, *, actor: str = UNKNOWN_ACTOR
) -> StoredIntegration:
    """Save a mapping as the integration's new version (the mapping studio's "save")."""
    # PATCH merges dicts; a mapping must replace the old one whole, so clear it first.
    current = get_integration(engine, name)
    if field_mapping == current.config.field_mapping:
        return current
    check_mapping(field_mapping, current.target)
    return update_integration(engine, name, {"field_mapping": _Replace(field_mapping)}, note=note, actor=actor)


def rollback_mapping(engine: sa.Engine, name: str, version: int, *, actor: str = UNKNOWN_ACTOR) -> StoredIntegration:
    for entry in list_mapping_versions(engine, name):
        if entry.version == version:
            return save_mapping(engine, name, entry.field_mapping, note=f"rollback to version {version}", actor=actor)
    raise IntegrationNotFound(f"{name!r} has no mapping version {version}")


def masked_config(stored: StoredIntegration) -> dict[str, Any]:
    """The configuration as shown to people and APIs: secrets masked, store metadata added."""
    view = masked_view(stored.config.model_dump(mode="json"), _current_secrets(stored))
    view.update(
        id=stored.id,
        mapping_version=stored.mapping_version,
        created_at=stored.created_at.isoformat(),
        updated_at=stored.updated_at.isoformat(),
        callbacks_disabled_reason=stored.callbacks_disabled_reason,
    )
    return view


def _current_secrets(stored: StoredIntegration) -> dict[str, Any]:
    return split_secrets(stored.config.model_dump(mode="python"))[1]


class _Replace(dict):
    """Marks a dict that replaces, rather than merges into, the current value."""


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and not isinstance(value, _Replace) and isinstance(out.get(key), dict) and key != "field_mapping":
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = dict(value) if isinstance(value, _Replace) else value
    return out
