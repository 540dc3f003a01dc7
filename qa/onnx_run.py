"""Run the exported models with onnxruntime and the `tokenizers` library: no torch.

`OnnxEncoder` embeds texts (pooling and normalisation are inside the graph);
`OnnxCrossScorer` gives one logit per (question, sentence) pair. Both read the same
`tokenizer.json` as the torch models, with the same truncation, so their inputs match
token for token. The files come from `qa.onnx_export`, which verified them against torch.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

PAD = "<pad>"


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # The file holds the optimised graph already (qa.onnx_export saved it): loading skips the work.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise in a server log
    # Idle threads sleep instead of spinning: with several requests (or processes) on two cores,
    # spinning threads starved each other (6 pairs: 2.5 s spinning, 1.1 s not, on a busy machine).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


_tokenizers: dict[str, tuple[object, threading.Lock]] = {}
_tokenizers_lock = threading.Lock()


def _tokenizer(path: Path):
    """One `tokenizers.Tokenizer` per file and process (the 250k-piece vocabulary takes seconds and
    hundreds of MB to load), with the lock that guards its truncation and padding state."""
    from tokenizers import Tokenizer

    with _tokenizers_lock:
        if str(path) not in _tokenizers:
            tok = Tokenizer.from_file(str(path))
            tok.enable_padding(pad_id=tok.token_to_id(PAD), pad_token=PAD)
            _tokenizers[str(path)] = tok, threading.Lock()
        return _tokenizers[str(path)]


class _Graph:
    """One session and the shared tokenizer; `run` takes texts (or pairs), returns the graph's output."""

    def __init__(self, model: Path, tokenizer: Path, max_length: int):
        self.session = _session(model)
        self.tokenizer, self._lock = _tokenizer(tokenizer)
        self.max_length = max_length

    def run(self, inputs: list) -> np.ndarray:
        with self._lock:
            # longest_first: the sentence is cut first, a very long question too (as in scorer.py)
            self.tokenizer.enable_truncation(self.max_length, strategy="longest_first")
            encodings = self.tokenizer.encode_batch(inputs)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


class OnnxEncoder:
    """Normalised sentence embeddings from the exported encoder."""

    def __init__(self, model: Path, tokenizer: Path, max_length: int = 512):
        self.graph = _Graph(model, tokenizer, max_length)
        self.dimension = int(self.graph.run(["dimension"]).shape[1])

    def encode(self, texts: list[str], prompt: str, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """One L2-normalised float32 row per text, with `prompt` ("query: " / "passage: ") in front."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        parts = [self.graph.run([prompt + t for t in texts[i : i + batch_size]]) for i in starts]
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


class OnnxCrossScorer:
    """Cross-encoder logits from the exported scorer (same interface as `scorer.CrossScorer`)."""

    def __init__(self, model: Path, tokenizer: Path, config):
        from .scorer import PASSAGE_PREFIX, QUERY_PREFIX

        self.config = config
        self.graph = _Graph(model, tokenizer, config.max_length)
        self._prefixes = QUERY_PREFIX, PASSAGE_PREFIX

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        """One logit per sentence: how likely it answers `question`."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        q, p = self._prefixes
        return self.graph.run([(q + question, p + s) for s in sentences]).astype(np.float32).reshape(-1)
