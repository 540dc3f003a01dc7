"""Run the exported models with onnxruntime and sentencepiece: no torch.

`OnnxEncoder` embeds texts (pooling and normalisation are inside the graph); `OnnxReader` gives the
span reader's start / end logits. Both tokenize like the torch models' `tokenizer.json`, with the
same truncation, so their inputs match token for token. The files come from `qa.models.onnx_export`,
which verified them against torch; `qa.models.loader` passes them in.

The graphs take word embeddings, not token ids: the 250k x 384 lookup table (three quarters of
the model's weights) is read from the base model's own `model.safetensors` and shared by every
graph in the process (`word_embeddings`). Only the rows of tokens that occur are ever read, so
it adds a few MB of resident memory instead of 384 MB per model, and the numbers are exactly fp32's.
"""
from __future__ import annotations

import json
import os
import re
import struct
import threading
from pathlib import Path

import numpy as np

from .reader import SpanReader, pad

PAD = "<pad>"
WORD_EMBEDDINGS = "word_embeddings.weight"  # the table's key in the safetensors file (any prefix)


class WordEmbeddings:
    """The base model's word-embedding table (vocabulary x width, float32), read row by row from
    `model.safetensors` (8-byte header length, JSON header, raw little-endian tensors) the first time
    a token needs it, and kept packed in the order they were first needed. Neither a memory map
    nor a lazily allocated full-size array: 3,000 scattered rows of either cost ~350 MB of
    resident memory (the kernel reads around a mapped row; numpy asks for huge pages)."""

    def __init__(self, path: Path):
        try:
            with open(path, "rb") as f:
                (length,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(length))
            key = next(k for k in header if k.endswith(WORD_EMBEDDINGS))
            entry = header[key]
            if entry["dtype"] != "F32" or len(entry["shape"]) != 2:
                raise ValueError(f"{key} is {entry['dtype']} {entry['shape']}, not a float32 matrix")
            self._fd = os.open(path, os.O_RDONLY)
        except (OSError, ValueError, StopIteration, struct.error) as exc:
            raise RuntimeError(f"Cannot read the word embeddings of {path} ({exc!r}); rebuild the model "
                               "(make clean, then make run).") from None
        self.shape = tuple(entry["shape"])
        self._start = 8 + length + entry["data_offsets"][0]
        self._row_bytes = 4 * self.shape[1]
        self._slot = np.full(self.shape[0], -1, dtype=np.int32)  # token id -> row of `_rows`
        self._rows = np.zeros((1024, self.shape[1]), dtype=np.float32)
        self._used = 0
        self._lock = threading.Lock()

    def __getitem__(self, ids: np.ndarray) -> np.ndarray:
        """The rows of `ids` (any shape of token ids), as a new float32 array of shape ids.shape + (width,)."""
        ids = np.asarray(ids)
        with self._lock:
            for i in np.unique(ids[self._slot[ids] < 0]):
                if self._used == len(self._rows):
                    self._rows = np.concatenate([self._rows, np.zeros_like(self._rows)])
                row = os.pread(self._fd, self._row_bytes, self._start + int(i) * self._row_bytes)
                self._rows[self._used] = np.frombuffer(row, dtype="<f4")
                self._slot[i] = self._used
                self._used += 1
            return self._rows[self._slot[ids]]


_tables: dict[str, WordEmbeddings] = {}
_tables_lock = threading.Lock()


def word_embeddings(model_dir: Path) -> WordEmbeddings:
    """The word-embedding table of the base model in `model_dir`, one per process (every graph shares it)."""
    path = model_dir / "model.safetensors"
    with _tables_lock:
        if str(path) not in _tables:
            _tables[str(path)] = WordEmbeddings(path)
        return _tables[str(path)]


def graph_inputs(table: WordEmbeddings, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """The exported graphs' inputs for token ids: their rows of the table, and the attention mask."""
    return {"inputs_embeds": np.ascontiguousarray(table[ids], dtype=np.float32), "attention_mask": mask}


def session(path: Path, patterns: bool = False, arena: bool = True):
    """An onnxruntime session for a saved, optimised graph (`patterns`, `arena`: its memory settings,
    compared by eval/onnx_memory.py)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # The file holds the optimised graph already (qa.onnx_export saved it): loading skips the work.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise in a server log
    # Idle threads sleep instead of spinning: with several requests (or processes) on two cores,
    # spinning threads starved each other (6 pairs: 2.5 s spinning, 1.1 s not, on a busy machine).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Inputs change shape with every text, and a memory pattern is planned and kept per shape: off by
    # default, so a long-running server does not keep one per window length seen (the 105 eval answers
    # alone: 4-33 MB; no change in speed; eval/onnx_memory.py).
    options.enable_mem_pattern = patterns
    options.enable_cpu_mem_arena = arena
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_run_options(shrink: bool):
    """onnxruntime run options; `shrink` frees the memory arena's unused chunks when the run ends."""
    import onnxruntime as ort

    options = ort.RunOptions()
    if shrink:
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


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
        return pad(rows, self.pad)


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


def shared_tokenizer(model_dir: Path, pieces: Path | None):
    """One tokenizer per model folder and process, with the lock that guards it: the sentencepiece
    model `pieces` when it was built and checked (`onnx_export.ensure_tokenizer`), else `tokenizer.json`."""
    with _tokenizers_lock:
        key = f"{model_dir}|{pieces}"
        if key not in _tokenizers:
            tok = PieceTokenizer(pieces) if pieces else JsonTokenizer(model_dir / "tokenizer.json")
            _tokenizers[key] = tok, threading.Lock()
        return _tokenizers[key]


class _Graph:
    """One session and the shared tokenizer; `run` takes texts (or pairs), returns the graph's output."""

    def __init__(self, model: Path, model_dir: Path, max_length: int, pieces: Path | None):
        self.session = session(model)
        self.tokenizer, self._lock = shared_tokenizer(model_dir, pieces)
        self.table = word_embeddings(model_dir)
        self.max_length = max_length
        # Give the arena back after each batch: an index build's batches of 32 long passages grew it
        # by ~600 MB that answering never needs (the article's build: same time, 250 vs 907 MB kept; eval/onnx_memory.py).
        self._options = ort_run_options(shrink=True)

    def run(self, inputs: list) -> np.ndarray:
        # longest_first: the sentence is cut first, a very long question too
        with self._lock:
            ids, mask = self.tokenizer.encode_batch(inputs, self.max_length)
        return self.session.run(None, graph_inputs(self.table, ids, mask), self._options)[0]


class OnnxEncoder:
    """Normalised sentence embeddings from the exported encoder."""

    def __init__(self, model: Path, model_dir: Path, max_length: int = 512, pieces: Path | None = None):
        self.graph = _Graph(model, model_dir, max_length, pieces)
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


class OnnxReader(SpanReader):
    """The exported reader run by onnxruntime, tokenized by the shared sentencepiece / tokenizer.json form."""

    def __init__(self, path, model_dir, config, pieces: Path | None = None, threads: int = 1):
        graph, table = session(path), word_embeddings(model_dir)
        tokenizer, lock = shared_tokenizer(model_dir, pieces)
        if isinstance(tokenizer, PieceTokenizer):
            sp = tokenizer.sp

            def pieces(texts: list[str]) -> list[list[int]]:
                with lock:
                    return sp.encode([WHITESPACE_RUN.sub(" ", t) for t in texts])

            special, pad_id = (tokenizer.bos, tokenizer.eos), tokenizer.pad
            id_to_piece = sp.id_to_piece
        else:  # tokenizer.json through `tokenizers`
            tok = tokenizer.tok

            def pieces(texts: list[str]) -> list[list[int]]:
                with lock:
                    tok.no_truncation()
                    return [tok.encode(t).ids[1:-1] for t in texts]  # one by one: no padding

            special, pad_id = (tok.token_to_id("<s>"), tok.token_to_id("</s>")), tok.token_to_id("<pad>")

            def id_to_piece(ids: list[int]) -> list[str]:
                return [tok.id_to_token(i) for i in ids]

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            return graph.run(None, graph_inputs(table, ids, mask))[0]

        super().__init__(run, pieces, special, pad_id, config.max_length, config, threads, id_to_piece=id_to_piece)
