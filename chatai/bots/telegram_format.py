"""Model text -> Telegram-safe HTML messages of at most 4096 characters.

Why not pass the model's markdown/HTML through: Telegram rejects a whole message on one broken
tag, and raw HTML from a model is an injection channel. So every character from the model is
escaped, and the only tags sent are the few generated here (b, i, code, pre, blockquote), always opened
and closed inside the same message, so a split can never leave markup broken.

Quotes ("> " lines: extractive answers quote the knowledge base verbatim) become Telegram blockquotes.
Sources are listed once, in a footer (answers carry no inline source lines), each as a path of whole parts
(document › section › subsection); a long path drops whole middle parts for an ellipsis, never cuts a word.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatai.rag.language import detect_language
from chatai.rag.retrieval import QA_DOCUMENT

TELEGRAM_LIMIT = 4096
STYLES = ("", "b", "i", "code", "pre", "blockquote")
SOURCE_LABEL_CHARS = 80
_SECTION_SEPARATOR = re.compile(r"\s+>\s+")


@dataclass(frozen=True)
class Run:
    """A piece of plain text with one style ('' = none)."""

    text: str
    style: str = ""


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji can count 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _escaped_len(text: str) -> int:
    return utf16_len(html.escape(text, quote=False))


def _tag_cost(style: str) -> int:
    return 0 if not style else len(style) * 2 + 5  # <x></x>


_FENCE = re.compile(r"```[^\n`]*\n?(.*?)```", re.S)
_INLINE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|\*\*(?P<b1>[^*\n](?:[^\n]*?[^*\n])?)\*\*"
    r"|__(?P<b2>[^_\n](?:[^\n]*?[^_\n])?)__"
    r"|(?<![\w*])\*(?P<i1>[^*\s](?:[^*\n]*?[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<i2>[^_\s](?:[^_\n]*?[^_\s])?)_(?![\w_])"
)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")


def _inline(text: str) -> list[Run]:
    runs: list[Run] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            runs.append(Run(text[pos:m.start()]))
        if m.group("code") is not None:
            runs.append(Run(m.group("code"), "code"))
        elif (bold := m.group("b1") or m.group("b2")) is not None:
            runs.append(Run(bold, "b"))
        else:
            runs.append(Run(m.group("i1") or m.group("i2") or "", "i"))
        pos = m.end()
    if pos < len(text):
        runs.append(Run(text[pos:]))
    return runs


_QUOTE = re.compile(r"^\s{0,3}>\s?")


def _lines(text: str) -> list[Run]:
    runs: list[Run] = []
    lines = text.split("\n")
    quote: list[str] = []
    for n, line in enumerate(lines):
        if _QUOTE.match(line):  # consecutive "> " lines are one blockquote, its text verbatim
            quote.append(_QUOTE.sub("", line, count=1))
            if n == len(lines) - 1 or not _QUOTE.match(lines[n + 1]):
                runs.append(Run("\n".join(quote), "blockquote"))
                quote = []
                if n < len(lines) - 1:
                    runs.append(Run("\n"))
            continue
        heading = _HEADING.match(line)
        if heading:
            runs.append(Run(heading.group(1), "b"))
        else:
            runs.extend(_inline(_BULLET.sub(lambda m: m.group(1) + "• ", line)))
        if n < len(lines) - 1:
            runs.append(Run("\n"))
    return runs


def parse_markdown(text: str) -> list[Run]:
    """The small markdown subset models emit (fences, `code`, **bold**, *italic*, # headings, bullets)."""
    text = text.replace("\r\n", "\n").strip()
    runs: list[Run] = []
    pos = 0
    for m in _FENCE.finditer(text):
        if m.start() > pos:
            runs.extend(_lines(text[pos:m.start()]))
        code = m.group(1).rstrip("\n")
        if code:
            runs.append(Run(code, "pre"))
        pos = m.end()
    if pos < len(text):
        runs.extend(_lines(text[pos:]))
    return _merge([r for r in runs if r.text])


def _merge(runs: list[Run]) -> list[Run]:
    merged: list[Run] = []
    for run in runs:
        if merged and merged[-1].style == run.style:
            merged[-1] = Run(merged[-1].text + run.text, run.style)
        else:
            merged.append(run)
    return merged


def render(runs: Sequence[Run]) -> str:
    """Escape every character; wrap in the run's tag. Output is always well-formed."""
    out = []
    for run in runs:
        body = html.escape(run.text, quote=False)
        out.append(f"<{run.style}>{body}</{run.style}>" if run.style else body)
    return "".join(out)


def _fit(text: str, budget: int) -> int:
    """Longest prefix length whose escaped UTF-16 length fits the budget."""
    used = 0
    for i, ch in enumerate(text):
        used += _escaped_len(ch)
        if used > budget:
            return i
    return len(text)


def _cut_point(text: str, limit_index: int) -> int:
    """Prefer a paragraph, line, sentence or word boundary in the second half of the allowed part."""
    if limit_index >= len(text):
        return len(text)
    floor = limit_index // 2
    for sep in ("\n\n", "\n", ". ", "! ", "? ", " "):
        at = text.rfind(sep, floor, limit_index)
        if at != -1:
            return at + len(sep)
    return max(limit_index, 1)


def split_runs(runs: Sequence[Run], limit: int = TELEGRAM_LIMIT) -> list[list[Run]]:
    """Greedy packing of runs into messages; an oversized run is cut at a natural boundary."""
    messages: list[list[Run]] = []
    current: list[Run] = []
    used = 0
    queue = list(runs)
    while queue:
        run = queue.pop(0)
        cost = _tag_cost(run.style) + _escaped_len(run.text)
        if used + cost <= limit:
            current.append(run)
            used += cost
            continue
        budget = limit - used - _tag_cost(run.style)
        if current and budget < min(limit // 4, cost):
            messages.append(current)
            current, used = [], 0
            queue.insert(0, run)
            continue
        cut = _cut_point(run.text, _fit(run.text, max(budget, 1)))
        head, tail = run.text[:cut], run.text[cut:]
        if head.strip():
            current.append(Run(head, run.style))
        messages.append(current)
        current, used = [], 0
        if tail:
            queue.insert(0, Run(tail.lstrip("\n") if run.style != "pre" else tail, run.style))
    if current:
        messages.append(current)
    return [_trim(m) for m in messages if any(r.text.strip() for r in m)]


def _trim(message: list[Run]) -> list[Run]:
    """No leading/trailing blank lines from a split."""
    runs = list(message)
    if runs and not runs[0].style:
        runs[0] = Run(runs[0].text.lstrip(), "")
    if runs and not runs[-1].style:
        runs[-1] = Run(runs[-1].text.rstrip(), "")
    return [r for r in runs if r.text]


def _field(src: Any, name: str) -> str:
    value = getattr(src, name, None) if not isinstance(src, dict) else src.get(name)
    return str(value or "").strip()


def _shorten_word_safe(text: str, limit: int) -> str:
    """A single too-long part: whole words up to the limit, then an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return (text[:cut] if cut > 0 else text[:limit]).rstrip(" ,;:.") + "…"


def source_label(document: str, section: str, limit: int = SOURCE_LABEL_CHARS) -> str:
    """'guide.pdf › Delivery › Abroad': whole path parts; middle parts give way to '…' when too long."""
    heading = section.splitlines()[0] if section.strip() else ""
    parts = [p.strip() for p in [document, *_SECTION_SEPARATOR.split(heading)] if p.strip()]
    label = " › ".join(parts)
    if len(label) <= limit:
        return label
    for first_kept in range(2, len(parts)):  # drop the fewest middle parts that make it fit
        candidate = " › ".join([parts[0], "…", *parts[first_kept:]])
        if len(candidate) <= limit:
            return candidate
    if len(parts) > 2:
        parts = [parts[0], "…", parts[-1]]
    # Even the document and the last heading are too long: shorten each one by whole words.
    share = max((limit - 3 * (len(parts) - 1) - (1 if len(parts) > 2 else 0)) // min(len(parts), 2), 8)
    return " › ".join(p if p == "…" else _shorten_word_safe(p, share) for p in parts)


# A PDF passage's section is "Page 3" (rag/parsing.py stores it in English); customers read it in the answer's
# language.
_PDF_PAGE = re.compile(r"Page (\d+)")
_PAGE_WORD = {"ru": "Стр. {n}"}


def _section_in(language: str, section: str) -> str:
    found = _PDF_PAGE.fullmatch(section.strip())
    return _PAGE_WORD[language].format(n=found.group(1)) if found and language in _PAGE_WORD else section


# Q&A pairs are the source QA_DOCUMENT ("Q&A"): a Russian customer read "Источник: Q&A".
_QA_WORD = {"ru": "Вопрос-ответ"}


def _document_in(language: str, document: str) -> str:
    return _QA_WORD.get(language, document) if document == QA_DOCUMENT else document


def source_labels(sources: Sequence[Any], *, language: str = "en") -> list[str]:
    """Every source once, in the answer's order (an extractive answer numbers its quotes the same way)."""
    return list(dict.fromkeys(
        source_label(_document_in(language, _field(s, "document")),
                     _section_in(language, _field(s, "section") or ""))
        for s in sources if _field(s, "document")))


def sources_line(sources: Sequence[Any], *, language: str = "en") -> str:
    """'Sources: faq.pdf › Delivery; terms.md', numbered when there are several (quotes refer to [n])."""
    labels = source_labels(sources, language=language)
    if not labels:
        return ""
    if len(labels) == 1:
        return f"{'Источник' if language == 'ru' else 'Source'}: {labels[0]}"
    items = "; ".join(f"[{n}] {label}" for n, label in enumerate(labels, 1))
    return f"{'Источники' if language == 'ru' else 'Sources'}: {items}"


def format_answer(text: str, sources: Sequence[Any] = (), *, language: str = "en",
                  limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The HTML messages to send for one answer: the body split cleanly, sources listed once at the end."""
    runs = parse_markdown(text) or [Run("…")]
    # The footer speaks the answer's language (that of the question), not the Telegram app's: quotes are
    # left out of the guess, they are in the documents' language.
    framing = "".join(r.text for r in runs if r.style != "blockquote")
    line = sources_line(sources, language=detect_language(framing, default=language))
    if line:
        runs = [*runs, Run("\n\n"), Run("📄 " + line, "i")]
    return [render(message) for message in split_runs(runs, limit)]


def plain(text: str) -> list[str]:
    """A fixed text of ours (greeting, notices): escaped, split, no markup interpretation."""
    return [render(m) for m in split_runs([Run(text.strip() or "…")])]
