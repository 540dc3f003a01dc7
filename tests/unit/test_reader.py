"""The span reader: windows are tokenized sentence by sentence with each sentence's token range
known, and a sentence's score is its best answer span against the no-answer score (training it:
tests/integration/test_training.py)."""
import numpy as np
import pytest

from qa.models import reader
from qa.training import squad
from qa.models.reader import EncodedWindow, best_span, encode_window, sentence_scores


def chars(texts: list[str]) -> list[list[int]]:
    """A stand-in tokenizer: one id per character."""
    return [[ord(ch) for ch in t] for t in texts]


def test_each_sentence_gets_the_token_range_of_its_own_pieces():
    w = encode_window(chars, (0, 2), "谁？", ["甲乙。", "丙。"], max_length=64)
    q = len(reader.QUERY_PREFIX + "谁？")
    first = 1 + q + 2 + len(reader.PASSAGE_PREFIX)
    assert w.spans == ((first, first + 3), (first + 3, first + 5))
    assert [chr(i) for i in w.ids[first : first + 5]] == list("甲乙。丙。")
    assert w.ids[0] == 0 and w.ids[-1] == 2


def test_a_sentence_past_the_token_budget_is_cut_or_left_out():
    w = encode_window(chars, (0, 2), "谁？", ["甲" * 10, "乙" * 10, "丙"], max_length=40)
    assert len(w.ids) <= 40
    (a0, a1), (b0, b1), (c0, c1) = w.spans
    assert a1 - a0 == 10 and 0 < b1 - b0 < 10 and (c0, c1) == (0, 0)


def test_best_span_starts_before_it_ends_and_stays_short():
    start = np.array([0.0, 5.0, 0.0, 0.0])
    end = np.array([9.0, 0.0, 0.0, 1.0])
    assert best_span(start, end, 0, 4) == pytest.approx(9.0)  # start 0 + end 0, not start 1 + end 0
    assert best_span(start, end, 1, 4) == pytest.approx(6.0)  # start 1 + end 3
    assert best_span(start, end, 1, 4, longest=2) == pytest.approx(5.0)  # end 3 is too far from start 1
    assert best_span(start, end, 2, 2) == -np.inf


def test_a_sentence_scores_against_the_windows_no_answer_logits():
    w = EncodedWindow(ids=(0, 7, 7, 7, 2), spans=((1, 2), (2, 4)))
    logits = np.array([[1.0, 1.0], [0.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    assert sentence_scores(logits, w).tolist() == pytest.approx([-2.0, 3.0])


def test_windows_read_at_the_same_time_score_as_one_after_another():
    """Settings.reader_threads: each window keeps its own scores, in the order asked."""
    import threading
    import time

    def run(ids, mask):  # a stand-in model: logits from the ids, slower for short windows
        time.sleep(0.02 if ids.shape[1] < 30 else 0.0)
        x = (ids % 7).astype(np.float32)[..., None]
        return np.concatenate([x, -x], axis=-1)

    windows = [["甲" * n, "乙丙。"] for n in (2, 30, 5, 40)]
    one = reader.SpanReader(run, chars, (0, 2), 1, 128, threads=1).score_windows("谁？", windows)
    many = reader.SpanReader(run, chars, (0, 2), 1, 128, threads=3)
    before = threading.active_count()
    both = many.score_windows("谁？", windows)
    assert [x.tolist() for x in both] == [x.tolist() for x in one]
    assert threading.active_count() > before, "the windows were read on other threads"


def test_a_near_miss_question_names_something_its_window_does_not():
    import random

    from qa.training.train import near_miss

    window = "北京市有大学92所。"
    pool = {"ns": ["上海", "北京市"]}
    changed = near_miss("北京市有多少所大学？", window, pool, random.Random(0))
    assert changed == "上海有多少所大学？"  # the place the window names, swapped for one it does not
    figure = near_miss("2014年有多少个贫困村？", "2014年有贫困村100个。", {}, random.Random(0))
    assert figure is not None and "2014" not in figure and figure.endswith("年有多少个贫困村？")
    assert near_miss("有多少所大学？", window, pool, random.Random(0)) is None  # nothing to swap


def test_a_sentence_cut_off_in_a_shared_window_is_read_alone_with_its_span():
    """A candidate past the token budget of the window it shares gets -inf there and is read again alone
    (quoting.Selector._read); read_windows keeps a score and a span (or None) for every sentence."""
    import numpy as np

    def chars(texts):
        return [[ord(c) % 50 + 10 for c in t] for t in texts]

    def run(ids, mask):
        logits = np.zeros((ids.shape[0], ids.shape[1], 2), dtype=np.float32)
        logits[:, :, 0] = logits[:, :, 1] = -1.0
        return logits

    r = reader.SpanReader(run, chars, (0, 2), 1, 24, threads=1,
                          id_to_piece=lambda ids: ["x"] * len(ids))
    out = r.read_windows("谁？", [["一二三四五六七八九十", "甲乙丙丁戊己庚辛壬癸"]])
    scores, spans = out[0]
    assert len(scores) == 2 and len(spans) == 2 and not np.isfinite(scores[1])


def test_a_passage_longer_than_one_window_is_read_across_windows_and_the_later_span_is_found():
    """Whole-passage reading (reader.read_passage): the passage is cut into strided windows that together
    cover every sentence; an answer in a sentence only a later window holds gets that sentence's best
    score and its span as characters of the sentence."""
    answer = ord("金")

    def run(ids, mask):  # a stand-in model: a sure span on the answer's token, "no answer" elsewhere
        logits = np.full((ids.shape[0], ids.shape[1], 2), -5.0, dtype=np.float32)
        logits[:, 0, :] = 0.0
        logits[ids == answer] = 10.0
        return logits

    sentences = [f"第{i}句话在这里。" for i in range(9)] + ["奖品是一块金牌。"]
    r = reader.SpanReader(run, chars, (0, 2), 1, 40, id_to_piece=lambda ids: [chr(i) for i in ids])
    room = reader.window_room(40, len(reader.QUERY_PREFIX + "奖品是什么？"), len(reader.PASSAGE_PREFIX))
    ranges = reader.passage_windows([len(s) for s in sentences], room)
    assert len(ranges) > 1 and ranges[0][1] < len(sentences)  # the first window does not reach the answer
    assert sorted({i for lo, hi in ranges for i in range(lo, hi)}) == list(range(len(sentences)))
    scores, spans = r.read_passage("奖品是什么？", sentences)
    assert int(np.argmax(scores)) == len(sentences) - 1 and scores[-1] > 0 > scores[0]
    s, e = spans[-1]
    assert sentences[-1][s:e] == "金"
