"""The decision before answering: is what would be said sure enough to say, or is "don't know" + a person
the better outcome? A wrong price or wrong hours is worse for a customer than "a person will answer you".

The evidence for one candidate answer (a Q&A pair answered directly, or the quotes of an extractive answer):

    score, margin    the best hit's calibrated relevance (retrieval.py) and how far it stands above the next
                     hit (a close runner-up means retrieval hesitated)
    key terms        the share of the question's significant words (crude stems, stop words dropped) present
                     in what would be quoted, with its heading; a number of the question missing from it
    kind missing     a price or a time of day was asked for ("What time do you close?") and the quote has none
                     (the holiday closures are not the closing time)
    quote            the best quoted sentence's score and its margin over the second best sentence
    Q&A pairs        the similarity of the customer's question to the pair's QUESTION (the pair's vector is its
                     question's) and the share of words they share
    rescued          offline, the quote comes from passages below the assistant's score threshold (nothing
                     reached it; rag/answer.py RESCUE_FLOOR): the owner's bar counts against it

combined by a logistic model fitted on the tune half of the bench sets (`python -m bench answer_precision
--fit`), so `confidence` reads as the probability that the answer is right on those sets (0-1). Two rules are
not left to the fit: a Q&A pair sharing one word with the question is no candidate at all
(`qa_question_matches`), and a quote that is one of near-equal table rows the question cannot tell apart is a
guess (capped below every threshold). Each setting "How sure before answering" is a threshold on that scale
(rag/certainty.py), chosen on the tune half and reported on the held-out half (bench/README.md, "Answer
precision"). The LLM path uses the same scale through `threshold_for`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from chatai.rag.certainty import CERTAINTY_LEVELS, DEFAULT_CERTAINTY, THRESHOLDS, threshold_for
from chatai.rag.extractive import asked_kind, has_kind, stems
from chatai.rag.retrieval import SearchHit

__all__ = ["CERTAINTY_LEVELS", "DEFAULT_CERTAINTY", "THRESHOLDS", "Evidence", "confidence", "evidence",
           "qa_question_matches", "threshold_for", "top_confidence"]

# A Q&A pair whose question shares only this many significant words with the customer's question is not
# about it, unless that is half the words of the longer question or more ("Есть парковка?"); sharing no word,
# it needs a near-certain vector match of the two questions (calibrated).
QA_ONE_WORD = 1
QA_SAME_WORDS = 0.5
QA_PARAPHRASE_MIN = 0.85

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass(frozen=True)
class Evidence:
    score: float
    margin: float
    key_terms: float
    missing_number: bool
    qa: bool = False
    qa_question: float = 0.0  # calibrated similarity of the question to the Q&A pair's question
    qa_shared: float = 0.0  # share of significant words shared with the pair's question
    quote_score: float = 0.0  # the best quoted sentence's relevance (a Q&A pair: its score)
    quote_margin: float = 0.0  # over the second best sentence of the top hits
    kind_missing: bool = False  # a price or a time of day was asked for and is not in the quote
    guess: bool = False  # the quote is one of near-equal table rows the question cannot tell apart
    rescued: bool = False  # quoted from passages below the assistant's score threshold (rag/answer.py)

    def features(self) -> list[float]:
        """The model's inputs, in WEIGHTS order."""
        qa = 1.0 if self.qa else 0.0
        return [1.0, self.score, self.margin, self.key_terms, 1.0 if self.missing_number else 0.0, qa,
                qa * self.qa_question, qa * self.qa_shared, self.quote_score, self.quote_margin,
                1.0 if self.kind_missing else 0.0, 1.0 if self.rescued else 0.0]


FEATURES = ("bias", "score", "margin", "key_terms", "missing_number", "qa", "qa_question", "qa_shared",
            "quote_score", "quote_margin", "kind_missing", "rescued")
# Fitted by `python -m bench answer_precision --fit` on the tune half (see the module docstring).
WEIGHTS = (-0.849, 0.145, 1.757, 1.921, -0.05, 0.46, 0.435, 0.009, -0.309, 2.551, -1.043, -0.94)


GUESS_CAP = 0.3  # below every setting's threshold


def numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


def shared_words(question: str, other: str) -> tuple[int, float]:
    """Significant words (stems) the two texts share: the count, and the share of the longer side's."""
    a, b = stems(question), stems(other)
    common = len(a & b)
    return common, common / max(len(a), len(b), 1)


def qa_question_matches(question: str, hit: SearchHit) -> bool:
    """Is this Q&A pair about the customer's question at all? One shared word is never enough ("Какие часы
    работы?" is not "Вы работаете с оптовыми покупателями?"), however close the vectors: e5-small puts
    "можно отдать нераспечатанный кофе обратно?" at 0.98 (calibrated) of "Можете смолоть купленный кофе?"."""
    common, share = shared_words(question, hit.section)
    if common > QA_ONE_WORD or share >= QA_SAME_WORDS:
        return True
    return common == 0 and hit.extra.get("similar", 0.0) >= QA_PARAPHRASE_MIN


def evidence(question: str, hits: Sequence[SearchHit], answered: Sequence[SearchHit], quoted: str, *,
             quote_score: float | None = None, quote_margin: float | None = None, guess: bool = False) -> Evidence:
    """The evidence for answering `question` with `quoted`, taken from `answered` (a subset of `hits`,
    which are in the answer's order: best first); the quote's own figures when sentences were chosen
    (rag/extractive.py), else the hit's."""
    if not hits or not answered:
        return Evidence(0.0, 0.0, 0.0, False)
    best = answered[0]
    runner_up = next((h.score for h in hits if h.id not in {a.id for a in answered}), 0.0)
    context = " ".join([quoted, *{h.section for h in answered}])
    asked = stems(question)
    key_terms = len(asked & stems(context)) / len(asked) if asked else 0.0
    missing_number = bool(numbers(question) - numbers(context))
    kind_missing = not has_kind(quoted, asked_kind(question))
    margin = max(0.0, best.score - runner_up)
    rescued = any(h.extra.get("rescued", False) for h in answered)
    quote = (best.score if quote_score is None else quote_score, margin if quote_margin is None else quote_margin)
    if best.kind == "qa":
        _, share = shared_words(question, best.section)
        return Evidence(best.score, margin, key_terms, missing_number, True, float(best.extra.get("similar", 0.0)),
                        share, *quote, kind_missing, guess, rescued)
    return Evidence(best.score, margin, key_terms, missing_number, False, 0.0, 0.0, *quote, kind_missing, guess,
                    rescued)


def confidence(ev: Evidence) -> float:
    """Probability-like confidence in [0, 1] (logistic over the evidence); a guess between table rows is
    never above GUESS_CAP, whatever else speaks for it (it is rare on the tune half, so the fit cannot learn
    it, and a wrong price is the worst answer there is)."""
    z = sum(w * x for w, x in zip(WEIGHTS, ev.features(), strict=True))
    sure = round(1.0 / (1.0 + math.exp(-z)), 4)
    return min(sure, GUESS_CAP) if ev.guess else sure


def top_confidence(question: str, hits: Sequence[SearchHit]) -> float:
    """The confidence of answering with the first of these hits alone (the test console, `kb search`)."""
    return confidence(evidence(question, hits, list(hits[:1]), hits[0].text)) if hits else 0.0
