"""Alembic environment: uses the engine handed over by `pipelines.store.migrate`."""

from __future__ import annotations

from alembic import context

from pipelines.store.engine import make_engine
from pipelines.store.schema import metadata

engine = context.config.attributes.get("engine") or make_engine()

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
