"""What both models share, with no runtime: the trained reader's files and their config, e5's prompts.

The models package is layered so that imports flow one way: this module and `embedding` (the
encoder's base model and the `Encoder` interface) → `reader` (the span reader's interface:
windows and span scores, whatever runs it) → the runtimes `torch_run` and `onnx_run` → `onnx_export`
(building and verifying the ONNX forms) → `loader` (the one place that chooses a runtime).

The trained span reader ships in `qa/models/answer-scorer/`: its weights (a LoRA adapter, or a fully
fine-tuned encoder without the word-embedding table), a small head and `scorer.json`, which records
the base model it was trained on (name and a fingerprint of its word-embedding weights), so loading it
onto another base is a clear error.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SCORER_DIR = Path(__file__).resolve().parent / "answer-scorer"
CONFIG = "scorer.json"
HEAD = "head.safetensors"
ADAPTER = "adapter_model.safetensors"
FULL = "encoder.safetensors"  # a fully fine-tuned encoder: every weight but the shared word embeddings, fp16
KIND = "span"  # what scorer.json records as the model's kind (the sentence-pair kind was retired)
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "  # e5's own prompts


class ScorerError(RuntimeError):
    """The trained scorer is missing, damaged or was trained on another base model."""


@dataclass(frozen=True)
class ScorerConfig:
    """What `scorer.json` records about a trained scorer."""

    base_model: str  # label of the base (embedding.model_id)
    base_fingerprint: str  # sha256 of the base's word-embedding matrix
    max_length: int  # tokens of question + sentence
    trained: dict  # data, steps, seconds, seed, ... (for the README)
    layers: int | None = None  # transformer layers kept (None: all of the base)
    reads: str = "window"  # span reader: "passage" (whole passages, strided windows) or "window" (sentence + neighbours)

    def to_dict(self) -> dict:
        return {"base_model": self.base_model, "base_fingerprint": self.base_fingerprint, "kind": KIND,
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
            if raw.get("kind", "sentence") != KIND:
                raise ValueError(f"kind {raw.get('kind', 'sentence')!r}: only the span reader is supported (the "
                                 "sentence-pair cross-encoder was retired; docs/models.md says which commit has it)")
            return cls(str(raw["base_model"]), str(raw["base_fingerprint"]), int(raw["max_length"]),
                       dict(raw.get("trained", {})), int(raw["layers"]) if raw.get("layers") else None,
                       str(raw.get("reads", "window")))
        except FileNotFoundError:
            raise ScorerError(f"No trained answer scorer in {folder} ({CONFIG} missing); restore it from git "
                              "or train one with `python -m qa train`.") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ScorerError(f"{folder / CONFIG} is damaged ({exc}); restore it from git.") from None
