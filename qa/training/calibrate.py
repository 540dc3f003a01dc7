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
import pickle
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..settings import DEFAULT_THRESHOLDS, DEFAULT_UNSURE_THRESHOLDS, PROJECT_DIR, ScorerKind, Settings

ANSWERED_PRECISION = 0.95  # shown answers must be right this often over the tuning sets together


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--squad", type=Path, nargs="*", default=[], help="SQuAD-format files (their tuning part is used)")
    p.add_argument("--holdout", type=float, default=0.2, help="share of paragraphs withheld (unanswerable)")
    p.add_argument("--questions", type=Path, default=None,
                   help="also the dev split of this question file over --docs (e.g. eval/questions.jsonl)")
    p.add_argument("--docs", type=Path, default=PROJECT_DIR / "seeds", help="documents of --questions")
    p.add_argument("--c", type=float, default=1.0, help="inverse regularisation of the logistic combiner")
    p.add_argument("--near-misses", type=float, default=0.0,
                   help="near-miss questions (a subject swapped for another of the same document) to add, as a "
                        "share of the tuning questions (0: none)")
    p.add_argument("--out", type=Path, default=None, help="write the combiner here (default: the shipped file)")
    p.add_argument("--candidates", type=Path, default=None,
                   help="keep the candidates read here (pickle) and, when the file exists, refit from it instead of "
                        "reading the tuning questions again (the same reader only)")


def collect(engine, questions, reader) -> tuple[list, list[bool]]:
    """(candidates with logits, labels) per question (no candidates: both empty), and whether each
    question is answerable."""
    from tqdm import tqdm

    groups, answerable = [], []
    for q in tqdm(questions, desc="candidates", file=sys.stderr):
        cands = engine.features(q.question, reader)  # the candidates the reader scored
        groups.append((cands, [q.hit(c.text) for c in cands]))
        answerable.append(q.answerable)
    return groups, answerable


def near_misses(questions, documents: dict[str, str], seed: int = 0) -> list:
    """Unanswerable questions made from answerable ones: one subject the question names (a person,
    place, organisation or year; `answer_type.subjects`) swapped for another subject of the same kind
    that its own document names, so the document still matches the question's words but no longer
    answers it ("海雀村有多少名党员？" from a question about the county)."""
    import random

    from ..answering.answer_type import subjects
    from ..eval.questions import Question, QuestionType
    from ..text.normalise import fold

    rng = random.Random(seed)
    by_doc: dict[str, tuple[str, ...]] = {}

    def kind(name: str) -> str:
        return "year" if name.endswith("年") and name[:-1].isdigit() else name[-1] if name[-1] in "村乡镇县市省州区" \
            else "name"

    out = []
    for q in questions:
        if not q.answerable:
            continue
        source = q.source if q.source in documents else next(iter(documents))
        if source not in by_doc:
            by_doc[source] = tuple(n for line in fold(documents[source]).split("。") for n in subjects(line))
        asked = fold(q.question)
        mine = [n for n in subjects(asked) if n in fold(documents[source])]
        if not mine:
            continue
        name = rng.choice(mine)
        others = sorted({n for n in by_doc[source] if kind(n) == kind(name) and n not in asked and name not in n})
        if not others:
            continue
        swapped = asked.replace(name, rng.choice(others), 1)
        out.append(Question(f"{q.id}-swap", swapped, None, QuestionType.UNANSWERABLE, q.split, source=source))
    rng.shuffle(out)  # a share of them is taken from the front: not only the first documents'
    return out


def outcomes_of(combiner, groups: list, answerable: list[bool]) -> list:
    """Each question's `Outcome` under `combiner` (no candidates: declined at every threshold)."""
    from ..eval.metrics import Outcome

    out = []
    for (cands, labels), has in zip(groups, answerable):
        if not cands:
            out.append(Outcome(has, False, None))
            continue
        j, probability = combiner.choose(cands)
        out.append(Outcome(has, bool(labels[j]), probability))
    return out


def choose_thresholds(combiner, sets: dict[str, tuple[list, list[bool]]]) -> tuple[float, float, dict]:
    """The answer threshold — the lowest at which shown answers are right `ANSWERED_PRECISION` of the
    time over the tuning sets together (per set, a small set's one wrong answer would decide it) — and
    the unsure threshold — the best mean balanced accuracy (HasAns and NoAns) over the tuning sets, so
    that no domain dominates; each set's rates at both."""
    from ..eval.metrics import Rates, abstention_rates, best_threshold, precision_threshold, sweep_thresholds

    outs = {name: outcomes_of(combiner, groups, answerable) for name, (groups, answerable) in sets.items()}
    sweeps = {name: sweep_thresholds(o) for name, o in outs.items()}
    rows = [Rates(rs[0].threshold, None, None, None, float(np.mean([r.balanced for r in rs if r.balanced is not None])))
            for rs in zip(*sweeps.values())]
    unsure = float(best_threshold(rows).threshold)
    wanted = precision_threshold([o for out in outs.values() for o in out], ANSWERED_PRECISION)
    answer = max(unsure, 1.0 if wanted is None else wanted)

    def precision(o, t):
        shown = [x for x in o if x.score is not None and x.score >= t]
        return round(sum(x.answerable and x.hit for x in shown) / len(shown), 3) if shown else None

    rates = {}
    for name, o in outs.items():
        a, u = abstention_rates(o, answer), abstention_rates(o, unsure)
        rates[name] = {"hasans": a.hasans_acc, "noans": a.noans_acc, "precision": precision(o, answer),
                       "hasans_or_unsure": u.hasans_acc, "noans_below_unsure": u.noans_acc}
    return answer, unsure, rates


def run(args) -> int:
    from ..answering.combiner import scorer_fingerprint

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    if args.candidates and args.candidates.exists():
        with args.candidates.open("rb") as f:
            kept = pickle.load(f)
        if kept["scorer"] != scorer_fingerprint():
            log(f"error: {args.candidates} was read with another answer scorer; delete it to read again")
            return 2
        sets = kept["sets"]
    else:
        sets = read_sets(args, log)
        if args.candidates:
            with args.candidates.open("wb") as f:
                pickle.dump({"scorer": scorer_fingerprint(), "sets": sets}, f)
    return fit_and_report(sets, args, t0, log)


def read_sets(args, log) -> dict[str, tuple[list, list[bool]]]:
    """Each tuning set's candidates (read by the shipped reader) and labels, by the set's name."""
    from .. import QA
    from ..eval.questions import parse_questions, squad_questions
    from ..models.loader import load_reader

    reader = load_reader()
    settings = Settings(scorer=ScorerKind.RULES)  # the combiner being fitted does not exist yet
    sets: dict[str, tuple[list, list[bool]]] = {}
    for path in args.squad:
        docs, index = Path(tempfile.mkdtemp(prefix="qa-cal-docs-")), Path(tempfile.mkdtemp(prefix="qa-cal-idx-"))
        try:
            tune = [q for q in squad_questions(path, args.holdout, docs) if q.split == "dev"]
            texts = {f.name: f.read_text(encoding="utf-8") for f in docs.glob("*.txt")}
            swapped = near_misses(tune, texts)[: int(args.near_misses * len(tune))]
            log(f"{path.name}: {len(tune)} tuning questions, {len(swapped)} near misses; building the index ...")
            engine = QA(docs=str(docs), index_dir=str(index), settings=settings)
            sets[f"{path.name} tuning part ({len(tune)} questions + {len(swapped)} near misses, holdout "
                 f"{args.holdout})"] = collect(engine, tune + swapped, reader)
        finally:
            shutil.rmtree(docs, ignore_errors=True)
            shutil.rmtree(index, ignore_errors=True)
    if args.questions:
        dev = [q for q in parse_questions(args.questions) if q.split == "dev"]
        index = Path(tempfile.mkdtemp(prefix="qa-cal-idx-"))
        try:
            engine = QA(docs=str(args.docs), index_dir=str(index), settings=settings)
            texts = {d: engine.document(d) for d in engine.sources}
            swapped = near_misses(dev, texts)[: int(args.near_misses * len(dev))]
            sets[f"{args.questions.name} dev split ({len(dev)} questions + {len(swapped)} near misses)"] = collect(
                engine, dev + swapped, reader)
        finally:
            shutil.rmtree(index, ignore_errors=True)
    return sets


def fit_and_report(sets: dict[str, tuple[list, list[bool]]], args, t0: float, log) -> int:
    """Fit the combiner on every set's candidates, choose both thresholds, save and print them."""
    from ..answering.combiner import VERIFIER_FEATURES, fit, scorer_fingerprint

    groups = [g for groups_, _ in sets.values() for g in groups_ if g[0]]
    if not groups:
        log("error: no tuning questions (give --squad and/or --questions)")
        return 2
    answerable = [labels for _, labels in groups if any(labels)]
    log(f"{len(answerable)} of {len(groups)} tuning questions have a right sentence among their candidates")
    combiner = fit(groups, scorer_fingerprint(), {"data": list(sets), "c": args.c,
                                                  "seconds": round(time.perf_counter() - t0)}, c=args.c)
    threshold, unsure, rates = choose_thresholds(combiner, sets)
    combiner = replace(combiner, fitted=combiner.fitted | {"threshold": threshold, "unsure_threshold": unsure,
                                                           "at_threshold": rates})
    combiner.save(*([args.out] if args.out else []))
    log(f"fitted on {len(groups)} questions in {time.perf_counter() - t0:.0f} s; wrote the combiner")
    for name, w in zip(combiner.to_dict()["features"], combiner.coef):
        log(f"  {name:>14} {w:+.3f}")
    log("  verifier:")
    for name, w in zip(VERIFIER_FEATURES, combiner.verifier):
        log(f"  {name:>18} {w:+.3f}")
    log(f"answer threshold {threshold:.2f} (shown answers right >= {ANSWERED_PRECISION} over the tuning sets), "
        f"unsure threshold {unsure:.2f} (best mean balanced accuracy):")
    for name, r in rates.items():
        log(f"  {name}: {r}")
    if threshold != DEFAULT_THRESHOLDS[ScorerKind.LEARNED]:
        log(f"set DEFAULT_THRESHOLDS[ScorerKind.LEARNED] = {threshold:.2f} in qa/settings.py")
    if unsure != DEFAULT_UNSURE_THRESHOLDS[ScorerKind.LEARNED]:
        log(f"set DEFAULT_UNSURE_THRESHOLDS[ScorerKind.LEARNED] = {unsure:.2f} in qa/settings.py")
    return 0
