"""The store: migrations produce exactly the declared schema, SQLite is tuned for many processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pipelines.store.engine import connect, make_engine
from pipelines.store.migrate import current_revision, head_revision, missing_schema, upgrade
from pipelines.store.schema import metadata, sync_runs
from tests.services import require_postgres


def test_migrations_build_the_declared_schema(store):
    """Catches a schema.py change that was not given a migration."""
    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert current_revision(store) == head_revision()


def test_upgrade_is_idempotent(store):
    upgrade(store)
    upgrade(store)
    assert current_revision(store) == head_revision()


def test_sqlite_default_runs_in_wal_with_a_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.delenv("CROSSDOCK_DATABASE_URL")
    engine = connect()
    assert engine.url.database.endswith("crossdock.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: durable before acknowledged


@pytest.mark.e2e
def test_many_processes_write_the_same_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    upgrade(make_engine(url))
    with make_engine(url).begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO integrations (name, type, target, is_active, config, mapping_version, created_at, updated_at)"
            " VALUES ('w', 'webhook', 'order', 1, '{}', 1, '2026-01-01', '2026-01-01')"
        )
    writer = textwrap.dedent(f"""
        import sqlalchemy as sa
        from pipelines.store.engine import make_engine
        from pipelines.store.schema import sync_runs
        from pipelines.clock import utcnow
        engine = make_engine({url!r})
        for _ in range(200):
            with engine.begin() as conn:
                count = conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar_one()
                conn.execute(sync_runs.insert().values(integration_id=1, source_kind="test",
                             started_at=utcnow(), status="ok", total_received=count))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", writer], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with make_engine(url).connect() as conn:
        counts = conn.execute(sa.select(sync_runs.c.total_received).order_by(sync_runs.c.id)).scalars().all()
    # read-then-write inside one transaction never interleaves: every row saw all rows before it
    assert counts == list(range(800))


def test_a_reader_never_waits_for_a_writer_and_never_blocks_one(tmp_path):
    """On SQLite a long read (a report, a backtest) must not hold up webhook intake, nor wait for it."""
    from pipelines.store.engine import reader

    engine = make_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    upgrade(engine)
    writer = engine.raw_connection()
    writer.execute("PRAGMA busy_timeout=200")  # fail fast instead of queueing for 30 s
    with reader(engine).connect() as reading:
        reading.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar_one()  # read transaction open
        writer.execute("BEGIN IMMEDIATE")  # "database is locked" here if the read held the write lock
        writer.execute(
            "INSERT INTO integrations (name, type, target, is_active, config, mapping_version, created_at, updated_at)"
            " VALUES ('w', 'webhook', 'order', 1, '{}', 1, '2026-01-01', '2026-01-01')"
        )
        # ...and the reader keeps reading, its snapshot unchanged, while the writer holds the lock
        assert reading.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar_one() == 0
        writer.execute("COMMIT")
    writer.close()
    engine.dispose()


@pytest.mark.e2e
def test_a_store_from_an_earlier_development_build_is_named_not_used(sqlite_store, tmp_path, monkeypatch):
    """Before the first release the one migration is regenerated: a store made by an earlier build is
    at the head revision yet lacks columns. Commands say so in one line instead of failing later."""
    assert missing_schema(sqlite_store) == []
    with sqlite_store.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE inbox DROP COLUMN replayed_by")
    assert missing_schema(sqlite_store) == ["inbox.replayed_by"]
    monkeypatch.setenv("CROSSDOCK_HOME", str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "crossdock", "integrations", "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        f"error: the store sqlite:///{tmp_path / 'store.db'} was made by an earlier development build (it lacks inbox.replayed_by)"
    )
    assert "make clean" in done.stderr


@pytest.mark.e2e
def test_an_unreachable_store_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", "postgresql+psycopg://nobody:hidden@127.0.0.1:1/none")
    done = subprocess.run([sys.executable, "-m", "crossdock", "integrations", "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "hidden" not in done.stderr
    assert done.stderr.startswith("error: the store postgresql+psycopg://nobody:***@127.0.0.1:1/none cannot be used: ")


def test_migrate_refuses_a_postgresql_database_not_encoded_utf8_with_a_message(tmp_path):
    """SQL_ASCII hands text back as bytes: `crossdock migrate` says what to do instead of a TypeError."""
    base = require_postgres()
    name = f"t_ascii_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0")
    try:
        url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
        env = {"PATH": "/usr/bin:/bin", "CROSSDOCK_HOME": str(tmp_path / "home"), "CROSSDOCK_DATABASE_URL": url}
        result = subprocess.run([sys.executable, "-m", "crossdock", "migrate"], env=env, capture_output=True, text=True, timeout=120)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name}")
        admin.dispose()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{name}' is encoded SQL_ASCII; Crossdock needs UTF8" in result.stderr
    assert "ENCODING 'UTF8' TEMPLATE template0" in result.stderr
