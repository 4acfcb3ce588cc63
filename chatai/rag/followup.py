"""Follow-up questions made standalone before retrieval: "а сколько это стоит?" or "and on weekends?" say
nothing a search can find on their own; the conversation says what they are about.

- With an LLM: one small call rewrites the last question with the recent conversation into a standalone
  question, cached in Redis by a hash of (model, recent conversation, question), so a retry, a second runner
  or the same exchange again costs no second call. It is made only for questions that may lean on the
  conversation (`may_lean_on_context`: short, or with a pronoun or an ellipsis); a long question that names
  its subject is searched as written, which saves the call and its latency. A failed or unusable rewrite
  falls back to the offline rule.
- Offline (no LLM): a short follow-up (`is_follow_up`) is searched together with the dialog's previous user
  question: "Есть доставка? а сколько это стоит?" finds the delivery price.
Only retrieval uses the rewritten question; the answer is still written for the question as asked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence

import httpx

from chatai.cache import get_redis
from chatai.llm.client import create_chat, load_prompt

log = logging.getLogger(__name__)

FOLLOW_UP_MAX_WORDS = 6  # offline: longer questions are taken as standalone
FOLLOW_UP_CHAIN = 3  # offline: at most this many earlier questions are added to a follow-up
LLM_REWRITE_MAX_WORDS = 12  # with an LLM: longer questions are not sent for rewriting
CONTEXT_MESSAGES = 6  # the recent conversation the rewrite sees
CACHE_TTL_SECONDS = 24 * 3600
CACHE_PREFIX = "followup:v1:"
REWRITE_MAX_TOKENS = 120
REWRITE_TIMEOUT_SECONDS = 15.0
MAX_REWRITE_CHARS = 500

# Words that point back into the conversation (pronouns, "too", "then"). Not "one" (a number: "one day") nor
# "there" ("is there parking?" stands alone).
REFERRING_WORDS = frozenset("""
    это этого этому этим этом эта эту этой этот эти этих он она оно они его её ее их ему ей им ним нему неё нее
    них нём нем там туда тогда тоже также ещё еще такой такое такая такие такого такую
    it its that this these those them they then also too same else
""".split())
# Words that, first in a short question, continue the previous one ("а если...", "and on weekends?").
CONTINUING_FIRST_WORDS = frozenset("а и но and but or so".split())
CONTINUING_OPENINGS = (("what", "about"), ("how", "about"), ("what", "if"), ("а", "если"))
# A short question opening with a preposition is an ellipsis: "по выходным?", "on weekends?", "для детей?".
PREPOSITIONS = frozenset("""
    в во на по для с со к ко до от из за у о об при без через после перед
    on in at for with to from by during after before without
""".split())
ELLIPSIS_MAX_WORDS = 3

_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _leans_on_context(tokens: list[str]) -> bool:
    if not tokens:
        return False
    if any(t in REFERRING_WORDS for t in tokens) or tokens[0] in CONTINUING_FIRST_WORDS:
        return True
    if any(tuple(tokens[:2]) == opening for opening in CONTINUING_OPENINGS):
        return True
    return len(tokens) <= ELLIPSIS_MAX_WORDS and tokens[0] in PREPOSITIONS


def is_follow_up(question: str) -> bool:
    """Offline rule: short, and a pronoun, a continuing first word or an ellipsis in it."""
    tokens = words(question)
    return 0 < len(tokens) <= FOLLOW_UP_MAX_WORDS and _leans_on_context(tokens)


def may_lean_on_context(question: str) -> bool:
    """Worth an LLM rewrite: a follow-up by the offline rule, or any question of up to three words, or a
    question of up to LLM_REWRITE_MAX_WORDS words with a pronoun or a continuing opening."""
    tokens = words(question)
    return 0 < len(tokens) <= LLM_REWRITE_MAX_WORDS and (len(tokens) <= 3 or _leans_on_context(tokens))


def _user_questions(history: Sequence[tuple[str, str]]) -> list[str]:
    """The dialog's user messages before this one, latest first (history excludes the current question)."""
    return [content.strip() for role, content in reversed(list(history))
            if role == "user" and content.strip() and not content.strip().startswith("/")]


def previous_user_question(history: Sequence[tuple[str, str]]) -> str | None:
    questions = _user_questions(history)
    return questions[0] if questions else None


def offline_search_question(question: str, history: Sequence[tuple[str, str]]) -> str:
    """A follow-up searched with the questions it follows: back to the last one that stood alone, at most
    FOLLOW_UP_CHAIN of them ("Есть доставка?" -> "а сколько стоит?" -> "а в выходные?")."""
    if not is_follow_up(question):
        return question
    context: list[str] = []
    for previous in _user_questions(history)[:FOLLOW_UP_CHAIN]:
        context.insert(0, previous)
        if not is_follow_up(previous):
            break
    return " ".join([*context, question])


def cache_key(model: str, recent: Sequence[tuple[str, str]], question: str) -> str:
    context = json.dumps([model, [list(m) for m in recent], question], ensure_ascii=False)
    return CACHE_PREFIX + hashlib.sha256(context.encode()).hexdigest()


def parse_rewrite(content: str) -> str | None:
    """{"question": "..."} as asked; a bare question from a server that ignores response_format."""
    text = content.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text).get("question")
        except (ValueError, AttributeError):
            return None
        text = value.strip() if isinstance(value, str) else ""
    return text if 0 < len(text) <= MAX_REWRITE_CHARS else None


REWRITE_FORMAT = {"type": "json_schema", "json_schema": {"name": "standalone_question", "strict": True, "schema": {
    "type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"],
    "additionalProperties": False}}}


async def _rewrite(model: str, recent: Sequence[tuple[str, str]], question: str) -> str | None:
    conversation = "\n".join(f"{'customer' if role == 'user' else 'support'}: {content.strip()}"
                             for role, content in recent)
    messages = [{"role": "system", "content": load_prompt("followup_rewrite")},
                {"role": "user", "content": load_prompt("followup_conversation").format(
                    conversation=conversation, question=question.strip())}]
    response = await create_chat(
        model=model, messages=messages, temperature=0, max_tokens=REWRITE_MAX_TOKENS,
        response_format=REWRITE_FORMAT, timeout=httpx.Timeout(REWRITE_TIMEOUT_SECONDS),
    )
    choice = response.choices[0] if response.choices else None
    return parse_rewrite(choice.message.content or "") if choice is not None else None


async def standalone_question(question: str, history: Sequence[tuple[str, str]], *, model: str,
                              use_llm: bool) -> str:
    """The question to search the knowledge base with."""
    if previous_user_question(history) is None:
        return question
    if not use_llm:
        return offline_search_question(question, history)
    if not may_lean_on_context(question):
        return question
    recent = list(history)[-CONTEXT_MESSAGES:]
    key = cache_key(model, recent, question)
    redis = get_redis()
    try:
        cached = await redis.get(key)
    except Exception as exc:  # noqa: BLE001 - a cache outage costs a call, never the answer
        log.warning("follow-up cache unavailable: %s", type(exc).__name__)
        cached = None
    if cached:
        return cached
    try:
        rewritten = await _rewrite(model, recent, question)
    except Exception as exc:  # noqa: BLE001 - the offline rule still gives retrieval a subject
        log.warning("follow-up rewrite failed (%s); using the offline rule", type(exc).__name__)
        rewritten = None
    if rewritten is None:
        return offline_search_question(question, history)
    try:
        await redis.set(key, rewritten, ex=CACHE_TTL_SECONDS)
    except Exception as exc:  # noqa: BLE001
        log.warning("follow-up cache unavailable: %s", type(exc).__name__)
    return rewritten
