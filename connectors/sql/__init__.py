"""Direct database extraction (the Logitrack plan's option 3): the client's query, streamed in chunks,
ingested, and optionally marked back as synced in the client's database."""

from connectors.sql.extract import pull_db

__all__ = ["pull_db"]
