"""The size of each part of a multipart upload, measured while the body streams.

Why: the upload guard (http_guards.guard_uploads) capped the whole request at 10 files of the per-file
limit, so one 95 MB file (over the 10 MB limit, under the ~100 MB request limit) was read whole, spooled
and handed to the handler before it was refused; three at once added 130 MB to the web worker. Counting
each part as it passes lets the guard refuse a file as soon as it is over its own limit.

Only boundaries and part headers are looked at (never buffered beyond a few KB); the bytes are passed on
to Reflex's own multipart parser untouched.
"""

from __future__ import annotations

import re

MAX_PART_HEADERS = 16 * 1024
_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.I)
_FILENAME = re.compile(rb'filename="([^"\r\n]*)"', re.I)


def multipart_boundary(content_type: str) -> bytes | None:
    """The boundary of a multipart/form-data Content-Type, or None."""
    if not content_type.lower().startswith("multipart/"):
        return None
    match = _BOUNDARY.search(content_type)
    return match.group(1).strip().encode("latin-1") if match else None


class PartSizes:
    """Feed the body in pieces; `feed` returns the name of the first part over `limit` bytes (its
    filename, "" for a part without one), else None. `read` counts the bytes fed."""

    def __init__(self, boundary: bytes, limit: int) -> None:
        self.delimiter = b"\r\n--" + boundary
        self.limit = limit
        self.read = 0
        # The body starts with "--boundary" (no CRLF before it): pretend the CRLF was there.
        self._pending = b"\r\n"
        self._in_headers = False
        self._size = 0
        self._name = ""

    def feed(self, piece: bytes) -> str | None:
        self.read += len(piece)
        data = self._pending + piece
        self._pending = b""
        while data:
            if self._in_headers:
                end = data.find(b"\r\n\r\n")
                if end == -1:
                    self._pending = data[-MAX_PART_HEADERS:]  # headers span pieces; never keep more
                    return None
                match = _FILENAME.search(data[:end])
                self._name = match.group(1).decode("utf-8", errors="replace") if match else ""
                data = data[end + 4:]
                self._in_headers, self._size = False, 0
                continue
            at = data.find(self.delimiter)
            if at == -1:
                # Keep what could be the start of a delimiter cut in two by the piece's end.
                body = max(0, len(data) - (len(self.delimiter) - 1))
                self._size += body
                self._pending = data[body:]
                return self._over()
            self._size += at
            if (over := self._over()) is not None:
                return over
            data = data[at + len(self.delimiter):]
            self._in_headers = True
        return None

    def _over(self) -> str | None:
        return self._name if self._size > self.limit else None


def part_too_large(accept_language: str, name: str, limit_bytes: int) -> str:
    """The refusal, in the language the browser asks for first (English unless Russian)."""
    from chatai.web.i18n import text

    locale = "ru" if accept_language.strip().lower().startswith("ru") else "en"
    limit_mb = f"{limit_bytes / 1048576:.0f}"
    if name:
        return text(locale, "uploads_file_too_large", name=name[:200], limit=limit_mb)
    return text(locale, "uploads_part_too_large", limit=limit_mb)
