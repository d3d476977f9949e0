"""Ingest: the single path from client records to stored orders and sales."""

from pipelines.ingest.result import RecordResult, SyncResult
from pipelines.ingest.run import ingest, mapping_for, prepare_for

__all__ = ["RecordResult", "SyncResult", "ingest", "mapping_for", "prepare_for"]
