"""Retrieval: rank chunks by dense similarity, by BM25, or by their fusion.

Fusion is weighted reciprocal-rank fusion: each ranker contributes
weight / (rrf_k + rank). Ranks, not raw scores, are fused because cosine and
BM25 scores live on unrelated scales.
"""
from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from .faiss_store import Index
from .lexical import BM25Index
from ..settings import RetrievalMode, Settings
from ..types import Passage

MODES = tuple(m.value for m in RetrievalMode)


@dataclass(frozen=True)
class Scored:
    """A chunk id with the score a ranker gave it."""

    chunk: int
    score: float


def dense_ranking(index: Index, query_vector: np.ndarray, n: int, allowed: np.ndarray | None = None,
                  ef_search: int | None = None) -> list[Scored]:
    """The `n` chunks closest to `query_vector` (of `allowed` alone, if given). `ef_search`: the HNSW
    candidate list when the index is approximate (Settings.hnsw_ef_search)."""
    vectors = index.chunk_vectors
    if vectors.ntotal == 0 or (allowed is not None and not len(allowed)):
        return []
    # One query vector: OpenMP threads only add wake-up waits (30,000 vectors: 36 ms with 2 threads,
    # 1.4 ms with 1 on this busy 2-core machine). The setting is per thread, so it is made per search.
    faiss.omp_set_num_threads(1)
    q = query_vector.reshape(1, -1).astype(np.float32, copy=False)
    if index.approximate:
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(ef_search or vectors.hnsw.efSearch, n)
        if allowed is not None:
            # One document among many: HNSW's graph walk rarely reaches a small allowed set, so score
            # its chunks exactly instead — as many as the document has, whatever the corpus size.
            ids = np.asarray(allowed, dtype=np.int64)
            scores = vectors.reconstruct_batch(ids) @ q[0]
            order = np.argsort(-scores, kind="stable")[:n]
            return [Scored(int(ids[j]), float(scores[j])) for j in order]
    else:
        params = None
        if allowed is not None:  # only these chunks (one document): FAISS filters while it searches
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
    scores, ids = vectors.search(q, min(n, vectors.ntotal), params=params)
    return [Scored(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]


def bm25_ranking(bm25: BM25Index, question: str, n: int, allowed: np.ndarray | None = None) -> list[Scored]:
    scores = bm25.scores(question)
    ids = np.arange(len(scores)) if allowed is None else np.asarray(allowed, dtype=np.int64)
    scores = scores[ids] if allowed is not None else scores
    if len(scores) > n:  # the top n without sorting every chunk: O(chunks), not O(chunks log chunks)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.lexsort((top, -scores[top]))]  # best first, ties by id as the stable sort had them
    else:
        top = np.argsort(-scores, kind="stable")
    return [Scored(int(ids[j]), float(scores[j])) for j in top if scores[j] > 0]


def fuse(dense: list[Scored], lexical: list[Scored], weight: float, rrf_k: int) -> list[Scored]:
    """Weighted reciprocal-rank fusion, normalized so a chunk first in both rankings scores 1."""
    fused: dict[int, float] = {}
    for ranking, w in ((dense, weight), (lexical, 1.0 - weight)):
        for rank, item in enumerate(ranking, start=1):
            fused[item.chunk] = fused.get(item.chunk, 0.0) + w / (rrf_k + rank)
    best = 1.0 / (rrf_k + 1)
    return sorted((Scored(c, s / best) for c, s in fused.items()), key=lambda x: (-x.score, x.chunk))


def rank(index: Index, bm25: BM25Index, question: str, query_vector: np.ndarray, mode: RetrievalMode | str,
         settings: Settings, allowed: np.ndarray | None = None) -> list[Scored]:
    """Chunks ranked by the chosen mode, best first: `query_vector` for dense, `question` for BM25
    (for an English question, the Chinese words the cross-lingual bridge found for it)."""
    mode = RetrievalMode.from_str(mode)
    n = settings.candidates
    ef = settings.hnsw_ef_search
    if mode is RetrievalMode.DENSE:
        return dense_ranking(index, query_vector, n, allowed, ef)
    if mode is RetrievalMode.BM25:
        return bm25_ranking(bm25, question, n, allowed)
    return fuse(dense_ranking(index, query_vector, n, allowed, ef), bm25_ranking(bm25, question, n, allowed),
                settings.fusion_weight, settings.rrf_k)


def passages(index: Index, ranking: list[Scored], k: int) -> list[Passage]:
    return [
        Passage(c.text, c.source, c.start, c.end, round(item.score, 4))
        for item in ranking[:k]
        for c in (index.chunks[item.chunk],)
    ]
