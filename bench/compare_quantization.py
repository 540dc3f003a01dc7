"""How far do int8 forms of the span reader move its scores, and how much time do they save
(README, "Speed and memory")?

Reads windows of three consecutive sentences (the answer's sentence and one neighbour on each
side, as the engine reads at `reader_context` 1) of SQuAD-format paragraphs with their questions,
in the fp32 export (torch's numbers), the shipped int8 export (every MatMul but the feed-forward
down-projections; `qa.models.onnx_export.quantize`) and every MatMul in int8, and prints per form the
correlation of the sentence scores with fp32, the largest difference, how often the best sentence
of a window stays the same, and the milliseconds per window — read one at a time, and four per
call as the engine reads a question's candidates (`Settings.reader_threads` at a time).

    .venv/bin/python -m bench.compare_quantization ../shared/data/cmrc2018_trial.json [QUESTIONS, default 80]
"""
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.models import embedding
from qa.training import squad
from qa.text import normalise as text
from qa.models.base import SCORER_DIR
from qa.models.loader import load_reader
from qa.models.onnx_export import ensure_tokenizer, export, optimize, quantize
from qa.models.onnx_run import OnnxReader
from qa.models.torch_run import TorchReader
from qa.settings import Runtime


def windows(path: str, limit: int) -> list[tuple[str, list[str]]]:
    """(question, three sentences around its answer) for the first `limit` answerable questions."""
    out = []
    for p in squad.load(path):
        spans = text.sentences(p.context)
        for q in p.questions:
            if not q.answers or len(out) >= limit:
                continue
            i = next((k for k, (s, e) in enumerate(spans) if s <= q.answers[0].start < e), None)
            if i is not None:
                out.append((q.question, [p.context[s:e] for s, e in spans[max(0, i - 1) : i + 2]]))
    return out


def every_matmul_int8(folder: Path) -> Path:
    """The reader with every MatMul in int8 (the recipe the shipped one improves on), in a temp dir."""
    model_dir = embedding.ensure_default_model()
    tmp = Path(tempfile.mkdtemp())
    reader = TorchReader(model_dir, embedding.base_model_id(), folder)
    export(reader.module(), tmp / "raw.onnx", per_token=True)
    quantize(tmp / "raw.onnx", tmp / "q.onnx", keep_down_projections=False)
    optimize(tmp / "q.onnx", tmp / "int8-all.onnx")
    return tmp / "int8-all.onnx"


def main(path: str, limit: int = 80) -> None:
    data = windows(path, limit)
    fp32 = load_reader(SCORER_DIR, Runtime.ONNX_FP32)
    forms = {"fp32": fp32, "int8, down-projections fp32 (shipped)": load_reader(SCORER_DIR, Runtime.ONNX_INT8),
             "int8, every MatMul": OnnxReader(every_matmul_int8(SCORER_DIR), embedding.ensure_default_model(),
                                               fp32.config, ensure_tokenizer(embedding.ensure_default_model()))}
    results = {}
    for name, reader in forms.items():
        reader.score_windows(*data[0])  # warm-up
        t0 = time.perf_counter()
        results[name] = [reader.score_windows(q, [w])[0] for q, w in data]
        ms = (time.perf_counter() - t0) / len(data) * 1000
        t0 = time.perf_counter()
        for i in range(0, len(data), 4):
            reader.score_windows(data[i][0], [w for _, w in data[i : i + 4]])
        together = (time.perf_counter() - t0) / len(data) * 1000
        a = np.concatenate(results["fp32"])
        b = np.concatenate(results[name])
        same = np.mean([x.argmax() == y.argmax() for x, y in zip(results["fp32"], results[name])])
        print(f"{name:40s} correlation {np.corrcoef(a, b)[0, 1]:.4f}  max |diff| {np.abs(a - b).max():5.2f}  "
              f"same best sentence {same:.3f}  {ms:5.1f} ms / window, {together:5.1f} four per call")
    print(f"({len(data)} windows of {path})")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
