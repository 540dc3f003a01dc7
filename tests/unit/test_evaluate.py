"""The evaluation harness: metric functions on hand-made cases, the strict
question-file parser, and one small end-to-end run through `run()`."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import qa.eval as ev
from qa.text import normalise as text
from qa.eval import metrics, questions as question_file
from qa.types import Passage

DATA = Path(__file__).parent.parent / "data"
PROJECT = Path(__file__).resolve().parents[2]


# -- quote hits ------------------------------------------------------------------------------


def test_empty_quote_is_no_hit_and_scores_zero_f1():
    assert not metrics.quote_hit("", "828个")
    assert metrics.char_f1("", "共创建达标党支部828个。") == 0.0


def test_quote_hit_needs_the_answer_inside_a_short_quote():
    assert metrics.quote_hit("共创建达标党支部828个，", "828个")
    assert not metrics.quote_hit("共创建达标党支部82个，", "828个")
    assert not metrics.quote_hit("共创建达标党支部828个" + "。" * 150, "828个")  # 162 chars > 150
    assert metrics.quote_hit("x" * 146 + "828个", "828个")  # exactly 150 chars


# -- answer sentences ------------------------------------------------------------------------

TEXT = "标题\n\n第一句话说了828个。“第二句，”他说。第三句；第四句！\n尾巴"


def test_sentences_end_at_stops_and_newlines_keeping_closing_quotes():
    sentences = [TEXT[s:e] for s, e in metrics.sentence_spans(TEXT)]
    assert sentences == ["标题", "第一句话说了828个。", "“第二句，”他说。", "第三句；", "第四句！", "尾巴"]


def test_answer_sentence_is_the_sentence_holding_the_answer():
    assert metrics.answer_sentences(TEXT, "828个") == ["第一句话说了828个。"]


def test_answer_spanning_two_sentences_gets_both():
    start = TEXT.index("828个。“第二")
    assert metrics.answer_sentence(TEXT, start, start + len("828个。“第二")) == "第一句话说了828个。“第二句，”他说。"
    assert metrics.answer_sentences(TEXT, "第三句；第四") == ["第三句；第四句！"]


def test_answer_sentences_cover_every_occurrence():
    text = "甲说李绍山。乙也说李绍山。"
    assert metrics.answer_sentences(text, "李绍山") == ["甲说李绍山。", "乙也说李绍山。"]
    assert metrics.answer_sentences(text, "王朝荣") == []


# -- character F1 ----------------------------------------------------------------------------


def test_f1_is_exact_for_identical_text_ignoring_punctuation_and_spaces():
    assert metrics.char_f1("共创建达标党支部828个。", "共创建达标党支部828个") == 1.0
    assert metrics.char_f1("“五个一” 长效机制", "五个一长效机制") == 1.0


def test_f1_uses_the_longest_common_substring():
    # quote "ABCD" vs reference "ABCDEFGH": LCS 4, precision 1, recall 0.5 -> F1 2/3
    assert metrics.char_f1("ABCD", "ABCDEFGH") == pytest.approx(2 / 3)
    # common characters that are not contiguous count only as their longest run
    assert metrics.char_f1("ABXCD", "ABCD") == pytest.approx(2 * (2 / 5) * (2 / 4) / (2 / 5 + 2 / 4))
    assert metrics.char_f1("甲乙丙", "丁戊己") == 0.0
    assert metrics.char_f1("。，", "。，") == 0.0  # nothing but punctuation


# -- ranking metrics -------------------------------------------------------------------------


def test_first_relevant_rank():
    assert metrics.first_relevant_rank([False, True, True]) == 2
    assert metrics.first_relevant_rank([False, False]) is None
    assert metrics.first_relevant_rank([]) is None


def test_mrr_and_recall_on_small_rankings():
    ranks = [1, 2, None, 4]
    assert metrics.mrr(ranks) == pytest.approx((1 + 0.5 + 0 + 0.25) / 4)
    assert metrics.mrr(ranks, k=3) == pytest.approx((1 + 0.5) / 4)
    assert metrics.recall_at(ranks, 1) == 0.25
    assert metrics.recall_at(ranks, 3) == 0.5
    assert metrics.recall_at(ranks, 5) == 0.75


def test_passage_contains_by_text_or_by_span():
    p = Passage("共创建达标党支部828个，", "a.txt", 100, 112, 1.0)
    assert metrics.passage_contains(p, "828个")
    assert not metrics.passage_contains(p, "175名")
    assert metrics.passage_contains(p, "175名", [(104, 108)])  # the span lies inside [start, end)
    assert not metrics.passage_contains(p, "175名", [(110, 114)])  # only partly inside


# -- abstention ------------------------------------------------------------------------------


def test_declining_an_unanswerable_question_counts_as_correct():
    outcomes = [
        metrics.Outcome(True, True, 0.9),  # answered, right
        metrics.Outcome(True, False, 0.8),  # answered, wrong quote
        metrics.Outcome(False, False, 0.3),  # no answer in the article, low score
        metrics.Outcome(False, False, None),  # no quote at all: always declined
    ]
    at_half = metrics.abstention_rates(outcomes, 0.5)
    assert at_half.to_dict() == {"threshold": 0.5, "hasans_acc": 0.5, "noans_acc": 1.0, "accuracy": 0.75, "balanced": 0.75}
    at_zero = metrics.abstention_rates(outcomes, 0.0)
    assert at_zero.noans_acc == 0.5 and at_zero.accuracy == 0.5
    assert metrics.abstention_rates(outcomes, None).noans_acc == 0.5  # never abstains


def test_score_equal_to_the_threshold_is_answered():
    assert metrics.answered(metrics.Outcome(True, True, 0.5), 0.5)
    assert not metrics.answered(metrics.Outcome(True, True, 0.49), 0.5)


def test_threshold_sweep_picks_the_obvious_best():
    # answerable hits score 0.7-0.9, unanswerable 0.1-0.3: anything in (0.3, 0.7] separates them
    outcomes = [metrics.Outcome(True, True, s) for s in (0.7, 0.8, 0.9)]
    outcomes += [metrics.Outcome(False, False, s) for s in (0.1, 0.2, 0.3)]
    rows = metrics.sweep_thresholds(outcomes)
    assert len(rows) == 101 and rows[0].threshold == 0.0 and rows[-1].threshold == 1.0
    assert rows[0].hasans_acc == 1.0 and rows[0].noans_acc == 0.0
    assert rows[-1].hasans_acc == 0.0 and rows[-1].noans_acc == 1.0
    best = metrics.best_threshold(rows)
    assert best.accuracy == 1.0 and best.balanced == 1.0
    assert 0.3 < best.threshold <= 0.7
    assert best.threshold == 0.5  # the middle of the perfect plateau 0.31..0.70


def test_best_threshold_weighs_both_kinds_of_error_the_same():
    # 9 answerable questions scoring 0.2-0.6 (all hits), 1 unanswerable scoring 0.5:
    # plain accuracy answers everything (0.9), balanced accuracy declines the unanswerable one.
    outcomes = [metrics.Outcome(True, True, s) for s in (0.2, 0.25, 0.3, 0.35, 0.4, 0.55, 0.55, 0.6, 0.6)]
    outcomes.append(metrics.Outcome(False, False, 0.5))
    rows = metrics.sweep_thresholds(outcomes)
    assert metrics.best_threshold(rows, key="accuracy").threshold <= 0.2
    best = metrics.best_threshold(rows)
    assert 0.5 < best.threshold <= 0.55 and best.noans_acc == 1.0


def test_percentile():
    assert metrics.percentile([3, 1, 2], 50) == 2
    assert metrics.percentile([0, 10], 95) == pytest.approx(9.5)
    assert metrics.percentile([], 50) is None


# -- the question file -----------------------------------------------------------------------

GOOD = {"id": "q1", "question": "赫章县共创建达标党支部多少个？", "answer": "828个", "type": "number", "split": "dev"}


def write_lines(tmp_path, *lines) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                    encoding="utf-8")
    return path


def test_the_project_question_set_parses():
    path = PROJECT / "eval" / "questions.jsonl"
    questions = question_file.parse_questions(path)
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(questions) == len(lines) > 0  # every question in the file, none dropped
    assert len({q.id for q in questions}) == len(questions)
    assert {q.split for q in questions} == {"dev", "test"}
    # Every answer is a verbatim slice of the articles the questions are about.
    articles = [text.clean(p.read_text(encoding="utf-8")) for p in text.document_paths(PROJECT / "seeds")]
    answerable = [q for q in questions if q.answerable]
    assert answerable and all(any(q.answer in a for a in articles) for q in answerable)
    assert any(not q.answerable for q in questions)
    small = question_file.parse_questions(DATA / "questions_small.jsonl")
    assert [q.answerable for q in small].count(True) == 4 and len(small) == 5


def test_blank_lines_are_skipped(tmp_path):
    path = write_lines(tmp_path, GOOD, "", dict(GOOD, id="q2", answer=None, type="unanswerable"))
    assert [(q.id, q.line) for q in question_file.parse_questions(path)] == [("q1", 1), ("q2", 3)]


@pytest.mark.parametrize("bad, message", [
    ("{not json", "invalid JSON"),
    ('["a list"]', "expected a JSON object"),
    ({k: v for k, v in GOOD.items() if k != "split"}, "missing key(s): split"),
    (dict(GOOD, source="x.txt"), "unexpected key(s): source"),
    (dict(GOOD, answer=828), "'answer' must be a string or null"),
    (dict(GOOD, answer=""), "empty 'answer'"),
    (dict(GOOD, question="  "), "empty 'question'"),
    (dict(GOOD, question=None), "'question' must be a string"),
    (dict(GOOD, id=7), "'id' must be a string"),
    (dict(GOOD, type="date"), "unknown type 'date'"),
    (dict(GOOD, split="train"), "unknown split 'train'"),
    (dict(GOOD, answer=None), "null exactly when type is 'unanswerable'"),
    (dict(GOOD, type="unanswerable"), "null exactly when type is 'unanswerable'"),
    (GOOD, "duplicate id 'q1' (first on line 1)"),
])
def test_malformed_lines_are_reported_with_their_line_number(tmp_path, bad, message):
    path = write_lines(tmp_path, GOOD, "", bad)  # the bad line is line 3
    with pytest.raises(question_file.QuestionFileError) as info:
        question_file.parse_questions(path)
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}:3: ")
    assert message in str(info.value)


def test_invalid_utf8_names_its_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + json.dumps(dict(GOOD, id="q2")).encode()[:-2] + b"\xe9\"}\n")
    with pytest.raises(question_file.QuestionFileError, match=r"latin1.jsonl:2: not valid UTF-8"):
        question_file.parse_questions(path)


def test_an_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(question_file.QuestionFileError, match="no questions"):
        question_file.parse_questions(path)


def parse_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ev.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_run_exits_2_naming_file_and_line_on_a_malformed_file(tmp_path, capsys):
    path = write_lines(tmp_path, GOOD, dict(GOOD, id="q2", split="train"))
    assert ev.run(parse_args("--questions", str(path))) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and "unknown split" in err


def test_run_exits_2_on_a_missing_file(tmp_path, capsys):
    assert ev.run(parse_args("--questions", str(tmp_path / "nope.jsonl"))) == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_unknown_systems_are_a_usage_error():
    with pytest.raises(SystemExit) as info:
        parse_args("--systems", "hybrid,gpt")
    assert info.value.code == 2
    assert parse_args("--systems", "naive, hybrid").systems == ["naive", "hybrid"]
    assert parse_args().systems is None  # resolved by run(): the article's or the SQuAD default set


# -- end to end ------------------------------------------------------------------------------


def test_report_says_when_a_baseline_is_not_beaten():
    from dataclasses import fields

    from qa.eval.report import baseline_verdicts
    from qa.eval.results import Summary

    def summary(quote_hit, noans):
        blank = {f.name: None for f in fields(Summary)}
        return Summary(**dict(blank, quote_hit_at_1=quote_hit, noans_acc=noans))

    lines = baseline_verdicts({"hybrid": summary(0.7, 0.8), "bm25": summary(0.6, 1.0), "naive": summary(0.0, 0.0)})
    assert lines[0] == "hybrid quote_hit@1 0.700: beats every baseline"
    assert "does NOT beat bm25" in lines[1]


def test_report_records_keep_the_json_names_readers_use():
    from dataclasses import fields

    from qa.eval.results import Summary
    from qa.eval.sweep import SweepRow

    assert metrics.json_key("quote_hit_at_1") == "quote_hit@1" and metrics.json_key("hasans_acc") == "hasans_acc"
    blank = Summary(**{f.name: None for f in fields(Summary)})
    assert list(blank.to_dict()) == [
        "n", "n_answerable", "n_unanswerable", "quote_hit@1", "answered_hit", "hasans_acc", "noans_acc", "accuracy",
        "answered_precision", "unsure_precision", "shown_or_unsure_hit", "ece", "contains@1", "doc@1", "hit@1", "recall@3", "recall@5", "mrr@10", "f1",
        "mean_quote_len", "verbatim_rate", "p50_ms", "p95_ms", "errors"]
    assert {"quote_hit@1", "mrr@10", "best_threshold", "best_balanced"} <= set(
        SweepRow(**{f.name: None for f in fields(SweepRow)}).to_dict())


def test_unknown_system_names_list_the_valid_ones():
    from qa.eval.systems import SystemName

    assert SystemName.from_str(" Naive ") is SystemName.NAIVE
    with pytest.raises(ValueError, match="unknown system 'gpt'; use one of: hybrid, rules, bm25, dense"):
        SystemName.from_str("gpt")
