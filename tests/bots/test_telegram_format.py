"""Telegram-safe HTML: everything escaped, only our tags, never broken, never over 4096."""

from __future__ import annotations

import random

from chatai.bots.telegram_format import format_answer, plain, utf16_len
from chatai.bots.throttle import Throttle
from tests.fakes.telegram_server import check_html


def test_model_html_is_escaped_and_markdown_subset_rendered():
    [html] = format_answer('<b onclick="x">hi</b> **bold** *it* `a<b` & snake_case_name\n# Head\n- item')
    assert "&lt;b onclick" in html and "<b>bold</b>" in html and "<i>it</i>" in html
    assert "<code>a&lt;b</code>" in html and "&amp;" in html and "snake_case_name" in html
    assert "<b>Head</b>" in html and "• item" in html
    assert check_html(html) == ""


def test_unclosed_markdown_stays_literal():
    [html] = format_answer("**never closed and `also open")
    assert html == "**never closed and `also open"


def test_split_respects_limit_and_markup_fuzz():
    rng = random.Random(4)
    alphabet = ["word ", "<", ">", "&", "**", "*", "`", "\n", "\n\n", "```\n", "😀", "я", ". "]
    for _ in range(40):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(10, 6000)))
        parts = format_answer(text, [{"document": "a.pdf", "section": "One"}])
        assert parts
        for part in parts:
            assert utf16_len(part) <= 4096
            assert check_html(part) == "", part


def test_code_block_split_keeps_each_part_closed():
    text = "```\n" + "\n".join(f"line {i} <x>" for i in range(900)) + "\n```"
    parts = format_answer(text)
    assert len(parts) >= 3
    assert all(p.startswith("<pre>") and p.endswith("</pre>") or "<pre>" in p for p in parts)
    assert all(check_html(p) == "" for p in parts)


def test_sources_compact_and_deduplicated():
    sources = [{"document": "faq.pdf", "section": "Delivery"}, {"document": "faq.pdf", "section": "Other"},
               {"document": "terms.md", "section": ""}]
    [html] = format_answer("ok", sources, language="ru")
    assert html.endswith("<i>📄 Источники: faq.pdf (Delivery); terms.md</i>")


def test_plain_text_never_interpreted():
    assert plain("**not bold** <tag>") == ["**not bold** &lt;tag&gt;"]


async def test_throttle_blocks_one_chat_only():
    import time

    throttle = Throttle(per_chat=1.0, chat_burst=1.0)
    await throttle.wait(1)
    throttle.block(1, 0.5)
    t0 = time.monotonic()
    await throttle.wait(2)
    assert time.monotonic() - t0 < 0.05
    await throttle.wait(1)
    assert time.monotonic() - t0 >= 0.45
