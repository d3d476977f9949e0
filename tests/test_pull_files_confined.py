"""File drops stay inside their folder, on real files in real folders: an integration's folder must be
inside the drops root (`CROSSDOCK_DROPS_ROOT`, default `<home>/drops`) when it is saved and again when
it is pulled; its pattern is a file-name glob; symbolic links are never followed, read or moved, not
even a file swapped for one between the listing and the opening; files only move into `processed/`
and `failed/` inside the folder. Refused configurations are refused by the admin API (422) and the CLI
(exit 2) with the field and the reason."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from pydantic import ValidationError

from connectors.files import drop_folder, pull_files
from pipelines import settings
from pipelines.errors import validation_issues
from pipelines.integrations import FileIntegration, Integration, create_integration, get_integration
from pipelines.sources import PullError
from pipelines.store.schema import orders
from tests.receiver_helpers import running

HEADER = "pedido;cliente;dirección\n"
MAPPING = {"external_id": "pedido", "client_name": "cliente", "address": '"dirección"'}


def _csv(*ids: str) -> bytes:
    return (HEADER + "".join(f"{i};Cliente {i};Zona 1\n" for i in ids)).encode("utf-8")


def _config(name: str = "erp_files", **file) -> Integration:
    return FileIntegration(name=name, field_mapping=MAPPING, file={"min_age_seconds": 0, **file})


def _integration(store, name: str = "erp_files", **file):
    return create_integration(store, _config(name, **file))


def _with_file(stored, **changes):
    """The integration as if it had been stored with `changes` before the checks existed (or the
    root moved since): the configuration is not validated again."""
    config = stored.config.model_copy(update={"file": stored.config.file.model_copy(update=changes)})
    return dataclasses.replace(stored, config=config)


def _ids(store) -> set[str]:
    with store.connect() as conn:
        return set(conn.execute(sa.select(orders.c.external_id)).scalars())


def _refusal(**file) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        _config(**file)
    return {issue["field"]: issue["message"] for issue in validation_issues(caught.value)}


def _root() -> Path:
    return (Path(os.environ["CROSSDOCK_HOME"]) / "drops").resolve()


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder next to the Crossdock home, outside the drops root, holding someone else's export."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "victim.csv").write_bytes(_csv("VICTIM-1"))
    return folder


# --- patterns ----------------------------------------------------------------------------------------


def test_a_pattern_that_leaves_the_folder_is_refused_when_saved():
    for pattern in ("../elsewhere/victim.csv", "sub/*.csv", "..", "..\\victim.csv", "/etc/*"):
        refused = _refusal(pattern=pattern)
        assert "is not a file-name pattern" in refused["file.pattern"], pattern
    assert _config(pattern="pedidos_*.csv").file.pattern == "pedidos_*.csv"


def test_a_stored_pattern_with_dot_dot_is_refused_at_pull_time_and_the_file_outside_stays(sqlite_store, outside):
    integration = _integration(sqlite_store)
    drop_folder(integration)
    # `../elsewhere/victim.csv` from the default folder <home>/drops/erp_files reaches <home>/drops/elsewhere.
    victim_folder = _root() / "elsewhere"
    victim_folder.mkdir()
    (victim_folder / "victim.csv").write_bytes(_csv("VICTIM-1"))
    with pytest.raises(PullError, match="file.pattern '../elsewhere/victim.csv' is not a file-name pattern"):
        pull_files(sqlite_store, _with_file(integration, pattern="../elsewhere/victim.csv"))
    assert (victim_folder / "victim.csv").read_bytes() == _csv("VICTIM-1")
    assert sorted(p.name for p in victim_folder.iterdir()) == ["victim.csv"]
    assert _ids(sqlite_store) == set()


# --- folders -----------------------------------------------------------------------------------------


def test_a_folder_outside_the_drops_root_is_refused_when_saved(tmp_path):
    refused = _refusal(folder="/etc")["file.folder"]
    assert f"'/etc' is outside the drops root {_root()}" in refused and "CROSSDOCK_DROPS_ROOT" in refused
    assert "outside the drops root" in _refusal(folder="../elsewhere")["file.folder"]
    assert "outside the drops root" in _refusal(folder=str(tmp_path))["file.folder"]
    assert "the drops root itself" in _refusal(folder=str(_root()))["file.folder"]
    inside = _config(folder=str(_root() / "erp" / "exports"))
    assert inside.file.folder == str(_root() / "erp" / "exports")


def test_a_folder_linked_outside_the_root_is_refused_when_saved_and_at_pull_time(sqlite_store, outside):
    _root().mkdir(parents=True)
    (_root() / "linked").symlink_to(outside, target_is_directory=True)
    refused = _refusal(folder="linked")["file.folder"]
    assert f"'linked' is outside the drops root {_root()} (it resolves to {outside.resolve()})" in refused
    # The folder became a link after the integration was saved: the pull refuses, nothing outside moves.
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    for child in folder.iterdir():
        child.rmdir()
    folder.rmdir()
    folder.symlink_to(outside, target_is_directory=True)
    with pytest.raises(PullError, match="is outside the drops root"):
        pull_files(sqlite_store, integration)
    assert sorted(p.name for p in outside.iterdir()) == ["victim.csv"] and _ids(sqlite_store) == set()


def test_a_link_inside_the_root_to_a_folder_inside_it_is_followed_to_that_folder(sqlite_store):
    real = _root() / "erp_real"
    real.mkdir(parents=True)
    (_root() / "erp_alias").symlink_to(real, target_is_directory=True)
    integration = _integration(sqlite_store, folder="erp_alias")
    assert drop_folder(integration) == real
    (real / "a.csv").write_bytes(_csv("A-1"))
    assert pull_files(sqlite_store, integration).read["files"] == 1
    assert (real / "processed" / "a.csv").exists()


def test_the_root_moved_after_saving_refuses_the_pull(sqlite_store, tmp_path, monkeypatch):
    integration = _integration(sqlite_store, folder=str(_root() / "erp"))
    folder = drop_folder(integration)
    (folder / "a.csv").write_bytes(_csv("A-1"))
    monkeypatch.setenv("CROSSDOCK_DROPS_ROOT", str(tmp_path / "new_root"))
    with pytest.raises(PullError, match=f"file.folder '{folder}' is outside the drops root {tmp_path / 'new_root'}"):
        pull_files(sqlite_store, integration)
    assert (folder / "a.csv").exists() and _ids(sqlite_store) == set()


def test_a_stored_folder_outside_the_root_is_refused_at_pull_time(sqlite_store, outside):
    integration = _with_file(_integration(sqlite_store), folder=str(outside))
    with pytest.raises(PullError, match=f"file.folder '{outside}' is outside the drops root"):
        pull_files(sqlite_store, integration)
    assert sorted(p.name for p in outside.iterdir()) == ["victim.csv"] and _ids(sqlite_store) == set()


def test_the_default_folder_is_the_integration_name_under_the_root(sqlite_store):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    assert folder == _root() / "erp_files"
    (folder / "a.csv").write_bytes(_csv("A-1"))
    assert pull_files(sqlite_store, integration).read["files"] == 1
    assert (folder / "processed" / "a.csv").exists() and _ids(sqlite_store) == {"A-1"}


def test_the_drops_root_is_configurable_and_relative_folders_are_relative_to_it(sqlite_store, tmp_path, monkeypatch):
    root = tmp_path / "srv" / "drops"
    monkeypatch.setenv("CROSSDOCK_DROPS_ROOT", str(root))
    assert drop_folder(_integration(sqlite_store, name="by_default")) == root / "by_default"
    relative = _integration(sqlite_store, name="relative", folder="erp/exports")
    folder = drop_folder(relative)
    assert folder == root / "erp" / "exports"
    (folder / "a.csv").write_bytes(_csv("R-1"))
    assert pull_files(sqlite_store, relative).read["files"] == 1 and _ids(sqlite_store) == {"R-1"}
    home = Path(os.environ["CROSSDOCK_HOME"]).resolve()
    assert "outside the drops root" in _refusal(folder=str(home / "drops" / "x"))["file.folder"]


def test_a_root_that_holds_the_home_never_lets_a_folder_reach_the_store_or_the_keys(tmp_path, monkeypatch):
    home = Path(os.environ["CROSSDOCK_HOME"]).resolve()
    monkeypatch.setenv("CROSSDOCK_DROPS_ROOT", str(tmp_path))
    assert "holds Crossdock's home" in _refusal(folder=str(home))["file.folder"]
    assert "inside Crossdock's home" in _refusal(folder=str(home / "dagster"))["file.folder"]
    assert _config(folder=str(home / "drops" / "erp")).file.folder == str(home / "drops" / "erp")


# --- symbolic links ----------------------------------------------------------------------------------


def test_a_file_that_is_a_link_outside_is_neither_read_nor_moved(sqlite_store, outside):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    (folder / "pedidos.csv").symlink_to(outside / "victim.csv")
    (folder / "bueno.csv").write_bytes(_csv("OK-1"))
    report = pull_files(sqlite_store, integration)
    assert _ids(sqlite_store) == {"OK-1"}
    assert "pedidos.csv: a symbolic link; skipped (links are never followed, read or moved)" in report.warnings
    assert (folder / "pedidos.csv").is_symlink() and not (folder / "processed" / "pedidos.csv").exists()
    assert (outside / "victim.csv").read_bytes() == _csv("VICTIM-1")


def test_a_linked_subfolder_is_not_entered(sqlite_store, outside):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    (folder / "sub").symlink_to(outside, target_is_directory=True)
    report = pull_files(sqlite_store, integration)
    assert "sub: a symbolic link; skipped (links are never followed, read or moved)" in report.warnings
    assert sorted(p.name for p in outside.iterdir()) == ["victim.csv"] and _ids(sqlite_store) == set()


def test_a_file_swapped_for_a_link_after_the_listing_is_not_followed(sqlite_store, outside):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    first, second = folder / "a.csv", folder / "b.csv"
    first.write_bytes(_csv("A-1"))
    second.write_bytes(_csv("B-1"))
    os.utime(first, (1_000_000_000, 1_000_000_000))  # listed first, so b.csv is swapped before it is opened

    swapped: list[bool] = []

    def swap(*_args) -> None:  # the pull's first statement: both files are listed, none is opened yet
        if not swapped:
            swapped.append(True)
            second.unlink()
            second.symlink_to(outside / "victim.csv")

    sa.event.listen(sqlite_store, "before_cursor_execute", swap)
    report = pull_files(sqlite_store, integration)
    sa.event.remove(sqlite_store, "before_cursor_execute", swap)
    assert _ids(sqlite_store) == {"A-1"}
    assert "b.csv: replaced by a symbolic link after it was listed; skipped (never followed)" in report.warnings
    assert second.is_symlink() and sorted(p.name for p in (folder / "processed").iterdir()) == ["a.csv"]
    assert sorted(p.name for p in outside.iterdir()) == ["victim.csv"]


def test_a_file_replaced_while_it_is_read_is_left_for_the_next_poll(sqlite_store):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    export = folder / "a.csv"
    export.write_bytes(_csv("A-1"))

    replaced: list[bool] = []

    def replace(_conn, _cursor, statement, *_rest) -> None:  # while the first version lands
        if not replaced and statement.lstrip().upper().startswith("INSERT"):
            replaced.append(True)
            export.unlink()
            export.write_bytes(_csv("A-2", "A-3"))

    sa.event.listen(sqlite_store, "before_cursor_execute", replace)
    first = pull_files(sqlite_store, integration)
    sa.event.remove(sqlite_store, "before_cursor_execute", replace)
    assert "a.csv: replaced while it was read; the new one is left in place for the next poll" in first.warnings
    assert export.read_bytes() == _csv("A-2", "A-3") and _ids(sqlite_store) == {"A-1"}
    assert pull_files(sqlite_store, integration).read["files"] == 1 and _ids(sqlite_store) == {"A-1", "A-2", "A-3"}


# --- moves -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outbox", ["processed", "failed"])
def test_an_outbox_that_is_a_link_is_refused_and_nothing_moves_out(sqlite_store, outside, outbox):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    (folder / outbox).rmdir()
    (folder / outbox).symlink_to(outside, target_is_directory=True)
    (folder / "a.csv").write_bytes(_csv("A-1"))
    (folder / "roto.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(PullError, match=f"{folder / outbox} is a symbolic link"):
        pull_files(sqlite_store, integration)
    assert sorted(p.name for p in outside.iterdir()) == ["victim.csv"]
    assert (folder / "a.csv").exists() and (folder / "roto.xlsx").exists()


def test_files_move_only_into_the_folders_own_outboxes(sqlite_store):
    integration = _integration(sqlite_store)
    folder = drop_folder(integration)
    (folder / "a.csv").write_bytes(_csv("A-1"))
    (folder / "roto.xlsx").write_bytes(b"not a workbook")
    pull_files(sqlite_store, integration)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "failed/roto.xlsx",
        "failed/roto.xlsx.reason.txt",
        "processed/a.csv",
    ]
    assert "not a readable XLSX workbook" in (folder / "failed" / "roto.xlsx.reason.txt").read_text()


# --- where people save integrations ------------------------------------------------------------------


def test_the_admin_api_refuses_a_folder_outside_the_root_and_a_pattern_leaving_it(sqlite_store):
    admin = {"Authorization": f"Bearer {settings.admin_token()}"}
    document = {"name": "erp_files", "type": "file", "file": {"folder": "/etc"}}
    with running(sqlite_store) as url:
        created = requests.post(f"{url}/integrations", json=document, headers=admin, timeout=30)
        assert created.status_code == 422, created.text
        assert created.json()["errors"] == [
            {
                "field": "file.folder",
                "message": f"'/etc' is outside the drops root {_root()}: files are only picked up "
                "from folders inside it (CROSSDOCK_DROPS_ROOT sets it)",
            }
        ]
        document["file"] = {"pattern": "../elsewhere/victim.csv"}
        assert requests.post(f"{url}/integrations", json=document, headers=admin, timeout=30).json()["errors"][0]["field"] == "file.pattern"
        document["file"] = {}
        assert requests.post(f"{url}/integrations", json=document, headers=admin, timeout=30).status_code == 201
        patched = requests.patch(f"{url}/integrations/erp_files", json={"file": {"folder": "/etc"}}, headers=admin, timeout=30)
        assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == "file.folder"
    assert get_integration(sqlite_store, "erp_files").config.file.folder is None


def test_a_folder_in_the_home_of_no_user_is_refused_with_a_reason_not_a_server_error(sqlite_store):
    """`~name/…` expands to that user's home; a user this machine does not know made pathlib raise
    RuntimeError, which the admin API answered with a 500 (found by the stateful fuzz)."""
    assert _refusal(folder="~no_such_user_here/exports")["file.folder"] == (
        "'~no_such_user_here/exports' starts with '~no_such_user_here', but there is no user 'no_such_user_here' "
        "to expand it to: give a folder relative to the drops root, or an absolute one"
    )
    admin = {"Authorization": f"Bearer {settings.admin_token()}"}
    document = {"name": "erp_files", "type": "file", "file": {"folder": "~;z"}}
    with running(sqlite_store) as url:
        created = requests.post(f"{url}/integrations", json=document, headers=admin, timeout=30)
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["field"] == "file.folder"


def test_the_cli_refuses_a_folder_outside_the_root_with_exit_2(tmp_path):
    path = tmp_path / "erp.json"
    path.write_text(json.dumps({"name": "erp_files", "type": "file", "file": {"folder": "/etc", "pattern": "../elsewhere/victim.csv"}}))
    result = subprocess.run(
        [sys.executable, "-m", "crossdock", "integrations", "add", "--file", str(path)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert f"file.folder: '/etc' is outside the drops root {_root()}" in result.stderr
    assert "file.pattern: '../elsewhere/victim.csv' is not a file-name pattern" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_drop_folder_crossdock_up_seeds_lands_under_the_default_root(sqlite_store):
    from crossdock.demo_pull import FILE_NAME, seed_pull_demo

    seed_pull_demo(sqlite_store, "http://127.0.0.1:9", settings.home())  # as `crossdock up` calls it
    stored = get_integration(sqlite_store, FILE_NAME)
    assert drop_folder(stored) == _root() / FILE_NAME
    assert pull_files(sqlite_store, stored).counts["created"] == 3


def test_the_admin_app_shows_the_folder_a_pull_reads_under_the_root(app_store):
    from tests.apptest import markdown_text, open_page

    create_integration(app_store, _config(folder="erp/exports"))
    at = open_page("integrations")
    assert not at.exception
    assert f"dropped in `{_root() / 'erp' / 'exports'}`" in markdown_text(at)
