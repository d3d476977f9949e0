"""The client's status page shows its own integration's deliveries, rejected records and callback
attempts, nothing of any other integration, and a guessed or revoked link is a 404 like any other."""

from __future__ import annotations

import requests
import sqlalchemy as sa

from connectors.callback_sender import CallbackSender
from pipelines.guide import status_url
from pipelines.onboarding.client_status import new_status_token, revoke_status_token
from pipelines.orders.status import change_status
from pipelines.store.schema import orders
from tests.callback_sink import CallbackSink
from tests.receiver_helpers import integration, running

KEY = {"X-API-Key": "secreto_compartido"}
JSON = {"Accept": "application/json"}


def _order_id(engine: sa.Engine, external_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(orders.c.id).where(orders.c.external_id == external_id)).scalar_one()


def test_the_status_page_shows_its_own_integration_and_nothing_else(store):
    sink = CallbackSink()
    with sink.serve() as callback_url:
        mine = integration(store, "cliente_abc", callback_url=callback_url, callback_events=["assigned"])
        other = integration(store, "cliente_xyz", auth_value="otro_secreto", callback_url=callback_url, callback_events=["assigned"])
        _, token = new_status_token(store, mine.name)
        _, other_token = new_status_token(store, other.name)
        with running(store, cache_ttl=0) as url:
            requests.post(
                f"{url}/webhook/cliente_abc",
                headers=KEY,
                timeout=10,
                json=[
                    {"external_id": "ABC-1", "client_name": "Ana", "address": "Zona 1"},
                    {"external_id": "ABC-2", "client_name": "Sin Dirección"},
                ],
            )
            requests.post(f"{url}/webhook/cliente_abc", headers={"X-API-Key": "wrong"}, json={}, timeout=10)
            requests.post(
                f"{url}/webhook/cliente_xyz",
                headers={"X-API-Key": "otro_secreto"},
                timeout=10,
                json=[
                    {"external_id": "XYZ-SECRET", "client_name": "Otro Cliente", "address": "Zona 9"},
                    {"external_id": "XYZ-BROKEN", "client_name": "Otro Sin Dirección"},
                ],
            )
            for external_id in ("ABC-1", "XYZ-SECRET"):
                change_status(store, _order_id(store, external_id), "assigned", actor="test")
            with CallbackSender(store, workers=1) as sender:
                sender.deliver_due()
            page = requests.get(status_url(mine.name, token, base=url), headers=JSON, timeout=10)
            html = requests.get(status_url(mine.name, token, base=url), timeout=10)
            guessed = [
                requests.get(status_url(name, guess, base=url), timeout=10)
                for name, guess in [
                    (mine.name, token[:-1] + ("A" if token[-1] != "A" else "B")),
                    (mine.name, other_token),
                    ("nobody", token),
                    (mine.name, "x"),
                ]
            ]
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    status = page.json()
    assert [d["answer"] for d in status["deliveries"]] == [401, 200]
    assert "2 received, 1 created" in status["deliveries"][1]["result"]
    assert "X-API-Key is not valid" in status["deliveries"][0]["result"]
    [rejected] = status["rejected_records"]
    assert rejected["external_id"] == "ABC-2" and "address" in rejected["reasons"]
    [callback] = status["callbacks"]
    assert (callback["external_id"], callback["event"], callback["answer"], callback["outcome"]) == ("ABC-1", "assigned", 200, "ok")
    for shown in (page.text, html.text):
        assert "XYZ" not in shown and "Otro" not in shown  # nothing of the other integration
    assert html.status_code == 200 and "ABC-2" in html.text and html.headers["content-type"].startswith("text/html")
    assert token not in html.text  # the page does not repeat its own secret
    assert {g.status_code for g in guessed} == {404}
    assert len({g.text for g in guessed}) == 1  # a wrong token and an unknown name answer alike


def test_a_replaced_or_revoked_link_stops_working(sqlite_store):
    mine = integration(sqlite_store)
    _, first = new_status_token(sqlite_store, mine.name)
    with running(sqlite_store, cache_ttl=0) as url:
        assert requests.get(status_url(mine.name, first, base=url), timeout=10).status_code == 200
        _, second = new_status_token(sqlite_store, mine.name)
        assert requests.get(status_url(mine.name, first, base=url), timeout=10).status_code == 404
        assert requests.get(status_url(mine.name, second, base=url), timeout=10).status_code == 200
        revoke_status_token(sqlite_store, mine.name)
        assert requests.get(status_url(mine.name, second, base=url), timeout=10).status_code == 404
