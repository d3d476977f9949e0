"""The watched folder of a file integration: pick up settled files, ingest each once, move it to
`processed/` (or `failed/` with a `.reason.txt` beside it).

"Once" is by content: the SHA-256 of every ingested file is kept in the integration's source state,
so the same export dropped again (or left behind by a crash after ingest) is not ingested twice.
A backfill window re-ingests the files that were processed during that window from `processed/`.

Confined to the folder: every pull checks again that the folder lies inside the drops root
(`file_settings.folder_path`: the root or a link may have changed since the integration was saved)
and that the pattern is a file-name glob, then walks from the root to the folder, and into
`processed/` and `failed/`, without following a symbolic link (O_NOFOLLOW at each step). Files are
listed with lstat: a link is skipped with a warning, never read or moved. A file is opened with
O_NOFOLLOW and checked with fstat on that descriptor, then hashed and copied from it into a private
scratch copy that is what gets read, so a name swapped for a link after the listing is never followed
and what is ingested is exactly what was hashed. Moves are renames between the descriptors of the
folder and its outboxes, and only of the file that was read. POSIX (dir_fd, O_NOFOLLOW).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.files.readers import UnreadableFile, read_chunks
from pipelines import settings as crossdock_settings
from pipelines.clock import as_utc, iso, utcnow
from pipelines.integrations.file_settings import check_pattern, drops_root, folder_path
from pipelines.integrations.model import FileIntegration, StoredIntegration
from pipelines.sources import PullError, PullReport, Window, get_state, set_state
from pipelines.sources.landing import land
from pipelines.sources.state import states_with_prefix
from pipelines.vocabulary import PullMode

LEDGER_PREFIX = "file:"
PROCESSED, FAILED = "processed", "failed"
_IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", "~", ".reason.txt")
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # non-blocking: a FIFO in its place must not hang the pull
_BLOCK = 1 << 20


@dataclass
class DropFolder:
    """An integration's folder, open: its real path and descriptors of it and of its two outboxes."""

    path: Path
    fd: int
    outboxes: dict[str, int] = field(default_factory=dict)


class _Skipped(Exception):
    """A listed name that is not read: the message says why (for the pull report's warnings)."""


class _Missing(_Skipped):
    pass


@dataclass(frozen=True)
class _Snapshot:
    copy: Path
    digest: str
    identity: tuple[int, ...]  # of the file that was read (`_identity`)


def drop_folder(integration: StoredIntegration) -> Path:
    """The integration's folder (`file.folder`, default `<drops root>/<name>`), created with its two
    outboxes; raises PullError when it is not a folder inside the drops root."""
    with open_drop_folder(integration) as drop:
        return drop.path


@contextmanager
def open_drop_folder(integration: StoredIntegration, report: PullReport | None = None) -> Iterator[DropFolder]:
    """Check the folder is inside the drops root, create what is missing of it and of `processed/` and
    `failed/`, and open all three without following a symbolic link. PullError says why not."""
    crossdock_settings.home()  # created readable by its user only, before a default root inside it
    root = drops_root()
    try:
        path = folder_path(integration.config_as(FileIntegration).file.folder, integration.name, root)
    except ValueError as exc:
        raise PullError(f"{integration.name}: file.folder {exc}", report) from None
    opened: list[int] = []
    try:
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd = os.open(root, _FOLDER_FLAGS)
        except OSError as exc:
            raise PullError(f"{integration.name}: the drops root {root} cannot be opened: {exc.strerror}", report) from None
        opened.append(fd)
        walked = root
        for part in path.relative_to(root).parts:
            walked = walked / part
            fd = _enter(fd, part, walked, integration.name, report)
            os.close(opened.pop())
            opened.append(fd)
        drop = DropFolder(path, fd)
        for outbox in (PROCESSED, FAILED):
            drop.outboxes[outbox] = _enter(fd, outbox, path / outbox, integration.name, report)
            opened.append(drop.outboxes[outbox])
        yield drop
    finally:
        for descriptor in opened:
            os.close(descriptor)


def _enter(parent: int, name: str, shown: Path, integration: str, report: PullReport | None) -> int:
    """Create (if missing) and open the folder `name` in `parent`, never through a symbolic link."""
    try:
        os.mkdir(name, dir_fd=parent)
    except FileExistsError:
        pass
    except OSError as exc:
        raise PullError(f"{integration}: cannot create {shown}: {exc.strerror}", report) from None
    try:
        return os.open(name, _FOLDER_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                link = stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
            except OSError:
                link = False
            what = "a symbolic link" if link else "not a folder"
            raise PullError(
                f"{integration}: {shown} is {what}: file drops are read and moved only inside real folders "
                "within the drops root; replace it with a folder",
                report,
            ) from None
        raise PullError(f"{integration}: cannot open {shown}: {exc.strerror}", report) from None


def pull_files(
    engine: sa.Engine, integration: StoredIntegration, *, window: Window | None = None, now: datetime | None = None
) -> PullReport:
    report = PullReport(integration.name, "file", PullMode.of(window), window)
    settings = integration.config_as(FileIntegration).file
    try:
        check_pattern(settings.pattern)
    except ValueError as exc:
        raise PullError(f"{integration.name}: file.pattern {exc}", report) from None
    with open_drop_folder(integration, report) as drop:
        if window:
            _reingest_window(engine, integration, drop, window, report)
        else:
            for name in settled_files(drop, settings.pattern, settings.min_age_seconds, now or utcnow(), report):
                _process(engine, integration, drop, name, report)
    if not report.sync_run_ids:
        land(engine, integration, [], report, details={"files": 0})  # a successful empty poll is a sync too
    return report.finish()


def settled_files(drop: DropFolder, pattern: str, min_age_seconds: float, now: datetime, report: PullReport) -> list[str]:
    """Names of the regular files matching `pattern`, oldest first, that nobody is still writing (old
    enough, no temp names). Symbolic links matching it are reported and left alone."""
    found = []
    with os.scandir(drop.fd) as entries:
        for entry in entries:
            name = entry.name
            if not fnmatchcase(name, pattern) or name.startswith(".") or name.lower().endswith(_IGNORED_SUFFIXES):
                continue
            try:
                if entry.is_symlink():
                    report.warnings.append(f"{name}: a symbolic link; skipped (links are never followed, read or moved)")
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                modified = entry.stat(follow_symlinks=False).st_mtime
            except OSError:  # gone since the listing
                continue
            if now.timestamp() - modified < min_age_seconds:
                continue
            found.append((modified, name))
    return [name for _, name in sorted(found)]


def _snapshot(folder: int, name: str, scratch: Path) -> _Snapshot:
    """Open `name` in `folder` without following a link, check it is a regular file on that
    descriptor, and copy it into `scratch` while hashing it."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
    except FileNotFoundError:
        raise _Missing("gone before it could be read") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Skipped("replaced by a symbolic link after it was listed; skipped (never followed)") from None
        raise _Skipped(f"cannot be opened ({exc.strerror}); left in place") from None
    with open(fd, "rb") as source:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Skipped("not a regular file; skipped")
        os.set_blocking(fd, True)
        digest = hashlib.sha256()
        copy = scratch / name
        try:
            with copy.open("xb") as target:
                while block := source.read(_BLOCK):
                    digest.update(block)
                    target.write(block)
        except OSError as exc:
            raise _Skipped(f"cannot be read ({exc.strerror}); left in place") from None
    return _Snapshot(copy, digest.hexdigest(), _identity(info))


def _identity(info: os.stat_result) -> tuple[int, ...]:
    """Which file, in which state: a freed inode number is soon given to the next file written, so
    the number alone cannot tell a file replaced under the same name (or rewritten in place)."""
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def _process(engine: sa.Engine, integration: StoredIntegration, drop: DropFolder, name: str, report: PullReport) -> None:
    with tempfile.TemporaryDirectory(prefix="crossdock-drop-") as scratch:
        try:
            snapshot = _snapshot(drop.fd, name, Path(scratch))
        except _Skipped as exc:
            report.warnings.append(f"{name}: {exc}")
            return
        _ingest(engine, integration, drop, name, snapshot, report)


def _ingest(
    engine: sa.Engine, integration: StoredIntegration, drop: DropFolder, name: str, snapshot: _Snapshot, report: PullReport
) -> None:
    key = LEDGER_PREFIX + snapshot.digest[:48]
    seen = get_state(engine, integration.id, key)
    if seen:
        _move(drop, name, snapshot, PROCESSED, report)
        report.bump("duplicates")
        report.warnings.append(f"{name}: same content as {seen['name']}, processed {seen['processed_at']}; not ingested again")
        return
    rows = 0
    runs_before = len(report.sync_run_ids)
    try:
        for chunk in read_chunks(snapshot.copy, integration.config_as(FileIntegration).file):
            land(engine, integration, chunk, report, details={"file": name, "rows": len(chunk)})
            rows += len(chunk)
    except (UnreadableFile, OSError) as exc:
        reason = str(exc).replace(str(snapshot.copy), name)
        landed = f" ({rows} rows before the problem were ingested)" if rows else ""
        _fail(drop, name, snapshot, f"{reason}{landed}", report)
        report.bump("failed_files")
        report.warnings.append(f"{name} moved to failed/: {reason}")
        return
    if len(report.sync_run_ids) == runs_before:
        land(engine, integration, [], report, details={"file": name, "rows": 0})
    stored = _move(drop, name, snapshot, PROCESSED, report)
    with engine.begin() as conn:
        set_state(conn, integration.id, key, {"name": name, "stored_as": stored, "rows": rows, "processed_at": iso(utcnow())})
    report.bump("files")
    report.bump("rows", rows)


def _reingest_window(engine: sa.Engine, integration: StoredIntegration, drop: DropFolder, window: Window, report: PullReport) -> None:
    ledger = states_with_prefix(engine, integration.id, LEDGER_PREFIX)
    entries = sorted(ledger.values(), key=lambda e: e["processed_at"])
    for entry in entries:
        if not window.contains(as_utc(datetime.fromisoformat(entry["processed_at"].replace("Z", "+00:00")))):
            continue
        stored_as = entry.get("stored_as") or ""
        outbox, _, name = stored_as.partition("/")
        if outbox != PROCESSED or not name or "/" in name or name in (".", ".."):
            report.warnings.append(f"{entry['name']}: not kept in {PROCESSED}/; cannot re-ingest it")
            continue
        with tempfile.TemporaryDirectory(prefix="crossdock-drop-") as scratch:
            try:
                snapshot = _snapshot(drop.outboxes[PROCESSED], name, Path(scratch))
            except _Missing:
                report.warnings.append(f"{entry['name']}: no longer in {PROCESSED}/ ({stored_as}); cannot re-ingest it")
                continue
            except _Skipped as exc:
                report.warnings.append(f"{entry['name']}: {stored_as} {exc}; not re-ingested")
                continue
            try:
                for chunk in read_chunks(snapshot.copy, integration.config_as(FileIntegration).file):
                    land(engine, integration, chunk, report, details={"file": entry["name"], "rows": len(chunk)})
                    report.bump("rows", len(chunk))
            except (UnreadableFile, OSError) as exc:
                raise PullError(f"{stored_as}: {str(exc).replace(str(snapshot.copy), stored_as)}", report) from None
        report.bump("files")


def _unique(outbox: int, name: str) -> str:
    candidate, number = name, 1
    while True:
        try:
            os.stat(candidate, dir_fd=outbox, follow_symlinks=False)
        except FileNotFoundError:
            return candidate
        stem, dot, suffix = name.partition(".")
        candidate = f"{stem}-{number}{dot}{suffix}"
        number += 1


def _move(drop: DropFolder, name: str, snapshot: _Snapshot, outbox: str, report: PullReport) -> str | None:
    """Rename `name` from the folder into its `outbox` (both by descriptor): only the file that was
    read; a name that now holds something else stays. Returns where it went, relative to the folder."""
    try:
        now = os.stat(name, dir_fd=drop.fd, follow_symlinks=False)
    except FileNotFoundError:
        report.warnings.append(f"{name}: gone from the folder before it could be moved to {outbox}/")
        return None
    if _identity(now) != snapshot.identity:
        report.warnings.append(f"{name}: replaced while it was read; the new one is left in place for the next poll")
        return None
    target = _unique(drop.outboxes[outbox], name)
    try:
        os.rename(name, target, src_dir_fd=drop.fd, dst_dir_fd=drop.outboxes[outbox])
    except OSError as exc:
        report.warnings.append(f"{name}: could not be moved to {outbox}/ ({exc.strerror}); left in place")
        return None
    return f"{outbox}/{target}"


def _fail(drop: DropFolder, name: str, snapshot: _Snapshot, reason: str, report: PullReport) -> None:
    moved = _move(drop, name, snapshot, FAILED, report)
    if moved is None:
        return
    note = moved.partition("/")[2] + ".reason.txt"
    try:
        fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o666, dir_fd=drop.outboxes[FAILED])
    except OSError as exc:
        report.warnings.append(f"{name}: the reason could not be written beside it in {FAILED}/ ({exc.strerror})")
        return
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{iso(utcnow())} {reason}\n")


def ledger_entries(engine: sa.Engine, integration: StoredIntegration) -> list[dict[str, Any]]:
    """What was ingested, newest first (for the admin app and the CLI)."""
    return sorted(states_with_prefix(engine, integration.id, LEDGER_PREFIX).values(), key=lambda e: e["processed_at"], reverse=True)
