"""Shared by the guide tests: the code blocks of a generated guide, and the interpreters that run them.

Node.js, PHP and openssl come from Debian (`make guide-tools`); a test needing one that is absent skips
with the reason, and fails under CROSSDOCK_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.guide.samples import CODE_FENCE, LANGUAGES
from tests.services import unavailable

FENCE = re.compile(r"^```(\w+)\n(.*?)\n```$", re.S | re.M)
TOOLS = {"curl": ("bash", "curl", "openssl"), "python": (), "node": ("node",), "php": ("php",)}
SUFFIX = {"curl": ".sh", "python": ".py", "node": ".js", "php": ".php"}


def code_blocks(markdown: str, section: str) -> dict[str, str]:
    """{language: code} of the guide section whose heading contains `section` (e.g. 'Autenticación')."""
    parts = re.split(r"^## ", markdown, flags=re.M)
    found = [part for part in parts if part.split("\n", 1)[0].find(section) >= 0]
    assert found, f"no section {section!r} in the guide"
    by_fence = {fence: language for language, fence in CODE_FENCE.items()}
    blocks: dict[str, str] = {}
    for fence, code in FENCE.findall(found[0]):
        if fence in by_fence:
            blocks.setdefault(by_fence[fence], code)
    assert set(blocks) == set(LANGUAGES), f"section {section!r} has code for {sorted(blocks)}"
    return blocks


def require_tools(language: str) -> None:
    for tool in TOOLS[language]:
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (make guide-tools installs Node.js, PHP and poppler from Debian)")


def command(language: str, script: Path) -> list[str]:
    return {
        "curl": ["bash", str(script)],
        "python": [sys.executable, str(script)],
        "node": ["node", str(script)],
        "php": ["php", str(script)],
    }[language]


def run_sample(language: str, code: str, folder: Path, env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run a sending sample; (HTTP status it printed, the answer's body it printed)."""
    require_tools(language)
    script = folder / f"send{SUFFIX[language]}"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(command(language, script), env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{language} sample failed ({done.returncode}): {done.stderr[-2000:]}"
    lines = done.stdout.strip().splitlines()
    if language == "curl":  # curl prints the body, then the status on the last line
        return int(lines[-1]), "\n".join(lines[:-1])
    return int(lines[0]), "\n".join(lines[1:])
