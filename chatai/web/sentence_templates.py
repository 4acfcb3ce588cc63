"""Stored English sentences back to their template and values, so a page can show them in the reader's
language: the processes that write them (the ingest worker, the bot runner) have no reader and no locale."""

from __future__ import annotations

import re
import string

TEXT_FIELDS = frozenset({"who"})


def template_pattern(template: str) -> re.Pattern[str]:
    """A regex matching what `template.format(...)` produced: each {name} captures a number, except {who}
    (a person's name as Telegram shows it), which captures any text; a repeated name must match the same
    value."""
    seen: set[str] = set()
    regex = ""
    for literal, name, _, _ in string.Formatter().parse(template):
        regex += re.escape(literal)
        if name:
            capture = ".+?" if name in TEXT_FIELDS else "[0-9][0-9,.]*"
            regex += f"(?P={name})" if name in seen else f"(?P<{name}>{capture})"
            seen.add(name)
    return re.compile(regex)


def translate(message: str, patterns: list[tuple[re.Pattern[str], str]]) -> str:
    """The first matching (pattern, translated template) rendered with the message's values; unchanged when
    none matches."""
    for pattern, translated in patterns:
        match = pattern.fullmatch(message)
        if match:
            return translated.format(**match.groupdict())
    return message
