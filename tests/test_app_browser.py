"""End to end in a real browser: `streamlit run app/main.py` as a subprocess, driven by headless Debian
Chromium through Playwright. A new user logs in, adds the seed's cliente_abc and gets its curl, maps
the seed's Shopify sample in the studio and sees the seed's record, finds a chart on the history page,
moves an order to assigned and replays a dead inbox payload.

Set CROSSDOCK_SCREENSHOTS=<folder> to keep a 1280x800 screenshot of each step there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, load_example
from tests.processes import free_port, stop
from tests.services import CHROMIUM_ARGS, UI_TIMEOUT_MS, require_chromium

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "e2e password"
STARTUP_SECONDS = 90

pytestmark = pytest.mark.browser


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll the app's health endpoint until it answers (bounded: it is a real external process)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"streamlit did not become healthy in {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture
def app_url(tmp_path, monkeypatch):
    require_chromium()
    home = tmp_path / "crossdock"
    port = free_port()
    # The test process shares the app's home (and so its secret key) to seed the store it reads.
    for name, value in {
        "CROSSDOCK_HOME": str(home),
        "CROSSDOCK_DATABASE_URL": f"sqlite:///{home / 'crossdock.db'}",
        "CROSSDOCK_APP_AUTH": "shared_password",
        "CROSSDOCK_ADMIN_PASSWORD": PASSWORD,
        "CROSSDOCK_PUBLIC_URL": "https://api.logitrack.app",
    }.items():
        monkeypatch.setenv(name, value)
    env = dict(os.environ)
    log = tmp_path / "streamlit.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app/main.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", process, log)
        yield f"http://127.0.0.1:{port}", env["CROSSDOCK_DATABASE_URL"]
    finally:
        stop(process, timeout=20)


def _choose(page, label: str, option: str) -> None:
    """Pick an option of a selectbox. A rerun that lands while the list is open closes it, so try again
    (a bounded retry against a real browser, not a wait for time to pass)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(5):
        page.get_by_role("combobox", name=label).click()
        try:
            page.get_by_role("option", name=option).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    pytest.fail(f"could not choose {option!r} in {label!r}")


def _seed_syncs(url: str) -> None:
    """A few sync runs for cliente_abc, through the one ingest every source uses."""
    from pipelines.ingest import ingest
    from pipelines.integrations import get_integration
    from pipelines.store.engine import make_engine

    engine = make_engine(url)
    integration = get_integration(engine, "cliente_abc")
    ingest(engine, integration, load_example("webhook_batch.json"), source_kind="webhook")
    ingest(engine, integration, [load_example("webhook_order.json"), {"external_id": "PED-404"}], source_kind="webhook")
    engine.dispose()


def _seed_dead_letter(url: str) -> int:
    """A payload the inbox processor dead-letters (its body is not JSON), the way it really happens."""
    from pipelines.inbox.processing import process_batch
    from pipelines.integrations import get_integration
    from pipelines.store.engine import make_engine
    from tests.inbox_rows import insert_pending

    engine = make_engine(url)
    inbox_id = insert_pending(engine, get_integration(engine, "cliente_abc").id, b'{"external_id": "PED-500", ')
    process_batch(engine)
    engine.dispose()
    return inbox_id


def _store_state(url: str, inbox_id: int) -> tuple[list[tuple[str, str]], str]:
    """(PED-001's status history as (to, actor), the inbox row's status), read from the app's store."""
    import sqlalchemy as sa

    from pipelines.orders.history import status_history
    from pipelines.store.engine import make_engine
    from pipelines.store.schema import inbox, orders

    engine = make_engine(url)
    with engine.connect() as conn:
        order_id = conn.execute(sa.select(orders.c.id).where(orders.c.external_id == "PED-001")).scalar_one()
        status = conn.execute(sa.select(inbox.c.status).where(inbox.c.id == inbox_id)).scalar_one()
    history = [(h.to_status, h.actor) for h in status_history(engine, order_id)]
    engine.dispose()
    return history, status


def _tick_first_row(page, table) -> None:
    """Tick the first row of a table (drawn on a canvas: its selection box is the first cell)."""
    box = table.bounding_box()
    header = row = 35  # Streamlit's default row height, header included
    page.mouse.click(box["x"] + 18, box["y"] + header + row / 2)


def test_new_user_walkthrough(app_url):
    from playwright.sync_api import expect, sync_playwright

    base, store_url = app_url
    shots = os.environ.get("CROSSDOCK_SCREENSHOTS")

    def shot(page, name: str) -> None:
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / f"{name}.png"))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        try:
            page.goto(base)
            page.get_by_label("Password", exact=True).fill("wrong")
            page.keyboard.press("Enter")
            expect(page.get_by_text("Wrong password.")).to_be_visible()
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
            expect(page.get_by_text("No integrations yet")).to_be_visible()
            shot(page, "1-dashboard-empty")

            # Add the seed's cliente_abc: webhook, apikey secreto_compartido.
            page.get_by_test_id("stSidebarNav").get_by_text("Integrations", exact=True).click()
            expect(page.get_by_role("heading", name="Integrations")).to_be_visible()
            page.get_by_label("Name", exact=True).fill("cliente_abc")
            page.keyboard.press("Enter")
            _choose(page, "Auth type", "API key (X-API-Key header)")
            secret = page.get_by_label("Secret", exact=True)
            secret.fill("secreto_compartido")
            secret.press("Enter")
            expect(page.get_by_test_id("stJson").first).to_contain_text("apikey")  # the live preview is valid
            page.get_by_role("button", name="Create integration").click()
            curl = page.get_by_test_id("stCode").filter(has_text="curl -sS -X POST")
            expect(curl).to_contain_text("https://api.logitrack.app/webhook/cliente_abc")
            expect(curl).to_contain_text("X-API-Key: secreto_compartido")
            shot(page, "2-integration-created")

            # The mapping studio: the seed's Shopify sample and mapping give the seed's record.
            page.get_by_test_id("stSidebarNav").get_by_text("Mapping studio", exact=True).click()
            expect(page.get_by_role("heading", name="Mapping studio")).to_be_visible()
            sample = page.get_by_label("Sample payload: a JSON object, a JSON array, or JSON Lines")
            sample.fill((EXAMPLES / "shopify_order.json").read_text())
            sample.press("Control+Enter")
            page.get_by_text("Paste a whole mapping (JSON)").click()
            mapping = page.get_by_test_id("stTextArea").filter(has_text="Mapping JSON").locator("textarea")
            mapping.fill((EXAMPLES / "shopify_mapping.json").read_text())
            mapping.press("Control+Enter")
            page.get_by_role("button", name="Replace the table with this mapping").click()
            expect(page.get_by_text("Valid order: ingest would store it as shown below.")).to_be_visible()
            record = page.get_by_test_id("stJson").last
            for value in load_example("shopify_expected.json").values():
                expect(record).to_contain_text(json.dumps(value, ensure_ascii=False))
            shot(page, "3-studio-seed-record")

            # Sync history: a chart once there are syncs.
            _seed_syncs(store_url)
            page.get_by_test_id("stSidebarNav").get_by_text("Sync history", exact=True).click()
            expect(page.get_by_role("heading", name="Records over time")).to_be_visible()
            chart = page.get_by_test_id("stVegaLiteChart").first
            expect(chart).to_be_visible()
            expect(chart.locator("canvas, svg").first).to_be_visible()
            box = chart.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 200
            shot(page, "4-history-chart")

            page.get_by_test_id("stSidebarNav").get_by_text("Dashboard", exact=True).click()
            # Tables are drawn on a canvas; the red "needs a person" box is text.
            expect(page.get_by_text("last sync rejected 1 record: client_name: required field is missing")).to_be_visible()
            shot(page, "5-dashboard")

            # Orders: open PED-001 and move it to assigned; the history records who did it.
            page.get_by_test_id("stSidebarNav").get_by_text("Orders", exact=True).click()
            page.get_by_label("External id contains").fill("PED-001")
            page.keyboard.press("Enter")
            expect(page.get_by_text("1 order(s).")).to_be_visible()
            _tick_first_row(page, page.get_by_test_id("stDataFrame").first)
            page.get_by_role("button", name="Mark as assigned").click()
            expect(page.get_by_text("Pending → Assigned. No callback queued")).to_be_visible()
            shot(page, "6-order-assigned")

            # Dead letters: tick the dead payload and replay it.
            inbox_id = _seed_dead_letter(store_url)
            page.get_by_test_id("stSidebarNav").get_by_text("Dead letters", exact=True).click()
            replay = page.get_by_role("button", name="Replay selected (1)")
            expect(page.get_by_role("button", name="Replay selected (0)")).to_be_visible()
            _tick_first_row(page, page.get_by_test_id("stDataFrame").first)
            replay.click()
            expect(page.get_by_text(f"Replayed 1 inbox payload(s): #{inbox_id}.")).to_be_visible()
            shot(page, "7-dead-letter-replayed")
            assert page.get_by_test_id("stException").count() == 0

            # A reload keeps the log-in (signed cookie); logging out ends it, reload or not.
            page.reload()
            expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()  # same page, still logged in
            page.get_by_role("button", name="Log out").click()
            expect(page.get_by_label("Password", exact=True)).to_be_visible()
            page.reload()
            expect(page.get_by_label("Password", exact=True)).to_be_visible()
        finally:
            browser.close()
    history, inbox_status = _store_state(store_url, inbox_id)
    assert [to for to, _ in history] == ["assigned"] and history[0][1].startswith("streamlit")
    assert inbox_status == "pending"
