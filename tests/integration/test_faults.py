"""Faults while serving: the index on disk is damaged under an engine that is already answering.

The serving engine holds its index in memory, so it must keep giving the same
answers; a new engine on the damaged folder must notice and rebuild, never load
the damaged or stale files. (Damage *before* start-up is in test_engine.py.)
A small document keeps each build quick; answers are compared with the answer
given before the damage, so the checks do not depend on the abstention threshold.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.models import embedding
from qa.engine import QA

SEED = Path(__file__).resolve().parents[2] / "seeds" / "hezhang-poverty-alleviation.txt"
QUESTIONS = ["赫章县共创建达标党支部多少个？", "How many cadres were selected?"]


def build_dir(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().strip()


pytestmark = pytest.mark.slow  # builds and damages indexes


@pytest.fixture(scope="module")
def serving(tmp_path_factory, model):
    """A docs folder with part of the seed article, and an engine that has answered once.

    The same engine serves through all three faults; each test damages whatever build
    is current (the previous test's rebuild), so the tests also run alone or in any order.
    """
    tmp_path = tmp_path_factory.mktemp("faults")
    docs = tmp_path / "docs"
    docs.mkdir()
    paragraphs = SEED.read_text(encoding="utf-8").split("\n\n")
    (docs / "hezhang.txt").write_text("\n\n".join(paragraphs[:14]), encoding="utf-8")
    engine = QA(docs=docs, index_dir=tmp_path / "idx")
    before = {q: engine.answer(q) for q in QUESTIONS}
    best = engine.candidate(QUESTIONS[0])
    assert "828个" in best.quote and engine.document(best.source)[best.start:best.end] == best.quote
    return engine, before


def assert_same_answers(engine: QA, before: dict) -> None:
    for q, expected in before.items():
        assert engine.answer(q) == expected, q


def delete_build_files(build: Path) -> None:
    for f in build.iterdir():
        f.unlink()


def truncate_chunk_vectors(build: Path) -> None:
    damaged = build / "chunks.faiss"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])


@pytest.mark.parametrize("damage", [delete_build_files, truncate_chunk_vectors], ids=["deleted", "truncated"])
def test_damaged_index_files_while_serving(serving, damage):
    engine, before = serving
    damage(build_dir(engine.index_dir))
    assert_same_answers(engine, before)  # answered from memory
    fresh = QA(docs=engine.docs_dir, index_dir=engine.index_dir)
    assert fresh.build_seconds is not None, f"a new engine loaded an index after {damage.__name__}"
    assert_same_answers(fresh, before)
    assert_same_answers(engine, before)


def test_index_of_another_model_is_never_served(serving):
    engine, before = serving
    stale = build_dir(engine.index_dir)
    manifest_path = stale / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["model"] = "sentence-transformers/some-other-model"
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    assert_same_answers(engine, before)
    fresh = QA(docs=engine.docs_dir, index_dir=engine.index_dir)
    assert fresh.build_seconds is not None, "a new engine served an index built with another model"
    assert fresh.index.manifest["model"] == embedding.model_id(engine.model_name) != manifest["model"]
    assert fresh.index.path is not None and fresh.index.path != stale
    assert not stale.exists()  # the stale build was replaced, not kept in service
    assert_same_answers(fresh, before)
    assert_same_answers(engine, before)
