"""Incremental indexing: a changed folder re-encodes only what changed, and the result equals a
fresh full build."""
import shutil

import numpy as np
import pytest

from qa import QA
from qa.models import embedding
from qa.settings import ScorerKind, Settings

pytestmark = pytest.mark.slow

SETTINGS = Settings(scorer=ScorerKind.RULES)
NEW = "云雾镇位于山区北部。全镇共有茶园三千亩，年产干茶一百二十吨。镇上的茶叶合作社成立于2015年。"


@pytest.fixture
def counted(monkeypatch):
    """Counts the texts the embedding model encodes."""
    seen = []
    original = embedding.encode_passages

    def encode(model, texts, *args, **kwargs):
        seen.extend(texts)
        return original(model, texts, *args, **kwargs)

    monkeypatch.setattr(embedding, "encode_passages", encode)
    return seen


def vectors(engine):
    idx = engine.index
    return (idx.chunk_vectors.reconstruct_n(0, idx.chunk_vectors.ntotal),
            idx.unit_vectors.reconstruct_n(0, idx.unit_vectors.ntotal))


def test_adding_changing_and_removing_a_file_encodes_only_that_file(tmp_path, model, counted):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy("seeds/hezhang-poverty-alleviation.txt", docs)
    engine = QA(docs=docs, index_dir=tmp_path / "index", settings=SETTINGS)
    first = len(counted)
    assert first > 50

    (docs / "tea.txt").write_text(NEW, encoding="utf-8")
    a = engine.answer("云雾镇共有多少亩茶园？")
    added = counted[first:]
    assert added and all(t in NEW for t in added)  # only the new file was encoded
    assert a.source == "tea.txt" and "三千亩" in a.quote

    (docs / "tea.txt").write_text(NEW.replace("三千亩", "五千亩"), encoding="utf-8")
    assert "五千亩" in engine.candidate("云雾镇共有多少亩茶园？").quote
    (docs / "tea.txt").unlink()
    before = len(counted)
    assert engine.candidate("云雾镇共有多少亩茶园？").source != "tea.txt"  # removed: never quoted again
    assert len(counted) == before  # removing encodes nothing

    fresh = QA(docs=docs, index_dir=tmp_path / "fresh", settings=SETTINGS)
    for got, want in zip(vectors(engine), vectors(fresh)):
        assert got.shape == want.shape
        assert np.allclose(got, want, atol=1e-4)
    assert engine.index.documents == fresh.index.documents
    assert [(c.source, c.start, c.end) for c in engine.index.chunks] == \
        [(c.source, c.start, c.end) for c in fresh.index.chunks]
