"""Estimate the text a PDF page will show from its content streams, before pypdf extracts it.

Why: pypdf builds every operator of a page before it returns any text, ~0.1 ms each. A 35 KB PDF whose
one page unpacks to 14 MB of "(text) Tj" operators took 192 s of CPU to extract, only to be refused by
the text cap afterwards (in the parse child: at the CPU limit). The strings in the page's decoded
content bound what it can show (a byte per character for simple fonts, two for CID fonts, so the
estimate errs high), and one regex pass over them costs a fraction of a second.
"""

from __future__ import annotations

import re

from chatai.rag.limits import TextBudget

# A literal string (escapes and one level of balanced parentheses are enough for a bound) or a hex string.
_STRINGS = re.compile(rb"\((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)|<([0-9A-Fa-f\s]*)>")


def page_content(page: object) -> bytes:
    """The page's content streams, decoded and joined (pypdf bounds each stream's decoded size)."""
    contents = page.get_contents()  # type: ignore[attr-defined]
    return contents.get_data() if contents is not None else b""


def shown_text_estimate(content: bytes) -> int:
    """Characters the strings of a content stream can show, at most (roughly)."""
    return sum(len(m.group(0)) - 2 if m.group(1) is None else len(m.group(1)) // 2
               for m in _STRINGS.finditer(content))


def check_page_text(page: object, budget: TextBudget) -> None:
    """Refuse (LimitExceeded naming the text cap) a page whose strings alone would pass the budget."""
    content = page_content(page)
    budget.bytes_read += len(content)
    budget.ahead(shown_text_estimate(content))
