"""Answer precision (issue 20): right / wrong / don't-know of the offline answer at each "How sure before
answering" setting, on the tune and held-out halves of bench/answer_sets.py.

    .venv/bin/python -m bench answer_precision          # report
    .venv/bin/python -m bench.answer_precision --fit    # also fit confidence.WEIGHTS on the tune half

Real pipeline: the files of each business are uploaded and ingested by the worker, its Q&A pairs added through
the service, the default local embedder, the real fused query; each question goes through
`rag.answer.offline_candidate` (what would be said, with its confidence) once, so every threshold is measured
on the same candidates; the setting's decision is `confidence >= threshold_for(setting)`.

Outcome of a case: "don't know" when not answered (counted as RIGHT when the answer is not in the documents);
else right when the answer carries the expected fact and none of the facts that make it wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.answer_sets import ALL_SETS, NEW_SETS, RETRIEVAL_SETS, AnswerSet, Case, half_of
from bench.common import bench_database, percentile
from bench.knowledge_files import render
from bench.retrieval_quality import _check_passages, _index

SETTINGS = ("careful", "balanced", "bold")
NEW_NAMES = {s.business.name for s in NEW_SETS}
RETRIEVAL_NAMES = {s.business.name for s in RETRIEVAL_SETS}
CURVE = [round(0.05 * i, 2) for i in range(0, 20)]


@dataclass
class Result:
    set_name: str
    language: str
    half: str
    case: Case
    kind: str  # qa | extractive | fallback (nothing retrieved)
    confidence: float
    correct: bool  # the candidate, if said, would be right
    features: list[float] | None
    seconds: float
    text: str = ""

    def outcome(self, threshold: float) -> str:
        answered = self.kind != "fallback" and self.confidence >= threshold
        if not answered:
            return "right" if self.case.expect is None else "dont_know"
        return "right" if self.correct else "wrong"


def _flat(text: str) -> str:
    return " ".join(line.removeprefix(">").strip() for line in text.splitlines()).lower()


def _markers(answer_set: AnswerSet) -> dict[str, list[str]]:
    """What an answer must contain to carry each fact or Q&A pair (all of a row's first two cells; any one
    sentence opening of a paragraph; the opening of a Q&A answer)."""
    from chatai.rag.extractive import split_sentences

    out: dict[str, list[str]] = {}
    for file in answer_set.business.files:
        for section in file.sections:
            for fact in section.facts:
                if fact.cells:
                    out[fact.key] = ["&" + fact.text.lower(), "&" + fact.cells[0].lower()]
                else:
                    out[fact.key] = [" ".join(s.split())[:40].lower() for s in split_sentences(fact.text)]
    for key, _, answer in answer_set.qa_pairs:
        out[key] = [" ".join(answer.split())[:40].lower()]
    return out


def _carries(text: str, markers: list[str]) -> bool:
    every = [m[1:] for m in markers if m.startswith("&")]
    if every:
        return all(m in text for m in every)
    return any(m in text for m in markers)


async def _setup(answer_set: AnswerSet) -> uuid.UUID:
    from chatai.db.models import Assistant
    from chatai.db.session import async_session
    from chatai.services import knowledge

    assistant_id = await _index([(f.filename, render(f)) for f in answer_set.business.files])
    await _check_passages(assistant_id, answer_set.business)
    async with async_session() as s:
        owner_id = (await s.get(Assistant, assistant_id)).owner_id
        for _, question, answer in answer_set.qa_pairs:
            await knowledge.add_qa_pair(s, owner_id=owner_id, assistant_id=assistant_id, question=question,
                                        answer=answer)
    return assistant_id


async def run_set(answer_set: AnswerSet) -> list[Result]:
    from chatai.rag.answer import offline_candidate

    assistant_id = await _setup(answer_set)
    markers = _markers(answer_set)
    results = []
    for i, case in enumerate(answer_set.cases):
        start = time.perf_counter()
        answer = await offline_candidate(assistant_id=assistant_id, question=case.question)
        seconds = time.perf_counter() - start
        text = _flat(answer.text)
        wrong = any(_carries(text, markers[k]) for k in case.wrong)
        correct = case.expect is not None and _carries(text, markers[case.expect]) and not wrong
        results.append(Result(answer_set.business.name, answer_set.language, half_of(i),
                              case, answer.answered_by, answer.confidence, correct,
                              answer.evidence.features() if answer.evidence else None, seconds, text))
    return results


def _shares(results: list[Result], threshold: float) -> tuple[float, float, float]:
    counts = defaultdict(int)
    for r in results:
        counts[r.outcome(threshold)] += 1
    n = max(len(results), 1)
    return counts["right"] / n, counts["wrong"] / n, counts["dont_know"] / n


def _row(label: str, results: list[Result], threshold: float) -> str:
    right, wrong, dont_know = _shares(results, threshold)
    return f"{label:44s} n={len(results):3d}  right {right:6.1%}  wrong {wrong:6.1%}  don't know {dont_know:6.1%}"


def fit(results: list[Result], l2: float = 0.3) -> list[float]:
    """Logistic regression (Newton's method) of "the candidate is right" on the evidence, tune half only."""
    import numpy as np

    rows = [(r.features, r.correct) for r in results if r.half == "tune" and r.features is not None]
    x = np.array([f for f, _ in rows], dtype=float)
    y = np.array([1.0 if c else 0.0 for _, c in rows])
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ w))
        gradient = x.T @ (p - y) + l2 * w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return [round(float(v), 3) for v in w]


def report(results: list[Result]) -> None:
    from chatai.rag.confidence import threshold_for

    for half in ("tune", "held-out"):
        part = [r for r in results if r.half == half]
        print(f"\n== {half} half ==")
        for setting in SETTINGS:
            t = threshold_for(setting)
            print(f"-- {setting} (confidence >= {t})")
            for language in ("ru", "en"):
                print(_row(f"  all {language}", [r for r in part if r.language == language], t))
            for group, sets in (("new sets", NEW_NAMES), ("retrieval sets (paraphrases)", RETRIEVAL_NAMES)):
                for language in ("ru", "en"):
                    rows = [r for r in part if r.language == language and r.set_name in sets]
                    if rows:
                        print(_row(f"  {group} {language}", rows, t))
            for name in dict.fromkeys(r.set_name for r in part):
                print(_row(f"  {name}", [r for r in part if r.set_name == name], t))
            for kind in ("qa", "extractive"):
                said = [r for r in part if r.kind == kind and r.confidence >= t]
                right = sum(1 for r in said if r.correct)
                print(f"  answered by {kind:10s}: {len(said)} answers, {right} right, {len(said) - right} wrong")
            no_answer = [r for r in part if r.case.expect is None]
            print(_row("  questions with no answer in the documents", no_answer, t))
    print("\n== curve (held-out; threshold: ru right/wrong/dk | en right/wrong/dk) ==")
    held = [r for r in results if r.half == "held-out"]
    for t in CURVE:
        cells = []
        for language in ("ru", "en"):
            right, wrong, dk = _shares([r for r in held if r.language == language], t)
            cells.append(f"{right:5.1%} {wrong:5.1%} {dk:5.1%}")
        print(f"  {t:4.2f}: ru {cells[0]} | en {cells[1]}")
    print("\n== the issue's cases (balanced) ==")
    for r in results:
        if r.case.name:
            print(f"  {r.case.name!r}: candidate {r.kind}, confidence {r.confidence:.3f}, "
                  f"{'right' if r.correct else 'wrong'} if said -> {r.outcome(threshold_for('balanced'))}")
    seconds = [r.seconds for r in results]
    print(f"\nanswer latency (offline, search + quotes + decision), {len(seconds)} questions: "
          f"p50 {percentile(seconds, 50) * 1000:.1f} ms, p95 {percentile(seconds, 95) * 1000:.1f} ms")


async def main(do_fit: bool, verbose: bool) -> list[Result]:
    from chatai.rag.confidence import FEATURES
    from chatai.rag.embeddings import get_embedder

    print(f"embedder: {get_embedder().name}", flush=True)
    results: list[Result] = []
    for answer_set in ALL_SETS:
        results += await run_set(answer_set)
        print(f"[{answer_set.business.name}] {len(answer_set.cases)} questions", flush=True)
    if verbose:
        for r in results:
            print(f"{r.half:8s} {r.kind:10s} {r.confidence:.3f} {'ok ' if r.correct else 'BAD'} "
                  f"{r.case.question} {r.features and [round(f, 2) for f in r.features]}\n      {r.text[:300]}")
    report(results)
    if do_fit:
        print("\nfitted weights (tune half):", dict(zip(FEATURES, fit(results), strict=True)))
    return results


def dump(results: list[Result], path: str) -> None:
    Path(path).write_text(json.dumps([
        {"set": r.set_name, "language": r.language, "half": r.half, "question": r.case.question,
         "expect": r.case.expect, "kind": r.kind, "correct": r.correct, "features": r.features,
         "confidence": r.confidence} for r in results], ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fit", action="store_true", help="fit the confidence weights on the tune half")
    parser.add_argument("--verbose", action="store_true", help="one line per question")
    parser.add_argument("--dump", metavar="PATH", help="write every candidate's evidence as JSON (for tuning)")
    args = parser.parse_args()
    with bench_database(f"precision_{uuid.uuid4().hex[:6]}"):
        everything = asyncio.run(main(args.fit, args.verbose))
    if args.dump:
        dump(everything, args.dump)
    sys.exit(0)
