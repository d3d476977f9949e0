"""The deployment files as docker-compose reads them, for the static checks and the loopback run of
the same topology: `.env` parsed as compose parses it, `${VAR}`, `${VAR:-default}`, `${VAR:?error}`
and `$$` interpolated as compose interpolates them, and each service's environment resolved."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
OVERRIDE_EXAMPLE = ROOT / "docker-compose.override.yml.example"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
INSTALL = ROOT / "deploy" / "install.sh"
# The secrets deploy/install.sh generates into an empty .env.example line.
GENERATED = ("POSTGRES_PASSWORD", "CROSSDOCK_SECRET_KEY", "CROSSDOCK_ADMIN_TOKEN", "CROSSDOCK_ADMIN_PASSWORD")
REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class Unset(ValueError):
    """A `${VAR:?message}` whose variable is unset or empty: compose refuses to start."""


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def parse_env(text: str) -> dict[str, str]:
    """`NAME=value` lines of an env file (comments and blank lines skipped), as compose reads `.env`."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


def installed_env() -> dict[str, str]:
    """`.env` as deploy/install.sh leaves it: `.env.example` with every empty secret generated."""
    values = parse_env(ENV_EXAMPLE.read_text(encoding="utf-8"))
    for name in GENERATED:
        if not values.get(name):
            values[name] = secrets.token_hex(20)
    return values


def references(text: str) -> set[str]:
    """Every variable a compose file interpolates."""
    return {match.group(1) for match in REFERENCE.finditer(text) if match.group(1)}


def interpolate(value: str, env: dict[str, str]) -> str:
    def substitute(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if name is None:
            return "$"
        current = env.get(name)
        if operator in (":-", "-"):
            unset = current is None or (operator == ":-" and current == "")
            return argument if unset else current
        if operator in (":?", "?"):
            if current is None or (operator == ":?" and current == ""):
                raise Unset(f"{name}: {argument}")
            return current
        return current or ""

    return REFERENCE.sub(substitute, value)


def service_environment(compose: dict[str, Any], service: str, env: dict[str, str]) -> dict[str, str]:
    """The environment compose gives `service`'s container, interpolated from `env` (the `.env`)."""
    declared = compose["services"][service].get("environment") or {}
    return {key: interpolate(str(value), env) for key, value in declared.items()}
