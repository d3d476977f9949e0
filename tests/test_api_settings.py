"""`api` settings: pagination is a union keyed on its style, yet configurations written flat, as the
README documents and stores hold them, read as before; a dump is that flat shape and validates again to
the same settings; problems are named where the person wrote them; PATCHes merge as they always did."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crossdock.demo_pull import DEMO_API_SETTINGS
from pipelines.errors import describe, validation_issues
from pipelines.integrations import create_integration, get_integration, masked_config, parse_integration, update_integration
from pipelines.integrations.api_settings import (
    ApiSettings,
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    NoPagination,
    OffsetPagination,
    PagePagination,
)
from tests.conftest import load_example

# `api` exactly as a store written before the union holds it: every key of every style, with defaults.
STORED_BEFORE_THE_UNION = {
    "apikey_header": "X-API-Key",
    "pagination": "page",
    "records_path": "data",
    "page_size": 50,
    "offset_param": "offset",
    "limit_param": "limit",
    "page_param": "page",
    "page_size_param": "per_page",
    "first_page": 1,
    "next_cursor_path": "next_cursor",
    "cursor_request_param": "cursor",
    "next_url_path": "next",
    "max_pages": 10000,
    "cursor_field": "updated_at",
    "cursor_param": "updated_since",
    "cursor_start": None,
    "window_start_param": "updated_since",
    "window_end_param": "updated_until",
    "window_format": "iso",
    "timeout_seconds": 30.0,
    "max_retries": 5,
    "backoff_seconds": 1.0,
    "max_backoff_seconds": 60.0,
    "ingest_batch_size": 10000,
}

FLAT_CONFIGS = [
    ({}, NoPagination()),
    ({"pagination": "offset", "records_path": "data"}, OffsetPagination()),
    ({"pagination": "offset", "offset_param": "skip", "limit_param": "take"}, OffsetPagination(offset_param="skip", limit_param="take")),
    (
        {"pagination": "page", "page_param": "p", "page_size_param": None, "first_page": 0},
        PagePagination(page_param="p", page_size_param=None, first_page=0),
    ),
    (
        {"pagination": "cursor", "next_cursor_path": "meta.next_cursor", "cursor_request_param": "after"},
        CursorPagination(next_cursor_path="meta.next_cursor", cursor_request_param="after"),
    ),
    ({"pagination": "next_url", "records_path": "data", "next_url_path": "next", "max_pages": 100_000}, NextUrlPagination()),
    ({"pagination": "link_header"}, LinkHeaderPagination()),
    (STORED_BEFORE_THE_UNION, PagePagination()),
]


def _problems(**api) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_integration({"name": "x", "type": "api", "endpoint": "https://api.example.com/orders", "api": api})
    return describe(validation_issues(caught.value))


@pytest.mark.parametrize(("flat", "style"), FLAT_CONFIGS)
def test_flat_settings_fold_into_their_style_and_dump_flat_again(flat, style):
    settings = ApiSettings.model_validate(flat)
    assert settings.pagination == style
    dumped = settings.model_dump()
    assert dumped["pagination"] == style.style and "style" not in dumped
    assert {key for key in dumped if key in type(style).model_fields} == set(type(style).model_fields) - {"style"}
    assert ApiSettings.model_validate(dumped) == settings  # a dump validates again, to the same settings
    assert ApiSettings.model_validate_json(settings.model_dump_json()) == settings


def test_settings_of_other_styles_are_dropped_not_refused():
    """Stores hold every style's keys; they never meant anything for the chosen style."""
    settings = ApiSettings.model_validate(STORED_BEFORE_THE_UNION)
    assert settings.page_size == 50 and settings.cursor_field == "updated_at"
    dumped = settings.model_dump()
    assert not {"offset_param", "limit_param", "next_cursor_path", "cursor_request_param", "next_url_path"} & set(dumped)
    assert list(dumped)[:6] == ["apikey_header", "pagination", "page_param", "page_size_param", "first_page", "records_path"]


def test_the_nested_union_is_read_too_and_dumps_flat():
    nested = ApiSettings.model_validate({"pagination": {"style": "cursor", "next_cursor_path": "meta.next"}})
    assert nested.pagination == CursorPagination(next_cursor_path="meta.next")
    assert nested == ApiSettings.model_validate({"pagination": "cursor", "next_cursor_path": "meta.next"})
    assert nested.model_dump()["pagination"] == "cursor" and nested.model_dump()["next_cursor_path"] == "meta.next"
    assert ApiSettings(pagination=OffsetPagination(limit_param="n")).model_dump()["limit_param"] == "n"


def test_a_flat_key_beside_the_nested_style_wins():
    """What a PATCH naming a flat key merges into a nested configuration: the PATCH is the newer word."""
    merged = ApiSettings.model_validate(
        {"pagination": {"style": "page", "page_param": "p"}, "page_param": "pagina", "next_url_path": "links.next"}
    )
    assert merged.pagination == PagePagination(page_param="pagina")


def test_the_seed_readme_and_demo_configurations_read_as_before():
    seed = parse_integration(load_example("api_polling_integration.json"))
    assert seed.api.pagination == NoPagination() and seed.api.page_size == 100
    demo = parse_integration(
        {
            "name": "demo_api",
            "type": "api",
            "endpoint": "http://127.0.0.1:8090/orders?status=pending",
            "api": DEMO_API_SETTINGS,
        }
    )
    assert demo.api.pagination == PagePagination() and demo.api.page_size == 50
    assert f"pagination: {demo.api.pagination}" == "pagination: page"  # how the admin app names it


def test_problems_are_named_where_they_were_written():
    assert _problems(pagination="page", page_size=20_000) == "api.page_size: Input should be less than or equal to 10000"
    assert _problems(pagination="page", first_page=2) == "api.first_page: Input should be less than or equal to 1"
    assert _problems(pagination={"style": "page", "first_page": 2}) == (
        "api.pagination.first_page: Input should be less than or equal to 1"
    )
    assert _problems(pagination="pages") == (
        "api.pagination: Input should be 'none', 'offset', 'page', 'cursor', 'next_url' or 'link_header'"
    )
    assert _problems(pagination={"style": "cursor", "cursor_param_name": "after"}) == (
        "api.pagination.cursor_param_name: Extra inputs are not permitted"
    )
    assert _problems(pagination="cursor", cursor_param_name="after") == "api.cursor_param_name: Extra inputs are not permitted"
    assert _problems(pagination="page", cursor_param="since") == (
        "api: cursor_param needs a cursor_field (the record field whose last value is sent)"
    )


def test_a_bad_value_for_another_style_is_still_refused_and_every_problem_is_listed():
    assert _problems(pagination="none", first_page=5, max_pages=0, offset_param=3) == (
        "api.offset_param: Input should be a valid string; api.first_page: Input should be less than or equal to 1; "
        "api.max_pages: Input should be greater than or equal to 1"
    )


def test_the_json_schema_documents_the_flat_keys():
    properties = ApiSettings.model_json_schema()["properties"]
    styles = ["none", "offset", "page", "cursor", "next_url", "link_header"]
    assert properties["pagination"]["anyOf"][0] == {"type": "string", "enum": styles}
    assert properties["page_param"]["description"] == "(page pagination) query parameter receiving the page number"


def test_store_round_trips_and_patches_merge_as_before(store):
    document = load_example("api_polling_integration.json")
    document["api"] = {"pagination": "cursor", "records_path": "orders", "next_cursor_path": "meta.next_cursor"}
    stored = create_integration(store, parse_integration(document))
    assert get_integration(store, "ClienteXYZ").config.api == stored.config.api
    shown = masked_config(stored)["api"]
    assert shown["pagination"] == "cursor" and shown["next_cursor_path"] == "meta.next_cursor"
    assert parse_integration({**document, "api": shown}).api == stored.config.api  # `show`, then `add --file`

    after = update_integration(store, "ClienteXYZ", {"api": {"cursor_request_param": "after", "page_size": 20}})
    assert after.config.api.pagination == CursorPagination(next_cursor_path="meta.next_cursor", cursor_request_param="after")
    assert after.config.api.page_size == 20

    switched = update_integration(store, "ClienteXYZ", {"api": {"pagination": "offset", "limit_param": "take"}})
    assert switched.config.api.pagination == OffsetPagination(limit_param="take")
    assert switched.config.api.page_size == 20 and switched.config.api.records_path == "orders"
    assert "next_cursor_path" not in masked_config(switched)["api"]

    nested = update_integration(store, "ClienteXYZ", {"api": {"pagination": {"style": "page", "page_param": "p"}}})
    assert nested.config.api.pagination == PagePagination(page_param="p") and nested.config.api.page_size == 20
    assert masked_config(nested)["api"]["pagination"] == "page"
