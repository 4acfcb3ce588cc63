"""Extractive answers (no LLM): quote only the sentences that answer, not whole chunks.

A chunk is up to ~200 tokens and a PDF page chunk mixes topics, so quoting the top chunks whole answered
"What are your opening hours?" with the hours plus the returns policy. Instead the sentences (or list/table
lines) of the top few hits are scored against the question with the same embedder that retrieved them (the
sentence embedded with its section title, as chunks are) and the same lexical coverage, on the one
calibrated relevance scale; the sentences near the best one are quoted verbatim, in document order, within a
length cap, each group with its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from chatai.rag.chunking import embedding_text
from chatai.rag.retrieval import QueryPlan, SearchHit

TOP_HITS = 3  # sentences come from the best few hits only
MAX_QUOTE_CHARS = 700  # the whole quoted part; Telegram shows ~15 lines without scrolling
MAX_SENTENCES = 4
NEAR_BEST = 0.12  # sentences scoring within this of the best one are quoted too
NEAR_ROW = 0.03  # ... and other table rows only within this (the e-bike price is not the city bike's)
ROW_GUESS_MARGIN = 0.1  # two rows closer than this that the question's words do not tell apart: a guess
LEXICAL_WEIGHT = 0.8  # as for chunks: word coverage alone never counts as a sure match
MIN_SENTENCE_SCORE = 0.1
MAX_MARGIN = 0.5  # a sentence far ahead (the only one with the price asked for) is as sure as one well ahead
MIN_STANDALONE_WORDS = 4  # "Да, конечно." / "Yes, we do." say nothing without what they answer

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"«(\[]?[A-ZА-ЯЁ0-9])")
WORD = re.compile(r"[^\W_]+")
STOP_WORDS = frozenset("""a an the is are was were be do does did you your we our i my me to of in on at for and or
what when where how which who can could there this that it with from by about any please
и в во на с со к по о об за у из от до не ли а но что как где когда какой какая какие какое кто
вы вас ваш ваша ваши мы нас наш я мне меня ли же бы это есть можно сколько""".split())


# What kind of fact a question asks for: a price or a time of day. A sentence that has that kind of fact is
# preferred when quoting, and an answer without it is a sign of a wrong answer (rag/confidence.py):
# "What time do you close?" is not answered by the holiday closures, "сколько стоит" not by a description.
_ASKS_PRICE = re.compile(r"сколько стои|стоимост|\bцен[аыу]|поч[её]м|во сколько обойд|дешев|дешёв|дорог|how much|"
                         r"\bprice|\bcosts?\b|cheap|\bfee", re.IGNORECASE)
_ASKS_TIME = re.compile(r"во сколько|до скольки|со скольки|часы работы|режим работы|график работы|what time|"
                        r"opening hours|how late|until when|when do you (?:open|close)|открываетесь|закрываетесь|"
                        r"закрывается|открывается", re.IGNORECASE)
_HAS_PRICE = re.compile(r"\d[\d\s]*(?:[.,]\d+)?\s?(?:руб|₽|eur|gbp|usd|\$|€|£|p\b)|бесплатн|\bfree\b",
                        re.IGNORECASE)
_HAS_TIME = re.compile(r"\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b|\d{1,2} (?:утра|вечера|часов)|"
                       r"круглосуточно|24/7|\bс \d{1,2} до \d{1,2}", re.IGNORECASE)


def asked_kind(question: str) -> str | None:
    """"price" or "time" when the question asks for one (a price question may name a time: "во сколько
    обойдётся"), else None."""
    if _ASKS_PRICE.search(question):
        return "price"
    return "time" if _ASKS_TIME.search(question) else None


def has_kind(text: str, kind: str | None) -> bool:
    if kind is None:
        return True
    return bool((_HAS_PRICE if kind == "price" else _HAS_TIME).search(text))


@dataclass
class Quote:
    text: str
    document: str
    section: str
    kind: str
    score: float
    margin: float = 0.0  # the best sentence's score over the second best's: did the choice hesitate?
    guess: bool = False  # the best of near-equal table rows the question's words cannot tell apart


def split_sentences(text: str) -> list[str]:
    """Lines first (lists, tables, price rows are one fact per line), then sentences inside a line; a
    sentence that cannot stand alone stays with its neighbour (see `stands_alone`)."""
    sentences: list[str] = []
    for line in text.splitlines():
        parts = [s.strip() for s in _SENTENCE_END.split(line.strip()) if s.strip()]
        merged: list[str] = []
        for part in parts:
            if merged and (not stands_alone(part) or not stands_alone(merged[-1])):
                merged[-1] = f"{merged[-1]} {part}"  # "Да." + what it says yes to; "250 г — 890 руб." + the coffee
            else:
                merged.append(part)
        sentences.extend(merged)
    return sentences


def stands_alone(sentence: str) -> bool:
    """A bare "Yes."/"Да.", a short fragment, or a sentence opening with a number ("250 г — 890 руб.",
    "1 day: 40 EUR") or in lower case means nothing without what comes before it."""
    words = WORD.findall(sentence)
    if len(words) < MIN_STANDALONE_WORDS:
        return False
    return not (words[0][0].isdigit() or words[0][0].islower())


def stems(text: str) -> set[str]:
    """Crude stems (first 5 letters) shared by English and Russian word forms: "доставки"/"доставка"."""
    return {w[:5] for w in WORD.findall(text.lower()) if w not in STOP_WORDS and (len(w) > 2 or w.isdigit())}


def _coverage(question_stems: set[str], sentence: str) -> float:
    if not question_stems:
        return 0.0
    return len(question_stems & stems(sentence)) / len(question_stems)


async def select_quotes(hits: list[SearchHit], plan: QueryPlan) -> list[Quote]:
    """The sentences of the top hits that answer the question, grouped per source in document order."""
    from chatai.rag.embeddings import get_embedder
    from chatai.rag.quote_ranking import rank_sentences  # it uses this module's words and kinds

    candidates: list[tuple[int, int, str]] = []  # (hit index, position, sentence)
    seen: set[str] = set()
    for h, hit in enumerate(hits[:TOP_HITS]):
        for position, sentence in enumerate(split_sentences(hit.text)):
            key = sentence.lower()
            if key not in seen:  # overlapping chunks repeat sentences
                seen.add(key)
                candidates.append((h, position, sentence))
    if not candidates:
        return []
    question_stems = stems(plan.question)
    scores = np.array([LEXICAL_WEIGHT * _coverage(question_stems, s) for _, _, s in candidates])
    headings = [hits[h].section if hits[h].kind == "chunk" else "" for h, _, _ in candidates]
    if plan.vectors_trusted and plan.vector is not None:
        texts = [embedding_text(heading, s) for heading, (_, _, s) in zip(headings, candidates, strict=True)]
        vectors = np.asarray(await get_embedder().embed(texts), dtype=np.float32)
        cosines = vectors @ np.asarray(plan.vector, dtype=np.float32)
        similar = np.array([plan.calibration.relevance(float(c)) for c in cosines])
        scores = np.maximum(scores, similar)
    # Chosen in rank order (relevance + lexical evidence + the kind of fact asked for, quote_ranking.py);
    # the quote reports its relevance, the one calibrated scale.
    ranks = np.array(rank_sentences(plan.question, [s for _, _, s in candidates], headings, scores.tolist()))
    ranked = sorted(range(len(candidates)), key=lambda i: -ranks[i])
    best = float(ranks[ranked[0]])
    margin = min(MAX_MARGIN, best - (float(ranks[ranked[1]]) if len(ranked) > 1 else 0.0))
    guess = _row_guess(question_stems, [candidates[i][2] for i in ranked[:2]], margin)
    if float(scores.max()) < MIN_SENTENCE_SCORE:  # no sentence is about the question: quote the best hit's opening
        chosen = [0]
    else:
        chosen, used = [], 0
        # Table rows are alternatives (one price per row): another row is quoted only when nearly as good.
        near = NEAR_ROW if _is_row(candidates[ranked[0]][2]) else NEAR_BEST
        for i in ranked:
            if ranks[i] < best - near or len(chosen) >= MAX_SENTENCES:
                break
            if chosen and used + len(candidates[i][2]) > MAX_QUOTE_CHARS:
                continue
            chosen.append(i)
            used += len(candidates[i][2])
    quotes: list[Quote] = []
    for h in sorted({candidates[i][0] for i in chosen}, key=lambda h: -max(ranks[i] for i in chosen
                                                                           if candidates[i][0] == h)):
        picked = sorted((candidates[i][1], candidates[i][2], float(scores[i])) for i in chosen if candidates[i][0] == h)
        hit = hits[h]
        body = _cap(" ".join(s for _, s, _ in picked) if len(picked) > 1 and _is_prose(picked)
                    else "\n".join(_in_context(hit, s) for _, s, _ in picked))
        if hit.kind == "qa":  # a quoted answer carries the question it answers
            body = f"{hit.section.strip()}\n{body}"
        quotes.append(Quote(body, hit.document, hit.section, hit.kind, max(score for *_, score in picked), margin,
                            guess))
    return quotes


def _row_guess(question_stems: set[str], top_two: list[str], margin: float) -> bool:
    """The best two sentences are table rows (alternatives: "City bike", "E-bike"), close in score, and the
    question shares the same words with both ("a regular bike for one day"): picking one is a guess."""
    if len(top_two) < 2 or margin > ROW_GUESS_MARGIN or not all(_is_row(s) for s in top_two):
        return False
    first, second = (question_stems & stems(s) for s in top_two)
    return first <= second


def _is_row(sentence: str) -> bool:
    """A table row as the parsers write it: "Header: value; Header: value"."""
    return sentence.count(": ") >= 2 and "; " in sentence


def _in_context(hit: SearchHit, sentence: str) -> str:
    """A line that cannot stand alone ("Да.", "1 day: 40 EUR") is prefixed with the heading it belongs to."""
    heading = hit.section.split(" > ")[-1].strip() if hit.kind == "chunk" else ""
    if stands_alone(sentence) or not heading or sentence.startswith(heading):
        return sentence
    return f"{heading}: {sentence}"


def _is_prose(picked: list[tuple[int, str, float]]) -> bool:
    """Consecutive sentences of a paragraph read best joined; list or table lines stay one per line."""
    return all(b[0] == a[0] + 1 for a, b in zip(picked, picked[1:], strict=False)) and all(
        s.rstrip()[-1:] in ".!?…" for _, s, _ in picked)


def _cap(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """Within the length cap, cut at a word boundary (never mid-word), marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[:cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"
