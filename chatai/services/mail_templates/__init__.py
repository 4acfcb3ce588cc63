"""Mail templates, English and Russian, each as plain text and HTML (services/mail.py sends both parts).

A template is `<kind>.<locale>.txt` in this folder: the first line is the subject, the rest the plain-text
body. The HTML part is built from the same text (paragraphs, the link as a button), so the two never drift.
Values are inserted with `str.format`: in the HTML every value is escaped, and a value never becomes markup
or a template (`{` in a user's value stays literal, since formatting is done once).

Only the app makes links. A value whose name ends in `link` is a URL the app built (mail.link) and becomes an
anchor (a button when it is a paragraph of its own). Every other value (an address, an assistant's or bot's
name, an error text) is text someone chose: mail clients turn whatever looks like a URL, a domain or an
address into a link, in the plain part too, so such values get a zero-width space after each `.`, `:`, `/`
and `@` inside a word (not between two digits): they read and copy the same, and no client links
`victim+https://evil.example/pay-now@example.com` to evil.example.
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
         "payment_received", "bot_error", "team_invite")
ZERO_WIDTH_SPACE = "\u200b"
# A separator inside a word: where a URL, a domain or an address joins its parts. Between two digits (an
# amount, a version) it is left alone: no client links "500.00".
_LINK_JOINT = re.compile(r"(?<=(\S))([.:/@])(?=(\S))")
# Marks around an app-made link in the HTML text, stripped from every other value (control characters).
_LINK_START, _LINK_END = "\x01", "\x02"
_APP_LINK = re.compile(f"{_LINK_START}([^{_LINK_START}{_LINK_END}]*){_LINK_END}")


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@cache
def _template(kind: str, locale: str) -> tuple[str, str]:
    subject, _, body = (FOLDER / f"{kind}.{locale}.txt").read_text(encoding="utf-8").partition("\n")
    return subject.strip(), body.strip() + "\n"


def is_app_link(name: str) -> bool:
    return name.endswith("link")


def unlinkable(value: str) -> str:
    """Text a mail client will not turn into a link (see the module docstring)."""
    value = value.replace(_LINK_START, "").replace(_LINK_END, "").replace(ZERO_WIDTH_SPACE, "")
    def joint(m: re.Match[str]) -> str:
        before, separator, after = m.groups()
        return separator if before.isdigit() and after.isdigit() else separator + ZERO_WIDTH_SPACE

    return _LINK_JOINT.sub(joint, value)


def _html_paragraph(escaped: str) -> str:
    """A paragraph whose only content is an app link becomes a button; other app links stay inline."""
    button = _APP_LINK.fullmatch(escaped.strip())
    if button:
        url = button.group(1)
        return (f'<p><a href="{url}" style="display:inline-block;padding:10px 18px;background:#2563eb;'
                f'color:#ffffff;border-radius:6px;text-decoration:none">{url}</a></p>')
    return "<p>" + _APP_LINK.sub(r'<a href="\1">\1</a>', escaped).replace("\n", "<br>") + "</p>"


def render(kind: str, locale: str, values: dict[str, str]) -> RenderedMail:
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    subject, body = _template(kind, locale if locale in LOCALES else "en")
    plain = {k: str(v) if is_app_link(k) else unlinkable(str(v)) for k, v in values.items()}
    escaped = {k: html.escape(v, quote=True).replace(ZERO_WIDTH_SPACE, "&#8203;") for k, v in plain.items()}
    escaped |= {k: f"{_LINK_START}{v}{_LINK_END}" for k, v in escaped.items() if is_app_link(k)}
    # Subjects are one line: a value with a line break must not add headers or lines.
    subject = " ".join(subject.format(**plain).split())
    text = body.format(**plain)
    paragraphs = [_html_paragraph(p.strip()) for p in body.format(**escaped).split("\n\n") if p.strip()]
    page = ('<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;'
            'line-height:1.5;color:#111827">' + "".join(paragraphs) + "</body></html>")
    return RenderedMail(subject=subject, text=text, html=page)
