"""The integration guide as a file: Markdown as built, HTML (python-markdown in a jinja2 page) or PDF
(that HTML through xhtml2pdf).

Rendering lives here rather than in `pipelines.guide` because it is output formatting with its own
libraries; what the guide says is decided there. The page's CSS is inline and uses only built-in PDF
fonts, so nothing is fetched while rendering (no internet at run time).
"""

from __future__ import annotations

import io
from typing import Literal

import markdown
from jinja2 import Environment, select_autoescape
from xhtml2pdf import pisa

from pipelines.guide.document import Guide

Format = Literal["md", "html", "pdf"]
FORMATS: tuple[Format, ...] = ("md", "html", "pdf")
MEDIA_TYPES = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}


class RenderFailed(Exception):
    """The PDF engine could not lay the document out; the message says where."""


PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
  @page { size: a4; margin: 1.6cm 1.5cm 1.8cm 1.5cm;
          @frame footer { -pdf-frame-content: footer; bottom: 0.8cm; margin-left: 1.5cm; margin-right: 1.5cm; height: 0.6cm; } }
  body { font-family: Helvetica, Arial, sans-serif; font-size: 10pt; line-height: 1.4; color: #1d2433;
         max-width: 60em; margin: 2em auto; padding: 0 1em; }
  h1 { font-size: 20pt; color: #0b3d91; border-bottom: 2px solid #0b3d91; padding-bottom: 4pt; }
  h2 { font-size: 14pt; color: #0b3d91; margin-top: 16pt; border-bottom: 1px solid #c9d3e6; padding-bottom: 2pt; }
  h3 { font-size: 11pt; margin-top: 10pt; }
  code { font-family: Courier, monospace; font-size: 8.5pt; background: #f2f4f8; }
  pre { font-family: Courier, monospace; font-size: 7.5pt; background: #f2f4f8; border: 1px solid #dde3ee;
        padding: 6pt; line-height: 1.25; }
  pre code { background-color: transparent; font-size: 7.5pt; }
  table { width: 100%; margin: 6pt 0; }
  th, td { border: 1px solid #c9d3e6; padding: 3pt 5pt; text-align: left; vertical-align: top; font-size: 9pt; }
  th { background: #e8eef9; }
  blockquote { border-left: 3px solid #f0a500; margin-left: 0; padding-left: 8pt; color: #5a4300; }
  #footer { font-size: 8pt; color: #7a8499; text-align: right; }
</style>
</head>
<body>
{{ body | safe }}
<div id="footer">{{ title }} · <pdf:pagenumber/></div>
</body>
</html>
"""
_TEMPLATE = Environment(autoescape=select_autoescape(default=True)).from_string(PAGE)


def to_html(guide: Guide, *, for_pdf: bool = False) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external resources)."""
    body = markdown.markdown(guide.markdown, extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    if for_pdf:
        body = body.replace("<li>[ ] ", "<li>[&#160;&#160;&#160;] ")  # the PDF's built-in fonts have no ballot box
    else:
        body = body.replace("<li>[ ] ", '<li><input type="checkbox" disabled> ')
    page = _TEMPLATE.render(lang=guide.lang, title=guide.title, body=body)
    if not for_pdf:
        page = page.replace('<div id="footer">', '<div id="footer" hidden>')
    return page


def to_pdf(guide: Guide) -> bytes:
    out = io.BytesIO()
    status = pisa.CreatePDF(to_html(guide, for_pdf=True), dest=out, encoding="utf-8")
    if status.err:
        raise RenderFailed(f"the PDF could not be laid out ({status.err} error(s))")
    return out.getvalue()


def render(guide: Guide, fmt: Format) -> bytes:
    """The guide in `fmt` as bytes ready to write or download."""
    if fmt == "md":
        return guide.markdown.encode("utf-8")
    if fmt == "html":
        return to_html(guide).encode("utf-8")
    if fmt == "pdf":
        return to_pdf(guide)
    raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def file_name(guide: Guide, fmt: Format) -> str:
    return f"crossdock-guide-{guide.name}-{guide.lang}.{fmt}"
