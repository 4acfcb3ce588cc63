"""Hybrid retrieval: one parameterized SQL query per table fusing pgvector HNSW (cosine) and PostgreSQL
full text (English + Russian stemming) with weighted reciprocal rank fusion, scoped to one assistant.

Full text on chunks is ranked with BM25 (ts_rank has no IDF: words that occur in most of an assistant's
chunks counted as much as rare ones and made hybrid worse than vectors alone). Document frequencies come
from kb_term_stats / kb_corpus_stats, kept exact by triggers on `chunks` (migration 0002); query words are
OR-ed, so a chunk needs only some of them. Q&A pairs (few per assistant) keep ts_rank.

Ranking vs. relevance. RRF finds candidates well but its value says nothing about whether a result is
relevant at all, so every hit also carries a calibrated `score` in [0, 1], the one scale for thresholds and
for the final order of chunks and Q&A pairs together (`search_knowledge`):

    similar  = the embedder's calibration of the cosine (embeddings.Calibration: 0 = noise, 1 = sure match)
    coverage = share of the question's significant words (stemmed, stop words dropped) found in the passage
    score    = max(similar, 0.8 * coverage)                                         for document chunks
    score    = max(similar, matched / max(query words, Q&A question words))          for Q&A pairs

The vector term is used only when the embedder understands the question's language: MiniLM is English-only
and gives ~0.55 between *unrelated* Russian texts, so for Russian questions with it the score is lexical only
(and the vector list gets a lower weight in the fusion). The default multilingual-e5-small is trusted for both.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Assistant
from chatai.rag.embeddings import Calibration, calibration_for
from chatai.rag.language import detect_language
from chatai.rag.passage_vectors import UNIT_WEIGHT

# Weighted RRF. With trusted vectors the BM25 list has a low weight: it decides between close vector
# candidates and brings in exact-term matches the vectors missed, but cannot push a clear vector winner
# down (on the English FAQ bench the lexical list is much weaker than the vectors: 0.64 vs 0.815 Recall@5).
# Measured (bench/README.md): English flat at 0.80-0.815 for k 10-30 and weights 0.1-0.25 (k 60 / weight 1.0:
# 0.73); Russian (vectors untrusted) 0.90 for vector weights 0.2-0.4.
RRF_K = 20
FTS_WEIGHT = 0.8
QA_DOCUMENT = "Q&A"  # the document name of a Q&A pair's hit; pages and Telegram put it in the reader's words
UNTRUSTED_VECTOR_WEIGHT = 0.3  # local English-only model on a non-English question: vectors are mostly noise
TRUSTED_FTS_WEIGHT = 0.15
# BM25 over the chunks' tsvectors, IDF from kb_term_stats / kb_corpus_stats (kept by triggers on chunks).
BM25_K1 = 1.2
BM25_B = 0.75
# Query terms in more than this share of the assistant's chunks add little (IDF < ln 2) and would make every
# chunk a candidate: they still score, but only chunks matching a rarer term are candidates (unless every
# query term is that common).
BM25_COMMON_SHARE = 0.5
# Work bound for big knowledge bases: scoring costs ~14 us per candidate chunk (heap fetch + BM25), so
# candidates come from the rarest query words while their document frequencies add up to less than this,
# and at most this many are scored (when even the rarest word is in more chunks, an arbitrary subset of them:
# the vector list carries such queries). Below ~50k chunks per assistant this rarely applies; the FAQ bench
# never hits it.
BM25_MAX_CANDIDATES = 1500
# HNSW ef_search grows with the assistant's chunk count (kb_corpus_stats): measured recall@10 vs exact is
# 1.000 at 100k chunks with 80, and at 1M (m 16, ef_construction 64) 0.83 at 80, 0.90 at 150, 0.94 at 250,
# 0.95 at 400 for +1-2 ms (bench/README.md); measured again on 2026-11-30: 0.949 at 500, 0.950 at 650,
# 0.951 at 800 (vector p95 10.2 / 13.8 / 16.1 ms). A high ef_search on a small table makes the planner choose
# an exact sequential scan (36 ms at 10k instead of 4 ms), hence the scaling rather than a fixed value.
VECTOR_EF_SEARCH = 80
VECTOR_EF_CHUNKS_PER_UNIT = 1500  # ef_search >= chunks / 1500: 600 at 900k chunks, 666 at 1M
FTS_RANK = "ts_rank(c.tsv, tq.query, 1)"  # Q&A pairs (few per assistant): plain ranking
_WORD = re.compile(r"[^\W_]+")
_CYRILLIC_WORD = re.compile(r"[\u0400-\u04FF]")


@dataclass
class SearchHit:
    """One retrieved passage with everything the test console needs to explain "why"."""

    kind: str  # chunk | qa
    id: uuid.UUID
    document: str  # file name, or "Q&A"
    section: str  # heading path, or the Q&A question
    text: str  # chunk text, or the Q&A answer
    score: float  # calibrated relevance in [0, 1] (see module docstring)
    similarity: float | None  # cosine similarity of the vector match, None when not a vector candidate
    vector_rank: int | None  # 1-based rank in the vector list, None when not in it
    fts_rank: int | None  # 1-based rank in the full-text list, None when no word matched
    matched_terms: int = 0
    query_terms: int = 0
    rrf: float = 0.0
    document_id: uuid.UUID | None = None
    extra: dict = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.matched_terms / self.query_terms if self.query_terms else 0.0


@dataclass
class QueryPlan:
    """What one question turns into: vector (maybe), words per stemming language, and how to trust them."""

    question: str
    vector: list[float] | None
    provider_ok: bool
    vectors_trusted: bool
    english_words: str
    russian_words: str
    calibration: Calibration = field(default_factory=lambda: Calibration(0.0, 1.0))


def split_words(question: str) -> tuple[str, str]:
    """Latin/digit words go to the English stemmer, Cyrillic words to the Russian one.

    Running both stemmers on every word would add unstemmed Russian stop words ("как", "что") from the
    English config and make every Russian passage match.
    """
    en, ru = [], []
    for word in _WORD.findall(question.lower()):
        (ru if _CYRILLIC_WORD.search(word) else en).append(word)
    return " ".join(en), " ".join(ru)


def make_plan(question: str, vector: list[float] | None, *, provider_ok: bool, multilingual: bool,
              calibration: Calibration | None = None) -> QueryPlan:
    en, ru = split_words(question)
    trusted = vector is not None and provider_ok and (multilingual or detect_language(question) == "en")
    return QueryPlan(question, vector if provider_ok else None, provider_ok, trusted, en, ru,
                     calibration or Calibration(0.0, 1.0))


async def plan_query(assistant: Assistant, question: str) -> QueryPlan:
    """Embed the question (cached) only when the assistant's vectors are in the current provider's space."""
    from chatai.rag.embeddings import embed_query, get_embedder

    embedder = get_embedder()
    provider_ok = assistant.embedding_provider == embedder.name
    vector = await embed_query(question) if provider_ok else None
    return make_plan(question, vector, provider_ok=provider_ok, multilingual=embedder.multilingual,
                     calibration=calibration_for(embedder.name))


_TERMS_CTE = """
q AS (
    SELECT array(SELECT DISTINCT unnest(tsvector_to_array(
        to_tsvector('english', CAST(:en AS text)) || to_tsvector('russian', CAST(:ru AS text))))) AS terms
),
tq AS (
    SELECT terms,
           CASE WHEN cardinality(terms) = 0 THEN NULL
                ELSE to_tsquery('simple', array_to_string(array(SELECT quote_literal(t) FROM unnest(terms) t), ' | '))
           END AS query
    FROM q
)"""


def _vector_cte(table: str, dim: int | None) -> str:
    if dim is None:
        return (f"vec AS (SELECT id, CAST(NULL AS float8) AS distance, CAST(NULL AS bigint) AS rank "
                f"FROM {table} WHERE false)")
    cast = f"embedding::vector({int(dim)})"
    return f"""
vec_raw AS MATERIALIZED (
    SELECT id, {cast} <=> CAST(:qvec AS vector({int(dim)})) AS distance
    FROM {table}
    WHERE assistant_id = :aid AND embedding_dim = {int(dim)}
    ORDER BY {cast} <=> CAST(:qvec AS vector({int(dim)}))
    LIMIT :n
),{_unit_rescoring(table, dim)}
vec AS (SELECT id, distance, row_number() OVER (ORDER BY distance, id) AS rank FROM vec_scored)"""


def _unit_rescoring(table: str, dim: int) -> str:
    """Chunk candidates ordered by their best paragraph/row as well (rag/passage_vectors.py): a few hundred
    distances over the candidates' unit vectors, no index needed. Q&A pairs are one unit each."""
    if table != "chunks":
        return "\nvec_scored AS (SELECT id, distance FROM vec_raw),"
    best_unit = f"(SELECT min(u <=> CAST(:qvec AS vector({int(dim)}))) FROM unnest(c.unit_embeddings) u)"
    return f"""
vec_scored AS (
    SELECT v.id, coalesce({1 - UNIT_WEIGHT} * v.distance + {UNIT_WEIGHT} * {best_unit}, v.distance) AS distance
    FROM vec_raw v JOIN chunks c ON c.id = v.id
),"""


_BM25_CTES = f"""
st AS (
    SELECT coalesce(max(cs.chunks), 0) AS n,
           coalesce(max(cs.lexemes)::float8 / nullif(max(cs.chunks), 0), 1.0) AS avgdl
    FROM kb_corpus_stats cs WHERE cs.assistant_id = :aid
),
qt AS (
    SELECT ts.term, ts.df, ln(1.0 + (st.n - ts.df + 0.5) / (ts.df + 0.5)) AS idf,
           ts.df <= {BM25_COMMON_SHARE} * st.n AS selective
    FROM q CROSS JOIN LATERAL unnest(q.terms) AS t(term)
    JOIN kb_term_stats ts ON ts.assistant_id = :aid AND ts.term = t.term
    CROSS JOIN st
),
sel AS (
    SELECT term, df, sum(df) OVER (ORDER BY df, term) AS cum
    FROM qt WHERE selective OR NOT EXISTS (SELECT 1 FROM qt WHERE selective)
),
mq AS (
    SELECT to_tsquery('simple', string_agg(quote_literal(term), ' | ')) AS query,
           (SELECT array_agg(term) FROM qt) AS terms
    FROM sel WHERE cum - df < {BM25_MAX_CANDIDATES}
    HAVING count(*) > 0
),
fts_raw AS MATERIALIZED (
    -- only the query's lexemes of each candidate (setweight + ts_filter run in C; unnest-ing whole
    -- tsvectors cost ~10 ms per 1000 candidates)
    SELECT c.id, length(c.tsv) AS len, ts_filter(setweight(c.tsv, 'A', mq.terms), '{{a}}') AS hit
    FROM chunks c, mq
    WHERE c.assistant_id = :aid AND c.tsv @@ mq.query
    LIMIT {BM25_MAX_CANDIDATES}
),
fts_scored AS (
    SELECT f.id, sum(qt.idf * u.tf * ({BM25_K1} + 1)
                     / (u.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * f.len / st.avgdl))) AS score
    FROM fts_raw f
    CROSS JOIN LATERAL (SELECT lexeme, greatest(coalesce(cardinality(positions), 0), 1) AS tf
                        FROM unnest(f.hit)) u
    JOIN qt ON qt.term = u.lexeme
    CROSS JOIN st
    GROUP BY f.id
),
fts AS (
    SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank
    FROM fts_scored ORDER BY score DESC, id LIMIT :n
)"""

_TS_RANK_CTE = f"""
fts AS (
    SELECT c.id, row_number() OVER (ORDER BY {FTS_RANK} DESC, c.id) AS rank
    FROM {{table}} c, tq
    WHERE c.assistant_id = :aid AND tq.query IS NOT NULL AND c.tsv @@ tq.query
    ORDER BY {FTS_RANK} DESC, c.id
    LIMIT :n
)"""


def _search_sql(table: str, dim: int | None) -> str:
    """The fused query for `chunks` (BM25) or `qa_pairs` (ts_rank); table names are fixed strings."""
    if table == "chunks":
        columns = "c.section AS section, c.text AS body, c.document_id AS document_id, d.filename AS document"
        joins = "JOIN documents d ON d.id = c.document_id"
        own_terms = "0 AS own_terms"
    else:
        columns = ("c.question AS section, c.answer AS body, CAST(NULL AS uuid) AS document_id, "
                   f"'{QA_DOCUMENT}' AS document")
        joins = ""
        own_terms = ("length(to_tsvector('english', regexp_replace(c.question, '[\u0400-\u04ff]+', ' ', 'g')) "
                     "|| to_tsvector('russian', regexp_replace(c.question, '[^\u0400-\u04ff]+', ' ', 'g'))) "
                     "AS own_terms")
    lexical = _BM25_CTES if table == "chunks" else _TS_RANK_CTE.format(table=table)
    return f"""
WITH {_TERMS_CTE},
{_vector_cte(table, dim)},
{lexical},
fused AS (
    SELECT coalesce(vec.id, fts.id) AS id, vec.rank AS vector_rank, fts.rank AS fts_rank, vec.distance,
           coalesce(:wv / (:k + vec.rank), 0) + coalesce(:wf / (:k + fts.rank), 0) AS rrf
    FROM vec FULL OUTER JOIN fts ON vec.id = fts.id
)
SELECT fused.id, fused.vector_rank, fused.fts_rank, fused.distance, fused.rrf, {columns},
       (SELECT count(*) FROM unnest(tq.terms) t WHERE t = ANY(tsvector_to_array(c.tsv))) AS matched,
       cardinality(tq.terms) AS query_terms, {own_terms}
FROM fused JOIN {table} c ON c.id = fused.id {joins}, tq
ORDER BY fused.rrf DESC, fused.id
LIMIT :n
"""


async def _prepare_vector_scan(session: AsyncSession, candidates: int, ef_search: int | None = None, *,
                               assistant_id: uuid.UUID | None = None) -> None:
    """Filtered HNSW scans must still return k rows: iterative scan, and ef_search above the candidate count
    and growing with the assistant's chunk count (one statement either way)."""
    await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    if ef_search:
        await session.execute(text(f"SET LOCAL hnsw.ef_search = {int(ef_search)}"))
        return
    floor = max(VECTOR_EF_SEARCH, min(1000, candidates * 2))
    await session.execute(text(
        "SELECT set_config('hnsw.ef_search', CAST(greatest(:floor, least(1000, coalesce("
        "(SELECT chunks FROM kb_corpus_stats WHERE assistant_id = :aid), 0) / :per)) AS text), true)"
    ), {"floor": floor, "aid": assistant_id, "per": VECTOR_EF_CHUNKS_PER_UNIT})


async def search_table(session: AsyncSession, *, table: str, assistant_id: uuid.UUID, plan: QueryPlan,
                       candidates: int) -> list[SearchHit]:
    """Fused candidates of one table, best first by RRF, each with its calibrated score."""
    dim = len(plan.vector) if plan.vector is not None else None
    params: dict = {
        "aid": assistant_id, "en": plan.english_words, "ru": plan.russian_words, "n": candidates, "k": RRF_K,
        "wv": 1.0 if plan.vectors_trusted else UNTRUSTED_VECTOR_WEIGHT,
        "wf": TRUSTED_FTS_WEIGHT if plan.vectors_trusted else 1.0,
    }
    if dim is not None:
        params["qvec"] = "[" + ",".join(f"{x:.7g}" for x in plan.vector) + "]"
        await _prepare_vector_scan(session, candidates,
                                   assistant_id=assistant_id if table == "chunks" else None)
    rows = (await session.execute(text(_search_sql(table, dim)), params)).mappings().all()
    hits = []
    for row in rows:
        similarity = None if row["distance"] is None else 1.0 - float(row["distance"])
        vector_score = plan.calibration.relevance(similarity) if plan.vectors_trusted and similarity else 0.0
        matched, terms = int(row["matched"]), int(row["query_terms"])
        if table == "chunks":
            lexical = FTS_WEIGHT * matched / terms if terms else 0.0
        else:
            lexical = matched / max(terms, int(row["own_terms"]), 1)
        hits.append(SearchHit(
            kind="chunk" if table == "chunks" else "qa", id=row["id"], document=row["document"],
            section=row["section"] or "", text=row["body"], score=round(min(1.0, max(vector_score, lexical)), 4),
            similarity=None if similarity is None else round(similarity, 4),
            vector_rank=row["vector_rank"], fts_rank=row["fts_rank"], matched_terms=matched, query_terms=terms,
            rrf=float(row["rrf"]), document_id=row["document_id"],
            extra={"similar": round(vector_score, 4), "lexical": round(lexical, 4)},
        ))
    return hits


async def hybrid_search(session: AsyncSession, *, assistant: Assistant, plan: QueryPlan, top_k: int | None = None,
                        threshold: float | None = None) -> list[SearchHit]:
    """Document chunks for a question: fused order, filtered by the calibrated score threshold."""
    k = top_k or assistant.top_k
    hits = await search_table(session, table="chunks", assistant_id=assistant.id, plan=plan,
                              candidates=max(4 * k, 40))
    limit = assistant.score_threshold if threshold is None else threshold
    return [h for h in hits if h.score >= limit][:k]


async def search_qa(session: AsyncSession, *, assistant: Assistant, plan: QueryPlan, limit: int = 3) -> list[SearchHit]:
    """Q&A pairs matching a question, best calibrated score first (a direct answer needs the best one)."""
    hits = await search_table(session, table="qa_pairs", assistant_id=assistant.id, plan=plan, candidates=20)
    hits.sort(key=lambda h: (-h.score, -h.rrf))
    return hits[:limit]


def by_relevance(hits: list[SearchHit]) -> list[SearchHit]:
    """One order for chunks and Q&A pairs: calibrated score, then fused rank."""
    return sorted(hits, key=lambda h: (-h.score, -h.rrf))


async def search_knowledge(session: AsyncSession, *, assistant: Assistant, plan: QueryPlan, top_k: int | None = None,
                           threshold: float | None = None) -> list[SearchHit]:
    """Chunks and Q&A pairs together on the one score scale, best first: what the answer and the test
    console both use (a Q&A pair is listed above a chunk only when it is more relevant)."""
    k = top_k or assistant.top_k
    limit = assistant.score_threshold if threshold is None else threshold
    chunks = await search_table(session, table="chunks", assistant_id=assistant.id, plan=plan,
                                candidates=max(4 * k, 40))
    pairs = await search_table(session, table="qa_pairs", assistant_id=assistant.id, plan=plan, candidates=20)
    return [h for h in by_relevance(chunks + pairs) if h.score >= limit][:k]
