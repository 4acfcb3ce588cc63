"""No mail makes a link the app did not make (issue 19: `victim+https://evil.example/pay-now@example.com`
as a sign-up address became a clickable link to evil.example in the HTML mail).

Every template in both languages is rendered with link-looking text in every value someone chose (an
address, an assistant's or bot's name, an error text): the HTML has exactly the app's links as anchors, and
neither part holds a URL, domain or address a mail client would link. One sign-up goes through the real
SMTP path (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import re

import pytest

from chatai.db.session import async_session
from chatai.services import accounts, mail
from chatai.services.mail_templates import KINDS, LOCALES, ZERO_WIDTH_SPACE, render, unlinkable
from chatai.settings import get_settings
from tests.fakes.smtp_server import SmtpServer

HOSTILE_ADDRESS = "victim+https://evil.example/pay-now@example.com"
HOSTILE_TEXT = "see www.evil.example or http://evil.example/x?a=1 or pay@evil.example"
USER_VALUES = ("email", "hours", "assistant", "balance", "answers", "amount", "bot", "reason", "minutes",
               "inviter", "role", "days")
APP_LINKS = {"link": "http://chatai.test/dashboard/billing?a=1&b=2", "signin_link": "http://chatai.test/signin",
             "reset_link": "http://chatai.test/forgot-password"}
# What an auto-linker takes for a link: a scheme, a www. host, a dotted domain, an address.
LINKLIKE = re.compile(r"[a-z]+://|www\.[a-z0-9]|[a-z0-9-]\.[a-z]{2,}|\S@[a-z0-9]", re.IGNORECASE)


def _template_links(kind: str, locale: str) -> set[str]:
    from chatai.services.mail_templates import FOLDER

    source = (FOLDER / f"{kind}.{locale}.txt").read_text(encoding="utf-8")
    return {name for name in APP_LINKS if "{" + name + "}" in source}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_template_links_only_what_the_app_made(kind, locale):
    values = {name: HOSTILE_ADDRESS if name == "email" else HOSTILE_TEXT for name in USER_VALUES}
    rendered = render(kind, locale, {**values, **APP_LINKS})
    own = _template_links(kind, locale)
    hrefs = re.findall(r'<a href="([^"]*)"', rendered.html)
    assert sorted(hrefs) == sorted(APP_LINKS[name].replace("&", "&amp;") for name in own)
    assert rendered.html.count("<a ") == len(own)
    for part in (rendered.subject, rendered.text, rendered.html):
        without_app_links = part
        for url in APP_LINKS.values():
            without_app_links = without_app_links.replace(url, "").replace(url.replace("&", "&amp;"), "")
        assert not LINKLIKE.search(without_app_links.replace("&#8203;", ZERO_WIDTH_SPACE)), (kind, locale, part)
    assert "evil.example" not in rendered.html and "evil.example" not in rendered.text


def test_unlinkable_text_reads_the_same_once_the_zero_width_spaces_are_gone():
    broken = unlinkable(HOSTILE_ADDRESS)
    assert broken != HOSTILE_ADDRESS and broken.replace(ZERO_WIDTH_SPACE, "") == HOSTILE_ADDRESS
    assert unlinkable("shop.example 2.0") == f"shop.{ZERO_WIDTH_SPACE}example 2.0"  # amounts, versions: as they are
    assert unlinkable("a . b: c") == "a . b: c"  # separators between words are left alone
    assert unlinkable(broken) == broken  # applied twice: the same


def test_a_value_cannot_forge_the_apps_link_marks():
    rendered = render("handoff_waiting", "en", {"assistant": "\x01http://evil.example\x02", **APP_LINKS})
    assert re.findall(r'<a href="([^"]*)"', rendered.html) == [APP_LINKS["link"].replace("&", "&amp;")]


@pytest.fixture
def smtp(db, monkeypatch):
    server = SmtpServer().start()
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", server.port)
    monkeypatch.setattr(settings, "smtp_security", "none")
    monkeypatch.setattr(settings, "public_url", "http://chatai.test")
    yield server
    server.stop()


async def test_a_sign_up_address_holding_a_url_is_mailed_without_a_link_to_it(smtp):
    async with async_session() as s:
        assert await accounts.sign_up(s, email=HOSTILE_ADDRESS, password="correct horse battery") is None
    async with async_session() as s:
        assert (await mail.send_pending(s)).sent == 1
    # Delivered to that mailbox (its local part quoted, as SMTP wants it), not to `//evil.example/...`.
    [received] = smtp.messages
    assert received.to == ['"victim+https://evil.example/pay-now"@example.com']
    hrefs = re.findall(r'<a href="([^"]*)"', received.html)
    assert len(hrefs) == 1 and hrefs[0].startswith("http://chatai.test/auth/verify?token=")
    assert "evil.example" not in received.html and "evil.example" not in received.text
    assert HOSTILE_ADDRESS in received.text.replace(ZERO_WIDTH_SPACE, "")  # the person still reads their address


def test_the_envelope_and_to_header_name_exactly_the_stored_address():
    message = mail.build_message(to=HOSTILE_ADDRESS, subject="s", text="t", html="<p>t</p>")
    [address] = message["To"].addresses
    assert address.addr_spec == '"victim+https://evil.example/pay-now"@example.com'
    assert mail.build_message(to="olga@example.com", subject="s", text="t", html="h")["To"] == "olga@example.com"
