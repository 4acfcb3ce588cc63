"""Hostile files: refused by a limit with a sentence naming it, before the expensive step, and never at the
app's expense.

Each of these once ran for minutes or added gigabytes to the app process (issue 8, item 3); the parse
now runs in a child process with memory and CPU limits, so what gets past the checks fails alone. No test
here measures seconds (a busy machine made them fail): each asserts what was refused, by which limit, and
how far reading got (counters). The timings are in bench/parse_fairness.py and bench/ingest_fairness.py.
"""

from __future__ import annotations

import io
import re
import zipfile

import psutil
import pytest
from sqlalchemy import func, select

from chatai.db.models import Chunk, Document, DocumentFile
from chatai.db.session import async_session
from chatai.rag.limits import Limits
from chatai.rag.parsing import Block, ParseError, parse_document
from chatai.rag.worker import process_pending
from chatai.services import knowledge
from chatai.services.knowledge import UploadError
from chatai.settings import get_settings
from tests.rag.conftest import make_docx, make_pdf
from tests.rag.hostile_files import (
    deep_html,
    dense_text_docx,
    huge_xml_docx,
    many_page_pdf,
    text_bomb_pdf,
    wide_csv,
    zip_bomb_docx,
)


@pytest.fixture
def settings_env(monkeypatch):
    """Set settings through the environment, as an operator would."""

    def apply(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), str(value))
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


async def _upload(tenant, name, data):
    async with async_session() as s:
        return await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                               filename=name, data=data)


async def _store_unchecked(tenant, name: str, data: bytes) -> Document:
    """A queued document whose file was never validated (uploaded before a limit existed or was lowered)."""
    async with async_session() as s:
        document = Document(assistant_id=tenant.assistant_id, filename=name, content_hash=name, size_bytes=len(data))
        s.add(document)
        await s.flush()
        s.add(DocumentFile(document_id=document.id, data=data))
        await s.commit()
        return document


async def _doc(document_id) -> Document:
    async with async_session() as s:
        return await s.get(Document, document_id)


async def _count(model) -> int:
    async with async_session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1048576


# --- each bomb is refused at upload, naming its limit, before the expensive step ------------------------

BOMBS = [
    ("zeros.docx", zip_bomb_docx, "The file unpacks to 1,025 MB (limit 200 MB); it may be a zip bomb."),
    ("huge.docx", huge_xml_docx, "A part of the file unpacks to 294 times its packed size (limit 100 times)"),
    ("dense.docx", dense_text_docx,
     "The file holds more than 12,000,000 characters of text (limit 12,000,000 characters)"),
    ("deep.html", deep_html, "more than 256 levels deep (limit 256 levels)"),
    ("wide.csv", wide_csv, "The CSV has 200,000 columns (limit 1,000 columns)"),
    ("many.pdf", many_page_pdf, "The PDF has 50,000 pages (limit 2,000 pages)"),
]


@pytest.mark.parametrize(("name", "make", "sentence"), BOMBS, ids=[b[0] for b in BOMBS])
async def test_bomb_upload_is_refused_naming_the_limit(tenant, name, make, sentence):
    data = make()
    assert len(data) < 10 * 1048576  # every one fits under the upload limit
    with pytest.raises(UploadError) as err:
        await _upload(tenant, name, data)
    assert err.value.code == "over_limit"
    assert sentence in err.value.message and err.value.message.endswith(".")
    assert await _count(Document) == 0 and await _count(DocumentFile) == 0


class _Calls:
    """Counts calls of the real functions it wraps (they still run): which parser step was reached."""

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch
        self.counts: dict[str, int] = {}

    def spy(self, owner: object, name: str) -> None:
        real = getattr(owner, name)
        key = f"{getattr(owner, '__name__', owner)}.{name}"
        self.counts[key] = 0

        def counted(*args, **kwargs):
            self.counts[key] += 1
            return real(*args, **kwargs)

        self.monkeypatch.setattr(owner, name, counted)


@pytest.mark.parametrize(("name", "make", "sentence"), BOMBS, ids=[b[0] for b in BOMBS])
def test_bomb_is_refused_before_its_parser_runs(monkeypatch, name, make, sentence):
    """The refusal comes from the cheap check in front of the parser: the expensive step never starts."""
    import bs4
    import docx
    import pypdf

    from chatai.rag import parsing

    data = make()  # before spying: making a DOCX uses python-docx
    calls = _Calls(monkeypatch)
    calls.spy(docx, "Document")  # python-docx building a tree of every part
    calls.spy(bs4, "BeautifulSoup")  # building an HTML tree
    calls.spy(pypdf.PdfReader, "_flatten")  # walking the page tree
    calls.spy(pypdf.PageObject, "extract_text")
    calls.spy(parsing, "_table_rows")  # CSV rows turned into blocks
    with pytest.raises(ParseError) as err:
        parse_document(name, data)
    assert err.value.code == "over_limit" and sentence in err.value.message
    assert calls.counts == dict.fromkeys(calls.counts, 0), calls.counts


def test_docx_expanding_to_100_mb_of_text_is_refused_by_the_text_cap_early():
    """Ratio 16, 100 MB of document.xml: under every zip check. Six of these held every parse child to the
    60 s CPU limit; the text cap refuses each after reading a fraction of its XML."""
    data = dense_text_docx()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.getinfo("word/document.xml")
    assert xml.file_size > 100_000_000 and 10 < xml.file_size / xml.compress_size < 100
    with pytest.raises(ParseError) as err:
        parse_document("dense.docx", data, Limits(cpu_seconds=60))
    assert err.value.code == "over_limit"
    assert err.value.message == ("The file holds more than 12,000,000 characters of text (limit 12,000,000 "
                                 "characters); split it into smaller files.")
    stats = err.value.stats
    assert 12_000_000 < stats["chars_seen"] < 12_500_000  # stopped within one read of the limit
    assert stats["bytes_read"] < xml.file_size / 4, stats  # ...after a fraction of the XML


async def test_dense_docx_upload_reports_how_far_reading_got(tenant):
    """Through the parse child: the refusal names the text cap (not the CPU or memory limit) and says it
    came early."""
    with pytest.raises(UploadError) as err:
        await _upload(tenant, "dense.docx", dense_text_docx())
    assert err.value.code == "over_limit" and "characters of text" in err.value.message
    assert "processor time" not in err.value.message and "memory" not in err.value.message
    assert 12_000_000 < err.value.stats["chars_seen"] < 12_500_000
    assert err.value.stats["bytes_read"] < 25 * 1048576


def test_small_docx_expanding_far_beyond_its_size_is_refused_per_mb():
    """The per-MB cap: a file under 1 MB may expand to at most MAX_TEXT_CHARS_PER_MB characters."""
    data = dense_text_docx(xml_mib=12)
    assert len(data) < 1048576
    limits = Limits(max_text_chars_per_mb=2_000_000)
    with pytest.raises(ParseError) as err:
        parse_document("dense-small.docx", data, limits)
    assert err.value.message == ("The file unpacks to more than 2,000,000 characters of text, more than 2,000,000 per "
                                 "MB of the file (limit 2,000,000 characters per MB); it may be a compression bomb.")
    assert err.value.stats["bytes_read"] < 12 * 1048576 / 2
    assert parse_document("dense-small.docx", data, Limits(max_text_chars_per_mb=20_000_000)).blocks


def test_docx_of_paragraphs_or_runs_without_text_is_refused_while_streaming():
    """No text, so no text cap: but millions of empty paragraphs or runs still cost python-docx minutes."""
    body = zipfile.ZipFile(io.BytesIO(make_docx())).read("word/document.xml").decode()
    start = body.index("<w:body>") + len("<w:body>")
    fillers = {"empty paragraphs": "<w:p/>", "empty runs": "<w:p><w:r/></w:p>",
               "runs in one paragraph": "<w:p>" + "<w:r/>" * 2_000 + "</w:p>"}
    for label, filler in fillers.items():
        xml = body[:start] + filler * (900_000 // len(filler)) + body[start:]  # under the 1 MB ratio floor
        with pytest.raises(ParseError) as err:
            parse_document("empty.docx", _docx_with_part("word/document.xml", xml.encode()), Limits(max_elements=1_000))
        assert err.value.message == ("The file has more than 1,000 paragraphs, rows or other elements (limit 1,000); "
                                     "split it into smaller files."), label
        assert err.value.stats["chars_seen"] < 10_000, label  # refused though it has next to no text


def _docx_with_part(name: str, data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            archive.writestr(item.filename, data if item.filename == name else source.read(item.filename))
    return out.getvalue()


def test_pdf_page_showing_too_much_text_is_refused_before_extraction(monkeypatch):
    """A 35 KB PDF whose one page unpacks to 14 MB of text operators took pypdf 192 s of CPU to extract
    (then the text cap refused it): the page's strings are counted first, and extraction never starts."""
    import pypdf

    data = text_bomb_pdf()
    assert len(data) < 100 * 1024
    calls = _Calls(monkeypatch)
    calls.spy(pypdf.PageObject, "extract_text")
    with pytest.raises(ParseError) as err:
        parse_document("bomb.pdf", data)
    assert err.value.message.startswith("The file unpacks to more than 6,000,000 characters of text")
    assert calls.counts == {"PageObject.extract_text": 0}
    assert err.value.stats["chars_expected"] >= 11_000_000 and err.value.stats["chars_seen"] == 0
    # An ordinary PDF's pages are estimated at about what they show.
    assert parse_document("guide.pdf", make_pdf([["Opening hours", "We open at 9."]] * 3), Limits(max_text_chars=90))
    with pytest.raises(ParseError):
        parse_document("guide.pdf", make_pdf([["Opening hours", "We open at 9."]] * 4), Limits(max_text_chars=90))


def test_text_cap_counts_text_in_every_format():
    small = Limits(max_text_chars=1000)
    for name, data in [("a.txt", b"word " * 300), ("a.md", b"word " * 300), ("a.csv", b"a,b\n" + b"x,y\n" * 300),
                       ("a.html", b"<p>" + b"word " * 300 + b"</p>"), ("a.pdf", make_pdf([["word " * 90]] * 3)),
                       ("a.docx", _docx_with_text("word " * 300))]:
        with pytest.raises(ParseError) as err:
            parse_document(name, data, small)
        assert "more than 1,000 characters of text" in err.value.message, name
    # Markup is not text: an HTML page of 1,000 characters of tags and 500 of text passes.
    assert parse_document("b.html", b"<div class='x'>" * 60 + b"word " * 100, small).blocks


def _docx_with_text(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


async def test_bomb_already_stored_ends_as_error_in_the_worker(tenant):
    """A file stored before the limits (or before an operator lowered one) fails when indexed."""
    doc = await _store_unchecked(tenant, "zeros.docx", zip_bomb_docx())
    assert await process_pending() == 1
    d = await _doc(doc.id)
    assert d.status == "error" and d.error == "The file unpacks to 1,025 MB (limit 200 MB); it may be a zip bomb."
    assert d.lease_until is None and await _count(Chunk) == 0


# --- what gets past the checks is stopped by the child's limits, and the app's memory stays put ---------

CHECKS_OFF = {"max_text_chars": 10**10, "max_text_chars_per_mb": 10**10, "max_elements": 10**8}


async def test_file_over_the_memory_limit_fails_alone_and_app_memory_stays(tenant, settings_env):
    # Ratio, text and element checks off: this 100 MB document.xml reaches python-docx, which needs far more
    # than 300 MB.
    settings_env(max_zip_ratio=100_000, parse_memory_mb=300, **CHECKS_OFF)
    data = huge_xml_docx()
    doc = await _store_unchecked(tenant, "huge.docx", data)
    await process_pending()  # warm-up: the embedder and the database pool are loaded before measuring
    before = _rss_mb()
    async with async_session() as s:
        await knowledge.reindex_document(s, owner_id=tenant.owner_id, document_id=doc.id)
    assert await process_pending() == 1
    grown = _rss_mb() - before
    d = await _doc(doc.id)
    assert d.status == "error"
    assert d.error == ("Reading the file needed more than 300 MB of memory (limit 300 MB); "
                       "split it or save it in a simpler format.")
    assert grown < 30, f"the app process grew by {grown:.0f} MB"
    with pytest.raises(UploadError) as err:  # the upload check runs in the same limited child
        await _upload(tenant, "huge-too.docx", data)
    assert err.value.code == "over_limit" and "300 MB of memory" in err.value.message


async def test_file_over_the_cpu_limit_fails_alone(tenant, settings_env):
    settings_env(max_zip_ratio=100_000, parse_memory_mb=4096, parse_memory_total_mb=4096, parse_cpu_seconds=1,
                 **CHECKS_OFF)
    doc = await _store_unchecked(tenant, "huge.docx", huge_xml_docx())
    assert await process_pending() == 1
    d = await _doc(doc.id)
    assert d.status == "error" and d.error == ("Reading the file took more than 1 s of processor time "
                                               "(limit 1 s); split it or save it in a simpler format.")


async def test_too_many_chunks_is_refused_with_the_limit(tenant, settings_env):
    settings_env(max_chunks_per_doc=3)
    text = "\n\n".join(f"# Part {i}\n\nParagraph {i} about delivery times." for i in range(5))
    with pytest.raises(UploadError) as err:
        await _upload(tenant, "parts.md", text.encode())
    assert err.value.code == "over_limit"
    assert err.value.message == ("The file would make more than 3 passages (limit 3 passages); "
                                 "split it into smaller files.")


# --- text PostgreSQL cannot store -------------------------------------------------------------------

def test_parsed_text_and_sections_never_carry_nul_or_lone_surrogates(monkeypatch):
    from chatai.rag import parsing

    def poisoned(data, limits, budget):
        return parsing.ParsedDocument("txt", [Block("a\x00b\ud800c", "Sec\x00tion \udfff")])

    monkeypatch.setitem(parsing._PARSERS, "txt", poisoned)
    (block,) = parse_document("x.txt", b"anything").blocks
    assert (block.text, block.section) == ("ab\ufffdc", "Section \ufffd")


async def test_nul_in_a_document_and_its_name_is_stored_without_it(tenant):
    # decode_text refuses NUL in the first 4 KB as binary; later, one used to fail the chunk INSERT.
    body = ("# Guide\n\n" + "Intro words here. " * 300 + "\n\n## Ret\x00urns\n\nRefunds in 5\x00 days.\n").encode()
    doc = await _upload(tenant, "gu\x00ide\ud800.md", body)
    assert doc.filename == "guide.md"
    assert await process_pending() == 1
    d = await _doc(doc.id)
    assert d.status == "ready", d.error
    async with async_session() as s:
        chunks = (await s.execute(select(Chunk.section, Chunk.text).where(Chunk.document_id == doc.id))).all()
    assert any(c.section == "Guide > Returns" and "Refunds in 5 days." in c.text for c in chunks)
    assert not any("\x00" in c.text or "\x00" in c.section for c in chunks)


def test_limit_errors_read_in_russian_on_the_russian_page():
    from chatai.rag import limits
    from chatai.web.texts.ingest import document_error

    sentences = [limits.unzipped_too_large(1074790400, 200), limits.ratio_too_high(294.2, 100),
                 limits.too_many_members(20_000), limits.too_many_pages(50_000, 2000),
                 limits.too_many_elements(200_000),
                 limits.too_deep(256), limits.too_many_columns(200_000, 1000), limits.too_many_chunks(5000),
                 limits.text_too_long(10_000_000), limits.text_too_dense(4_000_000, 4_000_000),
                 limits.too_many_waiting(10),
                 limits.out_of_memory(1024), limits.out_of_time(60), limits.READER_CRASHED]
    for sentence in sentences:
        assert document_error("en", sentence) == sentence
        russian = document_error("ru", sentence)
        assert russian != sentence and not re.search(r"[A-Za-z]{4,}", russian.replace("PDF", "").replace("HTML", "")
                                                      .replace("CSV", "")), russian
    assert document_error("ru", limits.too_many_pages(50_000, 2000)) == \
        "В PDF 50,000 страниц (предел 2,000); разделите его на файлы поменьше."
    assert document_error("ru", "The file is empty.") == "The file is empty."  # not a limit: unchanged


def test_limit_defaults_are_the_settings_defaults(settings_env):
    settings_env()  # a fresh Settings from the test environment, which sets none of these
    assert Limits.from_settings() == Limits()
    settings_env(max_pages=7, parse_cpu_seconds=5)
    assert (Limits.from_settings().max_pages, Limits.from_settings().cpu_seconds) == (7, 5)
