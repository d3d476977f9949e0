"""Shared fixtures (an isolated Crossdock home per test, the store on SQLite and PostgreSQL) and the
markers every test gets from what it touches, so `make test-fast` can pick the quick ones:

- `e2e`: real processes of the product (the CLI, `crossdock up`, Dagster's daemon, Chromium, kills);
- `app`: the Streamlit pages through AppTest;
- `db`: a real store (SQLite; with `postgres`/`mariadb` also those servers);
- `unit`: nothing but Python.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.store.engine import make_engine
from pipelines.store.migrate import upgrade
from tests.services import postgres_schema

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
pytest_plugins = ["tests.apptest"]  # the admin app's fixtures (app_store), for every test module

END_TO_END = {
    "test_app_browser",
    "test_callback_restart",
    "test_dagster_postgres",
    "test_dagster_under_load",
    "test_inbox_crash",
    "test_inbox_daemon",
    "test_receiver_durability",
    "test_supervisor",
    "test_receivers_race",
    "test_guide_samples",
    "test_receivers_load_balancer",
    "test_dagster_celery",
}
STORE_FIXTURES = {"store", "sqlite_store", "app_store"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("e2e"):
            pass  # marked by hand: this test starts processes in a module that mostly does not
        elif module in END_TO_END or module.startswith("test_cli_"):
            item.add_marker(pytest.mark.e2e)
        elif module.startswith("test_app_"):
            item.add_marker(pytest.mark.app)
        elif fixtures & STORE_FIXTURES:
            item.add_marker(pytest.mark.db)
        else:
            item.add_marker(pytest.mark.unit)
        if "postgres" in item.nodeid:
            item.add_marker(pytest.mark.postgres)
        if "mariadb" in item.nodeid:
            item.add_marker(pytest.mark.mariadb)


LOOPBACK_ALLOWED = "127.0.0.1,[::1]"


@pytest.fixture(autouse=True)
def crossdock_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own state folder and store; nothing leaks between tests or into .crossdock/."""
    home = tmp_path / "home"
    monkeypatch.setenv("CROSSDOCK_HOME", str(home))
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", f"sqlite:///{home / 'crossdock.db'}")
    monkeypatch.delenv("CROSSDOCK_SECRET_KEY", raising=False)
    # Every test server listens on loopback, which the outbound policy refuses unless allowed (docs/how-to/operator/outbound-and-drops.md).
    monkeypatch.setenv("CROSSDOCK_OUTBOUND_ALLOW", LOOPBACK_ALLOWED)
    return home


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path, monkeypatch) -> sa.Engine:
    """A migrated, empty store: each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_store")
        return
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade(engine)
        monkeypatch.setenv("CROSSDOCK_DATABASE_URL", url)
        yield engine
        engine.dispose()


@pytest.fixture
def sqlite_store(migrated_sqlite, tmp_path, monkeypatch) -> sa.Engine:
    url = _copy_of(migrated_sqlite, tmp_path)
    engine = make_engine(url)
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """One store migrated by `upgrade` per test process; each test gets a copy of the file. Migrating
    costs about 50 ms, copying about 1 ms, and a few hundred tests take a store."""
    path = tmp_path_factory.mktemp("migrated") / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


def _copy_of(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "store.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def load_example(name: str):
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
