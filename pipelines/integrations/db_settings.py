"""How a db integration queries the client's database directly."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class DbSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="SQLAlchemy URL without the password; ${ENV_VAR} references allowed")
    password: SecretStr | None = Field(None, description="database password, stored encrypted")
    query: str | None = Field(None, description="SELECT producing records; bound parameters only")
    watermark_column: str | None = None
    chunk_size: int = Field(1_000, ge=1, le=100_000)
    write_back: str | None = Field(None, description="statement run for rows that landed, e.g. UPDATE ... WHERE id IN :ids")
