"""Render a bench `SourceFile` (bench/russian_businesses.py) as the file a business would upload: CSV,
Markdown, HTML or DOCX (python-docx), so the bench ingests it through the real parsers."""

from __future__ import annotations

import csv
import html
import io
from pathlib import PurePath

from bench.russian_businesses import Fact, SourceFile


def needle(fact: Fact) -> str:
    """What a chunk must contain to answer the fact's questions: the passage's opening (a table row's
    first cell), whitespace as the parsers normalise it."""
    return " ".join(fact.text.split())[:60]


def _cells(fact: Fact) -> list[str]:
    return [fact.text, *fact.cells]


def render_csv(file: SourceFile) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(file.header)
    for section in file.sections:
        writer.writerows(_cells(f) for f in section.facts)
    return out.getvalue().encode("utf-8")


def render_markdown(file: SourceFile) -> bytes:
    lines = [f"# {file.title}", ""]
    for section in file.sections:
        lines += [f"## {section.title}", ""]
        for fact in section.facts:
            lines += [fact.text, ""]
    return "\n".join(lines).encode("utf-8")


def render_html(file: SourceFile) -> bytes:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(file.title)}</title></head><body>",
             "<nav><a href='/'>Главная</a> · <a href='/contacts'>Контакты</a></nav>", f"<h1>{e(file.title)}</h1>"]
    for section in file.sections:
        parts.append(f"<section><h2>{e(section.title)}</h2>")
        parts.extend(f"<p>{e(fact.text)}</p>" for fact in section.facts)
        parts.append("</section>")
    parts.append("<footer>© 2026</footer></body></html>")
    return "\n".join(parts).encode("utf-8")


def render_docx(file: SourceFile) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(file.title, 0)
    for section in file.sections:
        document.add_heading(section.title, 1)
        if file.header:
            table = document.add_table(rows=1, cols=len(file.header))
            for cell, name in zip(table.rows[0].cells, file.header, strict=True):
                cell.text = name
            for fact in section.facts:
                for cell, value in zip(table.add_row().cells, _cells(fact), strict=True):
                    cell.text = value
        else:
            for fact in section.facts:
                document.add_paragraph(fact.text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


RENDERERS = {".csv": render_csv, ".md": render_markdown, ".html": render_html, ".docx": render_docx}


def render(file: SourceFile) -> bytes:
    return RENDERERS[PurePath(file.filename).suffix](file)
