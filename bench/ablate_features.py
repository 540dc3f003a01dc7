"""Which combiner features earn their place (README, "The learned answer scorer"): on the tuning
questions only (CMRC trial's tuning half in the open-corpus setting, the article's dev split), with
the shipped model and settings, the two-fold figures of `bench/sweep_reader.py` for all features and
for each feature left out.

    .venv/bin/python -m bench.ablate_features ../shared/data/cmrc2018_trial.json eval/questions.jsonl
"""
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

from sweep_reader import two_fold

from qa.training.calibrate import collect
from qa.answering.combiner import FEATURES
from qa.engine import QA
from qa.eval.questions import parse_questions, squad_questions
from qa.models.loader import load_reader
from qa.settings import PROJECT_DIR, ScorerKind, Settings


def main(squad_file: str, questions_file: str) -> None:
    settings = Settings(scorer=ScorerKind.RULES)
    model = load_reader()
    docs, index, article_index = (Path(tempfile.mkdtemp()) for _ in range(3))
    try:
        tune = [q for q in squad_questions(Path(squad_file), 0.2, docs) if q.split == "dev"]
        article = [q for q in parse_questions(Path(questions_file)) if q.split == "dev"]
        sets = {"cmrc": collect(QA(docs=str(docs), index_dir=str(index), settings=settings), tune, model),
                "article": collect(QA(docs=str(PROJECT_DIR / "seeds"), index_dir=str(article_index),
                                      settings=settings), article, model)}
    finally:
        for d in (docs, index, article_index):
            shutil.rmtree(d, ignore_errors=True)
    folds = {name: [zlib.crc32(q.id.encode()) % 2 for q in qs] for name, qs in (("cmrc", tune), ("article", article))}
    n = settings.rerank_candidates
    print(f"{'features':>24}  chosen  CMRC HasAns/NoAns  article HasAns/NoAns  mean balanced")
    for label, features in [("all", FEATURES)] + [(f"without {f}", tuple(x for x in FEATURES if x != f))
                                                   for f in FEATURES]:
        r = two_fold(sets, folds, n, features)
        balanced = (sum(r["cmrc"]) + sum(r["article"])) / 4
        print(f"{label:>24}  {r['chosen']:.3f}   {r['cmrc'][0]:.3f} / {r['cmrc'][1]:.3f}      "
              f"{r['article'][0]:.3f} / {r['article'][1]:.3f}       {balanced:.3f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
