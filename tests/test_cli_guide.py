"""`crossdock integrations guide` as a person runs it: a real subprocess writes the guide to a file
or stdout, and bad input gets a specific message and exit code."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import EXAMPLES


def crossdock(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CROSSDOCK_PUBLIC_URL": "https://api.logitrack.app"}
    return subprocess.run([sys.executable, "-m", "crossdock", *args], capture_output=True, env=env, timeout=120, cwd=cwd, check=False)


def test_the_guide_in_each_format_and_language(tmp_path):
    added = crossdock("integrations", "add", "--file", str(EXAMPLES / "cliente_abc_integration.json"))
    assert added.returncode == 0, added.stderr
    pdf = tmp_path / "guia.pdf"
    done = crossdock("integrations", "guide", "cliente_abc", "--format", "pdf", "--lang", "es", "--output", str(pdf))
    assert done.returncode == 0, done.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and f"wrote {pdf}" in done.stderr.decode()
    english = crossdock("integrations", "guide", "cliente_abc", "--format", "md", "--lang", "en")
    text = english.stdout.decode()
    assert text.startswith("# Integration guide: cliente_abc") and "secreto_compartido" not in text
    assert "https://api.logitrack.app/webhook/cliente_abc" in text
    html = crossdock("integrations", "guide", "cliente_abc", "--format", "html")
    assert html.stdout.decode().startswith("<!DOCTYPE html>") and 'lang="es"' in html.stdout.decode()
    default_name = crossdock("integrations", "guide", "cliente_abc", "--format", "pdf", cwd=tmp_path)
    assert default_name.returncode == 0 and (tmp_path / "crossdock-guide-cliente_abc-es.pdf").exists()


def test_bad_input_is_named():
    unknown = crossdock("integrations", "guide", "nobody")
    assert unknown.returncode == 1 and b"no integration named 'nobody'" in unknown.stderr
    fmt = crossdock("integrations", "guide", "nobody", "--format", "docx")
    assert fmt.returncode == 2 and b"--format must be one of md, html, pdf (got 'docx')" in fmt.stderr
    lang = crossdock("integrations", "guide", "nobody", "--lang", "fr")
    assert lang.returncode == 2 and b"--lang must be one of es, en (got 'fr')" in lang.stderr
