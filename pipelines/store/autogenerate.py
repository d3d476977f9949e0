"""`make migration`: rewrite the initial migration from `schema.py`.

Until Crossdock has a release with data to carry forward, the schema lives in one migration that is
regenerated whenever `schema.py` changes (the store tests fail when the two disagree). After the first
release this becomes `alembic revision --autogenerate` for each change.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from pipelines.store.engine import make_engine
from pipelines.store.migrate import MIGRATIONS, alembic_config

INITIAL = "0001"


def regenerate() -> Path:
    for old in (MIGRATIONS / "versions").glob(f"{INITIAL}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'empty.db'}")
        command.revision(alembic_config(engine), message="initial schema", autogenerate=True, rev_id=INITIAL)
        engine.dispose()
    (created,) = (MIGRATIONS / "versions").glob(f"{INITIAL}_*.py")
    return created


if __name__ == "__main__":
    print(f"wrote {regenerate()}")
