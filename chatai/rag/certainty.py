"""The assistant setting "How sure before answering" and its operating points on the calibrated confidence
scale of rag/confidence.py. Kept apart from the decision itself so that settings code (services, pages, the
bot runner) reads them without importing the retrieval stack and numpy."""

from __future__ import annotations

CERTAINTY_LEVELS = ("careful", "balanced", "bold")
DEFAULT_CERTAINTY = "balanced"
# Thresholds chosen on the tune half of bench/answer_sets.py (bench/README.md, "Answer precision"): careful
# and balanced gave 0 % wrong on the held-out new sets, balanced 4.8 % on all held-out Russian questions.
THRESHOLDS = {"careful": 0.8, "balanced": 0.7, "bold": 0.5}


def threshold_for(certainty: str) -> float:
    """The confidence an answer needs under an assistant's setting (unknown values: the default)."""
    return THRESHOLDS.get(certainty, THRESHOLDS[DEFAULT_CERTAINTY])
