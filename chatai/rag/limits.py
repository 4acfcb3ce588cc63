"""How much work one uploaded file may cost, and the checks that run before a parser sees it.

Why: a 1 MB DOCX unpacked to 1 GiB, a 306 KB one held 100 MB of XML, 50,000-page PDFs, 100,000-deep
HTML and 200,000-column CSVs each cost minutes of CPU and gigabytes of memory. Every limit here is
checked as early and as cheaply as possible (zip headers before unpacking, a tag scan before building
an HTML tree, the page count before extracting text) and fails with a sentence naming the limit.
What still slips through is stopped by the child process's memory and CPU limits (parse_process.py).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import asdict, dataclass

MIB = 1024 * 1024
# A part smaller than this is never called a bomb, whatever its ratio (tiny XML compresses very well).
RATIO_FLOOR_BYTES = MIB
MAX_ZIP_MEMBERS = 10_000


class LimitExceeded(Exception):
    """A file over one of the limits; parse_document turns it into ParseError("over_limit", message).
    `stats`: how far reading got before the refusal (bytes of XML read, characters of text seen), so a
    refusal can be shown to have come early."""

    def __init__(self, message: str, stats: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.stats = dict(stats or {})


@dataclass(frozen=True)
class Limits:
    """Per-file limits; the defaults are the settings' defaults (see Settings and .env.example)."""

    max_unzipped_mb: int = 200
    max_zip_ratio: int = 100
    max_pages: int = 2000
    max_elements: int = 200_000
    max_depth: int = 256
    max_csv_columns: int = 1000
    max_chunks: int = 5000
    max_text_chars: int = 12_000_000
    max_text_chars_per_mb: int = 6_000_000
    memory_mb: int = 1024
    cpu_seconds: int = 60

    @classmethod
    def from_settings(cls) -> Limits:
        from chatai.settings import get_settings

        s = get_settings()
        return cls(max_unzipped_mb=s.max_unzipped_mb, max_zip_ratio=s.max_zip_ratio, max_pages=s.max_pages,
                   max_elements=s.max_elements, max_depth=s.max_depth, max_csv_columns=s.max_csv_columns,
                   max_chunks=s.max_chunks_per_doc,
                   # Never below the upload limit: plain text is at most one character per byte, so a text file
                   # the upload limit accepts is never refused for its length; only files that expand are.
                   max_text_chars=max(s.max_text_chars, s.max_upload_bytes),
                   max_text_chars_per_mb=s.max_text_chars_per_mb,
                   memory_mb=min(s.parse_memory_mb, s.parse_memory_total_mb), cpu_seconds=s.parse_cpu_seconds)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


# --- messages (sentences naming the limit; the owner sees them as the document's error) -----------
# The error column stores the English sentence; chatai/web/texts/ingest.py translates it back from
# these templates (so the wording lives in one place).

MESSAGES: dict[str, str] = {
    "unzipped_too_large": "The file unpacks to {size} MB (limit {limit} MB); it may be a zip bomb.",
    "ratio_too_high": ("A part of the file unpacks to {ratio} times its packed size (limit {limit} times); "
                       "it may be a zip bomb."),
    "too_many_members": "The file is made of {count} parts (limit {limit}); it may be a zip bomb.",
    "too_many_pages": "The PDF has {pages} pages (limit {limit} pages); split it into smaller files.",
    "too_many_elements": ("The file has more than {limit} paragraphs, rows or other elements (limit {limit}); "
                          "split it into smaller files."),
    "too_deep": ("The HTML nests elements more than {limit} levels deep (limit {limit} levels); "
                 "save the page in a simpler form."),
    "too_many_columns": ("The CSV has {columns} columns (limit {limit} columns); "
                         "remove the columns that are not needed."),
    "too_many_chunks": ("The file would make more than {limit} passages (limit {limit} passages); "
                        "split it into smaller files."),
    "text_too_long": ("The file holds more than {limit} characters of text (limit {limit} characters); "
                      "split it into smaller files."),
    "text_too_dense": ("The file unpacks to more than {limit} characters of text, more than {per_mb} per MB "
                       "of the file (limit {per_mb} characters per MB); it may be a compression bomb."),
    "too_many_waiting": ("{limit} of your files are already waiting to be read (limit {limit}); "
                         "upload this one again when they are done."),
    "out_of_memory": ("Reading the file needed more than {limit} MB of memory (limit {limit} MB); "
                      "split it or save it in a simpler format."),
    "out_of_time": ("Reading the file took more than {limit} s of processor time (limit {limit} s); "
                    "split it or save it in a simpler format."),
    "reader_crashed": ("The file could not be read: the reader stopped unexpectedly. "
                       "Save it in another format and upload it again."),
}
READER_CRASHED = MESSAGES["reader_crashed"]


def _n(value: float) -> str:
    return f"{value:,.0f}"


def unzipped_too_large(total_bytes: int, limit_mb: int) -> str:
    return MESSAGES["unzipped_too_large"].format(size=_n(total_bytes / MIB), limit=_n(limit_mb))


def ratio_too_high(ratio: float, limit: int) -> str:
    return MESSAGES["ratio_too_high"].format(ratio=_n(ratio), limit=_n(limit))


def too_many_members(count: int) -> str:
    return MESSAGES["too_many_members"].format(count=_n(count), limit=_n(MAX_ZIP_MEMBERS))


def too_many_pages(pages: int, limit: int) -> str:
    return MESSAGES["too_many_pages"].format(pages=_n(pages), limit=_n(limit))


def too_many_elements(limit: int) -> str:
    return MESSAGES["too_many_elements"].format(limit=_n(limit))


def too_deep(limit: int) -> str:
    return MESSAGES["too_deep"].format(limit=_n(limit))


def too_many_columns(columns: int, limit: int) -> str:
    return MESSAGES["too_many_columns"].format(columns=_n(columns), limit=_n(limit))


def too_many_chunks(limit: int) -> str:
    return MESSAGES["too_many_chunks"].format(limit=_n(limit))


def text_too_long(limit: int) -> str:
    return MESSAGES["text_too_long"].format(limit=_n(limit))


def text_too_dense(limit: int, per_mb: int) -> str:
    return MESSAGES["text_too_dense"].format(limit=_n(limit), per_mb=_n(per_mb))


def too_many_waiting(limit: int) -> str:
    return MESSAGES["too_many_waiting"].format(limit=_n(limit))


def out_of_memory(limit_mb: int) -> str:
    return MESSAGES["out_of_memory"].format(limit=_n(limit_mb))


def out_of_time(limit_seconds: int) -> str:
    return MESSAGES["out_of_time"].format(limit=_n(limit_seconds))


# --- the text a file may expand to --------------------------------------------------------------------


class TextBudget:
    """Characters of extracted text one file may expand to: at most `max_text_chars` in all, and at most
    `max_text_chars_per_mb` per MB of the uploaded file (files under 1 MB count as 1 MB). A ~7 MB DOCX whose
    document.xml unpacked to 100 MB (ratio 16, under the zip checks) once ran each parse child to its CPU
    limit; counted while the XML streams, it is refused after a fraction of it. `chars_seen` and
    `bytes_read` (unpacked XML) say how far reading got."""

    def __init__(self, limits: Limits, file_bytes: int) -> None:
        self.per_mb = limits.max_text_chars_per_mb
        dense_limit = self.per_mb * max(file_bytes, RATIO_FLOOR_BYTES) // MIB
        self.dense = dense_limit < limits.max_text_chars
        self.limit = min(limits.max_text_chars, dense_limit)
        self.chars_seen = 0
        self.bytes_read = 0

    def stats(self) -> dict[str, int]:
        return {"chars_seen": self.chars_seen, "bytes_read": self.bytes_read}

    def add(self, chars: int) -> None:
        self.chars_seen += chars
        if self.chars_seen > self.limit:
            raise LimitExceeded(self._message(), self.stats())

    def ahead(self, chars: int) -> None:
        """Refuse before reading what is about to add about `chars` (an estimate, erring high) over the
        limit; nothing is counted."""
        if self.chars_seen + chars > self.limit:
            raise LimitExceeded(self._message(), {**self.stats(), "chars_expected": chars})

    def _message(self) -> str:
        return text_too_dense(self.limit, self.per_mb) if self.dense else text_too_long(self.limit)


# --- cheap checks before parsing -------------------------------------------------------------------


def check_zip(data: bytes, limits: Limits) -> None:
    """Refuse an archive by its directory alone, before a byte is unpacked.

    The sizes are the declared ones; Python's zipfile never returns more than a member's declared
    size (it fails the CRC check instead), so declared sizes bound what a parser can be fed."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # not a readable zip: the parser reports the damage in its own words
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise LimitExceeded(too_many_members(len(members)))
        total = sum(m.file_size for m in members)
        if total > limits.max_unzipped_mb * MIB:
            raise LimitExceeded(unzipped_too_large(total, limits.max_unzipped_mb))
        for member in members:
            if member.file_size > RATIO_FLOOR_BYTES:
                ratio = member.file_size / max(member.compress_size, 1)
                if ratio > limits.max_zip_ratio:
                    raise LimitExceeded(ratio_too_high(ratio, limits.max_zip_ratio))


# Start and end tags, comments skipped. Approximate on purpose (it is a bound, not a parser): it must
# never take more than one linear pass, whatever the input.
_TAG = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>|<!--.*?-->", re.S)
# Elements that never hold children, and ones whose start tag implicitly closes an open one of the
# same name: neither adds a level, as in the tree a browser (or BeautifulSoup) builds.
_VOID = {b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"source",
         b"track", b"wbr", b"param", b"keygen", b"command"}
_SELF_CLOSING_SIBLINGS = {b"p", b"li", b"dt", b"dd", b"tr", b"td", b"th", b"option"}


def check_html(data: bytes, limits: Limits) -> None:
    """Count elements and nesting depth with one regex pass, before BeautifulSoup builds a tree
    (which is quadratic in depth: 100,000 nested divs ran for minutes)."""
    stack: list[bytes] = []
    elements = 0
    for match in _TAG.finditer(data):
        name = match.group(2)
        if name is None:
            continue  # a comment
        name = name.lower()
        if match.group(1):  # an end tag: close up to the matching start tag, if there is one
            if name in stack:
                while stack:
                    if stack.pop() == name:
                        break
            continue
        elements += 1
        if elements > limits.max_elements:
            raise LimitExceeded(too_many_elements(limits.max_elements))
        if name in _VOID or match.group(3):
            continue
        if name in _SELF_CLOSING_SIBLINGS and stack and stack[-1] == name:
            continue
        stack.append(name)  # bounded by max_depth, so `name in stack` above stays cheap
        if len(stack) > limits.max_depth:
            raise LimitExceeded(too_deep(limits.max_depth))
