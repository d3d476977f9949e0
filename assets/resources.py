"""Resources shared by every Crossdock asset."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from pipelines import settings
from pipelines.store import connect


class StoreResource(dg.ConfigurableResource):
    """The Crossdock store. The code location binds `database_url` to `CROSSDOCK_DATABASE_URL`
    (`dg.EnvVar`, so the UI shows where it comes from and never its value); empty means the default
    under CROSSDOCK_HOME."""

    database_url: str = ""

    def engine(self) -> sa.Engine:
        return connect(self.database_url or settings.database_url())
