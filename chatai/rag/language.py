"""Which language a user writes in. Only English and Russian are main audiences, so a script ratio is enough."""

from __future__ import annotations

import re

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LETTER = re.compile(r"[^\W\d_]")


def detect_language(text: str, default: str = "en") -> str:
    """'ru' when most letters are Cyrillic, 'en' when there are letters and they are mostly not, else default."""
    letters = _LETTER.findall(text)
    if not letters:
        return default
    cyrillic = sum(1 for ch in letters if _CYRILLIC.match(ch))
    return "ru" if cyrillic / len(letters) >= 0.3 else "en"
