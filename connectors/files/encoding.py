"""Which text encoding a CSV export is in. DuckDB reads UTF-8, UTF-16 and Latin-1 natively but does
not guess; ERPs on Windows write Windows-1252 (Latin-1 plus € “ ” – … in 0x80–0x9F), which is
transcoded to UTF-8 first so those characters survive."""

from __future__ import annotations

import codecs
from pathlib import Path

BLOCK = 1 << 20
NATIVE = {"utf-8", "utf-16", "latin-1"}
_ALIASES = {
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "utf16": "utf-16",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
    "l1": "latin-1",
    "windows-1252": "cp1252",
    "cp-1252": "cp1252",
}


def normalise(name: str) -> str:
    lowered = name.strip().lower().replace("_", "-")
    try:
        canonical = codecs.lookup(lowered).name
    except LookupError:
        raise ValueError(f"unknown text encoding {name!r}") from None
    return _ALIASES.get(lowered, _ALIASES.get(canonical, canonical))


def sniff_encoding(path: Path) -> str:
    """utf-8 (with or without BOM), utf-16 (BOM), cp1252 when its 0x80–0x9F characters appear, else latin-1."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        windows_only = False
        utf8 = True
        while block := handle.read(BLOCK):
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            windows_only = windows_only or any(0x80 <= b <= 0x9F for b in block)
            if not utf8 and windows_only:
                break
        if utf8:
            try:
                decoder.decode(b"", final=True)
                return "utf-8"
            except UnicodeDecodeError:
                pass
    return "cp1252" if windows_only else "latin-1"


def transcode_to_utf8(source: Path, encoding: str, target: Path) -> Path:
    """Stream `source` into `target` as UTF-8 (bounded memory); undecodable bytes raise ValueError."""
    with source.open("r", encoding=encoding, newline="") as reader, target.open("w", encoding="utf-8", newline="") as writer:
        while chunk := reader.read(BLOCK):
            writer.write(chunk)
    return target
