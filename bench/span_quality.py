"""How well the answer span inside the quote (`Answer.span`, the reader's best span) matches the gold
answer, on the tuning questions whose quote is right: exact match and character F1 (the best over the
accepted answers), and how often a span is given at all. Open-corpus setting of
`python -m qa eval --squad`; the tuning half only (or the article's dev split with --questions).

    .venv/bin/python bench/span_quality.py --squad ../shared/data/cmrc2018_trial.json
    .venv/bin/python bench/span_quality.py --questions eval/questions.jsonl
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from qa import QA
from qa.eval.metrics import char_f1
from qa.eval.questions import parse_questions, squad_questions


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--squad", type=Path, default=None)
    p.add_argument("--questions", type=Path, default=None)
    p.add_argument("--holdout", type=float, default=0.2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as i:
        docs, index = Path(d), Path(i)
        if args.squad:
            questions = squad_questions(args.squad, args.holdout, docs)
            engine = QA(docs=str(docs), index_dir=str(index))
        else:
            questions = parse_questions(args.questions)
            engine = QA(index_dir=str(index))
        questions = [q for q in questions if q.split == "dev" and q.answerable]
        given, exact, f1, right = [], [], [], 0
        for q in questions:
            a = engine.candidate(q.question)
            if not q.hit(a.quote):
                continue
            right += 1
            given.append(a.span is not None)
            if a.span is not None:
                golds = (q.answer, *q.alternatives)
                exact.append(any(a.span.text.strip() == g.strip() for g in golds))
                f1.append(max(char_f1(a.span.text, g) for g in golds))
        name = (args.squad or args.questions).name
        print(f"{name}: {len(questions)} answerable tuning questions, {right} with a right quote")
        print(f"  span given {np.mean(given):.3f}; exact match {np.mean(exact):.3f}, character F1 {np.mean(f1):.3f}"
              f" (over the {len(exact)} spans)")


if __name__ == "__main__":
    main()
