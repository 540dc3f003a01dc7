"""How often the reader reads the right sentence at all: the share of answerable tuning questions whose
answer sentence is among the candidates the trained reader scores — the best `rerank_candidates`
sentences by the rule score (how a window reader is fed) against every sentence of the paragraphs of
the top `reader_passages` chunks (how a passage reader is fed). Open-corpus setting of
`python -m qa eval --squad`; the tuning half only.

    .venv/bin/python bench/reader_coverage.py ../shared/data/cmrc2018_trial.json [--split dev] [--limit N]
"""
import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from qa import QA
from qa.eval.questions import squad_questions
from qa.models.scorer import load_shared
from qa.settings import ScorerKind, Settings


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("squad", type=Path)
    p.add_argument("--split", choices=("dev", "test"), default="dev")
    p.add_argument("--holdout", type=float, default=0.2)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args()
    docs, index = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    try:
        questions = [q for q in squad_questions(args.squad, args.holdout, docs)
                     if q.split == args.split and q.answerable][: args.limit]
        settings = Settings(scorer=ScorerKind.RULES)
        engine = QA(docs=str(docs), index_dir=str(index), settings=settings)
        reader = load_shared()
        window, passage, sizes = [], [], []
        for q in questions:
            by_rule = engine.features(q.question)[: settings.rerank_candidates]
            read = engine.features(q.question, reader)
            window.append(any(q.hit(c.text) for c in by_rule))
            passage.append(any(q.hit(c.text) for c in read))
            sizes.append(len(read))
        print(f"{len(questions)} answerable {args.split} questions of {args.squad.name}")
        print(f"  right sentence among the best {settings.rerank_candidates} by rule score: {np.mean(window):.3f}")
        print(f"  right sentence in the paragraphs of the top {settings.reader_passages} chunks: {np.mean(passage):.3f}"
              f" ({np.mean(sizes):.1f} sentences read on average)")
    finally:
        shutil.rmtree(docs, ignore_errors=True)
        shutil.rmtree(index, ignore_errors=True)


if __name__ == "__main__":
    main()
