"""Search latency p50/p95 and recall@10 vs exact search, with synthetic 384-d vectors.

    .venv/bin/python -m bench.search_latency                 # 10k and 100k chunks
    .venv/bin/python -m bench.search_latency --sizes 1000000 # opt-in: building the 1M HNSW index is long on 2 cores

Vectors are a Gaussian mixture (2000 centres), closer to real embeddings than uniform noise; queries come
from the same mixture. The vector query is the production one (chatai.rag.retrieval: partial HNSW index per
dimension, assistant filter, iterative scan, same ef_search); a second assistant owns 10% of the rows so the
filter is real. "hybrid" times the complete fused query (vector + full text + RRF) for a two-word question.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import numpy as np

from bench.common import Timer, bench_database, make_assistant, percentile

DIM = 384
QUERIES = 200
VOCAB = [f"word{i}" for i in range(5000)]


def mixture(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    idx = rng.integers(0, len(centres), n)
    x = centres[idx] + rng.normal(0, 0.6 / np.sqrt(DIM), (n, DIM)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def load(url: str, assistant_id: uuid.UUID, other_id: uuid.UUID, n: int, rng: np.random.Generator,
         centres: np.ndarray, *, maintenance_work_mem: str = "4GB") -> np.ndarray:
    """Binary COPY of n chunks (90% ours, 10% another assistant's) with the vector and full-text indexes
    dropped, then both rebuilt (the production definitions: migration 0001 defaults). The chunks' stats
    triggers (BM25 term statistics) run as in production. Returns our vectors in insertion order."""
    import psycopg
    from pgvector.psycopg import register_vector

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    ours = []
    with psycopg.connect(conninfo) as conn:
        register_vector(conn)
        conn.execute("SET synchronous_commit = off")
        doc_ids = {}
        for aid in (assistant_id, other_id):
            doc_ids[aid] = uuid.uuid4()
            conn.execute("INSERT INTO documents (id, assistant_id, filename, content_type, size_bytes, content_hash, "
                         "status, progress, error, page_count, chunk_count, created_at, updated_at) VALUES "
                         "(%s, %s, 'synthetic.txt', '', 0, %s, 'ready', 1, '', 0, 0, now(), now())",
                         (doc_ids[aid], aid, uuid.uuid4().hex))
        conn.execute("DROP INDEX IF EXISTS ix_chunks_embedding_384")
        conn.execute("DROP INDEX IF EXISTS ix_chunks_tsv")
        batch = 20000
        with Timer() as t, conn.cursor().copy(
                "COPY chunks (id, document_id, assistant_id, position, section, text, token_count, embedding, "
                "embedding_dim) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["uuid", "uuid", "uuid", "int4", "text", "text", "int4", "vector", "int4"])
            for start in range(0, n, batch):
                m = min(batch, n - start)
                vecs = mixture(rng, centres, m)
                owner = rng.random(m) < 0.9
                ours.append(vecs[owner])
                words = rng.integers(0, len(VOCAB), (m, 30))
                for i in range(m):
                    aid = assistant_id if owner[i] else other_id
                    copy.write_row((uuid.uuid4(), doc_ids[aid], aid, start + i, "",
                                    " ".join(VOCAB[j] for j in words[i]), 40, vecs[i], DIM))
        conn.commit()
        print(f"  COPY (+ tsvector, stats triggers): {t.seconds:.1f} s")
        with Timer() as t:
            conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
            conn.execute("SET max_parallel_maintenance_workers = 1")  # + the leader = both cores
            conn.execute("CREATE INDEX ix_chunks_tsv ON chunks USING gin (tsv)")
            conn.commit()
        print(f"  GIN (full text) index build: {t.seconds:.1f} s")
        with Timer() as t:
            conn.execute("CREATE INDEX ix_chunks_embedding_384 ON chunks USING hnsw "
                         "((embedding::vector(384)) vector_cosine_ops) WHERE embedding_dim = 384")
            conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE chunks")
        print(f"  HNSW index build: {t.seconds:.1f} s")
    return np.concatenate(ours)


async def measure(assistant_id: uuid.UUID, ours: np.ndarray, queries: np.ndarray, rng: np.random.Generator,
                  ef_values: list[int | None]) -> None:
    from sqlalchemy import text

    from chatai.db.session import async_session
    from chatai.rag.retrieval import _prepare_vector_scan, make_plan, search_table

    ids_sql = text("""
        SELECT position FROM chunks
        WHERE assistant_id = :aid AND embedding_dim = 384
        ORDER BY embedding::vector(384) <=> CAST(:q AS vector(384)) LIMIT 10""")
    hybrid = []
    async with async_session() as s:
        # positions of our rows, in insertion order, map to `ours`
        rows = await s.execute(text("SELECT position FROM chunks WHERE assistant_id = :a ORDER BY position"),
                               {"a": assistant_id})
        positions = np.array(rows.scalars().all())
        await s.commit()
        exact = [set(positions[np.argsort(-(ours @ q))[:10]].tolist()) for q in queries]
        for ef in ef_values:  # None = the production setting for top_k <= 10 (40 candidates)
            latencies, recalls = [], []
            for qi, q in enumerate(queries):
                qs = "[" + ",".join(f"{v:.6f}" for v in q) + "]"
                await _prepare_vector_scan(s, 40, ef, assistant_id=assistant_id)
                t0 = time.perf_counter()
                got = (await s.execute(ids_sql, {"aid": assistant_id, "q": qs})).scalars().all()
                latencies.append((time.perf_counter() - t0) * 1000)
                await s.commit()
                recalls.append(len(set(got) & exact[qi]) / 10)
            label = "production ef_search" if ef is None else f"ef_search {ef}"
            print(f"  vector top-10 ({label}): p50 {percentile(latencies, 50):.1f} ms  "
                  f"p95 {percentile(latencies, 95):.1f} ms  recall@10 {np.mean(recalls):.3f}")
        for q in queries[:100]:
            words = f"{VOCAB[rng.integers(0, len(VOCAB))]} {VOCAB[rng.integers(0, len(VOCAB))]}"
            plan = make_plan(words, q.tolist(), provider_ok=True, multilingual=True)
            t0 = time.perf_counter()
            await search_table(s, table="chunks", assistant_id=assistant_id, plan=plan, candidates=40)
            hybrid.append((time.perf_counter() - t0) * 1000)
            await s.commit()
    print(f"  hybrid (vector+BM25+RRF, 40 candidates): p50 {percentile(hybrid, 50):.1f} ms  "
          f"p95 {percentile(hybrid, 95):.1f} ms")


async def run(url: str, n: int, ef_values: list[int | None]) -> None:
    from sqlalchemy import text

    from chatai.db.session import async_session

    rng = np.random.default_rng(42)
    centres = rng.normal(0, 1, (2000, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    async with async_session() as s:
        await s.execute(text("TRUNCATE chunks, documents CASCADE"))
        await s.commit()
    assistant_id, other_id = await make_assistant(), await make_assistant()
    print(f"{n:,} chunks:")
    with Timer() as t:
        ours = await asyncio.to_thread(load, url, assistant_id, other_id, n, rng, centres)
    print(f"  load + index: {t.seconds:.1f} s")
    await measure(assistant_id, ours, mixture(rng, centres, QUERIES), rng, ef_values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--ef-search", type=int, nargs="*", default=[],
                        help="also measure the vector query at these hnsw.ef_search values")
    args = parser.parse_args()
    ef_values = [None, *args.ef_search]
    with bench_database(f"latency_{uuid.uuid4().hex[:6]}") as url:
        for n in args.sizes:
            asyncio.run(run(url, n, ef_values))


if __name__ == "__main__":
    main()
