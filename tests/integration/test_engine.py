"""The answer engine: text repair, chunks, index life cycle, fusion, quotes, abstention, bad input."""
from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path

import pytest

import qa
from qa.text import chunking, normalise as text
from qa.index import faiss_store as index_mod, retrieval
from qa.engine import QA
from qa.types import AnswerKind
from qa.index.retrieval import Scored

PROJECT = Path(__file__).resolve().parents[2]
SEED = PROJECT / "seeds" / "hezhang-poverty-alleviation.txt"

TEA = """普洱茶专题

云岭县今年新建茶园三万亩，茶农人均增收四千二百元。

该县邀请了十二名制茶师傅驻村指导，培训茶农五百余人次。
"""


@pytest.fixture
def docs(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    shutil.copy(SEED, d / SEED.name)
    return d


# -- text repair --------------------------------------------------------------------------------

def test_repair_joins_mid_sentence_breaks_and_keeps_every_character():
    raw = SEED.read_text(encoding="utf-8")
    cleaned = text.clean(raw)
    for joined in ("第一书记李绍山", "尽锐出战", "精准扶贫、精准脱贫", "10万亩农业保险", "文正友说。"):
        assert joined in cleaned
    assert re.sub(r"\s", "", cleaned) == re.sub(r"\s", "", raw)


def test_headlines_byline_and_captions_stay_their_own_blocks():
    blocks = text.clean(SEED.read_text(encoding="utf-8")).split("\n\n")
    for unit in ("八年攻坚 奋楫争先", "□ 本报记者 李学友", "大党建统领大扶贫", "赫章县城金银山街道移民安置点"):
        assert unit in blocks


def test_document_offsets_refer_to_the_cleaned_text(seed_engine):
    doc = seed_engine.document(SEED.name)
    a = seed_engine.answer("赫章县共创建达标党支部多少个？")
    assert doc[a.start:a.end] == a.quote and "828个" in a.quote


def test_sentences_keep_closing_quotes():
    s = "他说：“好。”然后走了。"
    assert [s[a:b] for a, b in text.sentences(s)] == ["他说：“好。”", "然后走了。"]


# -- chunks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("size,overlap", [(200, 40), (120, 0), (500, 100)])
def test_every_chunk_is_a_slice_of_its_document(size, overlap):
    docs = text.load_documents(PROJECT / "seeds")
    chunks = chunking.split_documents(docs, size, overlap)
    by_source = {d.source: d.text for d in docs}
    assert chunks and all(by_source[c.source][c.start:c.end] == c.text for c in chunks)
    assert all(len(c.text) <= size for c in chunks)
    assert [c.id for c in chunks] == list(range(len(chunks)))
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    doc = by_source[SEED.name]
    assert all(i in covered for i, ch in enumerate(doc) if not ch.isspace())


# -- fusion -------------------------------------------------------------------------------------

def test_fusion_rewards_agreement_and_respects_the_weight():
    dense = [Scored(1, 0.9), Scored(2, 0.8), Scored(3, 0.7)]
    bm25 = [Scored(3, 9.0), Scored(1, 5.0)]
    fused = retrieval.fuse(dense, bm25, weight=0.5, rrf_k=60)
    assert fused[0].chunk == 1  # high in both rankings
    assert retrieval.fuse(dense, bm25, weight=1.0, rrf_k=60)[0].chunk == 1
    assert retrieval.fuse(dense, bm25, weight=0.0, rrf_k=60)[0].chunk == 3
    assert retrieval.fuse([Scored(7, 1)], [Scored(7, 1)], 0.5, 60)[0].score == pytest.approx(1.0)


def test_hybrid_finds_what_each_single_ranker_finds(seed_engine):
    lexical_q = "赫章县共创建达标党支部多少个？"
    english_q = "How many standard Party branches were established in Hezhang?"
    assert "828个" in seed_engine.retrieve(lexical_q, k=1, mode="hybrid")[0].text

    def first_with_answer(mode):
        hits = ["828个" in p.text for p in seed_engine.retrieve(english_q, k=5, mode=mode)]
        return hits.index(True) if True in hits else None

    # Dense carries the English question cross-lingually, BM25 the Chinese words the bridge
    # found for it (赫章, 支部): both find the passage, and so does their fusion.
    assert first_with_answer("dense") is not None and first_with_answer("bm25") is not None
    assert first_with_answer("hybrid") is not None and first_with_answer("hybrid") <= 2


# -- quotes and abstention ----------------------------------------------------------------------

QUESTIONS = ["赫章县共创建达标党支部多少个？", "选派了多少名干部担任驻村第一书记？", "How many cadres were selected?",
             "可乐猪", "２０２０年", "海雀村人均粮食有多少？"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_quote_is_always_a_verbatim_substring(seed_engine, question):
    a = seed_engine.candidate(question)
    assert a.found
    assert seed_engine.document(a.source)[a.start:a.end] == a.quote
    assert 0 < len(a.quote) <= seed_engine.settings.max_quote_chars
    assert 0.0 <= a.score <= 1.0
    assert all(seed_engine.document(p.source)[p.start:p.end] == p.text for p in a.passages)


def test_full_width_digits_find_half_width_text(seed_engine):
    a = seed_engine.candidate("６５万亩")  # a bare phrase: the quote, whatever the confidence
    assert a.found and "65万亩" in a.quote


def test_abstains_below_the_threshold_and_answers_above(seed_engine):
    from qa import AnswerKind

    question = "赫章县共创建达标党支部多少个？"
    strict = QA(index_dir=seed_engine.index_dir,
                settings=seed_engine.settings.with_(threshold=1.01, unsure_threshold=1.01))
    declined = strict.answer(question)
    assert not declined.found and declined.kind is AnswerKind.NOT_FOUND and declined.quote == ""
    assert declined.passages == () and declined.closest  # where to look instead, verbatim with offsets
    for p in declined.closest:
        assert strict.document(p.source)[p.start:p.end] == p.text
    unsure = QA(index_dir=seed_engine.index_dir, settings=seed_engine.settings.with_(threshold=1.01)).answer(question)
    assert unsure.kind is AnswerKind.UNSURE and not unsure.found and "828" in unsure.quote and unsure.closest
    lenient = QA(index_dir=seed_engine.index_dir, settings=seed_engine.settings.with_(threshold=0.5))
    shown = lenient.answer(question)
    assert shown.found and shown.kind is AnswerKind.ANSWERED and shown.closest == ()
    assert shown.span is not None and shown.span.text in shown.quote and "828" in shown.span.text


def test_the_engine_reads_with_as_many_threads_as_its_settings_say(seed_engine):
    alone = QA(index_dir=seed_engine.index_dir, settings=seed_engine.settings.with_(reader_threads=1))
    assert alone.reader._pool is None and seed_engine.reader._pool._max_workers == seed_engine.settings.reader_threads > 1
    q = "赫章县共创建达标党支部多少个？"
    assert alone.answer(q) == seed_engine.answer(q)


def test_an_unrelated_question_is_declined(seed_engine):
    a = seed_engine.answer("量子计算机的工作原理是什么？")
    assert not a.found and a.quote == ""


def test_answer_to_dict_has_exactly_the_documented_keys(seed_engine):
    d = seed_engine.answer("赫章县共创建达标党支部多少个？").to_dict()
    assert list(d) == ["found", "kind", "quote", "source", "start", "end", "score", "span", "passages", "closest",
                       "understood_as"]
    assert set(d["passages"][0]) == {"text", "source", "start", "end", "score"}
    json.dumps(d, ensure_ascii=False)


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_question_is_a_clear_value_error(seed_engine, question):
    with pytest.raises(ValueError, match="请输入问题"):
        seed_engine.answer(question)


@pytest.mark.parametrize("question, found", [
    ("赫章" * 50_000, None),  # cut to max_question_chars; either outcome is fine
    ("？？？！！", False),  # nothing to look for
    ("😀😀😀", False),
    ("\ud800赫章县", None),
    ("<script>alert(1)</script>", False),
])
def test_odd_input_gives_a_well_formed_answer(seed_engine, question, found):
    a = seed_engine.answer(question)
    assert 0.0 <= a.score <= 1.0
    if a.kind is not AnswerKind.NOT_FOUND:  # answered, or unsure: a verbatim quote either way
        assert a.quote and seed_engine.document(a.source)[a.start:a.end] == a.quote
        assert all(seed_engine.document(p.source)[p.start:p.end] == p.text for p in a.passages)
    else:
        assert a.quote == "" and a.source == "" and a.passages == ()
    assert all(seed_engine.document(p.source)[p.start:p.end] == p.text for p in a.closest)
    if found is not None:
        assert a.found is found, f"found={a.found} score={a.score} quote={a.quote!r}"


def test_many_threads_get_the_same_answers(seed_engine):
    expected = {q: seed_engine.answer(q) for q in QUESTIONS}
    results, errors = [], []

    def worker():
        try:
            for q in QUESTIONS:
                results.append(seed_engine.answer(q) == expected[q])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 8 * len(QUESTIONS) and all(results)


# -- the index on disk --------------------------------------------------------------------------

def _build_dir(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().strip()


def test_index_is_reused_when_nothing_changed(docs, tmp_path, model):
    first = QA(docs=docs, index_dir=tmp_path / "idx")
    assert first.build_seconds is not None
    second = QA(docs=docs, index_dir=tmp_path / "idx")
    assert second.build_seconds is None
    manifest = json.loads((_build_dir(tmp_path / "idx") / "manifest.json").read_text())
    assert manifest["documents"][SEED.name] and manifest["model"] and manifest["settings"]["chunk_size"]
    assert not list((tmp_path / "idx").rglob("*.pkl")) and not list((tmp_path / "idx").rglob("*.pickle"))


def test_a_new_file_is_answered_from_on_the_next_question_and_cited_by_name(docs, tmp_path, model):
    engine = QA(docs=docs, index_dir=tmp_path / "idx")
    assert "tea/yunling.txt" not in engine.sources
    (docs / "tea").mkdir()
    (docs / "tea" / "yunling.txt").write_text(TEA, encoding="utf-8")
    a = engine.answer("云岭县今年新建茶园多少亩？")
    assert a.found and a.source == "tea/yunling.txt" and "三万亩" in a.quote


def test_changed_settings_or_documents_trigger_a_rebuild(docs, tmp_path, model):
    QA(docs=docs, index_dir=tmp_path / "idx")
    s = qa.Settings().with_(chunk_size=qa.Settings().chunk_size + 50)
    assert QA(docs=docs, index_dir=tmp_path / "idx", settings=s).build_seconds is not None
    (docs / SEED.name).write_text(SEED.read_text(encoding="utf-8") + "\n\n补充一句。", encoding="utf-8")
    assert QA(docs=docs, index_dir=tmp_path / "idx", settings=s).build_seconds is not None


@pytest.mark.parametrize("damage", ["truncate", "delete", "garbage_manifest", "garbage_pointer"])
def test_corrupt_index_is_detected_and_rebuilt(docs, tmp_path, model, damage, caplog):
    idx = tmp_path / "idx"
    QA(docs=docs, index_dir=idx)
    build = _build_dir(idx)
    if damage == "truncate":
        f = build / "chunks.faiss"
        f.write_bytes(f.read_bytes()[:100])
    elif damage == "delete":
        (build / "meta.json").unlink()
    elif damage == "garbage_manifest":
        (build / "manifest.json").write_text("{not json")
    else:
        (idx / "CURRENT").write_text("../../etc")
    caplog.set_level("INFO", logger="qa.engine")
    engine = QA(docs=docs, index_dir=idx)
    assert engine.build_seconds is not None
    assert "828个" in engine.answer("赫章县共创建达标党支部多少个？").quote


def test_a_crash_mid_build_leaves_the_previous_index_usable(docs, tmp_path, model, monkeypatch):
    idx = tmp_path / "idx"
    QA(docs=docs, index_dir=idx)
    before = _build_dir(idx)
    (docs / "extra.txt").write_text(TEA, encoding="utf-8")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(index_mod, "_fsync_dir", crash)
    with pytest.raises(KeyboardInterrupt):
        QA(docs=docs, index_dir=idx)
    monkeypatch.undo()
    assert _build_dir(idx) == before
    (docs / "extra.txt").unlink()
    survivor = QA(docs=docs, index_dir=idx)
    assert survivor.build_seconds is None  # the old, complete index is still served
    assert "828个" in survivor.answer("赫章县共创建达标党支部多少个？").quote


def test_undecodable_document_is_skipped_with_a_reason(docs, tmp_path, model):
    (docs / "broken.txt").write_bytes(b"\xff\xfe\x00bad \xc3\x28")
    engine = QA(docs=docs, index_dir=tmp_path / "idx")
    assert engine.sources == [SEED.name]
    assert any("broken.txt" in s and "UTF-8" in s for s in engine.skipped)


def test_unwritable_index_folder_gives_a_clear_error(docs, tmp_path, model):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the index folder should be")
    with pytest.raises(index_mod.IndexBuildError, match="Cannot write the index"):
        QA(docs=docs, index_dir=blocker / "idx")


def test_full_disk_while_serving_keeps_answering_from_a_fresh_index(docs, tmp_path, model, monkeypatch):
    engine = QA(docs=docs, index_dir=tmp_path / "idx")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_mod, "_fsync_dir", disk_full)
    (docs / "tea.txt").write_text(TEA, encoding="utf-8")
    a = engine.answer("云岭县今年新建茶园多少亩？")  # the new file is answered from, not a stale index
    assert a.found and a.source == "tea.txt"
    assert "828个" in engine.answer("赫章县共创建达标党支部多少个？").quote


def test_an_empty_docs_folder_declines_instead_of_crashing(tmp_path, model):
    (tmp_path / "empty").mkdir()
    engine = QA(docs=tmp_path / "empty", index_dir=tmp_path / "idx")
    assert engine.info()["chunks"] == 0
    a = engine.answer("赫章县有多少个贫困村？")
    assert not a.found and a.passages == ()


NEAR_MISSES = [
    "李绍山是哪一年牺牲的？",  # the article names him, never the year
    "赫章县在上海市设立了多少个绿色农产品专柜？",  # the counter is there, no count
    "2014年赫章县的贫困发生率是多少？",  # a rate is given, not for 2014
]


# The learned scorer answers the 李绍山 one with confidence since its confidence comes from the verifier:
# the sentence naming him wins by a wide margin (docs/trust.md, "Calibration per set"; README, Limits).
@pytest.mark.parametrize("question", NEAR_MISSES[1:])
def test_near_misses_without_the_asked_for_answer_are_declined(seed_engine, question):
    a = seed_engine.answer(question)
    assert not a.found and a.quote == ""


@pytest.mark.parametrize("question", NEAR_MISSES)
def test_the_rules_scorer_declines_every_near_miss(seed_engine, question):
    # The learned scorer answers the 李绍山 one (above); the rules decline all three.
    rules = QA(index_dir=seed_engine.index_dir, settings=seed_engine.settings.with_(scorer="rules"))
    a = rules.answer(question)
    assert not a.found and a.quote == ""


@pytest.mark.parametrize("question, expected", [
    ("Which university was Lou Gang admitted to?", "西南林业大学"),
    ("What position does Wang Yongsong hold?", "乡村振兴局局长"),
    ("Since which year has Hezhang been carrying out rural dilapidated-house renovation?", "2009年"),
])
def test_english_questions_are_quoted_from_the_chinese_text(seed_engine, question, expected):
    a = seed_engine.candidate(question)
    assert expected in a.quote
    assert seed_engine.document(a.source)[a.start:a.end] == a.quote


def test_a_who_question_is_answered_by_a_sentence_naming_the_person(seed_engine):
    a = seed_engine.candidate("从山里搬进县城、今年夏天考上大学的那个年轻人叫什么？")
    assert "娄刚" in a.quote


@pytest.mark.parametrize("question, expected", [
    ("这篇赫章县脱贫攻坚盘点报道的主标题是什么？", "八年攻坚 奋楫争先"),
    ("文章开头的第一张配图拍的是什么地方？", "赫章县城金银山街道移民安置点"),
    ("最后一张配图拍的是什么？", "赫章县可乐乡村民养殖的可乐猪"),
    ("报道中讲党建工作的那一部分用的小标题是什么？", "大党建统领大扶贫"),
    ("Who wrote this report?", "李学友"),
])
def test_questions_about_the_page_are_answered_by_its_layout(seed_engine, question, expected):
    a = seed_engine.answer(question)
    assert a.found and expected in a.quote


TRADITIONAL = ("雲嶺縣茶葉發展報告\n\n雲嶺縣位於山區北部，全縣人口約二十萬。雲嶺縣的學校共有四十所。"
               "全縣今年新建茶園三萬畝，茶農人均收入增長百分之十二。雲嶺縣的交通以公路為主。")


@pytest.mark.parametrize("question", ["云岭县今年新建茶园多少亩？", "雲嶺縣今年新建茶園多少畝？"])
def test_a_document_in_traditional_characters_is_quoted_in_its_own_characters(tmp_path, model, question):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "yunling.txt").write_text(TRADITIONAL, encoding="utf-8")
    a = QA(docs=docs, index_dir=tmp_path / "idx").candidate(question)
    assert "全縣今年新建茶園三萬畝" in a.quote  # the sentence that answers, as the document writes it
    assert TRADITIONAL[a.start : a.end] == a.quote


@pytest.mark.slow
def test_warm_up_loads_the_tagger_a_first_question_about_a_person_would_wait_for():
    """The web chat warms the engine while its page loads; answers stay the same. (Every question now
    uses jieba's tagger — the subjects the question names are a feature of the combiner — so the first
    question loads it too; warm_up makes sure it is loaded before the first user.)"""
    import subprocess
    import sys

    from qa.settings import PROJECT_DIR

    code = ("import sys, qa; e = qa.QA(); q = '赫章县有多少个贫困村脱贫出列？'; before = e.answer(q).quote; "
            "loaded = 'jieba.posseg' in sys.modules; e.warm_up(); "
            "print(loaded, 'jieba.posseg' in sys.modules, e.answer(q).quote == before)")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1].split()[1:] == ["True", "True"], out.stdout
