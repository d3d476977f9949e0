"""`crossdock orders ...` and `crossdock callbacks ...` as an operator runs them: real subprocesses,
the real store, a real callback endpoint on loopback."""

from __future__ import annotations

import json

from pipelines.integrations import get_integration
from pipelines.store import connect
from tests.callback_helpers import make_integration
from tests.callback_sink import CallbackSink, Reply
from tests.test_cli_integrations import crossdock


def test_set_status_show_list_and_deliver():
    sink = CallbackSink()
    with sink.serve() as url:
        _, ids = make_integration(connect(), url)
        order = str(ids["PED-001"])
        assigned = crossdock("orders", "set-status", order, "assigned", "--actor", "cli:ana")
        assert assigned.returncode == 0, assigned.stderr
        assert f"order {order} (PED-001): pending -> assigned" in assigned.stdout
        assert "callback queued: id 1, webhook-id msg_" in assigned.stdout
        assert crossdock("orders", "set-status", order, "in_route", "--eta", "2024-01-15T15:00:00Z").returncode == 0
        done = crossdock(
            "orders",
            "set-status",
            order,
            "delivered",
            "--delivered-at",
            "2024-01-15T15:28:00Z",
            "--signature-url",
            "https://x.test/s.png",
            "--photo-url",
            "https://x.test/p.jpg",
        )
        assert done.returncode == 0, done.stderr

        listed = crossdock("callbacks", "list", "--integration", "cliente_abc", "--status", "pending")
        assert listed.returncode == 0 and listed.stdout.count(" pending ") == 3

        delivered = crossdock("callbacks", "deliver")
        assert delivered.returncode == 0, delivered.stderr
        assert "3 delivered" in delivered.stdout and "cliente_abc: 3 delivered" in delivered.stdout

    assert [r.payload["event"] for r in sink.answered_ok()] == ["assigned", "in_route", "delivered"]
    shown = crossdock("orders", "show", order)
    assert shown.returncode == 0
    assert "order 1 (PED-001) of cliente_abc: delivered" in shown.stdout
    assert "pending -> assigned  by cli:ana" in shown.stdout
    assert "in_route -> delivered" in shown.stdout and '"photo_url": "https://x.test/p.jpg"' in shown.stdout
    assert shown.stdout.count("HTTP 200") == 3
    as_json = json.loads(crossdock("orders", "show", order, "--json").stdout)
    assert [c["status"] for c in as_json["callbacks"]] == ["delivered"] * 3
    assert as_json["callbacks"][2]["payload"]["order"]["delivered_at"] == "2024-01-15T15:28:00Z"


def test_refusals_are_clear_with_exit_codes():
    _, ids = make_integration(connect(), "https://api.cliente.com/logitrack/updates")
    order = str(ids["PED-001"])
    illegal = crossdock("orders", "set-status", order, "delivered", "--photo-url", "https://x.test/p.jpg")
    assert illegal.returncode == 1
    assert illegal.stderr.strip() == (
        f"error: order {order}: cannot go from pending to delivered (from pending the next status is assigned or cancelled)"
    )
    unknown_order = crossdock("orders", "set-status", "999", "assigned")
    assert (unknown_order.returncode, unknown_order.stderr.strip()) == (1, "error: no order with internal id 999")
    bad_status = crossdock("orders", "set-status", order, "lost")
    assert bad_status.returncode == 2 and "unknown status 'lost'" in bad_status.stderr
    bad_date = crossdock("orders", "set-status", order, "in_route", "--eta", "tomorrow")
    assert bad_date.returncode == 2 and "--eta: not an ISO 8601 date-time: 'tomorrow'" in bad_date.stderr
    no_eta = crossdock("orders", "set-status", order, "assigned")
    assert no_eta.returncode == 0
    missing = crossdock("orders", "set-status", order, "in_route")
    assert missing.returncode == 1 and "in_route needs an ETA" in missing.stderr
    assert crossdock("orders", "show", "999").returncode == 1

    both = crossdock("callbacks", "replay", "--id", "1", "--integration", "cliente_abc")
    assert both.returncode == 2 and "give either --id N or --integration NAME" in both.stderr
    pending = crossdock("callbacks", "replay", "--id", "1")
    assert pending.returncode == 1 and "callback 1 is already queued" in pending.stderr
    assert crossdock("callbacks", "replay", "--id", "77").stderr.strip() == "error: no callback with id 77"
    nobody = crossdock("callbacks", "replay", "--integration", "nobody")
    assert nobody.returncode == 1 and "no integration named 'nobody'" in nobody.stderr
    bad_since = crossdock("callbacks", "replay", "--integration", "cliente_abc", "--since", "ayer")
    assert bad_since.returncode == 2 and "--since: not an ISO 8601 date-time" in bad_since.stderr
    assert crossdock("callbacks", "list", "--status", "lost").returncode == 2
    for result in (illegal, unknown_order, bad_status, bad_date, both, bad_since):
        assert "Traceback" not in result.stderr


def test_a_410_is_visible_and_resumable_from_the_cli():
    sink = CallbackSink()
    sink.plan(Reply(410))
    with sink.serve() as url:
        _, ids = make_integration(connect(), url)
        assert crossdock("orders", "set-status", str(ids["PED-001"]), "assigned").returncode == 0
        assert "1 stopped by 410" in crossdock("callbacks", "deliver").stdout
        listed = crossdock("callbacks", "list")
        assert "callbacks to cliente_abc are STOPPED: 410 Gone from the callback endpoint at" in listed.stdout
        assert " disabled " in listed.stdout
        shown = json.loads(crossdock("integrations", "show", "cliente_abc").stdout)
        assert shown["callbacks_disabled_reason"].startswith("410 Gone from the callback endpoint at ")
        assert "whsec_" not in json.dumps(shown)  # the signing secret stays masked

        resumed = crossdock("callbacks", "resume", "cliente_abc")
        assert resumed.returncode == 0 and "1 stopped callback(s) re-queued" in resumed.stdout
        assert get_integration(connect(), "cliente_abc").callbacks_disabled_reason is None
        assert "1 delivered" in crossdock("callbacks", "deliver").stdout
    assert len(sink.answered_ok()) == 1
