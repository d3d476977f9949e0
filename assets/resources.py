"""Resources shared by every Crossdock asset."""
from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from pipelines import settings
from pipelines.store import connect


class StoreResource(dg.ConfigurableResource):
    """The Crossdock store. Empty `database_url` means the configured default (CROSSDOCK_DATABASE_URL)."""

    database_url: str = ""

    def engine(self) -> sa.Engine:
        return connect(self.database_url or settings.database_url())
