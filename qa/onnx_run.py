"""Run the exported models with onnxruntime and sentencepiece: no torch.

`OnnxEncoder` embeds texts (pooling and normalisation are inside the graph);
`OnnxCrossScorer` gives one logit per (question, sentence) pair. Both tokenize like the
torch models' `tokenizer.json`, with the same truncation, so their inputs match token for
token. The files come from `qa.onnx_export`, which verified them against torch.
"""
from __future__ import annotations

import re
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


WHITESPACE_RUN = re.compile(r"\s{2,}")  # tokenizer.json's normalizer turns a run of spaces into one


class PieceTokenizer:
    """XLM-R's unigram tokenizer as a sentencepiece model built from `tokenizer.json` (by
    `qa.onnx_export.ensure_tokenizer`, which checked that the ids are the same): it loads in
    ~0.3 s into ~50 MB, where `tokenizers` takes seconds and ~300 MB for the 250k pieces."""

    def __init__(self, path: Path):
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
        self.bos, self.eos, self.pad = self.sp.bos_id(), self.sp.eos_id(), self.sp.pad_id()

    def encode_batch(self, inputs: list, max_length: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and attention mask of texts, or of (question, sentence) pairs, padded to the longest;
        cut like `tokenizers`' longest_first: one token at a time off the longer side."""
        rows = []
        for item in inputs:
            if isinstance(item, tuple):
                a, b = self.sp.encode([WHITESPACE_RUN.sub(" ", t) for t in item])
                a, b = _longest_first(a, b, max_length - 4)
                rows.append([self.bos, *a, self.eos, self.eos, *b, self.eos])
            else:
                ids = self.sp.encode(WHITESPACE_RUN.sub(" ", item))[: max_length - 2]
                rows.append([self.bos, *ids, self.eos])
        width = max(map(len, rows))
        ids = np.full((len(rows), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)], mask[i, : len(row)] = row, 1
        return ids, mask


def _longest_first(a: list[int], b: list[int], budget: int) -> tuple[list[int], list[int]]:
    la, lb = len(a), len(b)
    while la + lb > budget and la + lb > 0:
        if la > lb:
            la -= 1
        else:
            lb -= 1
    return a[:la], b[:lb]


class JsonTokenizer:
    """The same tokenizer read from `tokenizer.json` by the `tokenizers` library (the fallback, and
    the reference the sentencepiece form is checked against)."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(path))
        self.tok.enable_padding(pad_id=self.tok.token_to_id(PAD), pad_token=PAD)

    def encode_batch(self, inputs: list, max_length: int) -> tuple[np.ndarray, np.ndarray]:
        self.tok.enable_truncation(max_length, strategy="longest_first")
        encodings = self.tok.encode_batch(inputs)
        return (np.array([e.ids for e in encodings], dtype=np.int64),
                np.array([e.attention_mask for e in encodings], dtype=np.int64))


_tokenizers: dict[str, tuple[object, threading.Lock]] = {}
_tokenizers_lock = threading.Lock()


def shared_tokenizer(model_dir: Path):
    """One tokenizer per model folder and process, with the lock that guards it: the sentencepiece
    form when it was built and checked, else `tokenizer.json`."""
    from .onnx_export import ensure_tokenizer

    with _tokenizers_lock:
        key = str(model_dir)
        if key not in _tokenizers:
            pieces = ensure_tokenizer(model_dir)
            tok = PieceTokenizer(pieces) if pieces else JsonTokenizer(model_dir / "tokenizer.json")
            _tokenizers[key] = tok, threading.Lock()
        return _tokenizers[key]


class _Graph:
    """One session and the shared tokenizer; `run` takes texts (or pairs), returns the graph's output."""

    def __init__(self, model: Path, model_dir: Path, max_length: int):
        self.session = _session(model)
        self.tokenizer, self._lock = shared_tokenizer(model_dir)
        self.max_length = max_length

    def run(self, inputs: list) -> np.ndarray:
        # longest_first: the sentence is cut first, a very long question too (as in scorer.py)
        with self._lock:
            ids, mask = self.tokenizer.encode_batch(inputs, self.max_length)
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


class OnnxEncoder:
    """Normalised sentence embeddings from the exported encoder."""

    def __init__(self, model: Path, model_dir: Path, max_length: int = 512):
        self.graph = _Graph(model, model_dir, max_length)
        self.dimension = int(self.graph.session.get_outputs()[0].shape[1])  # (batch, 384): fixed in the graph

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

    def __init__(self, model: Path, model_dir: Path, config):
        from .scorer import PASSAGE_PREFIX, QUERY_PREFIX

        self.config = config
        self.graph = _Graph(model, model_dir, config.max_length)
        self._prefixes = QUERY_PREFIX, PASSAGE_PREFIX

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        """One logit per sentence: how likely it answers `question`."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        q, p = self._prefixes
        return self.graph.run([(q + question, p + s) for s in sentences]).astype(np.float32).reshape(-1)
