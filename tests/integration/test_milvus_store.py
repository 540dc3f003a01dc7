"""The Milvus store (qa/index/milvus_store.py) against Milvus Lite: one Lite folder for the session, one set of
collections per test (`name=`), small documents so each test takes seconds."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from qa import QA  # noqa: E402
from qa.index.milvus_store import MilvusStore, parse_spec  # noqa: E402
from qa.index.store import StoreError, open_store  # noqa: E402
from qa.models import embedding  # noqa: E402
from qa.settings import ScorerKind, Settings  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent.parent
RULES = Settings(scorer=ScorerKind.RULES)  # no trained reader to load: the store is what is tested
DOCS = {
    "tea.txt": "云雾镇位于山区北部。全镇共有茶园三千亩，年产干茶一百二十吨。\n\n镇上的茶叶合作社成立于2015年。",
    "bridge.txt": "青石桥建于清朝乾隆年间，全长八十六米。桥下的河流名叫清水河。\n\n2019年，县里对青石桥进行了加固。",
    "school.txt": "红星小学共有学生六百二十名，教师四十五人。学校的图书馆藏书两万册。",
}


@pytest.fixture(scope="session")
def lite(tmp_path_factory):
    """One Milvus Lite folder, kept open for the session (starting Lite takes seconds)."""
    from qa.index.milvus_store import CLIENTS

    folder = tmp_path_factory.mktemp("milvus-lite")
    uri = parse_spec(f"milvus:{folder}")[0]
    CLIENTS.get(uri, True)
    yield folder
    CLIENTS.release(uri)


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, body in DOCS.items():
        (folder / name).write_text(body, encoding="utf-8")
    return folder


@pytest.fixture
def spec(lite, request) -> str:
    return f"milvus:{lite}?name={request.node.name.replace('[', '_').replace(']', '')[:30]}"


@pytest.fixture
def counted(monkeypatch):
    """The texts the embedding model encodes."""
    seen = []
    original = embedding.encode_passages

    def encode(model, texts, *args, **kwargs):
        seen.extend(texts)
        return original(model, texts, *args, **kwargs)

    monkeypatch.setattr(embedding, "encode_passages", encode)
    return seen


def rows(engine: QA, collection: str, source: str) -> int:
    store = engine.store
    return len(store._client.query(store.names[collection], filter=f'source == "{source}"', output_fields=["id"]))


QUESTIONS = ["云雾镇共有多少亩茶园？", "青石桥全长多少米？", "红星小学有多少名教师？", "桥下的河流叫什么名字？"]


@pytest.mark.slow  # loads the encoder and opens Milvus Lite
def test_round_trip_answers_as_the_local_store_does(tmp_path, docs, spec):
    milvus = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES, store=spec)
    local = QA(docs=docs, index_dir=tmp_path / "index", settings=RULES, store="local")
    assert milvus.info()["store"] == "milvus" and local.info()["store"] == "local"
    assert milvus.sources == sorted(DOCS) and sorted(local.sources) == sorted(DOCS)
    assert milvus.info()["chunks"] == local.info()["chunks"]
    for q in QUESTIONS:
        got, want = milvus.candidate(q), local.candidate(q)
        assert (got.source, got.start, got.end, got.quote) == (want.source, want.start, want.end, want.quote), q
        assert got.score == pytest.approx(want.score, abs=1e-3)
        assert milvus.document(got.source)[got.start : got.end] == got.quote
        assert [p.source for p in got.passages] == [p.source for p in want.passages]
    # coverage's corpus IDF comes from the terms table: the same numbers as the in-process BM25
    coverage = milvus.store.search("", "青石桥全长", np.zeros(384, np.float32), "bm25").coverage
    bm25 = local.bm25
    for text in ("青石桥建于清朝乾隆年间，全长八十六米。", "全镇共有茶园三千亩", "桥"):
        assert coverage.coverage("青石桥全长多少米", text) == pytest.approx(bm25.coverage("青石桥全长多少米", text))
    with pytest.raises(KeyError, match="No document named"):
        milvus.document("nope.txt")
    milvus.close()


@pytest.mark.slow  # loads the encoder and opens Milvus Lite
def test_changed_document_upserts_only_its_rows(tmp_path, docs, spec, counted):
    engine = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES, store=spec)
    assert "三千亩" in engine.candidate("云雾镇共有多少亩茶园？").quote
    bridge_rows = rows(engine, "chunks", "bridge.txt"), rows(engine, "units", "bridge.txt")
    before = len(counted)
    (docs / "tea.txt").write_text(DOCS["tea.txt"].replace("三千亩", "五千亩"), encoding="utf-8")
    a = engine.candidate("云雾镇共有多少亩茶园？")
    assert "五千亩" in a.quote and a.source == "tea.txt"
    changed = counted[before:]
    assert changed and all(t in DOCS["tea.txt"].replace("三千亩", "五千亩") for t in changed)  # only that file
    assert (rows(engine, "chunks", "bridge.txt"), rows(engine, "units", "bridge.txt")) == bridge_rows
    # the old version's rows are gone, not just hidden
    texts = [r["text"] for r in engine.store._client.query(engine.store.names["chunks"],
                                                           filter='source == "tea.txt"', output_fields=["text"])]
    assert texts and not any("三千亩" in t for t in texts)
    engine.close()


@pytest.mark.slow  # loads the encoder and opens Milvus Lite
def test_removed_document_is_never_quoted_again(tmp_path, docs, spec, counted):
    engine = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES, store=spec)
    assert engine.candidate("红星小学有多少名教师？").source == "school.txt"
    before = len(counted)
    (docs / "school.txt").unlink()
    for q in ("红星小学有多少名教师？", "学校的图书馆藏书多少册？"):
        a = engine.candidate(q)
        assert a.source != "school.txt" and "红星" not in a.quote
        assert all(p.source != "school.txt" for p in a.passages)
    assert len(counted) == before  # removing encodes nothing
    assert "school.txt" not in engine.sources
    assert rows(engine, "chunks", "school.txt") == rows(engine, "units", "school.txt") == 0
    assert rows(engine, "documents", "school.txt") == 0
    with pytest.raises(KeyError):
        engine.candidate("红星小学有多少名教师？", only="school.txt")
    engine.close()


@pytest.mark.slow  # loads the encoder and opens Milvus Lite
def test_only_restricts_to_one_document(tmp_path, docs, spec):
    engine = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES, store=spec)
    assert engine.candidate("青石桥全长多少米？").source == "bridge.txt"
    a = engine.candidate("青石桥全长多少米？", only="tea.txt")
    assert a.source == "tea.txt" and all(p.source == "tea.txt" for p in a.passages)
    assert all(p.source == "school.txt" for p in engine.store.search(
        "教师", "教师", engine.encode("教师"), "hybrid", only="school.txt").index.chunks)
    with pytest.raises(KeyError, match="No document named 'nope.txt'"):
        engine.candidate("青石桥全长多少米？", only="nope.txt")
    engine.close()


@pytest.mark.slow  # loads the encoder and opens Milvus Lite
def test_a_reader_without_the_documents_answers_from_the_store(tmp_path, docs, spec):
    writer = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES, store=spec)
    empty = tmp_path / "empty"
    empty.mkdir()
    reader = QA(docs=empty, index_dir=tmp_path / "unused2", settings=RULES, store=spec + "&sync=off")
    assert reader.sources == sorted(DOCS)
    for q in QUESTIONS:
        got, want = reader.candidate(q), writer.candidate(q)
        assert (got.source, got.start, got.end, got.score) == (want.source, want.start, want.end, want.score)
        assert got.quote == DOCS[got.source][got.start : got.end]
    assert reader.candidate("青石桥全长多少米？").source == "bridge.txt"
    assert reader.document("bridge.txt") == DOCS["bridge.txt"]  # quoted from the text stored in Milvus
    (docs / "bridge.txt").unlink()
    writer.refresh()  # the writer removes it; the reader sees that on its next sync
    reader.store.sync(empty)
    assert "bridge.txt" not in reader.sources
    assert reader.candidate("青石桥全长多少米？").source != "bridge.txt"
    assert writer.sources == ["school.txt", "tea.txt"]  # the reader wrote nothing: its empty folder removed nothing
    writer.close(), reader.close()


@pytest.mark.slow  # loads the encoder and opens Milvus Lite
def test_milvus_hybrid_search_option(tmp_path, docs, lite):
    engine = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES,
                store=f"milvus:{lite}?fusion=milvus&name=hybrid_option")
    assert engine.store.fusion == "milvus"
    for q in QUESTIONS[:3]:
        ranked = engine.retrieve(q, k=3)
        assert ranked[0].score == pytest.approx(1.0, abs=1e-6)  # first in both rankings, normalized as fuse does
    assert engine.retrieve("青石桥全长多少米？")[0].source == "bridge.txt"
    engine.close()


@pytest.mark.slow  # loads the encoder and opens Milvus Lite
def test_restart_keeps_data(tmp_path, docs, counted):
    spec = f"milvus:{tmp_path / 'lite'}"
    first = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES, store=spec)
    want = first.candidate("青石桥全长多少米？")
    first.close()
    before = len(counted)
    again = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES, store=spec)
    assert again.build_seconds is None and len(counted) == before  # nothing encoded or written again
    got = again.candidate("青石桥全长多少米？")
    assert (got.source, got.start, got.end, got.score) == (want.source, want.start, want.end, want.score)
    again.close()


@pytest.mark.slow  # loads the encoder and opens Milvus Lite
def test_a_second_process_gets_a_clear_message(tmp_path, docs):
    folder = tmp_path / "lite"
    engine = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES, store=f"milvus:{folder}")
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    out = subprocess.run([sys.executable, "-m", "qa", "ask", "--docs", str(docs), "--store", f"milvus:{folder}",
                          "青石桥全长多少米？"], capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300)
    assert out.returncode == 1, out.stderr
    assert "open in another process" in out.stderr and "one process per data folder" in out.stderr
    assert engine.candidate("青石桥全长多少米？").source == "bridge.txt"  # the first process is unaffected
    engine.close()


@pytest.mark.slow  # loads the encoder and opens Milvus Lite
def test_a_write_that_fails_half_way_leaves_the_previous_version(tmp_path, docs, spec, monkeypatch):
    engine = QA(docs=docs, index_dir=tmp_path / "unused", settings=RULES, store=spec)
    store = engine.store
    chunks_before = rows(engine, "chunks", "tea.txt")
    client = store._client
    real_upsert = client.upsert

    def failing(collection, data, *args, **kwargs):
        if collection == store.names["documents"]:  # after the new chunks and sentences were written
            raise ConnectionError("server went away")
        return real_upsert(collection, data, *args, **kwargs)

    monkeypatch.setattr(client, "upsert", failing)
    (docs / "tea.txt").write_text(DOCS["tea.txt"].replace("三千亩", "五千亩"), encoding="utf-8")
    with pytest.raises(StoreError, match="cannot write .*server went away"):
        engine.candidate("云雾镇共有多少亩茶园？")
    monkeypatch.setattr(client, "upsert", real_upsert)
    # the new rows are in Milvus but no question reads them: the document still has its previous key
    assert rows(engine, "chunks", "tea.txt") > chunks_before
    search = store.search("云雾镇共有多少亩茶园？", "云雾镇共有多少亩茶园？", engine.encode("云雾镇共有多少亩茶园？"),
                          "hybrid")
    assert "三千亩" in search.index.documents["tea.txt"]
    assert all("五千亩" not in c.text for c in search.index.chunks)
    # the next question finishes the write
    assert "五千亩" in engine.candidate("云雾镇共有多少亩茶园？").quote
    assert rows(engine, "chunks", "tea.txt") == chunks_before
    engine.close()


# -- without Milvus running ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_is_down_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("QA_MILVUS_TIMEOUT", "2")
    uri = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(StoreError, match=f"Cannot reach the Milvus server at {uri}.*docker-compose"):
        MilvusStore(uri, Settings(), SimpleNamespace(dimension=384), None)


def test_store_specs():
    assert parse_spec("milvus:/tmp/x")[:2] == ("/tmp/x/milvus.db", True)
    assert parse_spec("http://h:19530?fusion=milvus&name=news")[2] == {"fusion": "milvus", "bm25": "engine",
                                                                        "name": "news", "sync": "on"}
    with pytest.raises(ValueError, match="Unknown store option"):
        parse_spec("milvus:/tmp/x?fusion=best")
    with pytest.raises(ValueError, match="Unknown store 'redis://x'; use one of: local, milvus:FOLDER"):
        open_store("redis://x", Path("index"), Settings(), None, None)
    with pytest.raises(ValueError, match="needs a data folder"):
        parse_spec("milvus:")
