"""Reading the JSON/YAML files people hand the CLI, with errors that say where the file is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class UnusableFile(ValueError):
    """The file cannot be used at all: missing, unreadable, or not valid JSON/YAML."""


def read_document(path: Path) -> Any:
    """Parse `path` as YAML when it ends in .yaml/.yml, else JSON; say line and column on failure."""
    if not path.exists():
        raise UnusableFile(f"{path}: no such file")
    if path.is_dir():
        raise UnusableFile(f"{path}: is a folder, expected a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UnusableFile(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise UnusableFile(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnusableFile(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc


def read_records(path: Path) -> tuple[list[Any], bool]:
    """Records from a payload file: a JSON object (one record), a JSON array, or JSON Lines (.jsonl).
    Returns (records, whether the file held a single object)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        if not path.exists():
            raise UnusableFile(f"{path}: no such file")
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise UnusableFile(f"{path}: invalid JSON on line {number}, column {exc.colno}: {exc.msg}") from exc
        return records, False
    document = read_document(path)
    if isinstance(document, list):
        return document, False
    return [document], True
