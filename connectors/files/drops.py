"""The watched folder of a file integration: pick up settled files, ingest each once, move it to
`processed/` (or `failed/` with a `.reason.txt` beside it).

"Once" is by content: the SHA-256 of every ingested file is kept in the integration's source state,
so the same export dropped again (or left behind by a crash after ingest) is not ingested twice.
A backfill window re-ingests the files that were processed during that window from `processed/`.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.files.readers import UnreadableFile, read_chunks
from pipelines import settings as crossdock_settings
from pipelines.clock import as_utc, iso, utcnow
from pipelines.integrations.model import StoredIntegration
from pipelines.sources import PullError, PullReport, Window, get_state, set_state
from pipelines.sources.landing import land
from pipelines.sources.state import states_with_prefix
from pipelines.vocabulary import PullMode

LEDGER_PREFIX = "file:"
PROCESSED, FAILED = "processed", "failed"
_IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", "~", ".reason.txt")


def drop_folder(integration: StoredIntegration) -> Path:
    """The integration's folder (`file.folder`, default `<home>/drops/<name>`), with its two outboxes."""
    configured = integration.config.file.folder
    folder = Path(configured).expanduser() if configured else crossdock_settings.home() / "drops" / integration.name
    for sub in ("", PROCESSED, FAILED):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def content_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def pull_files(
    engine: sa.Engine, integration: StoredIntegration, *, window: Window | None = None, now: datetime | None = None
) -> PullReport:
    report = PullReport(integration.name, "file", PullMode.of(window), window)
    folder = drop_folder(integration)
    if window:
        _reingest_window(engine, integration, folder, window, report)
    else:
        for path in settled_files(folder, integration.config.file.pattern, integration.config.file.min_age_seconds, now or utcnow()):
            _process(engine, integration, folder, path, report)
    if not report.sync_run_ids:
        land(engine, integration, [], report, details={"files": 0})  # a successful empty poll is a sync too
    return report.finish()


def settled_files(folder: Path, pattern: str, min_age_seconds: float, now: datetime) -> list[Path]:
    """Files matching `pattern`, oldest first, that nobody is still writing (old enough, no temp names)."""
    found = []
    for path in folder.glob(pattern):
        name = path.name
        if not path.is_file() or name.startswith(".") or name.lower().endswith(_IGNORED_SUFFIXES):
            continue
        modified = path.stat().st_mtime
        if now.timestamp() - modified < min_age_seconds:
            continue
        found.append((modified, name, path))
    return [path for _, _, path in sorted(found)]


def _process(engine: sa.Engine, integration: StoredIntegration, folder: Path, path: Path, report: PullReport) -> None:
    digest = content_digest(path)
    key = LEDGER_PREFIX + digest[:48]
    seen = get_state(engine, integration.id, key)
    if seen:
        _move(path, folder / PROCESSED)
        report.bump("duplicates")
        report.warnings.append(f"{path.name}: same content as {seen['name']}, processed {seen['processed_at']}; not ingested again")
        return
    rows = 0
    runs_before = len(report.sync_run_ids)
    try:
        for chunk in read_chunks(path, integration.config.file):
            land(engine, integration, chunk, report, details={"file": path.name, "rows": len(chunk)})
            rows += len(chunk)
    except (UnreadableFile, OSError) as exc:
        landed = f" ({rows} rows before the problem were ingested)" if rows else ""
        _fail(path, folder, f"{exc}{landed}")
        report.bump("failed_files")
        report.warnings.append(f"{path.name} moved to failed/: {exc}")
        return
    if len(report.sync_run_ids) == runs_before:
        land(engine, integration, [], report, details={"file": path.name, "rows": 0})
    stored = _move(path, folder / PROCESSED)
    with engine.begin() as conn:
        set_state(conn, integration.id, key, {
            "name": path.name, "stored_as": str(stored.relative_to(folder)), "rows": rows, "processed_at": iso(utcnow()),
        })
    report.bump("files")
    report.bump("rows", rows)


def _reingest_window(engine: sa.Engine, integration: StoredIntegration, folder: Path, window: Window, report: PullReport) -> None:
    ledger = states_with_prefix(engine, integration.id, LEDGER_PREFIX)
    entries = sorted(ledger.values(), key=lambda e: e["processed_at"])
    for entry in entries:
        if not window.contains(as_utc(datetime.fromisoformat(entry["processed_at"].replace("Z", "+00:00")))):
            continue
        path = folder / entry["stored_as"]
        if not path.exists():
            report.warnings.append(f"{entry['name']}: no longer in {PROCESSED}/ ({entry['stored_as']}); cannot re-ingest it")
            continue
        try:
            for chunk in read_chunks(path, integration.config.file):
                land(engine, integration, chunk, report, details={"file": entry["name"], "rows": len(chunk)})
                report.bump("rows", len(chunk))
        except (UnreadableFile, OSError) as exc:
            raise PullError(f"{entry['stored_as']}: {exc}", report) from None
        report.bump("files")


def _unique(target_dir: Path, name: str) -> Path:
    candidate = target_dir / name
    number = 1
    while candidate.exists():
        stem, dot, suffix = name.partition(".")
        candidate = target_dir / f"{stem}-{number}{dot}{suffix}"
        number += 1
    return candidate


def _move(path: Path, target_dir: Path) -> Path:
    target = _unique(target_dir, path.name)
    path.replace(target)
    return target


def _fail(path: Path, folder: Path, reason: str) -> Path:
    target = _move(path, folder / FAILED)
    target.with_name(target.name + ".reason.txt").write_text(f"{iso(utcnow())} {reason}\n", encoding="utf-8")
    return target


def ledger_entries(engine: sa.Engine, integration: StoredIntegration) -> list[dict[str, Any]]:
    """What was ingested, newest first (for the admin app and the CLI)."""
    return sorted(states_with_prefix(engine, integration.id, LEDGER_PREFIX).values(), key=lambda e: e["processed_at"], reverse=True)
