"""The store boundary: where the engine's chunks, sentences and documents live.

Two stores implement `Store`:
- `LocalStore` (the default, "local"): FAISS + bm25s in this process, the index folder on disk
  (qa/index/faiss_store.py) — rebuilt as a whole when a document changes, reusing per-document vectors;
- `MilvusStore` (qa/index/milvus_store.py): Milvus Lite embedded (`milvus:./index/milvus`) or a Milvus
  server by URI (`http://host:19530`); a changed document upserts or deletes its own rows only.

The engine talks to either through `sync` (bring the store up to date with the documents folder),
`search` (rank the chunks for one question and hand back what the quote step reads: an `Index` of
the documents involved, their sentence vectors by id, corpus IDF for coverage) and a few look-ups.
Everything after retrieval (candidates, reader, combiner, quoting) is the same code for both.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Mapping

import numpy as np

from . import faiss_store as index_mod, retrieval
from .store_base import Retrieved, Store, StoreError  # noqa: F401  (the boundary's types, re-exported)
from ..text import normalise as text
from .lexical import BM25Index
from ..settings import RetrievalMode, Settings

LOCAL = "local"
STORE_FORMS = ("local", "milvus:FOLDER (Milvus Lite, embedded)", "http://HOST:19530 (a Milvus server)")


def store_spec(spec: str | None, settings: Settings) -> str:
    """The store to use: `spec`, else `Settings.store`, else `QA_STORE`, else local."""
    return (spec or settings.store or os.environ.get("QA_STORE") or LOCAL).strip()


def open_store(spec: str | None, index_dir: Path, settings: Settings, model, model_name: str | None) -> Store:
    """The store named by `spec` (see `store_spec`): "local", "milvus:FOLDER" or "http(s)://HOST:PORT"."""
    spec = store_spec(spec, settings)
    if spec == LOCAL:
        return LocalStore(index_dir, settings, model, model_name)
    if spec.startswith(("milvus:", "http://", "https://")):
        try:
            from .milvus_store import MilvusStore
        except ImportError as exc:
            raise StoreError(f"The Milvus store needs pymilvus and milvus-lite ({exc}); install the project's "
                             "dependencies (make test does) or use --store local.") from None
        return MilvusStore(spec, settings, model, model_name)
    raise ValueError(f"Unknown store {spec!r}; use one of: {', '.join(STORE_FORMS)}")


class LocalStore:
    """Today's index: FAISS + bm25s in this process, built into `index_dir` (qa/index/faiss_store.py)."""

    kind = LOCAL

    def __init__(self, index_dir: Path, settings: Settings, model, model_name: str | None):
        self.index_dir, self.settings, self.model, self.model_name = Path(index_dir), settings, model, model_name
        self._state: tuple[index_mod.Index, BM25Index, np.ndarray] | None = None

    def sync(self, docs_dir: Path, keep_in_memory: bool = False) -> tuple[float | None, list[str]]:
        expected = index_mod.expected_manifest(docs_dir, self.settings, self.model_name)
        seconds, skipped = None, []
        with index_mod.BuildLock(self.index_dir):
            loaded, why = index_mod.load(self.index_dir, expected)
            if loaded is None:
                import logging

                logging.getLogger(__name__).info("Building the index in %s (%s)", self.index_dir, why)
                docs = text.load_documents(docs_dir, skipped)
                t0 = time.perf_counter()
                loaded = index_mod.build(self.index_dir, docs, expected, self.settings, self.model,
                                         keep_in_memory=keep_in_memory)
                seconds = time.perf_counter() - t0
        bm25 = BM25Index([c.text for c in loaded.chunks], self.settings.bm25_tokens)
        n = loaded.unit_vectors.ntotal
        units = loaded.unit_vectors.reconstruct_n(0, n) if n else np.zeros((0, 1), np.float32)
        self._state = (loaded, bm25, units)
        return seconds, skipped

    @property
    def state(self) -> tuple[index_mod.Index, BM25Index, np.ndarray]:
        return self._state

    def search(self, question: str, lexical: str, query_vector: np.ndarray, mode: RetrievalMode,
               only: str | None = None) -> Retrieved:
        idx, bm25, units = self._state
        allowed = None
        if only is not None:
            if only not in idx.documents:
                raise KeyError(f"No document named {only!r}; known: {', '.join(idx.documents)}")
            allowed = idx.chunk_ids(only)
        ranking = retrieval.rank(idx, bm25, lexical, query_vector, mode, self.settings, allowed)
        return Retrieved(idx, units, bm25, ranking)

    def sources(self) -> list[str]:
        return list(self._state[0].documents)

    def document(self, source: str) -> str:
        return self._state[0].documents[source]

    def documents(self) -> Mapping[str, str]:
        return self._state[0].documents

    def counts(self) -> dict[str, int]:
        idx = self._state[0]
        return {"chunks": len(idx.chunks), "documents": len(idx.documents)}

    def location(self) -> str:
        return str(self.index_dir)

    def close(self) -> None:
        pass
