"""`crossdock integrations ...` as a person runs it: real subprocesses, real files, real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES


def crossdock(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crossdock", *args],
        capture_output=True,
        text=True,
        input=input,
        env=os.environ.copy(),
        timeout=60,
    )


def test_add_list_show_disable_delete(tmp_path):
    added = crossdock("integrations", "add", "--file", str(EXAMPLES / "api_polling_integration.json"))
    assert added.returncode == 0, added.stderr
    assert "created integration ClienteXYZ" in added.stdout

    listed = crossdock("integrations", "list")
    assert "ClienteXYZ" in listed.stdout and "active" in listed.stdout

    shown = crossdock("integrations", "show", "ClienteXYZ")
    config = json.loads(shown.stdout)
    assert config["endpoint"] == "https://api.clientexyz.com/orders?status=pending"
    assert "sk_live_xxxxx" not in shown.stdout and config["auth_value"] == "••••••••"

    assert crossdock("integrations", "disable", "ClienteXYZ").returncode == 0
    assert "disabled" in crossdock("integrations", "list").stdout
    assert crossdock("integrations", "delete", "ClienteXYZ", "--yes").returncode == 0
    assert "no integrations yet" in crossdock("integrations", "list").stdout


def test_yaml_files_are_accepted(tmp_path):
    path = tmp_path / "abc.yaml"
    path.write_text("name: cliente_abc\ntype: webhook\nauth_type: apikey\nauth_value: secreto_compartido\n")
    result = crossdock("integrations", "add", "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert "secreto_compartido" not in result.stdout + result.stderr


def test_invalid_files_say_which_field_and_why(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "has space", "type": "api", "poll_interval_seconds": 1}))
    result = crossdock("integrations", "add", "--file", str(bad))
    assert result.returncode == 2
    assert "name: String should match pattern" in result.stderr
    assert "poll_interval_seconds: Input should be greater than or equal to 10" in result.stderr
    assert "Traceback" not in result.stderr


def test_unusable_files_are_clear(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "type": }')
    result = crossdock("integrations", "add", "--file", str(broken))
    assert result.returncode == 2
    assert "invalid JSON at line 2, column 10" in result.stderr
    missing = crossdock("integrations", "add", "--file", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    listed = crossdock("integrations", "add", "--file", str(Path(__file__)))
    assert listed.returncode == 2 and "Traceback" not in listed.stderr


def test_duplicates_and_unknown_names(tmp_path):
    path = tmp_path / "abc.json"
    path.write_text(json.dumps({"name": "cliente_abc", "type": "webhook"}))
    assert crossdock("integrations", "add", "--file", str(path)).returncode == 0
    again = crossdock("integrations", "add", "--file", str(path))
    assert again.returncode == 1 and "already exists" in again.stderr
    unknown = crossdock("integrations", "show", "nobody")
    assert unknown.returncode == 1 and "no integration named 'nobody'" in unknown.stderr


def test_delete_archives_and_purge_refuses_to_discard_acknowledged_webhooks_without_force(tmp_path):
    from pipelines.integrations import get_integration
    from pipelines.store import connect
    from tests.inbox_rows import insert_pending

    path = tmp_path / "abc.json"
    path.write_text(json.dumps({"name": "cliente_abc", "type": "webhook"}))
    assert crossdock("integrations", "add", "--file", str(path)).returncode == 0
    insert_pending(connect(), get_integration(connect(), "cliente_abc").id, [{"external_id": "PED-9"}])
    archived = crossdock("integrations", "delete", "cliente_abc", "--yes")
    assert archived.returncode == 0 and "archived cliente_abc" in archived.stdout
    assert "1 acknowledged webhook(s) not yet processed" in archived.stdout
    assert "cliente_abc" in crossdock("integrations", "archived").stdout
    assert "cliente_abc" not in crossdock("integrations", "list").stdout
    again = crossdock("integrations", "add", "--file", str(path))
    assert again.returncode == 1 and "an archived integration has this name: restore or purge it first" in again.stderr
    assert crossdock("integrations", "restore", "cliente_abc").returncode == 0
    assert "cliente_abc" in crossdock("integrations", "list").stdout
    assert crossdock("integrations", "delete", "cliente_abc", "--yes").returncode == 0
    refused = crossdock("integrations", "purge", "cliente_abc", "--yes")
    assert refused.returncode == 1
    assert "1 acknowledged webhook(s) not yet processed" in refused.stderr and "--force" in refused.stderr
    forced = crossdock("integrations", "purge", "cliente_abc", "--yes", "--force")
    assert forced.returncode == 0 and "purged cliente_abc" in forced.stdout
    assert "no archived integrations" in crossdock("integrations", "archived").stdout
