"""The integration form's pagination (AppTest): a style is chosen from a list, and only that style's
settings are shown, flat beside it as the configuration is written; switching style on edit starts the
new style from its defaults and keeps the settings every style shares; a wrong value is marked on its field."""

from __future__ import annotations

from pipelines.integrations import ApiIntegration, create_integration, get_integration
from pipelines.integrations.api_settings import CursorPagination, PagePagination
from tests.apptest import markdown_text, open_page


def _labels(at) -> list[str]:
    return [w.label for w in list(at.text_input) + list(at.number_input) + list(at.selectbox)]


def test_create_an_api_integration_with_page_pagination(app_store):
    at = open_page("integrations")
    at.radio(key="intg.new.type").set_value("api").run()
    at.text_input(key="intg.new.api.name").input("ClienteXYZ").run()
    at.text_input(key="intg.new.api.endpoint").input("https://api.clientexyz.com/orders?status=pending").run()
    assert at.selectbox(key="intg.new.api.api.pagination").value == "none"
    assert "Page param" not in _labels(at) and "Offset param" not in _labels(at)

    at.selectbox(key="intg.new.api.api.pagination").set_value("page").run()
    assert at.text_input(key="intg.new.api.api.page_param").value == "page"  # the style's defaults
    assert "Offset param" not in _labels(at)
    at.text_input(key="intg.new.api.api.page_param").input("pagina").run()
    at.number_input(key="intg.new.api.api.page_size").set_value(50).run()
    at.number_input(key="intg.new.api.api.first_page").set_value(3).run()
    assert "**api.first_page**: Input should be less than or equal to 1" in markdown_text(at)
    at.number_input(key="intg.new.api.api.first_page").set_value(0).run()
    at.text_input(key="intg.new.api.api.records_path").input("data").run()
    at.button(key="intg.new.api.create").click().run()
    assert not at.exception

    api = get_integration(app_store, "ClienteXYZ").config.api
    assert api.pagination == PagePagination(page_param="pagina", first_page=0)
    assert (api.page_size, api.records_path) == (50, "data")


def test_switch_style_when_editing(app_store):
    stored = create_integration(
        app_store,
        ApiIntegration(
            name="ClienteXYZ",
            endpoint="https://api.clientexyz.com/orders",
            api={"pagination": "page", "page_param": "pagina", "page_size": 50, "records_path": "data"},
        ),
    )
    at = open_page("integrations")
    prefix = f"intg.edit.{stored.id}"
    assert at.selectbox(key=f"{prefix}.api.pagination").value == "page"
    assert at.text_input(key=f"{prefix}.api.page_param").value == "pagina"

    at.selectbox(key=f"{prefix}.api.pagination").set_value("cursor").run()
    assert at.text_input(key=f"{prefix}.api.cursor_request_param").value == "cursor"
    at.text_input(key=f"{prefix}.api.next_cursor_path").input("meta.next_cursor").run()
    at.button(key=f"{prefix}.save").click().run()
    assert not at.exception

    api = get_integration(app_store, "ClienteXYZ").config.api
    assert api.pagination == CursorPagination(next_cursor_path="meta.next_cursor")
    assert (api.page_size, api.records_path) == (50, "data")
