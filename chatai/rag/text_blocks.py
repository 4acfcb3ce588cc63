"""What parsing produces (blocks of text under their sections) and the text helpers every format shares.

Kept apart from parsing.py (one parser per format) so each stays short; parsing.py re-exports the names
the rest of the app imports from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from chatai.rag.limits import LimitExceeded, Limits, too_many_elements


class ParseError(Exception):
    """Why a file cannot be used. `code` is stable (for UIs and tests), `message` is for people."""

    def __init__(self, code: str, message: str, stats: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.stats = dict(stats or {})  # how far reading got (see limits.TextBudget), when known


@dataclass
class Block:
    """One structural unit: a paragraph, a table row or a list item, under its section (heading path)."""

    text: str
    section: str = ""
    kind: str = "paragraph"  # paragraph | row | item
    page: int | None = None


class BlockList(list[Block]):
    """The blocks of one document, failing as soon as there are more than the limit allows (so a
    file of millions of one-word lines stops early instead of after filling memory)."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self._max = limits.max_elements

    def _check(self) -> None:
        if len(self) > self._max:
            raise LimitExceeded(too_many_elements(self._max))

    def append(self, block: Block) -> None:
        super().append(block)
        self._check()

    def extend(self, blocks: Iterable[Block]) -> None:
        super().extend(blocks)
        self._check()


@dataclass
class ParsedDocument:
    kind: str
    blocks: list[Block] = field(default_factory=list)
    page_count: int = 1
    qa_pairs: list[tuple[str, str]] | None = None  # set for a question/answer CSV

    @property
    def char_count(self) -> int:
        return sum(len(b.text) for b in self.blocks)



_WS = re.compile(r"[ \t\u00a0\u200b]+")


def clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1251 (common for Russian files)."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError("corrupt", "The file looks binary, not text; is the extension right?")
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1251")
        except UnicodeDecodeError as exc:
            raise ParseError("corrupt", "The text encoding is not recognised; save the file as UTF-8.") from exc


def paragraphs(text: str, section: str, page: int | None = None) -> list[Block]:
    blocks = []
    for para in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        # A line break inside a paragraph is layout, not meaning.
        joined = clean(" ".join(line.strip() for line in para.split("\n")))
        if joined:
            blocks.append(Block(joined, section, "paragraph", page))
    return blocks


class Sections:
    """Tracks the heading path ("Guide > Install > Linux") as headings of each level arrive."""

    def __init__(self) -> None:
        self.path: list[tuple[int, str]] = []

    def heading(self, level: int, title: str) -> None:
        title = clean(title)
        if not title:
            return
        self.path = [(lvl, t) for lvl, t in self.path if lvl < level] + [(level, title)]

    @property
    def current(self) -> str:
        return " > ".join(t for _, t in self.path)



def table_rows(rows: list[list[str]], section: str) -> list[Block]:
    """A table row becomes 'Header: value; Header: value' so every row chunk stands on its own."""
    cleaned = [[clean(c) for c in row] for row in rows if any(clean(c) for c in row)]
    if not cleaned:
        return []
    header, body = cleaned[0], cleaned[1:]
    blocks = []
    if not body:
        return [Block(" | ".join(dict.fromkeys(header)), section, "row")]
    for row in body:
        parts = []
        for i, cell in enumerate(row):
            if not cell:
                continue
            name = header[i] if i < len(header) else ""
            parts.append(f"{name}: {cell}" if name and name != cell else cell)
        # Merged cells repeat their text in python-docx; dict.fromkeys keeps one copy in order.
        blocks.append(Block("; ".join(dict.fromkeys(parts)), section, "row"))
    return blocks


