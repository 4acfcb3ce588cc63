"""Telegram-safe HTML: everything escaped, only our tags, never broken, never over 4096."""

from __future__ import annotations

import random

from chatai.bots.telegram_format import format_answer, plain, source_label, utf16_len
from chatai.bots.throttle import Throttle
from tests.fakes.telegram_methods import check_html


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


def test_sources_listed_once_numbered_and_deduplicated():
    sources = [{"document": "faq.pdf", "section": "Delivery"}, {"document": "faq.pdf", "section": "Delivery"},
               {"document": "terms.md", "section": ""}]
    [html] = format_answer("Вот ответ.", sources, language="ru")
    assert html.endswith("<i>📄 Источники: [1] faq.pdf › Delivery; [2] terms.md</i>")
    [html] = format_answer("Here is the answer.", sources[:1], language="ru")  # English answer, Russian app
    assert html.endswith("<i>📄 Source: faq.pdf › Delivery</i>") and html.count("faq.pdf") == 1


def test_a_pdf_page_source_reads_in_the_answers_language():
    sources = [{"document": "hours.pdf", "section": "Page 1"}, {"document": "Page 2.md", "section": "Page 2 notes"}]
    [html] = format_answer("Вот что я нашёл.", sources, language="en")
    assert html.endswith("<i>📄 Источники: [1] hours.pdf › Стр. 1; [2] Page 2.md › Page 2 notes</i>")
    [html] = format_answer("Here is what I found.", sources[:1], language="ru")
    assert html.endswith("<i>📄 Source: hours.pdf › Page 1</i>")


def test_source_paths_are_shortened_by_whole_parts_never_mid_word():
    label = source_label("Company handbook.pdf", "Part one: general terms > Chapter 3: delivery and shipping "
                         "conditions > Shipping abroad", limit=60)
    assert label == "Company handbook.pdf › … › Shipping abroad"
    long_label = source_label("report.pdf", "An extraordinarily verbose heading that goes on and on about "
                              "everything the company ever did", limit=60)
    assert len(long_label) <= 60 and long_label.endswith("…")
    words = set("An extraordinarily verbose heading that goes on and on about everything the company ever did"
                .split())
    assert all(w in words for w in long_label.split(" › ")[1].rstrip("…").split())  # whole words only


def test_quotes_become_blockquotes_and_every_source_is_listed():
    text = ("Here is what I found in the knowledge base (quoted as is):\n\n> Implant: 65000 <RUB>\n"
            "> Cleaning: 4500 [1]\n\n> Open daily 9-21 [2]")
    sources = [{"document": "prices.pdf", "section": "Prices"}, {"document": "hours.md", "section": "Hours"}]
    [html] = format_answer(text, sources, language="en")
    assert "<blockquote>Implant: 65000 &lt;RUB&gt;\nCleaning: 4500 [1]</blockquote>" in html
    assert "<blockquote>Open daily 9-21 [2]</blockquote>" in html
    assert html.endswith("Sources: [1] prices.pdf › Prices; [2] hours.md › Hours</i>") and check_html(html) == ""


def test_long_quote_splits_safely():
    text = "Intro\n\n" + "\n".join(f"> line {i} with <tags> & words" for i in range(400))
    parts = format_answer(text, [{"document": "a.pdf", "section": "One"}])
    assert len(parts) >= 3
    for part in parts:
        assert utf16_len(part) <= 4096 and check_html(part) == ""
    assert sum(p.count("<blockquote>") for p in parts) >= len(parts) - 1
    assert parts[-1].endswith("Source: a.pdf › One</i>") and sum("Source" in p for p in parts) == 1


def test_plain_text_never_interpreted():
    assert plain("**not bold** <tag>") == ["**not bold** &lt;tag&gt;"]


async def test_throttle_blocks_one_chat_only(monkeypatch):
    """On the throttle's own clock: what it makes each chat wait, not how long the machine took."""
    import time
    import types

    from chatai.bots import throttle as throttle_module

    now = [time.monotonic() + 1000.0]  # ahead of the buckets' creation time: they start full
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(throttle_module, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(throttle_module, "asyncio", types.SimpleNamespace(sleep=sleep))
    throttle = Throttle(per_chat=1.0, chat_burst=1.0)
    await throttle.wait(1)
    throttle.block(1, 0.5)
    await throttle.wait(2)
    assert slept == []  # the other chat is not held up
    await throttle.wait(1)
    # Chat 1 waits out its block and its empty bucket (1 message/s): one second, in one sleep.
    assert slept == [1.0]


def test_a_qa_pair_source_is_named_in_the_answers_language():
    """A Russian customer read "Источник: Q&A" (the stored name of a Q&A pair's hit)."""
    from chatai.rag.retrieval import QA_DOCUMENT

    qa = [{"document": QA_DOCUMENT, "section": "Сколько стоит доставка?"}]
    russian = format_answer("Доставка по городу бесплатна.", qa, language="ru")[-1]
    assert "Источник: Вопрос-ответ › Сколько стоит доставка?" in russian and "Q&amp;A" not in russian
    english = format_answer("Delivery in the city is free.", [{"document": QA_DOCUMENT, "section": "Delivery?"}])[-1]
    assert "Source: Q&amp;A › Delivery?" in english


def test_the_playground_names_a_qa_source_in_the_owners_language():
    from chatai.rag.retrieval import QA_DOCUMENT
    from chatai.web.state.playground import playground_sources

    sources = [{"document": QA_DOCUMENT, "section": "Доставка?", "score": 0.9, "text": "Да."},
               {"document": "menu.pdf", "section": "", "score": 0.5, "text": "…"}]
    assert playground_sources(sources, "ru") == "Вопрос-ответ — Доставка? · menu.pdf"
    assert playground_sources(sources, "en") == "Q&A — Доставка? · menu.pdf"
