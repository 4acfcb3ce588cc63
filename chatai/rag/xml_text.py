"""Count the text inside a DOCX's XML while it unpacks, before python-docx builds a tree of it.

Why: the zip checks (limits.check_zip) bound what a part unpacks to, not what it costs to parse. A ~7 MB
DOCX whose document.xml unpacked to 100 MB of real paragraphs (ratio 16) passed them, and python-docx
then ran each parse child to its 60 s CPU limit with ~700 MB each. Streaming the parts through this
counter costs one linear pass over at most the bytes read before the TextBudget or the paragraph limit
refuses the file, so such a file is refused by name after a fraction of its XML.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from chatai.rag.limits import LimitExceeded, Limits, TextBudget, too_many_elements

READ_BYTES = 256 * 1024
# A tag (an attribute value) longer than this is not text; its bytes are skipped, never buffered.
MAX_CARRY = 1024 * 1024
_TAG = re.compile(rb"<[^<>]*>")
_WHITESPACE = b" \t\r\n"
# UTF-8 continuation bytes: deleting them leaves one byte per character.
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))
# Word's paragraph start tag, with or without attributes (not <w:pPr>, <w:pStyle> ...).
_PARAGRAPHS = (b"<w:p>", b"<w:p ", b"<w:p/>")
# Tags of any kind per allowed element: a real paragraph has ~5-30 (runs, properties, text). Millions of
# empty runs hold no text and no paragraph, yet python-docx walks each of them in Python.
TAGS_PER_ELEMENT = 50


class XmlTextCounter:
    """Feed an XML part in pieces: characters outside tags go to the budget, paragraphs are counted
    against max_elements. Approximate on purpose (entities count as their letters, like a bound)."""

    def __init__(self, budget: TextBudget, limits: Limits) -> None:
        self.budget = budget
        self.max_paragraphs = limits.max_elements
        self.paragraphs = 0
        self.tags = 0
        self._carry = b""  # an unfinished tag from the end of the last piece
        self._skipping_tag = False  # inside a tag longer than MAX_CARRY

    def feed(self, piece: bytes) -> None:
        self.budget.bytes_read += len(piece)
        data = self._carry + piece
        self._carry = b""
        if self._skipping_tag:
            end = data.find(b">")
            if end == -1:
                return
            data, self._skipping_tag = data[end + 1:], False
        start = data.rfind(b"<")
        if start != -1 and data.find(b">", start) == -1:
            data, self._carry = data[:start], data[start:]
            if len(self._carry) > MAX_CARRY:
                self._carry, self._skipping_tag = b"", True
        self.paragraphs += sum(data.count(tag) for tag in _PARAGRAPHS)
        self.tags += data.count(b"<")
        if self.paragraphs > self.max_paragraphs or self.tags > self.max_paragraphs * TAGS_PER_ELEMENT:
            raise LimitExceeded(too_many_elements(self.max_paragraphs), self.budget.stats())
        text = _TAG.sub(b"", data).translate(None, _WHITESPACE)
        self.budget.add(len(text.translate(None, _CONTINUATION_BYTES)))


def check_docx_text(data: bytes, limits: Limits, budget: TextBudget | None = None) -> TextBudget:
    """Stream every XML part of a DOCX's word/ folder through one XmlTextCounter (one budget for the
    file). Raises LimitExceeded naming the text limit (or the paragraph limit) as soon as it is passed."""
    budget = budget or TextBudget(limits, len(data))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return budget  # not a readable zip: python-docx reports the damage in its own words
    with archive:
        counter = XmlTextCounter(budget, limits)
        for info in archive.infolist():
            if not (info.filename.startswith("word/") and info.filename.endswith(".xml")):
                continue
            try:
                with archive.open(info) as part:
                    while piece := part.read(READ_BYTES):
                        counter.feed(piece)
            except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError):
                return budget  # a damaged part: python-docx reports it
    return budget

