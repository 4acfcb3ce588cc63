"""What a chunk's vectors are: one vector per unit (paragraph or table row) and the chunk's own vector as
their normalized mean, instead of one vector of the whole chunk text.

Why: a chunk packs several facts (a section's paragraphs, a dozen price-list rows), and one vector of all of
them matches none of them well; a question is about one fact. Measured on the own Russian set (102
questions, bench/README.md), vector only: whole-chunk vector Recall@5 0.912 / MRR@10 0.658; mean of units
0.912 / 0.682; half mean + half best unit 0.951 / 0.719. It costs nothing at ingestion (the same words are
embedded, in shorter sequences) and one small array column: the units of a one-unit chunk are not stored
(its vector is its unit's). Retrieval (`retrieval._vector_cte`) finds candidates by the chunk vector in
the HNSW index and orders them by `UNIT_WEIGHT` x best unit + the rest x chunk vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chatai.rag.chunking import embedding_text
from chatai.rag.embeddings import Embedder

# Share of the best unit's distance in a multi-unit chunk's ranking distance (bench: 0.5 and 0.7 both beat
# the chunk vector alone; 0.5 ranks best).
UNIT_WEIGHT = 0.5


@dataclass(frozen=True)
class PassageVectors:
    vector: list[float]
    units: list[list[float]] | None  # None: a one-unit chunk (its vector is the unit's)


def passage_units(section: str, text: str) -> list[str]:
    """The texts embedded for one chunk: each line (the chunker joins paragraphs and rows with newlines),
    with the chunk's section title for the context a bare row lacks."""
    lines = [line for line in text.split("\n") if line.strip()] or [text]
    return [embedding_text(section, line) for line in lines]


async def embed_passages(embedder: Embedder, chunks: list[tuple[str, str]]) -> list[PassageVectors]:
    """Vectors of (section, text) chunks, all their units embedded in one call."""
    units = [passage_units(section, text) for section, text in chunks]
    flat = await embedder.embed([u for group in units for u in group]) if chunks else []
    out, start = [], 0
    for group in units:
        vectors = np.asarray(flat[start:start + len(group)], dtype=np.float32)
        start += len(group)
        if len(group) == 1:
            out.append(PassageVectors(vectors[0].tolist(), None))
            continue
        mean = vectors.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        out.append(PassageVectors((mean / norm if norm else mean).tolist(), vectors.tolist()))
    return out
