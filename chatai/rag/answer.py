"""Grounded answers: a strong Q&A match answers directly; otherwise retrieved passages feed the LLM
(streamed) or, with no LLM configured, are quoted as an extractive answer. Nothing relevant retrieved
means an honest "I don't know" in the user's language with needs_handoff=True, never an invented answer.

needs_handoff is a signal: the conversation layer decides whether to hand off (Assistant.handoff_enabled
and handoff_on_low_confidence).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from chatai.db.models import Assistant
from chatai.db.session import async_session
from chatai.llm.client import get_openai_client, load_prompt
from chatai.rag.chunking import estimate_tokens
from chatai.rag.language import detect_language
from chatai.rag.retrieval import SearchHit, hybrid_search, plan_query, search_qa
from chatai.settings import get_settings

log = logging.getLogger(__name__)

CONTEXT_TOKEN_BUDGET = 3000
HISTORY_TOKEN_BUDGET = 1200
HISTORY_MAX_MESSAGES = 12
MAX_ANSWER_TOKENS = 700
EXTRACTIVE_PASSAGES = 2

TEXTS = {
    "en": {
        "dont_know": "I'm sorry, I don't know the answer to that. I can connect you with a person who can help.",
        "quote_header": "Here is what I found in the knowledge base (quoted as is):",
        "source": "Source",
        "language": "English",
    },
    "ru": {
        "dont_know": "Извините, я не знаю ответа на этот вопрос. Я могу соединить вас с сотрудником, который поможет.",
        "quote_header": "Вот что я нашёл в базе знаний (цитата без изменений):",
        "source": "Источник",
        "language": "Russian",
    },
}


@dataclass
class Source:
    document: str  # file name, or "Q&A"
    section: str
    score: float
    text: str  # the chunk text (or Q&A answer)


@dataclass
class Answer:
    text: str
    sources: list[Source]
    answered_by: str  # "llm" | "qa" | "extractive" | "fallback"  (fallback = "I don't know")
    needs_handoff: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    language: str = "en"
    hits: list[SearchHit] = field(default_factory=list, repr=False)


def _source(hit: SearchHit) -> Source:
    return Source(document=hit.document, section=hit.section, score=hit.score, text=hit.text)


def answer_language(assistant: Assistant, question: str, language: str | None) -> str:
    """The assistant's fixed language, else the caller's hint, else what the question is written in."""
    if assistant.language in TEXTS:
        return assistant.language
    if language in TEXTS:
        return language
    return detect_language(question)


@dataclass
class _Prepared:
    assistant: Assistant
    language: str
    direct: Answer | None  # qa / fallback answers need no generation
    hits: list[SearchHit]


async def _prepare(assistant_id: uuid.UUID, question: str, language: str | None) -> _Prepared:
    async with async_session() as session:
        assistant = await session.get(Assistant, assistant_id)
        if assistant is None:
            raise LookupError("assistant not found")
        lang = answer_language(assistant, question, language)
        plan = await plan_query(assistant, question)
        qa_hits = await search_qa(session, assistant=assistant, plan=plan)
        if qa_hits and qa_hits[0].score >= assistant.qa_direct_threshold:
            best = qa_hits[0]
            return _Prepared(assistant, lang, Answer(text=best.text, sources=[_source(best)], answered_by="qa",
                                                     needs_handoff=False, language=lang, hits=[best]), [best])
        hits = await hybrid_search(session, assistant=assistant, plan=plan)
        # Q&A pairs that are relevant but not strong enough to answer alone are still good context.
        hits = [h for h in qa_hits if h.score >= assistant.score_threshold] + hits
        session.expunge(assistant)  # keep its loaded fields usable after the session ends
        await session.rollback()  # read-only; ends the SET LOCAL scope
    if not hits:
        return _Prepared(assistant, lang, Answer(text=TEXTS[lang]["dont_know"], sources=[], answered_by="fallback",
                                                 needs_handoff=True, language=lang), [])
    return _Prepared(assistant, lang, None, hits)


def extractive_answer(hits: list[SearchHit], language: str) -> Answer:
    """No LLM: quote the best passages verbatim, each with its source, clearly marked as a quote."""
    t = TEXTS[language]
    best = sorted(hits, key=lambda h: -h.score)[:EXTRACTIVE_PASSAGES]
    parts = [t["quote_header"]]
    for hit in best:
        where = hit.document + (f" / {hit.section}" if hit.section and hit.kind == "chunk" else "")
        body = hit.text.strip()
        quoted = "\n".join(f"> {line}" for line in body.splitlines() if line.strip())
        parts.append(f"{quoted}\n({t['source']}: {where})")
    return Answer(text="\n\n".join(parts), sources=[_source(h) for h in best], answered_by="extractive",
                  needs_handoff=False, language=language, hits=best)


def build_messages(assistant: Assistant, question: str, history: Sequence[tuple[str, str]], hits: list[SearchHit],
                   language: str) -> tuple[list[dict[str, str]], list[SearchHit]]:
    """System prompt + context within CONTEXT_TOKEN_BUDGET + the most recent history within its budget."""
    used: list[SearchHit] = []
    items: list[str] = []
    budget = CONTEXT_TOKEN_BUDGET
    item_template = load_prompt("context_item")
    for hit in hits:
        item = item_template.format(number=len(items) + 1, document=hit.document, section=hit.section or "-",
                                    text=hit.text.strip())
        cost = estimate_tokens(item)
        if cost > budget and items:
            break
        items.append(item)
        used.append(hit)
        budget -= cost
    owner = assistant.system_prompt.strip()
    system = load_prompt("system").format(
        language=TEXTS[language]["language"],
        owner_instructions=load_prompt("owner_instructions").format(system_prompt=owner) if owner else "",
        context="\n".join(items),
    )
    recent: list[dict[str, str]] = []
    budget = HISTORY_TOKEN_BUDGET
    for role, content in reversed(list(history)[-HISTORY_MAX_MESSAGES:]):
        cost = estimate_tokens(content)
        if cost > budget:
            break
        budget -= cost
        # Operator replies are part of the conversation the user saw: the model speaks as that side.
        recent.insert(0, {"role": "user" if role == "user" else "assistant", "content": content})
    return [{"role": "system", "content": system}, *recent, {"role": "user", "content": question}], used


async def stream_answer(*, assistant_id: uuid.UUID, question: str, history: Sequence[tuple[str, str]] = (),
                        language: str | None = None) -> AsyncIterator[str | Answer]:
    """Text deltas as they are generated, then the final Answer (always last, always exactly once)."""
    prepared = await _prepare(assistant_id, question, language)
    if prepared.direct is not None:
        yield prepared.direct.text
        yield prepared.direct
        return
    settings = get_settings()
    if not settings.llm_configured:
        answer = extractive_answer(prepared.hits, prepared.language)
        yield answer.text
        yield answer
        return
    assistant = prepared.assistant
    messages, used = build_messages(assistant, question, history, prepared.hits, prepared.language)
    model = assistant.model or settings.openai_chat_model
    pieces: list[str] = []
    prompt_tokens = completion_tokens = 0
    try:
        stream = await get_openai_client().chat.completions.create(
            model=model, messages=messages, temperature=assistant.temperature, max_tokens=MAX_ANSWER_TOKENS,
            stream=True, stream_options={"include_usage": True},
        )
        async for chunk in stream:
            if chunk.usage is not None:
                prompt_tokens, completion_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            for choice in chunk.choices:
                delta = choice.delta.content if choice.delta else None
                if delta:
                    pieces.append(delta)
                    yield delta
    except Exception as exc:  # noqa: BLE001 - an LLM outage must still give the user something grounded
        log.warning("LLM call failed (%s); answering extractively", exc)
        if not pieces:
            answer = extractive_answer(prepared.hits, prepared.language)
            yield answer.text
            yield answer
            return
    text = "".join(pieces).strip()
    if not text:
        answer = extractive_answer(prepared.hits, prepared.language)
        yield answer.text
        yield answer
        return
    if not completion_tokens:  # servers that send no usage: estimate rather than record zero
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        completion_tokens = estimate_tokens(text)
    yield Answer(text=text, sources=[_source(h) for h in used], answered_by="llm", needs_handoff=False,
                 prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, model=model,
                 language=prepared.language, hits=used)


async def answer_question(*, assistant_id: uuid.UUID, question: str, history: Sequence[tuple[str, str]] = (),
                          language: str | None = None) -> Answer:
    """The whole answer at once (Telegram sends one message); opens its own database session."""
    final: Answer | None = None
    async for item in stream_answer(assistant_id=assistant_id, question=question, history=history,
                                    language=language):
        if isinstance(item, Answer):
            final = item
    assert final is not None  # noqa: S101 - stream_answer always ends with an Answer
    return final
