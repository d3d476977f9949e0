"""Joins many queries share. A row of most tables belongs to an integration; pages, reports and lists
show the integration's name, so they join `integrations` the same way: `.join(*integration_of(t))`."""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.store.schema import integrations


def integration_of(table: sa.FromClause) -> tuple[sa.Table, sa.ColumnElement[bool]]:
    """The `integrations` table and the condition joining it to `table`'s `integration_id`."""
    return integrations, integrations.c.id == table.c.integration_id


def live(table: sa.Table = integrations) -> sa.ColumnElement[bool]:
    """The condition that keeps archived (deleted, not yet purged) integrations out: every lookup that
    acts on integrations (receivers, pollers, schedules, default lists, health, alerts) adds it, so an
    archived integration behaves as unknown while its data waits for a restore or a purge. History
    over past periods leaves it out and still names archived integrations."""
    return table.c.archived_at.is_(None)
