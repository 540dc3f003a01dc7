"""Picking the answer sentence within its own paragraph (README, "The learned answer scorer"): for
each question of a SQuAD file whose answer lies inside one sentence, how often the top sentence of
its paragraph holds the answer, by cosine (the index's encoder), coverage with corpus-wide IDF
(over all the file's paragraphs), coverage with IDF among the paragraph's sentences (local), a
cross-encoder, and the cross-encoder + 4 x local coverage.

    .venv/bin/python eval/sentence_choice.py ../shared/data/cmrc2018_trial.json [--split dev] [--scorer DIR]
"""
import argparse
from pathlib import Path

import numpy as np

from qa import embedding, squad
from qa.eval.questions import TUNE_SHARE
from qa.lexical import BM25Index, local_coverage
from qa.scorer import SCORER_DIR, CrossScorer
from qa.train import paragraph_units


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("squad")
    p.add_argument("--split", choices=("dev", "test", "all"), default="all")
    p.add_argument("--scorer", type=Path, default=SCORER_DIR, help="a trained scorer folder (torch)")
    args = p.parse_args()
    paragraphs = squad.load(args.squad)
    corpus = BM25Index([para.context for para in paragraphs])
    encoder = embedding.load_model()
    cross = CrossScorer(embedding.ensure_default_model(), embedding.base_model_id(), args.scorer)
    right = {k: [] for k in ("cosine", "coverage (corpus IDF)", "coverage (local IDF)", "cross-encoder",
                             "cross-encoder + 4 x local")}
    for para in paragraphs:
        dev = para.split(TUNE_SHARE, salt="tune")
        if args.split != "all" and dev != (args.split == "dev"):
            continue
        units = paragraph_units(para.context)
        texts = [para.context[s:e] for s, e in units]
        if len(texts) < 2:
            continue
        vectors = encoder.passages(texts)
        for q in para.questions:
            if not q.question or not q.answers:
                continue
            a = q.answers[0]
            gold = [i for i, (s, e) in enumerate(units) if s <= a.start and a.end <= e]
            if not gold:
                continue
            local = local_coverage(q.question, texts)
            ce = cross.score(q.question, texts)
            scores = {"cosine": vectors @ encoder.queries([q.question])[0],
                      "coverage (corpus IDF)": np.array([corpus.coverage(q.question, t) for t in texts]),
                      "coverage (local IDF)": local, "cross-encoder": ce, "cross-encoder + 4 x local": ce + 4 * local}
            for name, s in scores.items():
                right[name].append(int(np.argmax(s)) == gold[0])
    print(f"{len(right['cosine'])} questions ({args.split}), scorer {args.scorer}")
    for name, hits in right.items():
        print(f"  {name:26s} {np.mean(hits):.3f}")


if __name__ == "__main__":
    main()
