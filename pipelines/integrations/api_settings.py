"""How an API integration polls the client's REST endpoint: pagination, where the records are, the
incremental cursor, the backfill window, and how hard to retry a flaky server.

Defaults fit the Logitrack plan's example as is (one GET, the body is the list of orders), so a client
configured exactly like the seed needs no `api` section at all.

Pagination is one model per style, in a union keyed on `style`: each style carries only the settings it
uses, and code that walks pages (connectors/rest/paginators.py) gets the style's own settings, typed.
People have always written those settings flat, beside the rest of `api` (`"pagination": "page",
"page_param": "p"`), and that is the shape the README documents, stored configurations hold and the
admin form edits. So both shapes are read (`_read_flat_pagination`), and a dump is flat
(`_write_flat_pagination`): what `integrations show` prints, the store keeps and a PATCH merges into is the
documented shape, and validates again to the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    SerializerFunctionWrapHandler,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import InitErrorDetails

from pipelines.integrations.stored_context import is_stored
from pipelines.outbound import check_header_name

PaginationStyle = Literal["none", "offset", "page", "cursor", "next_url", "link_header"]
PAGINATION_STYLES: tuple[str, ...] = get_args(PaginationStyle)


class _Style(BaseModel):
    """What every pagination style shares: a `style` tag, unknown keys refused, and printing as its name
    (`f"pagination: {api.pagination}"` reads `pagination: page`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __str__(self) -> str:
        return str(getattr(self, "style", type(self).__name__))


class NoPagination(_Style):
    """One GET; its body holds every record."""

    style: Literal["none"] = "none"


class OffsetPagination(_Style):
    """`?offset=200&limit=100`: the offset grows by the records read; a short page is the last."""

    style: Literal["offset"] = "offset"
    offset_param: str = Field("offset", description="query parameter receiving the number of records to skip")
    limit_param: str = Field("limit", description="query parameter receiving page_size")


class PagePagination(_Style):
    """`?page=3&per_page=100`: the page number grows by one; a short (or empty) page is the last."""

    style: Literal["page"] = "page"
    page_param: str = Field("page", description="query parameter receiving the page number")
    page_size_param: str | None = Field("per_page", description="query parameter for the page size; none = not sent")
    first_page: StrictInt = Field(1, ge=0, le=1, description="number of the first page: 1, or 0 for APIs that count from 0")


class CursorPagination(_Style):
    """The body names the next page's cursor, sent back as a query parameter; no cursor is the end."""

    style: Literal["cursor"] = "cursor"
    next_cursor_path: str = Field("next_cursor", description="dot path to the next page's cursor in the body")
    cursor_request_param: str = Field("cursor", description="query parameter receiving that cursor")


class NextUrlPagination(_Style):
    """The body holds the next page's URL (absolute or relative); no URL is the end."""

    style: Literal["next_url"] = "next_url"
    next_url_path: str = Field("next", description="dot path to the next page's URL in the body")


class LinkHeaderPagination(_Style):
    """RFC 8288 `Link: <…>; rel="next"`; no such link is the end."""

    style: Literal["link_header"] = "link_header"


Pagination = Annotated[
    NoPagination | OffsetPagination | PagePagination | CursorPagination | NextUrlPagination | LinkHeaderPagination,
    Field(discriminator="style"),
]
STYLE_MODELS: dict[str, type[_Style]] = {model.model_fields["style"].default: model for model in get_args(get_args(Pagination)[0])}
# Every style's own setting, by the flat key people write it under (each key belongs to one style).
FLAT_KEYS: dict[str, type[_Style]] = {key: model for model in STYLE_MODELS.values() for key in model.model_fields if key != "style"}
assert tuple(STYLE_MODELS) == PAGINATION_STYLES, "one model per pagination style"


def _document_flat_keys(schema: JsonDict, _model: type[Any]) -> None:
    """The JSON schema (the admin API's /docs) names the flat keys people write, beside the union."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not isinstance(properties.get("pagination"), dict):
        return
    union = cast(JsonDict, properties["pagination"])
    properties["pagination"] = {
        "anyOf": [{"type": "string", "enum": list(PAGINATION_STYLES)}, union],
        "default": "none",
        "description": union.get("description", ""),
    }
    for key, model in FLAT_KEYS.items():
        described = dict(model.model_json_schema()["properties"][key])
        described["description"] = f"({model.model_fields['style'].default} pagination) " + described.get("description", key)
        properties[key] = described


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_document_flat_keys)

    apikey_header: str = Field("X-API-Key", min_length=1, description="header carrying auth_value when auth_type is apikey")
    pagination: Pagination = Field(
        default_factory=NoPagination,
        description="how pages are asked for: none, offset, page, cursor, next_url or link_header, with that style's settings",
    )
    records_path: str | None = Field(None, description="dot path to the list of records in a page; none = the body")
    page_size: StrictInt = Field(100, ge=1, le=10_000, description="records asked for per page (offset and page styles)")
    max_pages: StrictInt = Field(10_000, ge=1, le=1_000_000, description="stop (with a warning) after this many pages")
    # incremental sync
    cursor_field: str | None = Field(None, description="record field for incremental sync, e.g. updated_at")
    cursor_param: str | None = Field(None, description="query parameter receiving the last cursor value")
    cursor_start: str | None = Field(None, description="cursor value for the very first poll (none = everything)")
    # backfill windows (Dagster date partitions, `crossdock pull --since --until`)
    window_start_param: str | None = Field(None, description="query parameter receiving a backfill window's start")
    window_end_param: str | None = Field(None, description="query parameter receiving a backfill window's end (exclusive)")
    window_format: Literal["iso", "date", "unix"] = Field("iso", description="how window bounds are written")
    # resilience
    timeout_seconds: StrictFloat = Field(30.0, gt=0, le=600, description="longest one request may take, the whole body included")
    max_retries: StrictInt = Field(5, ge=0, le=20, description="retries of a page on 5xx, 429, timeouts and connection errors")
    backoff_seconds: StrictFloat = Field(1.0, ge=0, le=60, description="first retry wait; doubles each retry")
    max_backoff_seconds: StrictFloat = Field(60.0, ge=0, le=3_600, description="cap of any single wait, Retry-After included")
    ingest_batch_size: StrictInt = Field(10_000, ge=100, le=200_000, description="records buffered before each ingest")

    @field_validator("apikey_header")
    @classmethod
    def _allowed_header(cls, value: str, info: ValidationInfo) -> str:
        """Checked when saved; a stored one is checked again before each request (connectors.rest.http)."""
        if is_stored(info):
            return value
        return check_header_name(value)

    @model_validator(mode="wrap")
    @classmethod
    def _read_flat_pagination(cls, data: Any, handler: ModelWrapValidatorHandler[ApiSettings]) -> ApiSettings:
        """Fold flat pagination keys into the union before validating (a `mode="before"` step), then say
        where a problem is in the words the person wrote: `api.page_param`, not `api.pagination.page.page_param`."""
        if not isinstance(data, dict):
            return handler(data)
        folded = _fold(data)
        try:
            settings = handler(folded.data)
        except ValidationError as exc:
            raise _problems(cls.__name__, _relocated(exc, folded) + folded.errors) from None
        if folded.errors:
            raise _problems(cls.__name__, folded.errors)
        return settings

    @model_serializer(mode="wrap")
    def _write_flat_pagination(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Dump the documented flat shape: `"pagination": "page"` followed by the style's own settings."""
        dumped = handler(self)
        out: dict[str, Any] = {}
        for key, value in dumped.items():
            if key == "pagination" and isinstance(value, dict):
                style = dict(value)
                out["pagination"] = style.pop("style", None)
                out.update(style)
            else:
                out[key] = value
        return out

    @model_validator(mode="after")
    def _consistent(self) -> ApiSettings:
        if self.cursor_param and not self.cursor_field:
            raise ValueError("cursor_param needs a cursor_field (the record field whose last value is sent)")
        if self.window_end_param and not self.window_start_param:
            raise ValueError("window_end_param needs a window_start_param")
        return self


@dataclass
class _Folded:
    """`api` with its pagination folded into the union's shape, and what it takes to report problems
    where the person wrote them."""

    data: dict[str, Any]
    style: Any = None
    flat: set[str] = field(default_factory=set)  # keys written flat that now sit in the nested style
    errors: list[InitErrorDetails] = field(default_factory=list)  # found while folding


def _fold(data: dict[str, Any]) -> _Folded:
    """Move flat keys into `pagination`. Keys of another style than the chosen one (every stored
    configuration from before the union holds all of them, with defaults) are checked as before and
    dropped: they never meant anything for this style. A flat key beats the same key nested, because a
    PATCH that names it flat was written after the stored settings it merges into."""
    flat = {key: value for key, value in data.items() if key in FLAT_KEYS}
    rest = {key: value for key, value in data.items() if key not in FLAT_KEYS}
    given = rest.get("pagination", "none")
    folded = _Folded(rest)
    if isinstance(given, BaseModel):
        if not flat:
            return folded
        given = given.model_dump()
    if isinstance(given, dict):
        nested = dict(given)
        folded.style = nested.get("style")
        model = STYLE_MODELS.get(folded.style) if isinstance(folded.style, str) else None
        if model is None:  # the union says what is wrong with the tag
            rest["pagination"] = nested
            return folded
        for key in [k for k in nested if k in FLAT_KEYS and k not in model.model_fields]:
            _check_foreign(folded, key, nested.pop(key), ("pagination", key))
    else:
        folded.style = given
        model = STYLE_MODELS.get(given) if isinstance(given, str) else None
        if model is None:
            folded.errors.append(
                InitErrorDetails(
                    type="literal_error",
                    loc=("pagination",),
                    input=given,
                    ctx={"expected": ", ".join(repr(s) for s in PAGINATION_STYLES[:-1]) + f" or {PAGINATION_STYLES[-1]!r}"},
                )
            )
            rest.pop("pagination", None)
        nested = {"style": given}
    for key, value in flat.items():
        if model is not None and key in model.model_fields:
            nested[key] = value
            folded.flat.add(key)
        else:
            _check_foreign(folded, key, value, (key,))
    if model is not None:
        rest["pagination"] = nested
    return folded


def _check_foreign(folded: _Folded, key: str, value: Any, loc: tuple[str, ...]) -> None:
    """A setting of another style is dropped, but a bad value is still the error it always was."""
    owner = FLAT_KEYS[key]
    try:
        owner.model_validate({key: value})
    except ValidationError as exc:
        for error in exc.errors():
            folded.errors.append(_detail(error, loc + tuple(error["loc"][1:])))


def _relocated(exc: ValidationError, folded: _Folded) -> list[InitErrorDetails]:
    """The union's errors without its tag in the path, at the flat key when the person wrote it flat."""
    details = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if len(loc) >= 2 and loc[0] == "pagination" and loc[1] == folded.style:
            loc = ("pagination", *loc[2:])
            if len(loc) >= 2 and loc[1] in folded.flat:
                loc = loc[1:]
        details.append(_detail(error, loc))
    return details


def _problems(title: str, details: list[InitErrorDetails]) -> ValidationError:
    """One error listing every problem, in the order the keys appear in a dump."""
    details.sort(key=lambda detail: _DUMP_ORDER.get(str(detail["loc"][0]) if detail["loc"] else "", -1))
    return ValidationError.from_exception_data(title, details)


def _detail(error: Any, loc: tuple[Any, ...]) -> InitErrorDetails:
    detail = InitErrorDetails(type=error["type"], loc=loc, input=error["input"])
    if "ctx" in error:
        detail["ctx"] = error["ctx"]
    return detail


# Where each key sits in a dump, flat keys after `pagination`: errors are listed in that order too.
_DUMP_ORDER = {
    key: index
    for index, key in enumerate(
        key for name in ApiSettings.model_fields for key in ([name, *FLAT_KEYS] if name == "pagination" else [name])
    )
}
