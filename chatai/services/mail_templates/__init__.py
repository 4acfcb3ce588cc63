"""Mail templates, English and Russian, each as plain text and HTML (services/mail.py sends both parts).

A template is `<kind>.<locale>.txt` in this folder: the first line is the subject, the rest the plain-text
body. The HTML part is built from the same text (paragraphs, the link as a button), so the two never drift.
Values are inserted with `str.format`: in the HTML every value is escaped, and a value never becomes markup
or a template (`{` in a user's value stays literal, since formatting is done once).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
LOCALES = ("en", "ru")
KINDS = ("verify", "signup_existing", "reset", "handoff_waiting", "balance_low", "balance_zero",
         "payment_received", "bot_error")
_URL = re.compile(r"(https?://\S+)")


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@cache
def _template(kind: str, locale: str) -> tuple[str, str]:
    subject, _, body = (FOLDER / f"{kind}.{locale}.txt").read_text(encoding="utf-8").partition("\n")
    return subject.strip(), body.strip() + "\n"


def _html_paragraph(escaped: str) -> str:
    """A paragraph whose only content is a link becomes a button; other links stay clickable."""
    if _URL.fullmatch(escaped.strip()):
        url = escaped.strip()
        return (f'<p><a href="{url}" style="display:inline-block;padding:10px 18px;background:#2563eb;'
                f'color:#ffffff;border-radius:6px;text-decoration:none">{url}</a></p>')
    return "<p>" + _URL.sub(r'<a href="\1">\1</a>', escaped).replace("\n", "<br>") + "</p>"


def render(kind: str, locale: str, values: dict[str, str]) -> RenderedMail:
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    subject, body = _template(kind, locale if locale in LOCALES else "en")
    plain = {k: str(v) for k, v in values.items()}
    escaped = {k: html.escape(v, quote=True) for k, v in plain.items()}
    # Subjects are one line: a value with a line break must not add headers or lines.
    subject = " ".join(subject.format(**plain).split())
    text = body.format(**plain)
    paragraphs = [_html_paragraph(p.strip()) for p in body.format(**escaped).split("\n\n") if p.strip()]
    page = ('<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;'
            'line-height:1.5;color:#111827">' + "".join(paragraphs) + "</body></html>")
    return RenderedMail(subject=subject, text=text, html=page)
