"""`python -m qa eval` end to end on five questions: the table, the JSON and the plot."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import qa.eval as ev

pytestmark = pytest.mark.slow  # builds an index and runs the models

DATA = Path(__file__).parent.parent / "data"
PROJECT = Path(__file__).resolve().parents[2]


def parse_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ev.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_end_to_end_on_five_questions(model, tmp_path, capsys):
    out_json, out_png = tmp_path / "out" / "eval.json", tmp_path / "out" / "threshold.png"
    args = parse_args(
        "--questions", str(DATA / "questions_small.jsonl"), "--docs", str(PROJECT / "seeds"),
        "--index", str(tmp_path / "index"), "--systems", "hybrid,naive",
        "--json", str(out_json), "--plot", str(out_png),
    )
    assert ev.run(args) == 0

    table = capsys.readouterr().out
    assert "hybrid" in table and "naive" in table and "quote_hit@1" in table

    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert set(report["systems"]) == {"hybrid", "naive"}
    for name, m in report["systems"].items():
        for key in ("quote_hit@1", "answered_hit", "hasans_acc", "noans_acc", "mrr@10", "recall@3",
                    "recall@5", "hit@1", "f1", "mean_quote_len", "p50_ms", "p95_ms", "by_type", "by_split"):
            assert key in m, (name, key)
        assert m["n"] == 5 and m["n_answerable"] == 4 and m["n_unanswerable"] == 1
        assert set(m["by_split"]) == {"dev", "test"}
        assert set(m["by_type"]) == {"number", "name", "list", "english", "unanswerable"}
        assert 0 <= m["quote_hit@1"] <= 1 and m["p50_ms"] > 0
        assert m["verbatim_rate"] == 1.0  # every quote is an exact slice of its document

    hybrid, naive = report["systems"]["hybrid"], report["systems"]["naive"]
    assert hybrid["build_seconds"] > 0  # a fresh index folder: really built
    assert hybrid["threshold"] == report["settings"]["active_threshold"]
    assert len(hybrid["threshold_sweep"]["dev"]) == 101 and hybrid["best_threshold"]["chosen_on"] == "dev"
    assert naive["threshold"] is None and naive["noans_acc"] == 0.0  # never abstains
    assert naive["mean_quote_len"] > 150 and naive["quote_hit@1"] == 0.0  # whole 500-char chunks

    assert [q["id"] for q in report["questions"]] == ["s1", "s2", "s3", "s4", "s5"]
    for q in report["questions"]:
        assert {"id", "question", "answer", "type", "split"} <= set(q)
        for name in ("hybrid", "naive"):
            assert {"quote", "found", "score", "hit"} <= set(q["systems"][name])
    first = report["questions"][0]["systems"]["hybrid"]
    assert first["hit"] and "828个" in first["quote"]  # the easiest question of the set

    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
