"""`python -m qa calibrate`: fit the learned scorer's combiner and calibration (qa/combiner.py).

Runs the engine over tuning questions only — the tuning part ("dev") of a SQuAD file in
the open-corpus setting of `python -m qa eval --squad` (withheld paragraphs give the
unanswerable questions), plus optionally the dev split of the article's question set —
collects each question's candidate sentences with their features and the trained model's
scores, labels the ones that hold an accepted answer, and fits the logistic combiner
and the Platt scaling of the chosen candidate. Then it chooses the threshold: the one with
the best mean of the balanced accuracies (HasAns and NoAns) of the tuning sets, so that no
domain dominates, and stores it with the combiner. The held-out part ("test") is never read.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..settings import DEFAULT_THRESHOLDS, PROJECT_DIR, ScorerKind, Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--squad", type=Path, nargs="*", default=[], help="SQuAD-format files (their tuning part is used)")
    p.add_argument("--holdout", type=float, default=0.2, help="share of paragraphs withheld (unanswerable)")
    p.add_argument("--questions", type=Path, default=None,
                   help="also the dev split of this question file over --docs (e.g. eval/questions.jsonl)")
    p.add_argument("--docs", type=Path, default=PROJECT_DIR / "seeds", help="documents of --questions")
    p.add_argument("--c", type=float, default=1.0, help="inverse regularisation of the logistic combiner")


def collect(engine, questions, cross) -> tuple[list, list[bool]]:
    """(candidates with logits, labels) per question (no candidates: both empty), and whether each
    question is answerable."""
    from tqdm import tqdm

    groups, answerable = [], []
    for q in tqdm(questions, desc="candidates", file=sys.stderr):
        cands = engine.features(q.question, cross)  # the candidates the reader scored
        groups.append((cands, [q.hit(c.text) for c in cands]))
        answerable.append(q.answerable)
    return groups, answerable


def choose_threshold(combiner, sets: dict[str, tuple[list, list[bool]]]) -> tuple[float, dict]:
    """The threshold with the best mean balanced accuracy over the tuning sets, and each set's
    HasAns / NoAns there. A question without candidates is declined at every threshold."""
    from ..eval.metrics import Outcome, Rates, best_threshold, sweep_thresholds

    sweeps = {}
    for name, (groups, answerable) in sets.items():
        outcomes = []
        for (cands, labels), has in zip(groups, answerable):
            if not cands:
                outcomes.append(Outcome(has, False, None))
                continue
            j, probability = combiner.choose(cands)
            outcomes.append(Outcome(has, bool(labels[j]), probability))
        sweeps[name] = sweep_thresholds(outcomes)
    rows = [Rates(rs[0].threshold, None, None, None, float(np.mean([r.balanced for r in rs if r.balanced is not None])))
            for rs in zip(*sweeps.values())]
    best = best_threshold(rows)
    at = {name: next(r for r in rs if r.threshold == best.threshold) for name, rs in sweeps.items()}
    return float(best.threshold), {name: {"hasans": r.hasans_acc, "noans": r.noans_acc} for name, r in at.items()}


def run(args) -> int:
    from .. import QA
    from ..answering.combiner import fit, scorer_fingerprint
    from ..eval.questions import parse_questions, squad_questions
    from ..models.scorer import load_shared

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    cross = load_shared()
    settings = Settings(scorer=ScorerKind.RULES)  # the combiner being fitted does not exist yet
    sets: dict[str, tuple[list, list[bool]]] = {}
    for path in args.squad:
        docs, index = Path(tempfile.mkdtemp(prefix="qa-cal-docs-")), Path(tempfile.mkdtemp(prefix="qa-cal-idx-"))
        try:
            tune = [q for q in squad_questions(path, args.holdout, docs) if q.split == "dev"]
            log(f"{path.name}: {len(tune)} tuning questions; building the index ...")
            engine = QA(docs=str(docs), index_dir=str(index), settings=settings)
            sets[f"{path.name} tuning part ({len(tune)} questions, holdout {args.holdout})"] = collect(
                engine, tune, cross)
        finally:
            shutil.rmtree(docs, ignore_errors=True)
            shutil.rmtree(index, ignore_errors=True)
    if args.questions:
        dev = [q for q in parse_questions(args.questions) if q.split == "dev"]
        index = Path(tempfile.mkdtemp(prefix="qa-cal-idx-"))
        try:
            engine = QA(docs=str(args.docs), index_dir=str(index), settings=settings)
            sets[f"{args.questions.name} dev split ({len(dev)} questions)"] = collect(engine, dev, cross)
        finally:
            shutil.rmtree(index, ignore_errors=True)
    groups = [g for groups_, _ in sets.values() for g in groups_ if g[0]]
    if not groups:
        log("error: no tuning questions (give --squad and/or --questions)")
        return 2
    answerable = [labels for _, labels in groups if any(labels)]
    log(f"{len(answerable)} of {len(groups)} tuning questions have a right sentence among their candidates")
    combiner = fit(groups, scorer_fingerprint(), {"data": list(sets), "c": args.c,
                                                  "seconds": round(time.perf_counter() - t0)}, c=args.c)
    threshold, rates = choose_threshold(combiner, sets)
    combiner = replace(combiner, fitted=combiner.fitted | {"threshold": threshold, "at_threshold": rates})
    combiner.save()
    log(f"fitted on {len(groups)} questions in {time.perf_counter() - t0:.0f} s; wrote the combiner")
    for name, w in zip(combiner.to_dict()["features"], combiner.coef):
        log(f"  {name:>14} {w:+.3f}")
    log(f"  platt a={combiner.platt[0]:.3f} b={combiner.platt[1]:.3f}")
    log(f"threshold {threshold:.2f} (best mean balanced accuracy of the tuning sets): "
        + "; ".join(f"{name}: HasAns {r['hasans']} NoAns {r['noans']}" for name, r in rates.items()))
    if threshold != DEFAULT_THRESHOLDS[ScorerKind.LEARNED]:
        log(f"set DEFAULT_THRESHOLDS[ScorerKind.LEARNED] = {threshold:.2f} in qa/settings.py")
    return 0
