"""Single sign-on in the admin app: Streamlit's OpenID Connect log-in (`st.login`, `st.user`) in front of
Crossdock's own accounts and server-side sessions.

The identity provider is configured where Streamlit reads it, the `[auth]` section of
`.streamlit/secrets.toml`: one unnamed provider (`client_id`, `client_secret`, `server_metadata_url` in
`[auth]` itself) and/or named ones (`[auth.<name>]`), each drawn as a "Log in with …" button. Streamlit
checks the ID token and keeps the claims in a signed cookie; `pipelines.access.oidc` decides who that is
in Crossdock and with which role, and the app then starts an ordinary server-side session for the user
(`pipelines.access.sessions`), so roles, expiry, disabling and the audit log work as for a password log-in.
A configuration Streamlit would refuse is found here first and said on the log-in page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
MIN_COOKIE_SECRET = 32
_DEFAULT = "default"  # Streamlit's name for the provider configured in [auth] itself
_REFUSED_KEPT = 1000
_REFUSED: OrderedDict[str, str] = OrderedDict()  # identity key -> why it was refused (the newest kept)
_REFUSED_LOCK = threading.Lock()  # sessions run in threads of one process


@dataclass(frozen=True)
class Provider:
    name: str  # what `st.login` takes ("default" for the unnamed one)
    label: str  # the button's "Log in with <label>"


@dataclass(frozen=True)
class Configuration:
    providers: tuple[Provider, ...]
    problem: str | None  # why single sign-on cannot work as configured, for an admin to fix


def _auth_section() -> Mapping[str, Any] | None:
    """`[auth]` of the secrets, or None (no secrets file, one that does not parse, or no such section)."""
    if not st.secrets.load_if_toml_exists():
        return None
    section = st.secrets.get("auth")
    return section if isinstance(section, Mapping) else None


def _providers(section: Mapping[str, Any]) -> list[Provider]:
    found = []
    if any(key in section for key in _PROVIDER_KEYS):
        found.append(Provider(_DEFAULT, "single sign-on"))
    for name, value in section.items():
        if name != "client_kwargs" and isinstance(value, Mapping) and any(key in value for key in _PROVIDER_KEYS):
            found.append(Provider(str(name), str(name).replace("-", " ").title()))
    return found


def _problem(section: Mapping[str, Any], providers: list[Provider]) -> str | None:
    """What Streamlit would refuse (or what could not work) in `[auth]`, in words for an admin: checked
    here, before any button is drawn, so a misconfiguration is a message and never a traceback."""
    from streamlit.auth_util import is_authlib_installed

    where = "`[auth]` of `.streamlit/secrets.toml`"
    if not providers:
        return (
            f"{where} names no identity provider: give it `client_id`, `client_secret` and `server_metadata_url` "
            "(or an `[auth.<name>]` section with them)"
        )
    if not is_authlib_installed():
        return "single sign-on needs the Authlib package, which is not installed (`make .venv` installs it)"
    redirect = str(section.get("redirect_uri", ""))
    if not redirect.startswith(("http://", "https://")) or not redirect.endswith("/oauth2callback"):
        return (
            f"`redirect_uri` in {where} is {redirect!r}: it must be the app's own address followed by "
            "`/oauth2callback`, e.g. `https://crossdock.example.com/oauth2callback`, registered with the identity provider"
        )
    if len(str(section.get("cookie_secret", ""))) < MIN_COOKIE_SECRET:
        return (
            f"`cookie_secret` in {where} is missing or shorter than {MIN_COOKIE_SECRET} characters: it signs the "
            'identity cookie, so make it long and random (`python -c "import secrets; print(secrets.token_urlsafe(32))"`)'
        )
    for provider in providers:
        settings = section if provider.name == _DEFAULT else section[provider.name]
        named = "" if provider.name == _DEFAULT else f" for the provider `{provider.name}`"
        missing = [key for key in _PROVIDER_KEYS if not settings.get(key)]
        if missing:
            return f"{where} lacks {', '.join(f'`{key}`' for key in missing)}{named}"
        if "_" in provider.name:
            return f"the provider name `{provider.name}` has an underscore, which Streamlit does not allow: use a hyphen"
        url = str(settings["server_metadata_url"])
        if not url.startswith(("http://", "https://")):
            return (
                f"`server_metadata_url`{named} is {url!r}: it must be the provider's full discovery URL "
                "(…/.well-known/openid-configuration)"
            )
        if not isinstance(settings.get("client_kwargs", {}), Mapping):
            return f'`client_kwargs`{named} must be a table, e.g. `client_kwargs = {{ prompt = "login" }}`'
    return None


def configuration() -> Configuration | None:
    """The configured providers and any problem with them; None when `[auth]` is absent."""
    section = _auth_section()
    if section is None:
        return None
    providers = _providers(section)
    problem = _problem(section, providers)
    return Configuration((), problem) if problem else Configuration(tuple(providers), None)


def claims() -> dict[str, Any] | None:
    """The signed-in identity's claims (`st.user`), or None when nobody signed in at a provider."""
    info = dict(st.user.to_dict())
    return info if info.get("is_logged_in") is True else None


def login_buttons(config: Configuration) -> None:
    """A "Log in with …" button per provider (a problem with the configuration is said instead)."""
    from streamlit.errors import StreamlitAuthError

    if config.problem:
        st.error(f"Single sign-on is not usable: {config.problem}.")
        return
    from connectors import oidc_discovery

    for provider in config.providers:
        if st.button(
            f"Log in with {provider.label}", key=f"login.oidc.{provider.name}", type="primary", icon=":material/badge:", width="stretch"
        ):
            unusable = oidc_discovery.problem(_metadata_url(provider))
            if unusable:
                st.error(f"Single sign-on is not usable: {unusable}.")
                continue
            try:
                st.login(provider.name)
            except StreamlitAuthError as exc:
                st.error(f"Single sign-on is not usable: {' '.join(str(exc).split())}")


def _metadata_url(provider: Provider) -> str:
    section = _auth_section() or {}
    settings = section if provider.name == _DEFAULT else section.get(provider.name, {})
    return str(settings.get("server_metadata_url", ""))


def identity_key(found: Mapping[str, Any]) -> str:
    """One provider log-in: the provider, the subject and when its ID token was issued."""
    return f"{found.get('provider')}|{found.get('sub')}|{found.get('iat')}"


def refusal() -> str | None:
    """Why the identity this browser holds was refused, if it was (shown on the log-in page)."""
    found = claims()
    if found is None:
        return None
    with _REFUSED_LOCK:
        return _REFUSED.get(identity_key(found))


def refused_before(key: str) -> bool:
    with _REFUSED_LOCK:
        return key in _REFUSED


def remember_refusal(key: str, message: str) -> None:
    """Kept by the app process (not the browser session), so a reload does not audit the same provider
    log-in twice."""
    with _REFUSED_LOCK:
        _REFUSED[key] = message
        while len(_REFUSED) > _REFUSED_KEPT:
            _REFUSED.popitem(last=False)


def forget_refusal(key: str) -> None:
    """The identity got in after all (an admin added or enabled its user)."""
    with _REFUSED_LOCK:
        _REFUSED.pop(key, None)


def sign_out_button() -> None:
    """Leave the provider's identity (to try another account after a refusal)."""
    if st.button("Log out of the identity provider", key="login.oidc.logout", icon=":material/logout:"):
        st.logout()
