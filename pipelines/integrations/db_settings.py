"""How a db integration queries the client's database directly (the Logitrack plan's option 3).

The URL may reference environment variables (`${CLIENT_DB_HOST}`), as the plan's on-premise
`docker-compose.override.yml` does; the password is either stored encrypted (`password`) or read from
an environment variable (`password_env`), never written into the URL.

Only variables named `CLIENT_DB_*` (seed 000's compose file) or `CROSSDOCK_CLIENT_*` may be read so:
the rest of the environment holds Crossdock's own secrets (CROSSDOCK_SECRET_KEY, the admin token and
password), which a URL pointing at a database someone controls would otherwise carry away.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt, ValidationInfo, field_validator, model_validator

from pipelines.integrations.stored_context import is_stored
from pipelines.integrations.write_back_check import check_write_back

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# What SQLAlchemy's text() takes for a bind parameter (also inside quotes, unless written \:).
BIND_PARAMETER = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
ENV_PREFIXES = ("CLIENT_DB_", "CROSSDOCK_CLIENT_")


def check_env_name(name: str, where: str) -> str:
    """`name` if a db integration may read it from the environment; else ValueError naming it (never its value)."""
    if not name.startswith(ENV_PREFIXES):
        raise ValueError(
            f"{where} may only read environment variables named CLIENT_DB_* or CROSSDOCK_CLIENT_*, "
            f"not {name}: the rest of the environment holds Crossdock's own secrets"
        )
    return name


class DbSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        None, description="SQLAlchemy URL without the password; ${CLIENT_DB_*} or ${CROSSDOCK_CLIENT_*} environment references allowed"
    )
    password: SecretStr | None = Field(None, description="database password, stored encrypted")
    password_env: str | None = Field(
        None, pattern=IDENTIFIER, description="environment variable holding the password (CLIENT_DB_* or CROSSDOCK_CLIENT_*)"
    )
    query: str | None = Field(None, description="SELECT producing records, e.g. the plan's query; no bind parameters")
    watermark_column: str | None = Field(
        None, pattern=IDENTIFIER, description="result column that only grows (updated_at); polls resume after its last value"
    )
    watermark_start: str | None = Field(None, description="watermark for the very first poll (none = everything)")
    chunk_size: StrictInt = Field(5_000, ge=1, le=100_000, description="rows fetched, ingested and written back at a time")
    write_back: str | None = Field(
        None,
        description="one UPDATE run for rows that landed, keyed by `IN :ids`, e.g. UPDATE orders SET logitrack_synced = TRUE "
        "WHERE order_id IN :ids (checked when saved)",
    )
    write_back_rejected: str | None = Field(
        None,
        description="one UPDATE run for rows that failed validation, keyed by `IN :ids`, e.g. UPDATE orders SET logitrack_error = TRUE "
        "WHERE order_id IN :ids; the query should then leave them out, so they cannot hold back the rows behind them",
    )
    key_column: str = Field(
        "external_id", pattern=IDENTIFIER, description="result column whose values fill :ids in write_back and write_back_rejected"
    )
    max_passes: StrictInt = Field(
        1_000,
        ge=1,
        le=100_000,
        description="most times one pull runs a query that limits its rows (LIMIT n), while each pass is full and moves "
        "something (rows marked, watermark); 1 = one pass per poll",
    )
    timeout_seconds: StrictInt = Field(30, ge=1, le=3_600, description="connect timeout")
    write_back_timeout_seconds: StrictInt = Field(
        60,
        ge=1,
        le=3_600,
        description="statement timeout of each write-back transaction (PostgreSQL, MariaDB, SQLite; MySQL: its lock wait)",
    )

    @field_validator("url")
    @classmethod
    def _no_literal_password(cls, value: str | None) -> str | None:
        if not value:
            return None
        # user:password@host — a password in the URL would be stored in clear text.
        credentials = re.match(r"^[^:/]+://([^@/]*)@", value)
        if credentials and ":" in credentials.group(1) and not ENV_REFERENCE.search(credentials.group(1).split(":", 1)[1]):
            raise ValueError("put the password in db.password (stored encrypted) or db.password_env, not in the URL")
        return value

    @field_validator("url")
    @classmethod
    def _allowed_references(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and not is_stored(info):
            for name in ENV_REFERENCE.findall(value):
                check_env_name(name, "db.url")
        return value

    @field_validator("password_env")
    @classmethod
    def _allowed_password_env(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_env_name(value, "db.password_env") if value and not is_stored(info) else value

    @field_validator("query", "write_back", "write_back_rejected")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip().rstrip(";").strip() or None if value else None

    @field_validator("query")
    @classmethod
    def _no_bind_parameters(cls, value: str | None) -> str | None:
        found = BIND_PARAMETER.findall(value or "")
        if found:
            raise ValueError(
                f"the query must not use bind parameters (:{found[0]}): Crossdock binds the watermark itself; write a literal colon as \\:"
            )
        return value

    @field_validator("write_back", "write_back_rejected")
    @classmethod
    def _single_keyed_update(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Checked here, at save time, so a write-back that could reach other rows is never stored."""
        if value and not is_stored(info):  # a stored one is checked again before it runs (connectors.sql.extract)
            check_write_back(str(info.field_name), value, info.data.get("url"))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DbSettings:
        if self.password is not None and self.password_env:
            raise ValueError("set db.password or db.password_env, not both")
        return self
