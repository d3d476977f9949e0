"""The store: schema, engine, migrations. SQLAlchemy 2.0 Core only."""

from pipelines.store.engine import connect, make_engine
from pipelines.store.schema import metadata

__all__ = ["connect", "make_engine", "metadata"]
