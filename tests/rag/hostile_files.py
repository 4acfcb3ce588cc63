"""Hostile files, generated cheaply: the shapes that once cost minutes of CPU and gigabytes of memory.

Each is a valid file of its type (a reader accepts it), only enormous once unpacked or walked.
Also used by bench/ingest_fairness.py for the refusal-time and memory figures.
"""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from functools import lru_cache

from tests.rag.conftest import make_docx

MIB = 1024 * 1024


def zip_bomb_docx(part_mib: int = 1024) -> bytes:
    """A real DOCX plus one zero-filled part of `part_mib` MiB (1 GiB by default, ~1 MB compressed).

    The part is written as raw deflate blocks, compressed once and repeated, so building it takes
    well under a second instead of deflating a gigabyte."""
    block = MIB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    # A full flush ends the block byte-aligned and forgets the window, so the same bytes can repeat.
    one_block = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
    compressed = one_block * part_mib + end
    crc = 0
    zeros = bytes(block)
    for _ in range(part_mib):
        crc = zlib.crc32(zeros, crc)
    return _with_precompressed(make_docx(), "word/media/zeros.bin", compressed, part_mib * block, crc)


def _with_precompressed(docx: bytes, name: str, compressed: bytes, size: int, crc: int,
                        *, drop: str = "") -> bytes:
    """`docx` (without its part `drop`) plus a part whose deflated bytes are given, written by hand
    (zipfile has no API for precompressed data)."""
    source = zipfile.ZipFile(io.BytesIO(docx))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            if item.filename != drop:
                archive.writestr(item, source.read(item.filename))
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size, info.compress_size, info.CRC = size, len(compressed), crc
        archive.fp.seek(archive.start_dir)
        info.header_offset = archive.fp.tell()
        archive.fp.write(info.FileHeader(zip64=info.file_size > zipfile.ZIP64_LIMIT))
        archive.fp.write(compressed)
        archive.start_dir = archive.fp.tell()
        archive.filelist.append(info)
        archive.NameToInfo[info.filename] = info
        archive._didModify = True
    return buf.getvalue()


@lru_cache(maxsize=2)
def dense_text_docx(xml_mib: int = 100) -> bytes:
    """A ~6.5 MB DOCX whose document.xml unpacks to `xml_mib` MiB of real, varied paragraphs: a ratio of
    about 16, under every zip check (ratio 100, 200 MB unpacked), ~70 million characters of text at the
    default size. Six of these once held every parse child to the 60 s CPU limit.

    One ~1 MiB run of paragraphs is deflated once (full flush: byte-aligned, no reference back) and the
    compressed bytes repeated; the 32 KB deflate window never sees the previous copy, so the ratio is that
    of fresh text."""
    rng = random.Random(16)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
                  for _ in range(400)]
    sentences = [" ".join(rng.choice(vocabulary) for _ in range(10)) for _ in range(80)]
    paragraphs: list[str] = []
    size = 0
    while size < MIB:
        paragraph = f"<w:p><w:r><w:t>Item {rng.randint(0, 9999)}: {rng.choice(sentences)}</w:t></w:r></w:p>"
        paragraphs.append(paragraph)
        size += len(paragraph)
    run = "".join(paragraphs).encode()
    body = zipfile.ZipFile(io.BytesIO(make_docx())).read("word/document.xml").decode()
    start = body.index("<w:body>") + len("<w:body>")
    head, tail = body[:start].encode(), body[start:].encode()
    repeats = xml_mib * MIB // len(run)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(run) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(run, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + len(run) * repeats + len(tail)
    return _with_precompressed(make_docx(), "word/document.xml", first + middle * repeats + last, size, crc,
                               drop="word/document.xml")


def huge_xml_docx(paragraphs: int = 1_000_000) -> bytes:
    """A DOCX whose document.xml holds `paragraphs` short paragraphs (~100 MB at the default), a few
    hundred KB compressed: valid Word, only enormous."""
    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    body = source.read("word/document.xml").decode()
    para = "<w:p><w:r><w:t>Repeated paragraph about nothing in particular, again and again.</w:t></w:r></w:p>"
    start = body.index("<w:body>") + len("<w:body>")
    huge = body[:start] + para * paragraphs + body[start:]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            data = huge.encode() if item.filename == "word/document.xml" else source.read(item.filename)
            archive.writestr(item.filename, data, compresslevel=9)
    return out.getvalue()


def deep_html(depth: int = 100_000) -> bytes:
    return (b"<html><body>" + b"<div>" * depth + b"deep text" + b"</div>" * depth + b"</body></html>")


def wide_csv(columns: int = 200_000) -> bytes:
    header = ",".join(f"c{i}" for i in range(columns))
    row = ",".join("v" for _ in range(columns))
    return f"{header}\n{row}\n".encode()


def text_bomb_pdf(operators: int = 500_000) -> bytes:
    """A ~35 KB PDF of one page whose content stream unpacks to 14 MB of "(text) Tj" operators
    (11 million characters at the default)."""
    content = b"BT /F1 12 Tf 72 740 Td " + b"(Same page text, again.) Tj " * operators + b"ET"
    packed = zlib.compress(content, 9)
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                 b"/Resources << /Font << /F1 5 0 R >> >> >>",
                 b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream",
                 b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF of these objects (numbered from 1), with its cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def many_page_pdf(pages: int = 50_000) -> bytes:
    """A valid PDF of `pages` pages sharing one content stream and one font (~120 bytes a page)."""
    content = b"BT /F1 12 Tf 72 740 Td (Same page text.) Tj ET"
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    first_page = len(objects) + 1
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>")
    objects.extend(page for _ in range(pages))
    kids = b" ".join(b"%d 0 R" % n for n in range(first_page, first_page + pages))
    objects[1] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages
    return _pdf(objects)
