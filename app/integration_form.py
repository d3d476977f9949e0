"""The integration form: one widget per setting, validated by the `Integration` model as you type.

The general settings are laid out by hand (they depend on each other: auth_value only with an
auth_type, endpoint only for api). The per-type settings (`webhook`, `api`, `db`, `file`,
`callbacks`) are generated from their pydantic models, so a setting added to a model shows up here
with its description as help, without touching this file.

Secrets are password inputs that start empty: in the edit form, leaving one empty keeps the stored
secret, which never travels back to the browser.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import streamlit as st
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from app.ui import TARGET_LABELS, TYPE_LABELS
from pipelines.errors import validation_issues
from pipelines.integrations import KINDS, Integration, IntegrationBase, StoredIntegration, parse_integration
from pipelines.secrets import mask
from pipelines.sources.schedule import PULL_TYPES

Mode = Literal["create", "edit"]
TYPE_SECTIONS = {"webhook": "webhook", "api": "api", "db": "db", "file": "file"}
SECTION_TITLES = {
    "webhook": "Webhook verification and acknowledgement",
    "api": "Polling the client's REST API",
    "db": "Querying the client's database",
    "file": "File drops",
    "callbacks": "Callback delivery",
}
AUTH_LABELS = {
    "none": "None",
    "apikey": "API key (X-API-Key header)",
    "bearer": "Bearer token (Authorization header)",
    "basic": "Basic auth (user:password)",
    "webhook_secret": "Shared secret (X-Webhook-Secret header)",
    "hmac": "HMAC-SHA256 signature of the body (X-Webhook-Signature)",
}
AUTH_FOR_TYPE = {
    "webhook": ["none", "apikey", "bearer", "basic", "webhook_secret", "hmac"],
    "api": ["none", "apikey", "bearer", "basic"],
}
LONG_TEXT = {"query", "write_back", "write_back_rejected"}
_TOP_LEVEL = (
    "name",
    "target",
    "endpoint",
    "auth_type",
    "auth_value",
    "poll_interval_seconds",
    "callback_url",
    "callback_events",
    "is_active",
)


@dataclass
class FormResult:
    """What the form holds after this run: the values, whether they validate, and what to save."""

    values: dict[str, Any]
    secrets_typed: dict[str, Any]
    issues: list[dict[str, str]] = field(default_factory=list)
    config: Integration | None = None


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _plain(annotation: Any) -> tuple[Any, bool]:
    """(annotation without None, whether None is allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else annotation), True
    return annotation, False


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


_UNSET = object()


class _Form:
    """Renders widgets, remembering where each field's error goes and whether the user touched it."""

    def __init__(self, prefix: str, initial: dict[str, Any], stored_secrets: dict[str, Any]):
        self.prefix = prefix
        self.initial = initial
        self.stored_secrets = stored_secrets  # path -> masked value (edit form)
        self.values: dict[str, Any] = {}
        self.secrets_typed: dict[str, Any] = {}
        self.slots: dict[str, Any] = {}
        self.touched: set[str] = set()

    def key(self, path: str) -> str:
        return f"{self.prefix}.{path}"

    def _record(self, path: str, value: Any, *, initial: Any = _UNSET) -> None:
        self.values[path] = value
        self.slots[path] = st.empty()
        if value != (self.initial.get(path) if initial is _UNSET else initial):
            self.touched.add(path)

    def text(
        self, path: str, label: str, help: str | None = None, long: bool = False, disabled: bool = False, placeholder: str | None = None
    ) -> str | None:
        current = self.initial.get(path)
        if long:
            value = st.text_area(label, value=current or "", key=self.key(path), help=help, disabled=disabled, placeholder=placeholder)
        else:
            value = st.text_input(
                label, value=current or "", key=self.key(path), help=help, disabled=disabled, placeholder=placeholder, live=True
            )
        value = value.strip() if value else None
        # An empty box is None whether the model's default is None or "" (a new integration's name):
        # only what the person typed counts as touching the field.
        self._record(path, value, initial=current or None)
        return value

    def secret(self, path: str, label: str, help: str | None = None) -> str | None:
        stored = self.stored_secrets.get(path)
        placeholder = f"stored {stored}: leave empty to keep it" if stored else None
        typed = st.text_input(label, type="password", key=self.key(path), help=help, placeholder=placeholder, live=True)
        self.slots[path] = st.empty()
        if typed:
            self.secrets_typed[path] = typed
            self.touched.add(path)
        return typed or None

    def secret_list(self, path: str, label: str, help: str | None, size: int) -> None:
        stored = self.stored_secrets.get(path) or []
        typed_any = False
        merged: list[Any] = []
        for index in range(size):
            shown = stored[index] if index < len(stored) else None
            placeholder = f"stored {shown}: leave empty to keep it" if shown else None
            title = label if index == 0 else f"{label} #{index + 1} (during a rotation)"
            typed = st.text_input(title, type="password", key=self.key(f"{path}.{index}"), help=help, placeholder=placeholder, live=True)
            typed_any = typed_any or bool(typed)
            merged.append(typed or (_KEEP if shown else None))
        self.slots[path] = st.empty()
        if typed_any:
            self.secrets_typed[path] = merged
            self.touched.add(path)

    def number(self, path: str, label: str, integer: bool, help: str | None = None) -> Any:
        current = self.initial.get(path)
        value = st.number_input(
            label,
            value=current,
            step=1 if integer else None,
            key=self.key(path),
            help=help,
            format=None if integer else "%.1f",
            placeholder="not set",
        )
        if integer and isinstance(value, float) and value.is_integer():
            value = int(value)
        self._record(path, value)
        return value

    def choice(
        self,
        path: str,
        label: str,
        options: list[Any],
        labels: dict[Any, str] | None = None,
        help: str | None = None,
        disabled: bool = False,
    ) -> Any:
        current = self.initial.get(path)
        index = options.index(current) if current in options else 0
        value = st.selectbox(
            label,
            options,
            index=index,
            key=self.key(path),
            help=help,
            disabled=disabled,
            format_func=(lambda option: labels.get(option, str(option))) if labels else str,
        )
        self._record(path, value)
        return value

    def many(self, path: str, label: str, options: list[Any], help: str | None = None) -> list[Any]:
        value = st.multiselect(
            label, options, default=[o for o in self.initial.get(path) or [] if o in options], key=self.key(path), help=help
        )
        self._record(path, value)
        return value

    def toggle(self, path: str, label: str, help: str | None = None) -> bool:
        value = st.toggle(label, value=bool(self.initial.get(path)), key=self.key(path), help=help)
        self._record(path, value)
        return value

    def int_list(self, path: str, label: str, help: str | None = None) -> None:
        current = self.initial.get(path) or []
        text = st.text_input(label, value=", ".join(str(v) for v in current), key=self.key(path), help=help, live=True)
        items: list[Any] = []
        for token in (text or "").split(","):
            token = token.strip()
            if token:
                items.append(int(token) if token.lstrip("-").isdigit() else token)
        self._record(path, items)

    def json_value(self, path: str, label: str, help: str | None = None) -> None:
        current = self.initial.get(path)
        text = st.text_area(
            label, value=json.dumps(current, ensure_ascii=False) if current is not None else "", key=self.key(path), help=help
        )
        try:
            value = json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            value = text  # the model reports it as the wrong type, under this field
        self._record(path, value)

    def model_fields(self, section: str, model: type[BaseModel], skip: frozenset[str] = frozenset()) -> None:
        """One widget per field of a settings model, chosen from its type."""
        for name, info in model.model_fields.items():
            if name in skip:
                continue
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("managed"):
                continue  # maintained by Crossdock (e.g. the previous callback secret during a rotation)
            if isinstance(info.discriminator, str):
                self.tagged_union(section, name, info.discriminator, info)
                continue
            path = f"{section}.{name}"
            annotation, _optional = _plain(info.annotation)
            origin = typing.get_origin(annotation)
            help = info.description
            if annotation is SecretStr:
                self.secret(path, _label(name), help)
            elif origin is list and typing.get_args(annotation) and typing.get_args(annotation)[0] is SecretStr:
                size = next((m.max_length for m in info.metadata if getattr(m, "max_length", None)), 1)
                self.secret_list(path, _label(name), help, size)
            elif origin is Literal:
                self.choice(path, _label(name), list(typing.get_args(annotation)), help=help)
            elif annotation is bool:
                self.toggle(path, _label(name), help)
            elif annotation is int:
                self.number(path, _label(name), True, help)
            elif annotation is float:
                self.number(path, _label(name), False, help)
            elif annotation is str:
                self.text(path, _label(name), help, long=name in LONG_TEXT)
            elif origin is list and typing.get_args(annotation) == (int,):
                self.int_list(path, _label(name) + " (comma-separated)", help)
            else:
                self.json_value(path, _label(name) + " (JSON)", help)

    def tagged_union(self, section: str, name: str, tag: str, info: FieldInfo) -> None:
        """A union keyed on a tag (`api.pagination`): a choice of its tag, then the chosen member's own
        fields, flat beside the tag as the settings model dumps them (`api.pagination`, `api.page_param`).
        A member chosen here but not stored starts from its defaults."""
        members: dict[Any, type[BaseModel]] = {m.model_fields[tag].default: m for m in typing.get_args(info.annotation)}
        chosen = self.choice(f"{section}.{name}", _label(name), list(members), help=info.description)
        member = members.get(chosen) or next(iter(members.values()))
        for field_name, field_info in member.model_fields.items():
            self.initial.setdefault(f"{section}.{field_name}", field_info.get_default(call_default_factory=True))
        self.model_fields(section, member, skip=frozenset({tag}))


class _Keep:
    """A secret slot left empty in the edit form: keep what is stored."""


_KEEP = _Keep()


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and key != "field_mapping":
            out.update(_flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def _initial(integration_type: str, stored: StoredIntegration | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(flat initial values, {secret path: mask}) for a new integration of a type or a stored one."""
    if stored is None:
        kind = KINDS[integration_type]
        defaults = kind.model_construct(name="")
        dumped = {name: getattr(defaults, name, None) for name in kind.model_fields}  # a required endpoint starts empty
        dumped = {k: (v.model_dump() if isinstance(v, BaseModel) else v) for k, v in dumped.items()}
        return _flatten(dumped), {}
    dumped = stored.config.model_dump(mode="python")
    flat = _flatten(dumped)
    masks: dict[str, Any] = {}
    for path, value in list(flat.items()):
        if isinstance(value, SecretStr):
            masks[path] = mask(value.get_secret_value())
            flat[path] = None
        elif isinstance(value, list) and value and all(isinstance(v, SecretStr) for v in value):
            masks[path] = [mask(v.get_secret_value()) for v in value]
            flat[path] = []
    return flat, masks


def attribute(issue: dict[str, str], paths: list[str]) -> str:
    """Which form field an issue belongs to. Field-level issues name it; model-level ones ("callback_events
    need a callback_url") name it in the message: the last field mentioned is the one to fix."""
    if issue["field"] != "(record)":
        candidate = issue["field"]
        while candidate not in paths and ("[" in candidate or "." in candidate):
            candidate = candidate.rsplit("[", 1)[0] if candidate.endswith("]") else candidate.rsplit(".", 1)[0]
        return candidate if candidate in paths else issue["field"]
    mentioned = [(issue["message"].rfind(path), path) for path in paths if path in issue["message"]]
    return max(mentioned)[1] if mentioned else "(record)"


def render(mode: Mode, integration_type: str, stored: StoredIntegration | None, prefix: str, show_all_errors: bool) -> FormResult:
    """Draw the form for `integration_type` and validate what it holds."""
    initial, masks = _initial(integration_type, stored)
    form = _Form(prefix, initial, masks)
    record_slot = st.empty()

    st.markdown("**General**")
    form.text("name", "Name", help=IntegrationBase.model_fields["name"].description, disabled=mode == "edit", placeholder="cliente_abc")
    form.choice(
        "target",
        "Target",
        ["order", "sale"],
        TARGET_LABELS,
        help="What the records become: delivery orders (Logitrack) or sales (Autentikapp).",
    )
    form.toggle("is_active", "Active", help="Inactive integrations accept and pull nothing.")

    if integration_type in AUTH_FOR_TYPE:
        st.markdown(
            "**Authentication**"
            + (" (how clients prove it is them)" if integration_type == "webhook" else " (how Crossdock signs in to the client's API)")
        )
        auth_type = form.choice("auth_type", "Auth type", AUTH_FOR_TYPE[integration_type], AUTH_LABELS)
        if auth_type != "none":
            form.secret(
                "auth_value",
                "Secret" + (" (user:password)" if auth_type == "basic" else ""),
                help=IntegrationBase.model_fields["auth_value"].description,
            )
    if integration_type == "api":
        form.text(
            "endpoint",
            "Endpoint",
            help="The client's REST URL to poll, e.g. https://api.clientexyz.com/orders",
            placeholder="https://api.clientexyz.com/orders?status=pending",
        )
    if integration_type in PULL_TYPES:
        form.number("poll_interval_seconds", "Poll interval (seconds)", True, help="How often to fetch new records (10 s to 7 days).")

    section = TYPE_SECTIONS[integration_type]
    with st.expander(SECTION_TITLES[section], expanded=integration_type in ("db", "file")):
        form.model_fields(section, KINDS[integration_type].model_fields[section].annotation)

    if (form.values.get("target") or "order") == "order":
        st.markdown("**Status callbacks** (optional: where Crossdock reports order status changes)")
        form.text(
            "callback_url",
            "Callback URL",
            help=IntegrationBase.model_fields["callback_url"].description,
            placeholder="https://api.cliente.com/logitrack/updates",
        )
        form.many("callback_events", "Callback events", ["assigned", "in_route", "delivered", "cancelled"])
        with st.expander(SECTION_TITLES["callbacks"]):
            form.model_fields("callbacks", IntegrationBase.model_fields["callbacks"].annotation)

    result = _validate(mode, integration_type, stored, form)
    _show_errors(form, result.issues, record_slot, show_all_errors)
    return result


def _validate(mode: Mode, integration_type: str, stored: StoredIntegration | None, form: _Form) -> FormResult:
    draft = stored.config.model_dump(mode="python") if stored is not None else {"type": integration_type}
    for path, value in form.values.items():
        _set(draft, path, value)
    if draft.get("auth_type") == "none":
        draft["auth_value"] = None
    if draft.get("target") == "sale":
        draft["callback_url"], draft["callback_events"] = None, []
    for path, value in form.secrets_typed.items():
        if isinstance(value, list):
            current = _get(draft, path) or []
            value = [current[i] if v is _KEEP and i < len(current) else v for i, v in enumerate(value)]
            value = [v for v in value if v is not None and v is not _KEEP]
        _set(draft, path, value)
    if mode == "edit":
        draft["name"] = stored.name if stored else draft.get("name")
    result = FormResult(values=form.values, secrets_typed=form.secrets_typed)
    try:
        result.config = parse_integration(draft)
    except ValidationError as exc:
        result.issues = [_friendly(issue) for issue in validation_issues(exc)]
        result.issues += _whole_form_issues(draft, result.issues)
    return result


def _friendly(issue: dict[str, str]) -> dict[str, str]:
    """The name's regex, said in words."""
    if issue["field"] == "name" and issue["message"].startswith("String should match pattern"):
        return {
            "field": "name",
            "message": "use letters, digits and _ . - (at most 64), starting with a letter or "
            "digit: the name becomes part of the webhook URL",
        }
    return issue


def _whole_form_issues(draft: dict[str, Any], issues: list[dict[str, str]]) -> list[dict[str, str]]:
    """pydantic checks the whole form ("callback_events need a callback_url") only once every field is
    valid. To show all problems at once, check it again with the wrong fields set aside."""
    if any(issue["field"] == "(record)" for issue in issues):
        return []
    trial = json.loads(json.dumps(draft, default=lambda value: value.get_secret_value() if isinstance(value, SecretStr) else str(value)))
    for issue in issues:
        path = issue["field"].split("[", 1)[0]
        if path == "name":
            trial["name"] = "placeholder"
            continue
        *parents, leaf = path.split(".")
        node = trial
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    try:
        parse_integration(trial)
    except ValidationError as exc:
        return [issue for issue in validation_issues(exc) if issue["field"] == "(record)"]
    return []


def _show_errors(form: _Form, issues: list[dict[str, str]], record_slot, show_all: bool) -> None:
    paths = list(form.slots)
    grouped: dict[str, list[str]] = {}
    for issue in issues:
        grouped.setdefault(attribute(issue, paths), []).append(issue["message"])
    leftovers = []
    for path, messages in grouped.items():
        visible = show_all or path in form.touched or (path not in form.slots and bool(form.touched))
        if not visible:
            continue
        text = "; ".join(messages)
        if path in form.slots:
            form.slots[path].markdown(f":red[**{path}**: {text}]")
        else:
            leftovers.append(f"**{path}**: {text}")
    if leftovers:
        record_slot.error("\n".join(f"- {line}" for line in leftovers))


def changes_for_update(result: FormResult, stored: StoredIntegration) -> dict[str, Any]:
    """What the edit form changed, as `update_integration` takes it (nested; secrets only when typed)."""
    assert result.config is not None
    new = result.config.model_dump(mode="python")
    old = stored.config.model_dump(mode="python")
    changes: dict[str, Any] = {}
    for path in list(result.values) + list(result.secrets_typed):
        after, before = _get(new, path), _get(old, path)
        if isinstance(after, SecretStr) or (isinstance(after, list) and after and isinstance(after[0], SecretStr)):
            if path in result.secrets_typed:
                _set(changes, path, [s.get_secret_value() for s in after] if isinstance(after, list) else after.get_secret_value())
            continue
        if after != before:
            _set(changes, path, after)
    if new.get("auth_value") is None and old.get("auth_value") is not None:
        changes["auth_value"] = None
    if result.config.target == "sale" and old.get("callback_url"):
        changes.update(callback_url=None, callback_events=[])
    return changes


def type_label(integration_type: str) -> str:
    return TYPE_LABELS.get(integration_type, integration_type)
