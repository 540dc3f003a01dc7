"""Picking the answer sentence within its own paragraph (docs/models.md): for each question of a SQuAD
file whose answer lies inside one sentence, how often the top sentence of its paragraph holds the
answer, by cosine (the index's encoder), coverage with corpus-wide IDF (over all the file's
paragraphs), coverage with IDF among the paragraph's sentences (local), and a span reader (default:
the shipped one) that reads each sentence with up to `--context` sentences of the paragraph on each
side, or, for a reader trained on passages, the whole paragraph in strided windows.

    .venv/bin/python bench/sentence_choice.py ../shared/data/cmrc2018_trial.json [--split dev]
        [--reader DIR] [--limit N]
"""
import argparse
from pathlib import Path

import numpy as np

from qa.eval.questions import TUNE_SHARE
from qa.index.lexical import BM25Index, local_coverage
from qa.models import embedding
from qa.models.base import SCORER_DIR
from qa.models.loader import load_encoder
from qa.models.torch_run import TorchReader
from qa.training import squad
from qa.training.train import paragraph_units


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("squad")
    p.add_argument("--split", choices=("dev", "test", "all"), default="all")
    p.add_argument("--reader", type=Path, default=SCORER_DIR, help="a trained span reader folder (torch)")
    p.add_argument("--context", type=int, default=2, help="sentences on each side the reader reads")
    p.add_argument("--limit", type=int, default=None, help="stop after this many questions")
    args = p.parse_args()
    paragraphs = squad.load(args.squad)
    corpus = BM25Index([para.context for para in paragraphs])
    encoder = load_encoder()
    model_dir, label = embedding.ensure_default_model(), embedding.base_model_id()
    reader = TorchReader(model_dir, label, args.reader)
    names = ["cosine", "coverage (corpus IDF)", "coverage (local IDF)", "span reader", "span reader + 4 x local"]
    right = {k: [] for k in names}
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
            scores = {"cosine": vectors @ encoder.queries([q.question])[0],
                      "coverage (corpus IDF)": np.array([corpus.coverage(q.question, t) for t in texts]),
                      "coverage (local IDF)": local}
            if reader.config.reads == "passage":  # the whole paragraph, in strided windows
                read = reader.read_passage(q.question, texts)[0]
                scores |= {"span reader": read, "span reader + 4 x local": read + 4 * local}
            else:
                c = args.context
                windows = [texts[max(0, i - c) : i + c + 1] for i in range(len(texts))]
                rows = reader.score_windows(q.question, windows)
                read = np.array([row[i - max(0, i - c)] for i, row in enumerate(rows)])
                scores |= {"span reader": read, "span reader + 4 x local": read + 4 * local}
            for name, s in scores.items():
                right[name].append(int(np.argmax(s)) == gold[0])
            if args.limit and len(right["cosine"]) >= args.limit:
                break
        if args.limit and len(right["cosine"]) >= args.limit:
            break
    print(f"{len(right['cosine'])} questions ({args.split}), reader {args.reader}")
    for name, hits in right.items():
        print(f"  {name:26s} {np.mean(hits):.3f}")


if __name__ == "__main__":
    main()
