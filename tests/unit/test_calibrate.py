"""`python -m qa calibrate --candidates FILE`: the candidates read once are kept, and a second run refits
from them — the same combiner — without reading a question again."""
import argparse
import random

import pytest

from qa.answering.combiner import Combiner
from qa.answering.quoting import Candidate
from qa.training import calibrate


def synthetic_sets(seed: int = 0) -> dict:
    rng = random.Random(seed)

    def cand(right: bool) -> Candidate:
        x = rng.gauss(1.0 if right else -1.0, 1.0)
        return Candidate(unit=0, text="句子。", cosine=0.5 + x / 10, dense=0.5, coverage=0.5 + x / 5, prior=1.0,
                         typed=right, focus=False, consistent=True, paragraph_coverage=0.5, role=False,
                         lexical=True, english=False, rule=x, reader=3 * x)

    groups, answerable = [], []
    for i in range(60):
        has = i % 4 != 0
        labels = [has and k == 0 for k in range(3)]
        groups.append(([cand(label) for label in labels], labels))
        answerable.append(has)
    return {"synthetic tuning set": (groups, answerable)}


def args_for(tmp_path, out_name: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    calibrate.add_arguments(p)
    return p.parse_args(["--out", str(tmp_path / out_name), "--candidates", str(tmp_path / "cands.pkl")])


def test_candidates_kept_by_one_run_refit_the_same_combiner_without_reading_again(tmp_path, monkeypatch):
    reads = []
    monkeypatch.setattr(calibrate, "read_sets", lambda args, log: reads.append(1) or synthetic_sets())
    assert calibrate.run(args_for(tmp_path, "first.json")) == 0
    assert reads == [1] and (tmp_path / "cands.pkl").exists()
    assert calibrate.run(args_for(tmp_path, "second.json")) == 0
    assert reads == [1]  # the second run read no question
    first, second = Combiner.load(tmp_path / "first.json"), Combiner.load(tmp_path / "second.json")
    assert first.coef == pytest.approx(second.coef) and first.verifier == pytest.approx(second.verifier)
    assert first.fitted["threshold"] == second.fitted["threshold"]


def test_candidates_read_with_another_reader_are_refused(tmp_path, monkeypatch):
    import pickle

    (tmp_path / "cands.pkl").write_bytes(pickle.dumps({"scorer": "0" * 16, "sets": synthetic_sets()}))
    monkeypatch.setattr(calibrate, "read_sets", lambda args, log: pytest.fail("must not read"))
    assert calibrate.run(args_for(tmp_path, "c.json")) == 2
    assert not (tmp_path / "c.json").exists()
