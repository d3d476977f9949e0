"""Secrets at rest: Fernet-encrypted with a key from `CROSSDOCK_SECRET_KEY` (or a generated dev key).

Secrets leave this module in two forms only: decrypted, to the code that must use them, and masked,
for anything a person or a log can see.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from pipelines import settings

KEY_FILE = "secret.key"


class SecretKeyError(RuntimeError):
    """The stored secrets cannot be decrypted with the configured key."""


def _fernet_key(material: str) -> bytes:
    """Accept a ready Fernet key, or derive one from any passphrase."""
    try:
        if len(base64.urlsafe_b64decode(material.encode())) == 32:
            return material.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())


@lru_cache(maxsize=4)
def _fernet(material: str) -> Fernet:
    return Fernet(_fernet_key(material))


def _key_material() -> str:
    return settings.generated_secret("secret_key", KEY_FILE, lambda: Fernet.generate_key().decode())


def encrypt(values: dict) -> str | None:
    if not values:
        return None
    return _fernet(_key_material()).encrypt(json.dumps(values).encode()).decode()


def decrypt(token: str | None) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet(_key_material()).decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretKeyError("stored secrets cannot be decrypted: CROSSDOCK_SECRET_KEY differs from the key they were saved with") from exc


def mask(secret: str | None, *, password: bool = False) -> str | None:
    """A form safe to show. Long generated tokens and signing secrets (24 characters and more) show
    their last four characters: enough to tell two apart when rotating, and 4 of 24+ random
    characters leave 120+ bits unknown. Passwords (`password=True`: a database password, a Basic
    `user:password`) and anything shorter show nothing: a person chose them, and their ends are guessable."""
    if not secret:
        return secret
    if len(secret) >= 24 and not password:
        return "••••••••" + secret[-4:]
    return "••••••••"
