"""`crossdock pull` as a person runs it: real subprocesses, a real loopback API, the seed's JSON."""

from __future__ import annotations

import json

from tests.conftest import load_example
from tests.fake_client_api import ClientApi, seed_orders, serve_client_api
from tests.test_cli_integrations import crossdock


def _add_seed_integration(tmp_path, base_url: str, **changes) -> None:
    document = load_example("api_polling_integration.json")
    document.update({"endpoint": f"{base_url}/orders?status=pending", **changes})
    path = tmp_path / "clientexyz.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert crossdock("integrations", "add", "--file", str(path)).returncode == 0


def test_pull_then_again_unchanged_then_a_window(tmp_path):
    api = ClientApi(seed_orders(6), style="page")
    with serve_client_api(api) as url:
        _add_seed_integration(
            tmp_path,
            url,
            api={"pagination": "page", "records_path": "data", "window_start_param": "updated_since", "window_end_param": "updated_until"},
        )
        first = crossdock("pull", "ClienteXYZ")
        again = crossdock("pull", "ClienteXYZ", "--json")
        window = crossdock("pull", "ClienteXYZ", "--since", "2024-01-15")
    assert first.returncode == 0, first.stderr
    assert "ClienteXYZ (api, incremental): 6 received, 6 created" in first.stdout
    assert json.loads(again.stdout)["unchanged"] == 6
    assert window.returncode == 0 and "window [2024-01-15T00:00:00Z, 2024-01-16T00:00:00Z)" in window.stdout
    assert api.requests[-1]["query"]["updated_until"] == "2024-01-16T00:00:00Z"


def test_pull_failures_and_bad_input_are_clear(tmp_path):
    api = ClientApi(seed_orders(2), auth=("bearer", "rotated"))
    with serve_client_api(api) as url:
        _add_seed_integration(tmp_path, url)
        refused = crossdock("pull", "ClienteXYZ")
    assert refused.returncode == 1 and "HTTP 401" in refused.stderr and "Traceback" not in refused.stderr
    unknown = crossdock("pull", "nadie")
    assert unknown.returncode == 2 and "no integration named 'nadie'" in unknown.stderr
    bad_date = crossdock("pull", "ClienteXYZ", "--since", "ayer")
    assert bad_date.returncode == 2 and "is not a date" in bad_date.stderr
    assert "Traceback" not in unknown.stderr + bad_date.stderr
