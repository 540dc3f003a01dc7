"""Asking every question of one system, and summarising what came back.

`run_system` asks each question once and keeps a `QuestionResult` (the candidate quote, its
score, the thresholded decision, hit, retrieval rank, F1, latency); the thresholded decision
is `score >= threshold`, exactly what `QA.answer()` does. `summarize` turns the results of a
group of questions into a `Summary`; `system_report` gives one system's `SystemReport`:
overall, per type and per split, with the threshold sweep (best threshold chosen on dev).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Mapping, Sequence

from ..types import Answer
from .metrics import (Outcome, Rates, abstention_rates, answered, best_threshold, char_f1, first_relevant_rank,
                      expected_calibration_error, json_fields, mean, mrr, passage_contains, percentile, recall_at,
                      sweep_thresholds)
from .questions import Gold, Question, Split, group_by
from .systems import System


@dataclass(frozen=True)
class QuestionResult:
    """What one system did with one question."""

    quote: str  # the candidate quote ("" when there was none)
    source: str
    start: int
    end: int
    score: float
    candidate_found: bool  # a candidate quote exists (abstention ignored)
    found: bool  # the quote is shown: it exists and reaches the system's threshold
    hit: bool  # the quote holds an accepted answer and is short enough
    contains: bool  # the quote holds the expected answer, whatever its length
    doc_hit: bool | None  # the quote is from the answer's document (None: that document is not known)
    verbatim: bool  # the quote is an exact slice of its document
    rank: int | None  # rank of the first passage holding the answer
    f1: float | None  # character F1 against the answer's sentence (None: unanswerable)
    ms: float  # wall time of the candidate() call
    error: str | None  # the exception the system raised, counted as a miss

    def outcome(self, question: Question) -> Outcome:
        return Outcome(question.answerable, self.hit, self.score if self.candidate_found else None)

    def to_dict(self) -> dict:
        return asdict(self)


def run_system(system: System, questions: Sequence[Question], gold: Mapping[str, Gold],
               documents: Mapping[str, str], timed: bool = True) -> dict[str, QuestionResult]:
    """One result per question id."""
    if timed and questions:
        try:
            system.candidate(questions[0].question)  # warm-up, untimed (lazy loads, caches)
        except Exception:
            pass  # the timed call below records the error
    results = {}
    for q in questions:
        began = time.perf_counter()
        try:
            cand = system.candidate(q.question)
            error = None
        except Exception as exc:  # a crash on one question is reported, not fatal
            cand, error = Answer.not_found(), f"{type(exc).__name__}: {exc}"
        ms = (time.perf_counter() - began) * 1000
        quote = cand.quote if cand.found else ""
        outcome = Outcome(q.answerable, q.hit(quote), cand.score if cand.found else None)
        g = gold[q.id]
        rank = None
        if q.answerable:
            rank = first_relevant_rank([passage_contains(p, q.answer, g.spans.get(p.source, ()))
                                        for p in cand.passages])
        results[q.id] = QuestionResult(
            quote=quote,
            source=cand.source,
            start=cand.start,
            end=cand.end,
            score=cand.score,
            candidate_found=bool(cand.found),
            found=answered(outcome, system.threshold),
            hit=outcome.hit,
            contains=bool(q.answerable and quote and q.answer in quote),
            doc_hit=None if q.source is None or not q.answerable else cand.found and cand.source == q.source,
            verbatim=(not quote) or documents.get(cand.source, "")[cand.start : cand.end] == quote,
            rank=rank,
            f1=max((char_f1(quote, s) for s in g.sentences), default=0.0) if q.answerable else None,
            ms=ms,
            error=error,
        )
    return results


def outcomes(questions: Sequence[Question], results: Mapping[str, QuestionResult]) -> list[Outcome]:
    """What abstention needs of each question's result, in question order."""
    return [results[q.id].outcome(q) for q in questions]


@dataclass(frozen=True)
class Summary:
    """Every metric over a group of questions for one system (None where undefined);
    README and the module docstring of `qa.eval` define them."""

    n: int
    n_answerable: int
    n_unanswerable: int
    quote_hit_at_1: float | None
    answered_hit: float | None  # = hasans_acc, by definition
    hasans_acc: float | None
    noans_acc: float | None
    accuracy: float | None
    answered_precision: float | None  # share of shown quotes that are hits
    unsure_precision: float | None  # share of quotes shown as unsure (below the answer threshold) that are hits
    shown_or_unsure_hit: float | None  # answerable questions whose right quote is shown, as answered or unsure
    ece: float | None  # expected calibration error of the confidence (10 bins; a quote counts right when a hit)
    contains_at_1: float | None
    doc_at_1: float | None
    hit_at_1: float | None
    recall_at_3: float | None
    recall_at_5: float | None
    mrr_at_10: float | None
    f1: float | None
    mean_quote_len: float | None
    verbatim_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    errors: int

    def to_dict(self) -> dict:
        return json_fields(self)


def summarize(questions: Sequence[Question], results: Mapping[str, QuestionResult],
              threshold: float | None, unsure: float | None = None) -> Summary:
    """Every metric over `questions` for one system (`unsure`: its unsure threshold, if it has one)."""
    has = [q for q in questions if q.answerable]
    res = [results[q.id] for q in questions]
    has_res = [results[q.id] for q in has]
    ranks = [r.rank for r in has_res]
    quotes = [r.quote for r in res if r.quote]
    shown = [(q, results[q.id]) for q in questions if results[q.id].found]
    rates = abstention_rates(outcomes(questions, results), threshold)
    outs = outcomes(questions, results)
    low = threshold if unsure is None else unsure
    band = [o for o in outs if o.score is not None and low is not None and threshold is not None
            and low <= o.score < threshold]
    return Summary(
        n=len(questions),
        n_answerable=len(has),
        n_unanswerable=len(questions) - len(has),
        quote_hit_at_1=mean([r.hit for r in has_res]),
        answered_hit=rates.hasans_acc,
        hasans_acc=rates.hasans_acc,
        noans_acc=rates.noans_acc,
        accuracy=rates.accuracy,
        answered_precision=mean([q.answerable and r.hit for q, r in shown]),
        unsure_precision=mean([o.answerable and o.hit for o in band]),
        shown_or_unsure_hit=mean([o.hit and answered(o, low) for o in outs if o.answerable]),
        ece=expected_calibration_error(outs),
        contains_at_1=mean([r.contains for r in has_res]),
        doc_at_1=mean([r.doc_hit for r in has_res if r.doc_hit is not None]),
        hit_at_1=recall_at(ranks, 1) if ranks else None,
        recall_at_3=recall_at(ranks, 3) if ranks else None,
        recall_at_5=recall_at(ranks, 5) if ranks else None,
        mrr_at_10=mrr(ranks, 10) if ranks else None,
        f1=mean([r.f1 for r in has_res]),
        mean_quote_len=mean([len(s) for s in quotes]),
        verbatim_rate=mean([r.verbatim for r in res if r.quote]),
        p50_ms=percentile([r.ms for r in res], 50),
        p95_ms=percentile([r.ms for r in res], 95),
        errors=sum(1 for r in res if r.error),
    )


@dataclass(frozen=True)
class Breakdown:
    """A summary with the same metrics per question type."""

    summary: Summary
    by_type: Mapping[str, Summary]

    def to_dict(self) -> dict:
        return {**self.summary.to_dict(), "by_type": {t: s.to_dict() for t, s in self.by_type.items()}}


@dataclass(frozen=True)
class ChosenThreshold:
    """The best threshold of a sweep, and which questions it was chosen on."""

    rates: Rates
    chosen_on: str  # "dev", or "evaluated questions" when there is no dev question

    def to_dict(self) -> dict:
        return {**self.rates.to_dict(), "chosen_on": self.chosen_on}


@dataclass(frozen=True)
class SystemReport:
    """One system's figures: overall (its `by_type` per type) and per split; for a system that
    abstains, also the threshold sweep per split and the best threshold's rates everywhere."""

    threshold: float | None
    build_seconds: float | None
    overall: Breakdown
    by_split: Mapping[str, Breakdown]
    best_threshold: ChosenThreshold | None = None
    at_best_threshold: Mapping[str, Rates] | None = None  # "all" and each split
    threshold_sweep: Mapping[str, tuple[Rates, ...]] | None = None  # each split

    def to_dict(self) -> dict:
        d = {"threshold": self.threshold, "build_seconds": self.build_seconds, **self.overall.to_dict(),
             "by_split": {s: b.to_dict() for s, b in self.by_split.items()}}
        if self.best_threshold is not None:
            d["best_threshold"] = self.best_threshold.to_dict()
            d["at_best_threshold"] = {s: r.to_dict() for s, r in self.at_best_threshold.items()}
            d["threshold_sweep"] = {s: [r.to_dict() for r in rows] for s, rows in self.threshold_sweep.items()}
        return d


def breakdown(questions: Sequence[Question], results: Mapping[str, QuestionResult],
              threshold: float | None, unsure: float | None = None) -> Breakdown:
    """The summary of `questions` and of each question type among them."""
    return Breakdown(summarize(questions, results, threshold, unsure),
                     {t: summarize(qs, results, threshold, unsure) for t, qs in group_by(questions, "type").items()})


def system_report(system: System, questions: Sequence[Question],
                  results: Mapping[str, QuestionResult]) -> SystemReport:
    """Overall, per-type and per-split metrics, plus the threshold sweep
    (best threshold chosen on dev, its rates reported on every split)."""
    splits = group_by(questions, "split")
    report = SystemReport(
        threshold=system.threshold,
        build_seconds=system.build_seconds,
        overall=breakdown(questions, results, system.threshold, getattr(system, "unsure_threshold", None)),
        by_split={split: breakdown(qs, results, system.threshold, getattr(system, "unsure_threshold", None))
                  for split, qs in splits.items()},
    )
    if system.threshold is None:  # the naive baseline never abstains: nothing to sweep
        return report
    dev = [q for q in questions if q.split is Split.DEV]
    best = best_threshold(sweep_thresholds(outcomes(dev or questions, results)))
    return replace(
        report,
        best_threshold=ChosenThreshold(best, "dev" if dev else "evaluated questions"),
        at_best_threshold={split: abstention_rates(outcomes(qs, results), best.threshold)
                           for split, qs in [("all", questions), *splits.items()]},
        threshold_sweep={split: tuple(sweep_thresholds(outcomes(qs, results))) for split, qs in splits.items()},
    )
