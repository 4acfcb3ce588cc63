"""Text that PostgreSQL can store, whatever a client sent.

Why: PostgreSQL's text (and jsonb) cannot hold U+0000, and a lone UTF-16 surrogate (U+D800-U+DFFF,
which a JSON body may carry as an unpaired "\\ud83d" escape) cannot even be encoded as UTF-8. Either
one in a Telegram message made the statement storing it fail, every time, for as long as the update
was re-delivered. Everything from outside that reaches the database goes through `db_safe` first.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")


def db_safe(text: str) -> str:
    """`text` without U+0000 (dropped: invisible anyway) and with lone surrogates replaced by U+FFFD.

    A valid Python str never holds a surrogate *pair* (json.loads joins pairs into one code point), so
    every surrogate found here is unpaired. Cheap for ordinary text: two scans, no copy."""
    if _NUL in text:
        text = text.replace(_NUL, "")
    if _SURROGATE.search(text) is not None:
        text = _SURROGATE.sub(REPLACEMENT, text)
    return text
