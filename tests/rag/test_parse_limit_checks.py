"""The hostile-file checks themselves, without a database: each limit names itself, the HTML and DOCX checks
cost a bounded number of operations per element (counted, not timed), and the chunk limit stops early.
The uploads and the parse child's limits: test_hostile_files.py."""

from __future__ import annotations

import io
import sys
import zipfile

import pytest

from chatai.rag.chunking import chunk_blocks
from chatai.rag.limits import Limits, check_html
from chatai.rag.parsing import Block, ParseError, parse_document
from tests.rag.conftest import make_docx, make_pdf
from tests.rag.hostile_files import dense_text_docx


def test_parse_limits_each_name_their_limit():
    small = Limits(max_pages=3, max_elements=50, max_depth=10, max_csv_columns=5)
    cases = [
        ("a.pdf", make_pdf([["p"]] * 4), "The PDF has 4 pages (limit 3 pages)"),
        ("a.txt", "\n\n".join(["line"] * 60).encode(), "more than 50 paragraphs, rows or other elements (limit 50)"),
        ("a.md", "\n".join(["- item"] * 60).encode(), "(limit 50)"),
        ("a.csv", b"a,b,c,d,e,f\n1,2,3,4,5,6\n", "The CSV has 6 columns (limit 5 columns)"),
        ("a.csv", b"name,price\n" + b"tea,3\n" * 60, "(limit 50)"),
        ("a.html", b"<div>" * 11 + b"x", "more than 10 levels deep (limit 10 levels)"),
        ("a.html", b"<p>x</p>" * 51, "(limit 50)"),
    ]
    for name, data, sentence in cases:
        with pytest.raises(ParseError) as err:
            parse_document(name, data, small)
        assert err.value.code == "over_limit" and sentence in err.value.message, name
    for name, data, _ in cases:  # the same files are fine under the default limits
        assert parse_document(name, data).blocks, name


def test_pdf_with_a_lying_page_count_is_still_limited():
    data = make_pdf([["page"]] * 4).replace(b"/Count 4", b"/Count 1")
    with pytest.raises(ParseError) as err:
        parse_document("liar.pdf", data, Limits(max_pages=3))
    assert "The PDF has 4 pages (limit 3 pages)" in err.value.message


def test_html_depth_check_follows_implicit_closing():
    limits = Limits(max_depth=20)
    # Old-style HTML: thousands of unclosed <p> and <li>, void tags and comments: only a few levels deep.
    page = b"<html><body><ul>" + b"<li>item <br> <img src=x>" * 5000 + b"</ul>" + b"<p>para <!-- <div> -->" * 5000
    check_html(page, limits)
    with pytest.raises(Exception, match="levels deep"):
        check_html(b"<div>" * 21, limits)
    assert parse_document("old.html", page).blocks  # and the parser still reads it


def _lines_executed(run, budget: int | None = None) -> int:
    """Python lines executed by run() (every frame, the libraries' too): an operation count that does not
    depend on how busy the machine is. Past `budget` it stops the run (a quadratic one would take minutes)."""
    count = 0

    class OverBudget(Exception):
        pass

    def trace(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
            if budget is not None and count > budget:
                raise OverBudget
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        run()
    except OverBudget:
        pass
    finally:
        sys.settrace(previous)
    return count


def test_html_with_many_siblings_parses_in_linear_time():
    """Paragraphs in one container: editing the tree per block was quadratic (50,000 took minutes). Four
    times the paragraphs must cost about four times the work, counted in lines executed."""
    def page(n: int) -> bytes:
        return b"<div>" + b"<p>some words of text here</p>" * n + b"</div>"

    small = _lines_executed(lambda: parse_document("flat.html", page(2_000)))
    large = _lines_executed(lambda: parse_document("flat.html", page(8_000)), budget=small * 8)
    assert 3.5 < large / small < 4.5, (small, large)
    assert len(parse_document("flat.html", page(50_000)).blocks) == 50_000


def test_docx_paragraphs_cost_a_bounded_number_of_operations_each():
    """python-docx looked every paragraph's style up by scanning all styles (~5 ms a paragraph: 18,000
    paragraphs took 116 s of CPU, a small file could reach the CPU limit). Counted in lines executed."""
    data = dense_text_docx(xml_mib=3)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        paragraphs = z.read("word/document.xml").count(b"<w:p>")
    assert paragraphs > 15_000
    parsed = []
    limits = Limits(max_text_chars_per_mb=10**9)
    lines = _lines_executed(lambda: parsed.append(parse_document("many.docx", data, limits)), budget=300 * paragraphs)
    assert parsed and len(parsed[0].blocks) >= paragraphs - 10  # headings and table cells are not blocks
    assert lines / paragraphs < 150, lines / paragraphs


def test_small_zip_parts_are_never_called_bombs():
    """Tiny XML compresses very well (ratios over 100 are normal below 1 MB): only big parts count."""
    assert parse_document("manual.docx", make_docx(), Limits(max_zip_ratio=2)).blocks
    with zipfile.ZipFile(io.BytesIO(make_docx())) as z:
        assert max(i.file_size / max(i.compress_size, 1) for i in z.infolist()) > 2


def test_chunk_limit_stops_early():
    blocks = [Block(f"Paragraph {i} " + "word " * 150, "S") for i in range(100)]
    assert len(chunk_blocks(blocks, max_chunks=100)) == 100
    with pytest.raises(Exception, match="more than 99 passages"):
        chunk_blocks(blocks, max_chunks=99)
