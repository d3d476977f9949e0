"""The mapping studio as an analyst uses it (AppTest): the seed's Shopify sample and mapping give the
seed's Logitrack record; a broken path turns the field red with its reason; a backtest counts; a save
that would reject records landing today waits for an explicit confirmation."""

from __future__ import annotations

import json

import sqlalchemy as sa

from pipelines.ingest import ingest
from pipelines.integrations import WebhookIntegration, create_integration, get_integration, list_mapping_versions
from pipelines.store.schema import orders
from tests.apptest import open_page, texts
from tests.conftest import EXAMPLES, load_example

SHOPIFY_MAPPING = load_example("shopify_mapping.json")["field_mapping"]


def _studio_with_seed(store, mapping=None):
    create_integration(store, WebhookIntegration(name="shopify_store", field_mapping=mapping or {}))
    at = open_page("studio")
    at.text_area(key="studio.paste.shopify_store").input((EXAMPLES / "shopify_order.json").read_text()).run()
    return at


def _import_mapping(at, mapping):
    at.text_area(key="studio.import.shopify_store").input(json.dumps({"field_mapping": mapping}))
    at.button(key="studio.import.go.shopify_store").click().run()
    return at


def _edit_row(at, row: int, expression: str):
    """Type into the mapping table's expression cell, as the browser's grid would report it."""
    key = next(k for k in at.session_state if k.startswith("studio.editor.shopify_store."))
    at.session_state[key] = {"edited_rows": {row: {"expression": expression}}, "added_rows": [], "deleted_rows": []}
    return at.run()


def _preview_table(at):
    """The preview's table: Field, Expression, Value, Result."""
    table = next(d.value for d in at.dataframe if "Result" in d.value.columns)
    return table.set_index("Field")


def test_seed_shopify_sample_and_mapping_show_the_seed_record(app_store):
    at = _import_mapping(_studio_with_seed(app_store), SHOPIFY_MAPPING)
    assert not at.exception
    mapped = json.loads(at.json[-1].value)
    assert mapped == load_example("shopify_expected.json")
    table = _preview_table(at)
    assert table.loc["external_id *", "Value"] == "shopify-5678"
    assert table.loc["address *", "Value"] == "5ta Avenida 10-20, Guatemala 01010"
    assert set(table["Result"]) == {"✓"}
    assert any("Valid order" in s for s in texts(at.success))


def test_a_broken_path_marks_the_field_with_its_reason(app_store):
    at = _import_mapping(_studio_with_seed(app_store), SHOPIFY_MAPPING)
    at = _edit_row(at, 0, "format('shopify-{}', idd)")
    table = _preview_table(at)
    assert table.loc["external_id *", "Result"] == ("✗ required field is missing (format('shopify-{}', idd) gave no value)")
    assert table.loc["client_name *", "Result"] == "✓"
    assert any("would be rejected" in e and "external_id" in e for e in texts(at.error))
    assert at.button(key="studio.save.shopify_store").disabled is False  # a rejected sample may still be saved


def test_a_mapping_that_does_not_compile_shows_where(app_store):
    at = _import_mapping(_studio_with_seed(app_store), SHOPIFY_MAPPING)
    at = _edit_row(at, 1, "join_nonempty(' ', [customer.first_name customer.last_name])")
    assert any("client_name** does not compile" in e for e in texts(at.error))
    carets = [c.value for c in at.code if c.value.endswith("^")]
    assert carets, "the expression is shown with a caret under the mistake"
    expression, pointer = carets[0].split("\n")
    assert expression[len(pointer) - 1] == "c"  # the caret sits under the unexpected second path
    assert "does not compile" in _preview_table(at).loc["client_name *", "Result"]
    assert _preview_table(at).loc["external_id *", "Value"] == "shopify-5678"  # the rest still previews
    assert at.button(key="studio.save.shopify_store").disabled


def test_picking_a_source_path_maps_the_field(app_store):
    at = _studio_with_seed(app_store)
    options = at.selectbox(key="studio.pick.path.shopify_store").options
    assert "shipping_address.city   = Guatemala" in options  # each path offered with its value
    at.selectbox(key="studio.pick.path.shopify_store").set_value("shipping_address.city")
    at.selectbox(key="studio.pick.field.shopify_store").set_value("branch").run()
    at.button(key="studio.pick.go.shopify_store").click().run()
    assert _preview_table(at).loc["branch", "Value"] == "Guatemala"


def test_save_versions_diff_and_rollback(app_store):
    at = _import_mapping(_studio_with_seed(app_store), SHOPIFY_MAPPING)
    at.text_input(key="studio.note.shopify_store").input("seed mapping").run()
    at.button(key="studio.save.shopify_store").click().run()
    assert not at.exception
    stored = get_integration(app_store, "shopify_store")
    assert stored.mapping_version == 2 and stored.config.field_mapping == SHOPIFY_MAPPING
    at = _edit_row(at, 3, "'norte'")
    diff = next(d.value for d in at.dataframe if "Change" in d.value.columns)
    assert diff.to_dict("records") == [
        {"Field": "branch", "Change": "changed", "version 2": "'central'", "the table being edited": "'norte'"}
    ]
    at.selectbox(key="studio.rollback.shopify_store").set_value(1)
    at.checkbox(key="studio.rollback.sure.shopify_store").check().run()
    at.button(key="studio.rollback.go.shopify_store").click().run()
    assert not at.exception
    versions = list_mapping_versions(app_store, "shopify_store")
    assert [v.version for v in versions] == [3, 2, 1]
    assert versions[0].active and versions[0].field_mapping == {}
    assert versions[0].note == "rollback to version 1"


def test_backtest_counts_pass_fail_changed(app_store):
    integration = create_integration(app_store, WebhookIntegration(name="shopify_store", field_mapping=SHOPIFY_MAPPING))
    good = [dict(load_example("shopify_order.json"), id=i) for i in range(8)]
    no_city = [{"id": 100 + i, "customer": {"first_name": "Ana"}} for i in range(2)]  # no address at all
    ingest(app_store, integration, good + no_city, source_kind="webhook")
    at = open_page("studio")
    at.button(key="studio.bt.go.shopify_store").click().run()
    values = {m.label: m.value for m in at.metric}
    assert values == {"Would pass": "8", "Would fail": "2", "Would change": "0"}
    # A mapping that also accepts the customer's name as the address fixes the two and changes only them.
    fixed = dict(SHOPIFY_MAPPING, address="coalesce(shipping_address.address1, customer.first_name)")
    at = _import_mapping(at, fixed)
    at.button(key="studio.bt.go.shopify_store").click().run()
    values = {m.label: m.value for m in at.metric}
    assert values == {"Would pass": "10", "Would fail": "0", "Would change": "10"}
    with app_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 8  # nothing written


def test_upload_json_lines_sample(app_store):
    create_integration(app_store, WebhookIntegration(name="shopify_store", field_mapping=SHOPIFY_MAPPING))
    at = open_page("studio")
    at.segmented_control(key="studio.sample_source").set_value("Upload").run()
    lines = "\n".join(json.dumps(dict(load_example("shopify_order.json"), id=i)) for i in (1, 2, 3))
    at.file_uploader(key="studio.upload.shopify_store").set_value(("orders.jsonl", lines.encode(), "text/plain")).run()
    assert not at.exception
    assert any("3 of 3 sample record(s) would land" in m for m in texts(at.markdown))
    at.segmented_control(key="studio.sample_source").set_value("Stored records").run()
    assert any("Nothing from shopify_store" in i for i in texts(at.info))


def test_an_unreadable_sample_says_where(app_store):
    create_integration(app_store, WebhookIntegration(name="shopify_store"))
    at = open_page("studio")
    at.text_area(key="studio.paste.shopify_store").input('{"id": 1,\n "name": }').run()
    assert texts(at.error) == ["The sample cannot be read: invalid JSON at line 2, column 10: Expecting value"]
    assert not at.exception


def _studio_with_traffic(store, records):
    """shopify_store with the seed's Shopify mapping active and `records` already ingested (stored payloads)."""
    integration = create_integration(store, WebhookIntegration(name="shopify_store", field_mapping=SHOPIFY_MAPPING))
    ingest(store, integration, records, source_kind="webhook")
    return open_page("studio")


def test_a_save_that_would_reject_todays_records_needs_a_confirmation(app_store):
    good = [dict(load_example("shopify_order.json"), id=i) for i in range(6)]
    at = _studio_with_traffic(app_store, good)
    # The client sends first_name/last_name, not name: every order that lands today would be rejected.
    breaking = dict(SHOPIFY_MAPPING, client_name="customer.name")
    at = _import_mapping(at, breaking)
    at.button(key="studio.save.shopify_store").click().run()
    assert not at.exception
    assert get_integration(app_store, "shopify_store").mapping_version == 1, "one click must not save it"
    (warning,) = [w for w in texts(at.warning) if "Not saved yet" in w]
    assert "would reject 6 of the 6 stored payloads" in warning
    examples = next(d.value for d in at.dataframe if "Why it would be rejected" in d.value.columns)
    assert len(examples) == 3
    assert set(examples["Why it would be rejected"]) == {"client_name: required field is missing (customer.name gave no value)"}
    assert at.button(key="studio.save.anyway.shopify_store").disabled

    at.checkbox(key="studio.save.sure.shopify_store.1").check().run()
    assert not at.button(key="studio.save.anyway.shopify_store").disabled
    at.button(key="studio.save.anyway.shopify_store").click().run()
    assert not at.exception
    stored = get_integration(app_store, "shopify_store")
    assert stored.mapping_version == 2 and stored.config.field_mapping == breaking
    assert not [w for w in texts(at.warning) if "Not saved yet" in w]


def test_the_warning_goes_when_the_table_changes_and_a_harmless_change_saves_in_one_click(app_store):
    at = _studio_with_traffic(app_store, [dict(load_example("shopify_order.json"), id=i) for i in range(3)])
    at = _import_mapping(at, dict(SHOPIFY_MAPPING, address="shipping_address.street"))
    at.button(key="studio.save.shopify_store").click().run()
    assert any("would reject 3 of the 3" in w for w in texts(at.warning))
    # The analyst fixes the table instead: the old warning no longer applies, and the save needs no confirmation.
    at = _import_mapping(at, dict(SHOPIFY_MAPPING, branch="'norte'"))
    assert not [w for w in texts(at.warning) if "Not saved yet" in w]
    at.button(key="studio.save.shopify_store").click().run()
    assert not at.exception
    stored = get_integration(app_store, "shopify_store")
    assert stored.mapping_version == 2 and stored.config.field_mapping["branch"] == "'norte'"


def test_the_preview_shows_values_as_ingest_stores_them(app_store):
    create_integration(app_store, WebhookIntegration(name="shopify_store"))
    at = open_page("studio")
    sample = {"id": 7, "name": "Ana", "address": "Zona 1", "lat": "14.59", "when": "15/01/2024 14:00"}
    at.text_area(key="studio.paste.shopify_store").input(json.dumps(sample)).run()
    at = _import_mapping(
        at,
        {
            "external_id": "id",
            "client_name": "name",
            "address": "address",
            "latitude": "lat",
            "scheduled_time": "to_datetime(when, '%d/%m/%Y %H:%M', 'America/Guatemala')",
        },
    )
    assert not at.exception
    shown = json.loads(at.json[-1].value)
    assert shown == {
        "external_id": "7",
        "client_name": "Ana",
        "address": "Zona 1",
        "latitude": 14.59,
        "scheduled_time": "2024-01-15T20:00:00Z",
    }
