"""The store boundary's types (qa/index/store.py opens the stores; each store imports these)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

from . import faiss_store as index_mod, retrieval
from ..settings import RetrievalMode


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says why and what to do."""


@dataclass(frozen=True)
class Retrieved:
    """One question's retrieval: the ranking (chunk ids of `index`) and what the quote step reads."""

    index: index_mod.Index  # the whole index (local) or the documents of the ranked chunks (Milvus)
    unit_matrix: Any  # sentence vectors indexable by unit ids of `index` (`unit_matrix[ids]`)
    coverage: Any  # `.coverage(query, text)` with the corpus IDF, and `.mode` (BM25Index or alike)
    ranking: list[retrieval.Scored]


@runtime_checkable
class Store(Protocol):
    """What the engine needs of an index store."""

    kind: str

    def sync(self, docs_dir: Path, keep_in_memory: bool = False) -> tuple[float | None, list[str]]:
        """Bring the store up to date with `docs_dir`; (seconds spent writing or None when nothing
        changed, documents skipped with the reason)."""

    def search(self, question: str, lexical: str, query_vector: np.ndarray, mode: RetrievalMode,
               only: str | None = None) -> Retrieved:
        """Rank the chunks for one question (`only`: of that document alone; KeyError if unknown)."""

    def sources(self) -> list[str]: ...

    def document(self, source: str) -> str:
        """The cleaned text of `source` (KeyError when unknown)."""

    def documents(self) -> Mapping[str, str]:
        """Every document's cleaned text (the English lexicon is built over them)."""

    def counts(self) -> dict[str, int]:
        """{"chunks": …, "documents": …}"""

    def location(self) -> str: ...

    def close(self) -> None: ...
