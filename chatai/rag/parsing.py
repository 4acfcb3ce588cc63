"""Turn an uploaded file into structured text blocks (heading-aware), or explain exactly why not.

Every failure is a `ParseError` with a stable `code` and an English message an owner can act on,
because the upload form and the CLI show it as is. Parsing is pure (bytes in, blocks out) so the
upload validation and the ingestion worker run the very same code (in a child process with memory and
CPU limits: parse_process.py). A file over one of the `Limits` fails with code "over_limit" and a
sentence naming the limit, checked before the expensive step wherever that is possible.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import PurePath

from chatai.rag.limits import (
    LimitExceeded,
    Limits,
    TextBudget,
    check_html,
    check_zip,
    too_many_columns,
    too_many_elements,
    too_many_pages,
)
from chatai.rag.pdf_content import check_page_text
from chatai.rag.text_blocks import Block, ParsedDocument, ParseError, decode_text
from chatai.rag.text_blocks import BlockList as _Blocks
from chatai.rag.text_blocks import Sections as _Sections
from chatai.rag.text_blocks import clean as _clean
from chatai.rag.text_blocks import paragraphs as _paragraphs
from chatai.rag.text_blocks import table_rows as _table_rows
from chatai.rag.xml_text import check_docx_text
from chatai.textsafe import db_safe

__all__ = ["Block", "ParseError", "ParsedDocument", "decode_text", "file_kind", "parse_document"]

SUPPORTED_EXTENSIONS = {
    ".pdf": "pdf", ".docx": "docx", ".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md",
    ".html": "html", ".htm": "html", ".csv": "csv",
}
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain", "md": "text/markdown", "html": "text/html", "csv": "text/csv",
}
QUESTION_COLUMNS = ("question", "questions", "q", "вопрос", "вопросы")
ANSWER_COLUMNS = ("answer", "answers", "a", "ответ", "ответы")


def file_kind(filename: str) -> str:
    """The parser for a file name, or ParseError('unsupported_type')."""
    ext = PurePath(filename).suffix.lower()
    kind = SUPPORTED_EXTENSIONS.get(ext)
    if kind is None:
        supported = ", ".join(sorted({e.lstrip(".").upper() for e in ("pdf", "docx", "txt", "md", "html", "csv")}))
        raise ParseError("unsupported_type",
                         f"{ext or 'files without an extension'} is not supported; upload {supported} files.")
    return kind


def parse_document(filename: str, data: bytes, limits: Limits | None = None) -> ParsedDocument:
    kind = file_kind(filename)
    if not data:
        raise ParseError("empty", "The file is empty.")
    limits = limits or Limits()
    try:
        parsed = _PARSERS[kind](data, limits, TextBudget(limits, len(data)))
    except LimitExceeded as exc:
        raise ParseError("over_limit", str(exc), exc.stats) from exc
    # PostgreSQL stores neither U+0000 nor lone surrogates (a PDF's text layer can hold both).
    parsed.blocks = [Block(db_safe(b.text), db_safe(b.section), b.kind, b.page) for b in parsed.blocks
                     if b.text.strip()]
    if parsed.qa_pairs is not None:
        parsed.qa_pairs = [(db_safe(q), db_safe(a)) for q, a in parsed.qa_pairs]
    if not parsed.blocks and not parsed.qa_pairs:
        if kind == "pdf":
            raise ParseError("no_text_layer",
                             "This looks like a scanned PDF with no text layer; OCR is not supported. "
                             "Upload a PDF with selectable text, or a DOCX/TXT version.")
        raise ParseError("empty", "The file contains no text.")
    return parsed


# --- formats -------------------------------------------------------------------------------------


def _parse_pdf(data: bytes, limits: Limits, budget: TextBudget) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs carry an empty user password (only printing/editing restricted): those are readable.
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several types for unsupported crypto
                ok = 0
            if not ok:
                raise ParseError("encrypted", "The PDF is password-protected; remove the password and upload again.")
        _check_page_count(reader, limits)
        pages = list(reader.pages)
        if len(pages) > limits.max_pages:  # the declared /Count may lie; the page tree does not
            raise LimitExceeded(too_many_pages(len(pages), limits.max_pages))
        blocks = _Blocks(limits)
        for number, page in enumerate(pages, start=1):
            check_page_text(page, budget)  # before pypdf builds every operator of the page
            text = page.extract_text() or ""
            budget.add(len(text))  # page by page: a page's streams can unpack far beyond the file's size
            blocks.extend(_paragraphs(text, f"Page {number}", number))
    except (ParseError, LimitExceeded):
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise ParseError("corrupt", f"The PDF is damaged or not a PDF ({type(exc).__name__}).") from exc
    if not pages:
        raise ParseError("empty", "The PDF has no pages.")
    return ParsedDocument("pdf", blocks, page_count=len(pages))


def _check_page_count(reader: object, limits: Limits) -> None:
    """Refuse on the declared page count before walking the page tree (walking 50,000 pages takes seconds)."""
    try:
        declared = int(reader.trailer["/Root"]["/Pages"]["/Count"])  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a damaged tree is found (and reported) by the walk itself
        return
    if declared > limits.max_pages:
        raise LimitExceeded(too_many_pages(declared, limits.max_pages))


def _parse_docx(data: bytes, limits: Limits, budget: TextBudget) -> ParsedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_zip(data, limits)  # before python-docx unpacks anything
    check_docx_text(data, limits, budget)  # streams the XML: refused after a fraction of an oversized one
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ParseError("corrupt", "The DOCX file is damaged or not a Word document.") from exc
    except Exception as exc:  # noqa: BLE001 - python-docx raises its own PackageNotFoundError etc.
        if type(exc).__name__ == "XMLSyntaxError" and ("unknown error" in str(exc) or "emory" in str(exc)):
            # How libxml2 reports running out of memory (the parse child's memory limit), not damage.
            raise MemoryError(str(exc)) from exc
        raise ParseError("corrupt", f"The DOCX file cannot be opened ({type(exc).__name__}).") from exc
    sections = _Sections()
    blocks = _Blocks(limits)
    # Style names by style id: python-docx looks each paragraph's style up by scanning every style (~5 ms
    # a paragraph with a stock template: 18,000 paragraphs took 116 s of CPU), once per id is enough.
    style_names: dict[str | None, str] = {}
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = _clean(item.text)
            style_id = item._p.style  # the paragraph's w:pStyle value, None for the default style
            if style_id not in style_names:
                style_names[style_id] = (item.style.name if item.style is not None else "") or ""
            style = style_names[style_id]
            match = re.match(r"(?:Heading|Заголовок)\s*(\d)", style)
            if style == "Title":
                sections.heading(0, text)
            elif match:
                sections.heading(int(match.group(1)), text)
            elif text:
                kind = "item" if "List" in style else "paragraph"
                blocks.append(Block(text, sections.current, kind))
        elif isinstance(item, Table):
            blocks.extend(_table_rows([[c.text for c in row.cells] for row in item.rows], sections.current))
    return ParsedDocument("docx", blocks, page_count=max(1, _docx_pages(document, blocks)))


def _docx_pages(document: object, blocks: list[Block]) -> int:
    """DOCX has no fixed pages; count ~3000 characters as a page so throughput figures mean something."""
    return -(-sum(len(b.text) for b in blocks) // 3000)


def _parse_txt(data: bytes, limits: Limits, budget: TextBudget) -> ParsedDocument:
    text = decode_text(data)
    budget.add(len(text))
    blocks = _Blocks(limits)
    blocks.extend(_paragraphs(text, ""))
    return ParsedDocument("txt", blocks, page_count=max(1, -(-len(text) // 3000)))


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_FENCE = re.compile(r"^\s*(```|~~~)")


def _parse_md(data: bytes, limits: Limits, budget: TextBudget) -> ParsedDocument:
    text = decode_text(data)
    budget.add(len(text))
    sections = _Sections()
    blocks = _Blocks(limits)
    buffer: list[str] = []
    in_fence = False

    def flush() -> None:
        blocks.extend(_paragraphs(_strip_md("\n".join(buffer)), sections.current))
        buffer.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        if _MD_FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _MD_HEADING.match(line)
        if match:
            flush()
            sections.heading(len(match.group(1)), _strip_md(match.group(2)))
        elif not in_fence and re.match(r"^\s*([-*+]|\d+[.)])\s+", line):
            flush()  # list items are their own blocks, so chunks split between items, not inside them
            buffer.append(line)
            flush()
        elif not in_fence and line.strip().startswith("|") and set(line.strip()) <= set("|-: "):
            continue  # table separator row
        else:
            buffer.append(line)
    flush()
    return ParsedDocument("md", blocks, page_count=max(1, -(-len(text) // 3000)))


def _strip_md(text: str) -> str:
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)  # images -> alt text
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links -> their text
    text = re.sub(r"^\s*([-*+]|\d+[.)])\s+", "", text, flags=re.M)
    text = re.sub(r"^\s*>\s?", "", text, flags=re.M)
    text = re.sub(r"(\*\*|__|`)", "", text)
    return text.replace("|", " | ")


_HTML_BLOCKS = ("p", "div", "li", "tr", "br", "section", "article", "table", "ul", "ol", "pre", "blockquote",
                "dt", "dd", "header", "footer", "main", "aside", "form", "figure", "figcaption", "hr")
_MARK = "\u2063H"  # an invisible separator that cannot occur in normal text


# Not content: code, and the site's navigation (a menu bar made its own passage, the top hit for vague
# questions).
_HTML_SKIP = {"script", "style", "noscript", "template", "svg", "iframe", "head", "nav"}
_HTML_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


class _After(str):
    """Text the walk emits once an element's children are done (a block's break, a cell's " | ")."""


def _html_text(root: object, *, structure: bool = True, joiner: str = "") -> str:
    """The text of an HTML tree with blank lines around blocks, " | " after cells and headings as marked
    lines (structure=False: the strings only). One iterative pass: editing the tree instead (insert_before/
    insert_after per block) was quadratic in the number of siblings, and recursion fails on deep trees."""
    from bs4 import CData, NavigableString, Tag

    out: list[str] = []
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if type(node) is _After:
            out.append(node)
        elif isinstance(node, Tag):
            name = node.name
            if name in _HTML_SKIP:
                continue
            if structure and name in _HTML_HEADINGS:
                title = _clean(_html_text(node, structure=False, joiner=" "))  # as get_text(" ")
                out.append(f"\n\n{_MARK}{name[1]}{title}\n\n")
                continue
            if structure and name in _HTML_BLOCKS:
                out.append("\n\n")
                stack.append(_After("\n\n"))
            elif structure and name in ("td", "th"):
                stack.append(_After(" | "))
            stack.extend(reversed(node.contents))
        elif type(node) in (NavigableString, CData):
            out.append(str(node))
    return joiner.join(out)


def _parse_html(data: bytes, limits: Limits, budget: TextBudget) -> ParsedDocument:
    from bs4 import BeautifulSoup

    check_html(data, limits)  # before BeautifulSoup builds a tree
    soup = BeautifulSoup(decode_text(data), "html.parser")
    text = _html_text(soup)
    budget.add(len(text))  # the text, not the markup: an HTML file never holds more text than bytes
    sections = _Sections()
    blocks = _Blocks(limits)
    for part in re.split(r"\n\s*\n", text):
        part = part.strip()
        if part.startswith(_MARK):
            sections.heading(int(part[len(_MARK)]), part[len(_MARK) + 1:])
        else:
            blocks.extend(_paragraphs(part.strip(" |"), sections.current))
    return ParsedDocument("html", blocks, page_count=max(1, -(-len(text) // 3000)))


CSV_DELIMITERS = ",;\t|"


def _csv_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """The sniffer, and when it gives up, the delimiter that splits the first lines into the same number of
    columns most often: Russian-locale Excel writes ';' with commas inside the cells, which the sniffer
    cannot decide on, and reading such a file with ',' garbles every row."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS)
    except csv.Error:
        pass
    lines = sample.splitlines()[:-1] or sample.splitlines()  # the last line of a sample may be cut
    best, best_score = csv.excel, (0, 0)
    for delimiter in CSV_DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(lines[:50], delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) if common > 1 else 0, common)
        if score > best_score:
            best_score = score

            class Guessed(csv.excel):
                pass

            Guessed.delimiter = delimiter
            best = Guessed
    return best


def _read_csv(data: bytes, limits: Limits, budget: TextBudget) -> list[list[str]]:
    text = decode_text(data)
    budget.add(len(text))
    dialect = _csv_dialect(text[:8192])
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            if len(row) > limits.max_csv_columns:
                raise LimitExceeded(too_many_columns(len(row), limits.max_csv_columns))
            if any(c.strip() for c in row):
                rows.append(row)
                if len(rows) > limits.max_elements:
                    raise LimitExceeded(too_many_elements(limits.max_elements))
        return rows
    except csv.Error as exc:
        raise ParseError("corrupt", f"The CSV file cannot be read: {exc}.") from exc


def qa_columns(header: list[str]) -> tuple[int, int] | None:
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    q = next((i for i, n in enumerate(names) if n in QUESTION_COLUMNS), None)
    a = next((i for i, n in enumerate(names) if n in ANSWER_COLUMNS), None)
    return (q, a) if q is not None and a is not None else None


def _parse_csv(data: bytes, limits: Limits, budget: TextBudget) -> ParsedDocument:
    rows = _read_csv(data, limits, budget)
    if not rows:
        raise ParseError("empty", "The CSV file has no rows.")
    columns = qa_columns(rows[0])
    if columns:
        q, a = columns
        pairs = [(_clean(r[q]), r[a].strip()) for r in rows[1:] if len(r) > max(q, a) and r[q].strip() and r[a].strip()]
        if not pairs:
            raise ParseError("empty", "The CSV has question and answer columns but no filled rows.")
        return ParsedDocument("csv", [], page_count=1, qa_pairs=pairs)
    return ParsedDocument("csv", _table_rows(rows, ""), page_count=max(1, -(-len(rows) // 50)))


_PARSERS = {"pdf": _parse_pdf, "docx": _parse_docx, "txt": _parse_txt, "md": _parse_md, "html": _parse_html,
            "csv": _parse_csv}
