"""Fixtures for knowledge-base tests: owners, assistants, and small sample files generated on the fly."""

from __future__ import annotations

import io

import pytest

from tests.factories import Tenant, make_tenant
from tests.fakes.openai_server import fake_openai  # noqa: F401 - re-exported fixture


@pytest.fixture
async def tenant(db) -> Tenant:
    return await make_tenant()


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF with a real text layer (Helvetica), one list of lines per page, written by hand."""
    objects: list[bytes] = []
    page_ids = []
    font_id = 3
    next_id = 4
    page_objs: list[tuple[int, bytes]] = []
    for lines in pages:
        content = "BT /F1 12 Tf 72 740 Td 14 TL " + " ".join(f"({_pdf_escape(line)}) Tj T*" for line in lines) + " ET"
        stream = content.encode("latin-1")
        content_id, page_id = next_id, next_id + 1
        next_id += 2
        page_objs.append((content_id, b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"))
        page_objs.append((page_id, (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
                                    f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>").encode()))
        page_ids.append(page_id)
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects = [
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()),
        (3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        *page_objs,
    ]
    objects.sort()
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = {}
    for num, body in objects:
        offsets[num] = out.tell()
        out.write(f"{num} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for num in range(1, len(objects) + 1):
        out.write(f"{offsets[num]:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Secret refund policy"]]))))
    writer.encrypt(user_password="letmein", owner_password="owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_scanned_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Delivery", level=1)
    document.add_paragraph("We deliver across the city within two working days.")
    document.add_heading("Prices", level=2)
    table = document.add_table(rows=3, cols=2)
    for row, (a, b) in zip(table.rows, [("Plan", "Price"), ("Basic", "10 EUR"), ("Pro", "25 EUR")], strict=True):
        row.cells[0].text, row.cells[1].text = a, b
    document.add_heading("Returns", level=1)
    document.add_paragraph("Returns are accepted within 30 days with a receipt.")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()
