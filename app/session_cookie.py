"""A login that survives a page reload: a signed cookie, because Streamlit's session state does not.

The token is `<payload>.<signature>`: the payload (base64 JSON) holds the person's name and an expiry,
the signature is an HMAC keyed by the admin password's digest, so changing the password logs every
browser out and nobody can forge or extend a token without it. Streamlit reads request cookies
(`st.context.cookies`) but cannot set them, so the cookie is written by a script in the page (`st.html`).
It cannot be HttpOnly for that reason; it is Secure whenever the page is served over HTTPS. With
accounts (`CROSSDOCK_APP_AUTH=accounts`) the cookie holds a server-side session's token instead,
which log-out, a password change or disabling the account revoke in the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import streamlit as st

COOKIE = "crossdock_session"
LIFETIME_SECONDS = 12 * 3600


def _key(password: str) -> bytes:
    return hashlib.sha256(b"crossdock admin session\0" + password.encode("utf-8")).digest()


def _sign(payload: str, password: str) -> str:
    return hmac.new(_key(password), payload.encode("ascii"), hashlib.sha256).hexdigest()


def issue(name: str, password: str, *, now: float | None = None) -> str:
    """A token for `name`, valid for LIFETIME_SECONDS."""
    expires = int((time.time() if now is None else now) + LIFETIME_SECONDS)
    payload = base64.urlsafe_b64encode(json.dumps({"name": name, "exp": expires}).encode()).decode("ascii")
    return f"{payload}.{_sign(payload, password)}"


def verify(token: str | None, password: str, *, now: float | None = None) -> str | None:
    """The name in a valid, unexpired token signed with this password; None for anything else."""
    if not token or token.count(".") != 1:
        return None
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature, _sign(payload, password)):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        return None
    if claims["exp"] < (time.time() if now is None else now):
        return None
    name = claims.get("name")
    return name if isinstance(name, str) else ""


def _set_cookie(value: str, max_age: int) -> None:
    # Token characters are base64url, hex and a dot: nothing to escape in a cookie or a JS string.
    # Not iframed: the script runs in the app's own page, so it sets the app's cookie.
    st.html(
        f'<script>document.cookie = "{COOKIE}={value}; Path=/; Max-Age={max_age}; SameSite=Strict"'
        ' + (location.protocol === "https:" ? "; Secure" : "");</script>',
        unsafe_allow_javascript=True,
    )


def remember(token: str, lifetime: int = LIFETIME_SECONDS) -> None:
    _set_cookie(token, lifetime)


def forget() -> None:
    _set_cookie("", 0)
