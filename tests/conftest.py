"""Shared fixtures: an isolated Crossdock home per test and the store on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.store.engine import make_engine
from pipelines.store.migrate import upgrade
from tests.services import postgres_schema

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
pytest_plugins = ["tests.apptest"]  # the admin app's fixtures (app_store), for every test module


@pytest.fixture(autouse=True)
def crossdock_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own state folder and store; nothing leaks between tests or into .crossdock/."""
    home = tmp_path / "home"
    monkeypatch.setenv("CROSSDOCK_HOME", str(home))
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", f"sqlite:///{home / 'crossdock.db'}")
    monkeypatch.delenv("CROSSDOCK_SECRET_KEY", raising=False)
    return home


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path, monkeypatch) -> sa.Engine:
    """A migrated, empty store: each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        engine = make_engine(url)
        upgrade(engine)
        monkeypatch.setenv("CROSSDOCK_DATABASE_URL", url)
        yield engine
        engine.dispose()
        return
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade(engine)
        monkeypatch.setenv("CROSSDOCK_DATABASE_URL", url)
        yield engine
        engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path, monkeypatch) -> sa.Engine:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", url)
    yield engine
    engine.dispose()


def load_example(name: str):
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
