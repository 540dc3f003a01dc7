"""How should the engine read with the span reader (docs/models.md, "Why the span reader replaced the
cross-encoder")?

On the tuning questions only (CMRC trial's tuning half in the open-corpus setting, the article's
dev split), for the span reader with 0, 1 and 2 sentences of context on each side, and for the first 4 or 6 candidates: the share of answerable questions
whose chosen sentence is right, and HasAns / NoAns per set at the threshold of best mean balanced
accuracy — all two-fold (combiner and threshold fitted on one half of the questions, applied to
the other), so no figure is measured on what it was fitted on — and the model's time per question.

    .venv/bin/python -m bench.sweep_reader ../shared/data/cmrc2018_trial.json eval/questions.jsonl \
        [READER_DIR, default qa/models/answer-scorer]

(The table in docs/models.md also has a row for the retired cross-encoder, measured by this script at
the commit docs/models.md names.)
"""
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from qa.training.calibrate import choose_thresholds, collect
from qa.answering.combiner import FEATURES, fit
from qa.engine import QA
from qa.eval.questions import parse_questions, squad_questions
from qa.models.base import SCORER_DIR
from qa.models.loader import load_reader
from qa.settings import PROJECT_DIR, ScorerKind, Settings

SIZES = (4, 6)
CONTEXTS = (0, 1, 2)
TIMED = 40  # questions per set timed for the model's cost


def two_fold(sets: dict, folds: dict, n: int, features=FEATURES) -> dict:
    """Right-chosen share and per-set HasAns / NoAns, each question judged by the fold it was not fitted on."""
    cut = {name: ([(c[:n], l[:n]) for c, l in groups], answerable) for name, (groups, answerable) in sets.items()}
    chosen, rates = [], {name: {"has": [], "no": []} for name in sets}
    for f in (0, 1):
        train = {name: ([g for g, k in zip(groups, folds[name]) if k != f],
                        [a for a, k in zip(answerable, folds[name]) if k != f]) for name, (groups, answerable) in cut.items()}
        combiner = fit([g for groups, _ in train.values() for g in groups if g[0]], "", {}, features=features)
        _, threshold, _ = choose_thresholds(combiner, train)
        for name, (groups, answerable) in cut.items():
            for (cands, labels), a, k in zip(groups, answerable, folds[name]):
                if k != f:
                    continue
                if not cands:
                    rates[name]["has" if a else "no"].append(not a)
                    continue
                j, p = combiner.choose(cands)
                if a:
                    chosen.append(bool(labels[j]))
                    rates[name]["has"].append(bool(labels[j]) and p >= threshold)
                else:
                    rates[name]["no"].append(p < threshold)
    out = {"chosen": np.mean(chosen)}
    for name, r in rates.items():
        out[name] = (np.mean(r["has"]), np.mean(r["no"]))
    return out


def main(squad_file: str, questions_file: str, reader_dir: str = str(SCORER_DIR)) -> None:
    docs, cmrc_index, article_index = (Path(tempfile.mkdtemp()) for _ in range(3))
    try:
        tune = [q for q in squad_questions(Path(squad_file), 0.2, docs) if q.split == "dev"]
        article = [q for q in parse_questions(Path(questions_file)) if q.split == "dev"]
        questions = {"cmrc": tune, "article": article}
        folds = {name: [zlib.crc32(q.id.encode()) % 2 for q in qs] for name, qs in questions.items()}
        models = [("span reader", Path(reader_dir), CONTEXTS)]
        print(f"{len(tune)} CMRC tuning questions, {len(article)} article dev questions")
        print(f"{'model':>14} ctx  N  chosen  CMRC HasAns/NoAns  article HasAns/NoAns  ms/question")
        for label, folder, contexts in models:
            model = load_reader(folder)
            for context in contexts:
                settings = Settings(scorer=ScorerKind.RULES, rerank_candidates=max(SIZES),
                                    reader_context=context if context is not None else 0)
                engines = {"cmrc": QA(docs=str(docs), index_dir=str(cmrc_index), settings=settings),
                           "article": QA(docs=str(PROJECT_DIR / "seeds"), index_dir=str(article_index),
                                         settings=settings)}
                sets = {name: collect(engines[name], questions[name], model) for name in questions}
                timing = {}
                for n in SIZES:
                    timing[n] = []
                    for name, engine in engines.items():
                        for q, (cands, _) in list(zip(questions[name], sets[name][0]))[:TIMED]:
                            if cands:
                                t0 = time.perf_counter()
                                engine.selector.score(q.question, cands[:n], model)
                                timing[n].append(time.perf_counter() - t0)
                for n in SIZES:
                    r = two_fold(sets, folds, n)
                    ctx = "-" if context is None else str(context)
                    print(f"{label:>14} {ctx:>3} {n:2d}  {r['chosen']:.3f}   {r['cmrc'][0]:.3f} / {r['cmrc'][1]:.3f}"
                          f"      {r['article'][0]:.3f} / {r['article'][1]:.3f}       "
                          f"{np.median(timing[n]) * 1000:5.0f}", flush=True)
    finally:
        for d in (docs, cmrc_index, article_index):
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
