"""Grounded answers: a strong Q&A match answers directly; otherwise retrieved passages feed the LLM
(streamed, as a structured result checked in llm_answer.py) or, with no LLM configured, the sentences that
answer are quoted (extractive.py). Nothing relevant retrieved, or an LLM that finds no answer in the passages
or cites none it was given, means an honest "I don't know" (outcome "dont_know", answered_by "fallback": free)
with needs_handoff=True, never an invented answer. Follow-up questions are searched as standalone questions
(followup.py).
The framing ("Here is what I found", "I don't know") is in the language the question is written in: a
Telegram app set to Russian says nothing about the language of one English question. `/help` describes the
assistant (its name and greeting) instead of searching the knowledge base for the word "help".

needs_handoff is a signal: the conversation layer decides whether to hand off (Assistant.handoff_enabled
and handoff_on_low_confidence).

Before a Q&A pair or quotes are said, the decision (rag/confidence.py) weighs how sure they are; below the
assistant's "How sure before answering" setting the answer is the "don't know" outcome instead (`decide`):
answered_by "fallback" (never charged) and needs_handoff, as when nothing was retrieved.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from chatai.db.models import Assistant
from chatai.db.session import async_session
from chatai.llm.client import load_prompt
from chatai.rag.certainty import threshold_for
from chatai.rag.chunking import estimate_tokens
from chatai.rag.confidence import Evidence, confidence, evidence, qa_question_matches, top_confidence
from chatai.rag.extractive import select_quotes, stands_alone
from chatai.rag.followup import standalone_question
from chatai.rag.language import detect_language
from chatai.rag.llm_answer import LLMResult, generate
from chatai.rag.retrieval import QueryPlan, SearchHit, plan_query, search_knowledge
from chatai.settings import get_settings

CONTEXT_TOKEN_BUDGET = 3000
HISTORY_TOKEN_BUDGET = 1200
HISTORY_MAX_MESSAGES = 12
MAX_ANSWER_TOKENS = 700

TEXTS = {
    "en": {
        # Said when handoff is off (or the assistant may not call a person): no promise of a person.
        "dont_know": "I'm sorry, I don't know the answer to that.",
        # Said instead when the dialog now waits for a person: the one message the customer gets.
        "dont_know_person": "I'm sorry, I don't know the answer to that. I've asked a person to join this chat: "
                            "they will answer you here soon.",
        "quote_header": "Here is what I found in the knowledge base (quoted as is):",
        "source": "Source",
        "language": "English",
        "help_intro": "Hello! I'm {name}, an assistant that answers from this business's documents.",
        "help_body": ("Ask me a question in your own words, in English or Russian: I will answer from the "
                      "documents and show where each answer comes from."),
        "help_person": "If I can't help, just ask for a person and I will connect you.",
    },
    "ru": {
        "dont_know": "Извините, я не знаю ответа на этот вопрос.",
        "dont_know_person": "Извините, я не знаю ответа на этот вопрос. Я позвал сотрудника: он ответит вам здесь "
                            "в ближайшее время.",
        "quote_header": "Вот что я нашёл в базе знаний (цитата без изменений):",
        "source": "Источник",
        "language": "Russian",
        "help_intro": "Здравствуйте! Я {name}, помощник, который отвечает по документам компании.",
        "help_body": ("Задайте вопрос своими словами, по-русски или по-английски: я отвечу по документам и "
                      "покажу, откуда взят ответ."),
        "help_person": "Если я не смогу помочь, попросите соединить с сотрудником — я передам разговор.",
    },
}


# Offline, when no passage reaches the assistant's score threshold, quotes may come from passages down to this
# calibrated score, judged by the decision like any other (a fifth of the answerable bench questions retrieved
# nothing above 0.3; bench/README.md "Answer precision").
RESCUE_FLOOR = 0.2


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
    # "answer" | "dont_know": a don't-know is never charged (answered_by "fallback") and hands the dialog to a
    # person when the assistant's handoff is on (needs_handoff). confidence: rag/confidence.py's 0-1 scale.
    outcome: str = "answer"
    confidence: float = 0.0
    evidence: Evidence | None = field(default=None, repr=False)  # what the confidence was computed from


def _source(hit: SearchHit) -> Source:
    return Source(document=hit.document, section=hit.section, score=hit.score, text=hit.text)


def answer_language(assistant: Assistant, question: str, language: str | None) -> str:
    """The assistant's fixed language, else what the question is written in, else the caller's hint (the
    Telegram app's language) for questions without letters."""
    if assistant.language in TEXTS:
        return assistant.language
    return detect_language(question, default=language if language in TEXTS else "en")


def is_help_command(question: str) -> bool:
    """'/help' or '/help@SomeBot' (Telegram appends the bot's name in groups)."""
    words = question.strip().split()
    return bool(words) and words[0].split("@")[0].lower() == "/help"


def dont_know(language: str, confidence: float = 0.0, **tokens: int | str) -> Answer:
    """The honest outcome when nothing sure enough was found: a person will answer (never charged; an LLM's
    tokens are still recorded for the platform's cost)."""
    return Answer(text=TEXTS[language]["dont_know"], sources=[], answered_by="fallback", needs_handoff=True,
                  language=language, outcome="dont_know", confidence=confidence, **tokens)


def dont_know_text(language: str, *, person: bool) -> str:
    """The "don't know" sentence, saying a person will answer only when the dialog now waits for one."""
    texts = TEXTS[language if language in TEXTS else "en"]
    return texts["dont_know_person" if person else "dont_know"]


def decide(answer: Answer, certainty: str) -> Answer:
    """The candidate answer if it is sure enough under the assistant's setting, else "don't know"."""
    if answer.outcome == "dont_know" or answer.confidence >= threshold_for(certainty):
        return answer
    return dont_know(answer.language, answer.confidence)


def help_answer(assistant: Assistant, language: str | None) -> Answer:
    """What the bot can do, from the owner's greeting (or the assistant's name): not a knowledge-base search."""
    lang = assistant.language if assistant.language in TEXTS else (language if language in TEXTS else "en")
    t = TEXTS[lang]
    intro = assistant.greeting.strip() or t["help_intro"].format(name=assistant.name)
    parts = [intro, t["help_body"]] + ([t["help_person"]] if assistant.handoff_enabled else [])
    return Answer(text="\n\n".join(parts), sources=[], answered_by="help", needs_handoff=False, language=lang,
                  confidence=1.0)


@dataclass
class _Prepared:
    assistant: Assistant
    language: str
    direct: Answer | None  # qa / fallback / help answers need no generation
    hits: list[SearchHit]  # what may be answered from
    plan: QueryPlan | None = None
    found: list[SearchHit] = field(default_factory=list)  # everything retrieved (the margin's runner-up)


async def _prepare(assistant_id: uuid.UUID, question: str, language: str | None,
                   history: Sequence[tuple[str, str]] = ()) -> _Prepared:
    async with async_session() as session:
        assistant = await session.get(Assistant, assistant_id)
        if assistant is None:
            raise LookupError("assistant not found")
        if is_help_command(question):
            help_ = help_answer(assistant, language)
            return _Prepared(assistant, help_.language, help_, [])
        lang = answer_language(assistant, question, language)
        session.expunge(assistant)  # keep its loaded fields usable after the session ends
        await session.rollback()  # no connection held while a model rewrites a follow-up or embeds the query
        settings = get_settings()
        # A follow-up ("and on weekends?") is searched as the standalone question it stands for (followup.py).
        search_question = await standalone_question(question, history, use_llm=settings.llm_configured,
                                                    model=assistant.model or settings.openai_chat_model)
        plan = await plan_query(assistant, search_question)
        # Chunks and Q&A pairs in one order on one score scale; a strong Q&A match answers directly.
        floor = min(assistant.score_threshold, RESCUE_FLOOR)
        every = await search_knowledge(session, assistant=assistant, plan=plan, threshold=floor)
        found = [h for h in every if h.score >= assistant.score_threshold]

        def usable(candidates: list[SearchHit]) -> list[SearchHit]:
            # A Q&A pair whose question is not about this one (one shared word) is neither answered nor quoted.
            return [h for h in candidates if h.kind != "qa" or qa_question_matches(search_question, h)]

        hits = usable(found)
        if not hits and not settings.llm_configured:
            # Nothing above the owner's bar: the offline quotes may still come from below it (down to
            # RESCUE_FLOOR), marked so the decision knows (rag/confidence.py); the LLM is never given them.
            found = every
            hits = usable(every)
            for hit in hits:
                hit.extra["rescued"] = True
        best = next((h for h in hits if h.kind == "qa"), None)
        if best is not None and best.score >= assistant.qa_direct_threshold:
            why = evidence(search_question, found, [best], best.text)
            # A bare "Yes." carries the question it answers (the customer may have asked something else).
            said = best.text if stands_alone(best.text) else f"{best.section.strip()}\n{best.text}"
            return _Prepared(assistant, lang, Answer(text=said, sources=[_source(best)], answered_by="qa",
                                                     needs_handoff=False, language=lang, hits=[best],
                                                     confidence=confidence(why), evidence=why), [best])
        await session.rollback()  # read-only; ends the SET LOCAL scope
    if not hits:
        return _Prepared(assistant, lang, dont_know(lang), [], plan, found)
    return _Prepared(assistant, lang, None, hits, plan, found)


async def extractive_answer(hits: list[SearchHit], language: str, plan: QueryPlan,
                            found: list[SearchHit] | None = None) -> Answer:
    """No LLM: quote the sentences that answer, verbatim, marked as quotes ("> "); each quote's source is in
    `sources` (numbered "[n]" in the text when there are several), listed once by the channel."""
    t = TEXTS[language]
    quotes = await select_quotes(hits, plan)
    sources: list[Source] = []
    numbers: list[int] = []
    for quote in quotes:
        section = quote.section if quote.kind == "chunk" else ""
        known = [i for i, s in enumerate(sources, 1) if (s.document, s.section) == (quote.document, section)]
        if not known:
            sources.append(Source(document=quote.document, section=section, score=quote.score, text=quote.text))
        numbers.append(known[0] if known else len(sources))
    several = len(sources) > 1
    parts = [t["quote_header"]]
    for quote, number in zip(quotes, numbers, strict=True):
        quoted = "\n".join(f"> {line}" for line in quote.text.splitlines())
        parts.append(f"{quoted} [{number}]" if several else quoted)
    used = [h for h in hits if any(h.document == s.document for s in sources)]
    quoted = [h for h in hits if any(q.document == h.document and q.section == h.section and q.kind == h.kind
                                     for q in quotes)] or used
    why = evidence(plan.question, found or hits, quoted, "\n".join(q.text for q in quotes),
                   quote_score=max((q.score for q in quotes), default=0.0),
                   quote_margin=quotes[0].margin if quotes else 0.0, guess=any(q.guess for q in quotes))
    return Answer(text="\n\n".join(parts), sources=sources, answered_by="extractive", needs_handoff=False,
                  language=language, hits=used, confidence=confidence(why), evidence=why)


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
    prepared = await _prepare(assistant_id, question, language, history)
    certainty = prepared.assistant.answer_certainty
    if prepared.direct is not None:
        answer = decide(prepared.direct, certainty)
        yield answer.text
        yield answer
        return
    settings = get_settings()
    if not settings.llm_configured:
        answer = decide(await extractive_answer(prepared.hits, prepared.language, prepared.plan, prepared.found),
                        certainty)
        yield answer.text
        yield answer
        return
    assistant = prepared.assistant
    messages, used = build_messages(assistant, question, history, prepared.hits, prepared.language)
    model = assistant.model or settings.openai_chat_model
    result: LLMResult | None = None
    async for item in generate(messages=messages, model=model, temperature=assistant.temperature,
                               max_tokens=MAX_ANSWER_TOKENS, passages=len(used)):
        if isinstance(item, LLMResult):
            result = item
        else:
            yield item
    assert result is not None  # noqa: S101 - generate always ends with its result
    if result.outcome == "failed":  # outage, stall, malformed reply: quotes instead (replacing any streamed text)
        answer = decide(await extractive_answer(prepared.hits, prepared.language, prepared.plan, prepared.found),
                        certainty)
        yield answer.text
        yield answer
        return
    tokens = {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens, "model": model}
    if result.outcome == "dont_know":  # not in the passages, or not sure of its citations: a person answers
        answer = dont_know(prepared.language, **tokens)
        yield answer.text
        yield answer
        return
    cited = [used[n - 1] for n in result.cited]
    # The model judged the passages; the confidence reported is retrieval's for what it cited (same scale).
    yield Answer(text=result.text, sources=[_source(h) for h in cited], answered_by="llm", needs_handoff=False,
                 language=prepared.language, hits=cited,
                 confidence=top_confidence(prepared.plan.question if prepared.plan else question, cited), **tokens)


async def offline_candidate(*, assistant_id: uuid.UUID, question: str, language: str | None = None) -> Answer:
    """What the offline path would say before the decision (a Q&A pair or quotes, with its confidence):
    bench.answer_precision measures every setting's threshold on one run of this."""
    prepared = await _prepare(assistant_id, question, language)
    if prepared.direct is not None:
        return prepared.direct
    return await extractive_answer(prepared.hits, prepared.language, prepared.plan, prepared.found)


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
