"""Approximate chunk search (HNSW above `Settings.ann_threshold`): same answers as exact search, and the
one-document restriction (only=) still works."""
import shutil

import numpy as np
import pytest

from qa import QA
from qa.index import faiss_store as index_mod, retrieval
from qa.settings import ScorerKind, Settings
from qa.types import Chunk

EXACT = Settings(scorer=ScorerKind.RULES)
APPROX = EXACT.with_(ann_threshold=0)  # every index is HNSW
NEW = "云雾镇位于山区北部。全镇共有茶园三千亩，年产干茶一百二十吨。镇上的茶叶合作社成立于2015年。"
QUESTIONS = ["赫章县共创建达标党支部多少个？", "2020年全县种了多少亩马铃薯？", "云雾镇共有多少亩茶园？",
             "赫章县有多少个贫困村脱贫出列？", "How many poor villages were lifted out of poverty?"]


def _index(vectors: np.ndarray, settings: Settings, docs: int = 10) -> index_mod.Index:
    """An index over random vectors, `docs` documents of consecutive chunks (no model needed)."""
    per = len(vectors) // docs
    chunks = [Chunk(i, f"d{i // per}.txt", 0, 1, "x") for i in range(len(vectors))]
    flat = index_mod.search_index(vectors, vectors.shape[1], settings)
    return index_mod.Index(None, {}, {}, chunks, [], flat, flat, [[] for _ in chunks])


def _unit_vectors(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, dim))
    x = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, dim))  # clustered, like real text
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_hnsw_is_used_above_the_threshold_only():
    x = _unit_vectors(500)
    assert not _index(x, Settings(ann_threshold=500)).approximate
    assert _index(x, Settings(ann_threshold=499)).approximate


def _recall(exact, approx, queries, ef: int) -> float:
    hits = 0
    for v in queries:
        want = {s.chunk for s in retrieval.dense_ranking(exact, v, 10)}
        hits += len(want & {s.chunk for s in retrieval.dense_ranking(approx, v, 10, ef_search=ef)})
    return hits / (10 * len(queries))


def test_hnsw_recall_at_10_against_exact_grows_with_ef_search():
    # Random 64-d clusters are harder for HNSW than text embeddings (recall on real vectors: bench/scale.py).
    x, q = _unit_vectors(5000), _unit_vectors(50, seed=1)
    exact, approx = _index(x, Settings()), _index(x, Settings(ann_threshold=0))
    assert _recall(exact, approx, q, 10) < _recall(exact, approx, q, Settings().hnsw_ef_search) >= 0.95
    assert _recall(exact, approx, q, 512) >= 0.99


def test_only_one_document_with_hnsw_is_exact_within_it():
    x, q = _unit_vectors(5000), _unit_vectors(20, seed=2)
    exact, approx = _index(x, Settings()), _index(x, Settings(ann_threshold=0))
    allowed = approx.chunk_ids("d3.txt")
    assert len(allowed) == 500
    for v in q:
        want = retrieval.dense_ranking(exact, v, 20, allowed)
        got = retrieval.dense_ranking(approx, v, 20, allowed, ef_search=64)
        assert [s.chunk for s in got] == [s.chunk for s in want]
        assert np.allclose([s.score for s in got], [s.score for s in want], atol=1e-5)
        assert all(approx.chunks[s.chunk].source == "d3.txt" for s in got)


@pytest.mark.slow
def test_answers_with_hnsw_match_exact_search(tmp_path, model):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy("seeds/hezhang-poverty-alleviation.txt", docs)
    (docs / "tea.txt").write_text(NEW, encoding="utf-8")
    exact = QA(docs=docs, index_dir=tmp_path / "exact", settings=EXACT)
    approx = QA(docs=docs, index_dir=tmp_path / "approx", settings=APPROX)
    assert approx.index.approximate and not exact.index.approximate
    for q in QUESTIONS:
        a, b = exact.candidate(q), approx.candidate(q)
        assert (b.quote, b.source, b.start, b.score) == (a.quote, a.source, a.start, a.score), q
        assert [p.source for p in b.passages] == [p.source for p in a.passages]
    only = approx.candidate("云雾镇共有多少亩茶园？", only="hezhang-poverty-alleviation.txt")
    assert only.source in ("", "hezhang-poverty-alleviation.txt")
    assert approx.candidate("云雾镇共有多少亩茶园？", only="tea.txt").source == "tea.txt"

    # Incremental rebuild with HNSW: remove the file, the index equals a fresh build, it is never quoted.
    (docs / "tea.txt").unlink()
    assert approx.candidate("云雾镇共有多少亩茶园？").source != "tea.txt"
    fresh = QA(docs=docs, index_dir=tmp_path / "fresh", settings=APPROX)
    got, want = approx.index.chunk_vectors, fresh.index.chunk_vectors
    assert got.ntotal == want.ntotal and approx.index.approximate
    assert np.allclose(got.reconstruct_n(0, got.ntotal), want.reconstruct_n(0, want.ntotal), atol=1e-4)
    assert [(c.source, c.start, c.end) for c in approx.index.chunks] == \
        [(c.source, c.start, c.end) for c in fresh.index.chunks]


@pytest.mark.slow
def test_changing_the_search_settings_rebuilds_without_encoding(tmp_path, model, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.txt").write_text(NEW, encoding="utf-8")
    QA(docs=docs, index_dir=tmp_path / "index", settings=EXACT)
    from qa.models import embedding

    def fail(*args, **kwargs):
        raise AssertionError("vectors are cached; nothing should be encoded")

    monkeypatch.setattr(embedding, "encode_passages", fail)
    engine = QA(docs=docs, index_dir=tmp_path / "index", settings=APPROX)
    assert engine.index.approximate
