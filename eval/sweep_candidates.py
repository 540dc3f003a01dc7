"""How many candidate sentences the cross-encoder should read (`Settings.rerank_candidates`;
README, "How the defaults were chosen"): on the tuning questions only (CMRC trial's tuning half in
the open-corpus setting, the article's dev split), for each N the share of answerable questions
with a right sentence among the first N (by the rule score), and the share whose chosen sentence
is right when the combiner is fitted on one half of the questions and applied to the other
(two folds), and the cross-encoder's time per question.

    .venv/bin/python eval/sweep_candidates.py ../shared/data/cmrc2018_trial.json eval/questions.jsonl
"""
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from qa.training.calibrate import collect
from qa.answering.combiner import fit
from qa.engine import QA
from qa.eval.questions import parse_questions, squad_questions
from qa.models.scorer import CROSS_ENCODER_DIR, load_shared
from qa.settings import PROJECT_DIR, ScorerKind, Settings

SIZES = (4, 6, 8, 10)


def main(squad_file: str, questions_file: str) -> None:
    settings = Settings(scorer=ScorerKind.RULES, rerank_candidates=max(SIZES))
    cross = load_shared(CROSS_ENCODER_DIR)  # measured for the cross-encoder (the reader: eval/sweep_reader.py)
    docs, index = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    try:
        tune = [q for q in squad_questions(Path(squad_file), 0.2, docs) if q.split == "dev"]
        groups, answerable = collect(QA(docs=str(docs), index_dir=str(index), settings=settings), tune, cross)
        ids = [q.id for q in tune]
        article = [q for q in parse_questions(Path(questions_file)) if q.split == "dev"]
        more, more_answerable = collect(QA(docs=str(PROJECT_DIR / "seeds"), index_dir=tempfile.mkdtemp(),
                                           settings=settings), article, cross)
    finally:
        shutil.rmtree(docs, ignore_errors=True)
        shutil.rmtree(index, ignore_errors=True)
    groups, answerable, ids = groups + more, answerable + more_answerable, ids + [q.id for q in article]
    fold = [zlib.crc32(i.encode()) % 2 for i in ids]
    sample = [(q.question, [c.text for c in g[0]]) for q, g in zip(tune[:50], groups[:50]) if g[0]]
    print(f"{sum(answerable)} answerable of {len(groups)} tuning questions")
    print(" N  right among N  right chosen (2-fold)  cross-encoder ms/question")
    for n in SIZES:
        cut = [(cands[:n], labels[:n]) for cands, labels in groups]
        among = np.mean([any(l) for (_, l), a in zip(cut, answerable) if a])
        chosen = []
        for f in (0, 1):
            combiner = fit([g for g, k in zip(cut, fold) if k != f and g[0]], "", {})
            for (cands, labels), a, k in zip(cut, answerable, fold):
                if k == f and a:
                    chosen.append(bool(cands) and labels[int(np.argmax(combiner.logits(cands)))])
        t0 = time.perf_counter()
        for question, texts in sample:
            cross.score(question, texts[:n])
        ms = (time.perf_counter() - t0) / len(sample) * 1000
        print(f"{n:2d}  {among:13.3f}  {np.mean(chosen):21.3f}  {ms:25.0f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
