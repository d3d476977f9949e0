"""The store's identity: a random id written into the store the first time anyone asks.

Why: Dagster keeps sensor cursors in its own storage, which outlives a change of
`CROSSDOCK_DATABASE_URL` (or a store file deleted and recreated). A cursor that remembers "sync run
42" must know which store it meant, or it silently skips the first 42 runs of the next one.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from pipelines.store.schema import store_meta

STORE_ID_KEY = "store_id"


def store_id(engine: sa.Engine) -> str:
    """This store's id, created on first use (concurrent first calls agree on one)."""
    query = sa.select(store_meta.c.value).where(store_meta.c.key == STORE_ID_KEY)
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    if found:
        return found
    try:
        with engine.begin() as conn:
            conn.execute(store_meta.insert().values(key=STORE_ID_KEY, value=uuid.uuid4().hex))
    except sa.exc.IntegrityError:
        pass  # another process created it first; read theirs
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()
