"""Which sentence of the retrieved chunks answers the question: the order quotes are chosen in.

The right chunk is usually found, but e5-small's sentence vectors alone often pick the wrong sentence inside
it: for "What time do you close?" the holiday closures (they share "close") over the opening hours, for
"До скольки работает курьер?" the sentence about an anonymous courier over the delivery hours. So the order
adds, on top of each sentence's calibrated vector relevance (which stays the quote's reported score):

    kind      a price or a time of day was asked for: sentences without one go behind every sentence with one
              (when any has one), since a price question is never answered by a description
    lexical   the question's significant words found in the sentence (or, at half weight, in its heading),
              matched by prefix so Russian word forms meet ("зуб" / "зубной", "закрываетесь" / "закрыта"),
              each word weighted by how rare it is among the candidate sentences (a word in every sentence
              of a coffee roastery, "кофе", tells none of them apart); a number of the question counts double

Tuned on the tune half of bench/answer_sets.py (bench/README.md, "Answer precision").
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from chatai.rag.extractive import STOP_WORDS, WORD, asked_kind, has_kind

PREFIX = 5  # letters two word forms must share (fewer when a word is shorter: "зуб" / "зубы")
MIN_WORD = 3  # shorter words say too little to match by prefix ("он", "at"); numbers always count
LEXICAL_RANK_WEIGHT = 0.2  # the full lexical evidence is worth this much calibrated relevance
HEADING_SHARE = 0.5  # a word found only in the sentence's heading counts this much
NUMBER_WEIGHT = 2.0  # a number of the question ("9 утра", "13%") is rarer evidence than a word
KIND_PENALTY = 1.0  # behind every sentence that has the kind of fact asked for
CHEAPEST_BONUS = 0.5  # "the cheapest": the lowest price among the candidates (a name match does not outweigh it)

# A price with a number ("150 руб.", "20 EUR") says more than "бесплатно" for a price question; "the cheapest"
# is the row with the lowest one.
_NUMERIC_PRICE = re.compile(r"(?<![\d.,])(\d[\d\s]*(?:[.,]\d+)?)\s?(?:руб|₽|eur|gbp|usd|\$|€|£|p\b)", re.IGNORECASE)
_ASKS_CHEAPEST = re.compile(r"дешев|дешёв|недорог|cheap|lowest price|least expensive", re.IGNORECASE)


def question_words(question: str) -> list[str]:
    """The question's significant words, lower case, in order, once each."""
    out: list[str] = []
    for word in WORD.findall(question.lower()):
        if word in STOP_WORDS or (len(word) < MIN_WORD and not word.isdigit()) or word in out:
            continue
        out.append(word)
    return out


def _prefix(word: str) -> str:
    return word[:PREFIX]


def word_matches(asked: str, words: set[str]) -> bool:
    """Does a word form of `asked` occur among `words`? Numbers match whole; words by a shared prefix of
    PREFIX letters, or the whole shorter word when either is shorter ("зуб" in "зубной")."""
    if asked.isdigit():
        return asked in words
    stem = _prefix(asked)
    for word in words:
        if word.isdigit():
            continue
        if len(asked) >= PREFIX and len(word) >= PREFIX:
            if word[:PREFIX] == stem:
                return True
        elif len(word) >= MIN_WORD and (word.startswith(asked) or asked.startswith(word)):
            return True
    return False


def _words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def lexical_evidence(question: str, sentences: Sequence[str], headings: Sequence[str]) -> list[float]:
    """For each sentence, the rarity-weighted share (0-1) of the question's words it carries (a word found
    only in its heading counts HEADING_SHARE)."""
    asked = question_words(question)
    if not asked or not sentences:
        return [0.0] * len(sentences)
    own = [_words(s) for s in sentences]
    above = [_words(h) for h in headings]
    found = [[word_matches(a, words) for a in asked] for words in own]
    found_above = [[word_matches(a, words) for a in asked] for words in above]
    n = len(sentences)
    weights = []
    for j, a in enumerate(asked):
        df = sum(1 for i in range(n) if found[i][j] or found_above[i][j])
        rarity = math.log(1.0 + n / (1.0 + df))  # a word no sentence has still weighs in the total
        weights.append(rarity * (NUMBER_WEIGHT if a.isdigit() else 1.0))
    total = sum(weights) or 1.0
    return [sum(w * (1.0 if found[i][j] else HEADING_SHARE if found_above[i][j] else 0.0)
                for j, w in enumerate(weights)) / total for i in range(n)]


def rank_sentences(question: str, sentences: Sequence[str], headings: Sequence[str],
                   relevance: Sequence[float]) -> list[float]:
    """The order to quote in (higher first): each sentence's relevance, plus its lexical evidence, minus
    KIND_PENALTY when the question asks for a price or a time of day that this sentence lacks and another
    candidate has."""
    lexical = lexical_evidence(question, sentences, headings)
    ranks = [r + LEXICAL_RANK_WEIGHT * x for r, x in zip(relevance, lexical, strict=True)]
    kind = asked_kind(question)
    if kind is not None:
        levels = [_kind_level(s, kind) for s in sentences]
        top = max(levels)
        ranks = [r - KIND_PENALTY * (top - level) for r, level in zip(ranks, levels, strict=True)]
    if _ASKS_CHEAPEST.search(question):
        prices = [lowest_price(s) for s in sentences]
        known = [p for p in prices if p is not None]
        if known:
            ranks = [r + (CHEAPEST_BONUS if p == min(known) else 0.0) for r, p in zip(ranks, prices, strict=True)]
    return ranks


def _kind_level(sentence: str, kind: str) -> int:
    """2: a price with a number (for a price question), 1: the kind asked for ("бесплатно", "9 am"), 0: none."""
    if not has_kind(sentence, kind):
        return 0
    return 2 if kind == "price" and _NUMERIC_PRICE.search(sentence) else 1


def lowest_price(sentence: str) -> float | None:
    """The smallest price written in the sentence ("от 6000 руб." -> 6000.0), None without one."""
    found = [float(m.group(1).replace(" ", "").replace("\u00a0", "").replace(",", "."))
             for m in _NUMERIC_PRICE.finditer(sentence)]
    return min(found) if found else None
