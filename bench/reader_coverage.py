"""How often the reader reads the right sentence at all: the share of answerable tuning questions whose
answer sentence is among the candidates the trained reader scores — the best `rerank_candidates`
sentences by the rule score (how a window reader is fed) against every sentence of the paragraphs of
the top `reader_passages` chunks (how a passage reader is fed). Open-corpus setting of
`python -m qa eval --squad`; the tuning half only.

    .venv/bin/python bench/reader_coverage.py ../shared/data/cmrc2018_trial.json [--split dev] [--limit N]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from qa import QA
from qa.eval.metrics import sentence_spans
from qa.eval.questions import squad_questions
from qa.settings import ScorerKind, Settings


def paragraph_sentences(engine: QA, source: str, start: int, end: int) -> list[str]:
    """The sentences of the paragraphs (blocks between blank lines) that [start, end) touches."""
    doc = engine.document(source)
    lo = doc.rfind("\n\n", 0, start)
    hi = doc.find("\n\n", end)
    block = doc[0 if lo < 0 else lo + 2 : len(doc) if hi < 0 else hi]
    return [block[s:e] for s, e in sentence_spans(block)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("squad", type=Path)
    p.add_argument("--split", choices=("dev", "test"), default="dev")
    p.add_argument("--holdout", type=float, default=0.2)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as i:
        docs, index = Path(d), Path(i)
        questions = [q for q in squad_questions(args.squad, args.holdout, docs)
                     if q.split == args.split and q.answerable][: args.limit]
        settings = Settings(scorer=ScorerKind.RULES)
        engine = QA(docs=str(docs), index_dir=str(index), settings=settings)
        window, passage, sizes = [], [], []
        for q in questions:
            by_rule = engine.features(q.question)[: settings.rerank_candidates]
            read = [s for p in engine.retrieve(q.question, k=settings.reader_passages)
                    for s in paragraph_sentences(engine, p.source, p.start, p.end)]
            window.append(any(q.hit(c.text) for c in by_rule))
            passage.append(any(q.hit(s) for s in read))
            sizes.append(len(set(read)))
        print(f"{len(questions)} answerable {args.split} questions of {args.squad.name}")
        print(f"  right sentence among the best {settings.rerank_candidates} by rule score: {np.mean(window):.3f}")
        print(f"  right sentence in the paragraphs of the top {settings.reader_passages} chunks: {np.mean(passage):.3f}"
              f" ({np.mean(sizes):.1f} sentences read on average)")


if __name__ == "__main__":
    main()
