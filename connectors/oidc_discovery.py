"""Reads an OpenID provider's discovery document before the admin app sends a browser there.

Streamlit fetches it itself when the browser reaches `/auth/login`, and on any failure shows a bare
"Authentication error" page. Asking first lets the log-in page say what is wrong (an address that
cannot be reached, or one that does not serve a discovery document) where an admin can read it.
"""

from __future__ import annotations

import requests

TIMEOUT_SECONDS = 5
_NEEDED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


def problem(url: str, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """Why `url` is not a usable discovery document, or None when it is."""
    try:
        answer = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        return f"the identity provider's discovery URL {url} cannot be reached ({type(exc).__name__})"
    if answer.status_code != 200:
        return f"the identity provider's discovery URL {url} answered {answer.status_code}"
    try:
        document = answer.json()
    except ValueError:
        return f"the identity provider's discovery URL {url} did not answer JSON: is it the …/.well-known/openid-configuration address?"
    missing = [key for key in _NEEDED if not isinstance(document, dict) or not document.get(key)]
    if missing:
        return f"the document at {url} is not an OpenID provider's: it lacks {', '.join(missing)}"
    return None
