"""Structure-aware chunking: chunks never straddle sections, split between paragraphs/rows first,
then sentences, then words, and overlap a little so an answer cut at a boundary is still found.

Sizes are in "tokens" estimated from words (`estimate_tokens`): the local embedder reads at most
256 word pieces and English averages ~1.3 pieces per word, so ~160 words fill it without truncation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatai.rag.limits import LimitExceeded, too_many_chunks
from chatai.rag.parsing import Block

MAX_TOKENS = 200
OVERLAP_TOKENS = 40

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"«(\[]?[A-ZА-ЯЁ0-9])")
_WORD = re.compile(r"\S+")


@dataclass
class ChunkDraft:
    position: int
    section: str
    text: str
    token_count: int


def estimate_tokens(text: str) -> int:
    """Cheap, tokenizer-free estimate (~1.3 tokens per word), good enough for sizing and prompt budgets."""
    words = len(_WORD.findall(text))
    return max(1, round(words * 1.3)) if words else 0


def _cost(text: str) -> float:
    """Additive size used while packing (estimate_tokens rounds, and rounded parts do not add up)."""
    return len(_WORD.findall(text)) * 1.3


def _split_long(text: str, max_tokens: int) -> list[str]:
    """Sentences, then hard word windows for a sentence longer than a chunk."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if _cost(sentence) <= max_tokens:
            pieces.append(sentence)
            continue
        words = sentence.split()
        step = max(1, int(max_tokens / 1.3))  # words per window
        pieces.extend(" ".join(words[i:i + step]) for i in range(0, len(words), step))
    return pieces


def _tail(parts: list[str], overlap_tokens: int) -> list[str]:
    """The last units of a chunk that fit in the overlap, carried into the next chunk of the same section."""
    if overlap_tokens <= 0:
        return []
    carried: list[str] = []
    total = 0
    for part in reversed(parts):
        size = _cost(part)
        if total + size > overlap_tokens:
            break
        carried.insert(0, part)
        total += size
    if not carried and parts:
        # The last unit is too big to carry whole: carry its last sentence or words.
        last = _split_long(parts[-1], overlap_tokens)[-1]
        words = last.split()
        keep = max(1, int(overlap_tokens / 1.3))
        carried = [" ".join(words[-keep:])]
    return carried


def chunk_blocks(blocks: list[Block], *, max_tokens: int = MAX_TOKENS, overlap_tokens: int = OVERLAP_TOKENS,
                 max_chunks: int | None = None) -> list[ChunkDraft]:
    """Raises LimitExceeded as soon as a document would make more than `max_chunks` chunks (each one
    is embedded and stored: 23,008 chunks of one file once took 14 minutes)."""
    chunks: list[ChunkDraft] = []
    current: list[str] = []
    current_tokens = 0.0
    section: str | None = None
    fresh = 0  # units in `current` that are not overlap carried from the previous chunk

    def emit() -> None:
        nonlocal current, current_tokens, fresh
        if current and fresh:
            if max_chunks is not None and len(chunks) >= max_chunks:
                raise LimitExceeded(too_many_chunks(max_chunks))
            text = "\n".join(current)
            chunks.append(ChunkDraft(len(chunks), section or "", text, estimate_tokens(text)))
        current, current_tokens, fresh = [], 0.0, 0

    for block in blocks:
        if block.section != section:
            emit()
            section = block.section
        units = [block.text] if _cost(block.text) <= max_tokens else _split_long(block.text, max_tokens)
        for unit in units:
            size = _cost(unit)
            if current_tokens + size > max_tokens and fresh:
                carried = _tail(current, overlap_tokens) if block.kind == "paragraph" else []
                emit()
                if sum(_cost(p) for p in carried) + size <= max_tokens:
                    current = list(carried)
                    current_tokens = sum(_cost(p) for p in current)
            current.append(unit)
            current_tokens += size
            fresh += 1
    emit()
    return chunks


def embedding_text(section: str, text: str) -> str:
    """What gets embedded: the section title adds the context a bare paragraph often lacks."""
    return f"{section}\n{text}" if section else text
