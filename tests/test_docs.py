"""The documentation site (docs/, mkdocs.yml): the generated reference pages match the code, the site
builds with `mkdocs build --strict` and loads nothing from the internet, the README's links lead to
files that exist, and the hand-written reference pages name everything they list."""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"


def generator() -> ModuleType:
    """docs/generate.py, loaded from its file (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("crossdock_docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def first_difference(committed: Path, fresh: Path, lines: int = 12) -> str:
    diff = difflib.unified_diff(
        committed.read_text(encoding="utf-8").splitlines(),
        fresh.read_text(encoding="utf-8").splitlines(),
        fromfile=f"committed {committed.relative_to(ROOT)}",
        tofile="generated from the code now",
        lineterm="",
    )
    return "\n".join(list(diff)[:lines])


def test_generated_reference_pages_match_the_code(tmp_path):
    docs = generator()
    written = docs.generate(tmp_path)
    assert {p.name for p in written} >= {"settings.md", "integration.md", "cli.md", "http-api.md", "openapi.json"}
    stale = []
    for fresh in written:
        committed = REFERENCE / fresh.name
        if not committed.exists():
            stale.append(f"{committed.relative_to(ROOT)} is missing")
        elif committed.read_bytes() != fresh.read_bytes():
            stale.append(first_difference(committed, fresh))
    assert not stale, (
        "the generated reference pages are out of date with the code (a setting, integration field, CLI option "
        "or route changed): run `make docs` and commit docs/reference/.\n\n" + "\n\n".join(stale)
    )
    produced = {p.name for p in written}
    orphans = [p.name for p in REFERENCE.glob("*.md") if p.read_text(encoding="utf-8").startswith(docs.MARKER) and p.name not in produced]
    assert not orphans, f"generated pages the generator no longer writes: {orphans}; delete them and run `make docs`"


# A tag that makes the browser fetch something from another host when the page is viewed.
FETCHES_REMOTELY = re.compile(r"<(?:script|link|img|iframe|source|video|audio)\b[^>]*\b(?:src|href)=[\"'](?:https?:)?//", re.I)


def test_site_builds_strict_and_offline(tmp_path):
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stdout}\n{built.stderr}"
    pages = sorted(site.rglob("*.html"))
    assert (site / "index.html").exists() and len(pages) > 20
    remote = [str(p.relative_to(site)) for p in pages if FETCHES_REMOTELY.search(p.read_text(encoding="utf-8"))]
    assert not remote, f"pages that load something from the internet when viewed: {remote}"
    for path in [*pages, *site.rglob("*.css")]:
        text = path.read_text(encoding="utf-8")
        assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, f"web fonts in {path}"
    # Material fetches mermaid.js from a CDN when a page has a mermaid diagram: diagrams are SVG files instead.
    mermaid = [str(p.relative_to(site)) for p in pages if 'class="mermaid"' in p.read_text(encoding="utf-8")]
    assert not mermaid, f"mermaid diagrams would be fetched from a CDN: {mermaid}"
    assert (site / "architecture" / "crossdock.svg").exists()


MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def test_readme_links_lead_to_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t for t in MARKDOWN_LINK.findall(readme) if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]
    assert targets, "the README links into docs/"
    missing = [t for t in targets if not (ROOT / t.split("#", 1)[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_hand_written_reference_names_every_mapping_function_and_dagster_definition():
    from assets.definitions import defs
    from pipelines.mapping import FUNCTIONS

    mapping = (REFERENCE / "mapping-language.md").read_text(encoding="utf-8")
    undocumented = sorted(name for name in FUNCTIONS if f"`{name}(" not in mapping)
    assert not undocumented, f"mapping functions missing from docs/reference/mapping-language.md: {undocumented}"

    repository = defs.get_repository_def()
    names = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    names |= {job.name for job in repository.get_all_jobs() if not job.name.startswith("__")}
    names |= {sensor.name for sensor in repository.sensor_defs}
    names |= {schedule.name for schedule in repository.schedule_defs}
    names |= {check.name for check in repository.asset_graph.asset_check_keys}
    dagster = (REFERENCE / "dagster.md").read_text(encoding="utf-8")
    undocumented = sorted(name for name in names if f"`{name}`" not in dagster)
    assert not undocumented, f"Dagster definitions missing from docs/reference/dagster.md: {undocumented}"
