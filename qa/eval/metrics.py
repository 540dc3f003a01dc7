"""Metric functions: pure, over plain values, no engine and no files.

What counts as a hit (`quote_hit`), where an answer is in a text (`occurrences`,
`answer_sentences`), CMRC 2018 character F1, ranking metrics (first relevant rank, recall@k,
MRR), SQuAD 2.0-style abstention (HasAns / NoAns / accuracy / balanced accuracy at a
threshold, the threshold sweep and the best threshold), percentiles and means.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from typing import Iterable, Sequence

from ..text.normalise import sentences
from ..types import Passage

MAX_QUOTE_CHARS = 150  # a "hit" must be a short quote, whatever the engine allows
RANK_DEPTH = 10  # passages retrieved per question for the ranking metrics
THRESHOLDS = tuple(round(i * 0.01, 2) for i in range(101))


def json_key(field: str) -> str:
    """The report's name of a record field: `quote_hit_at_1` is written `quote_hit@1`."""
    return re.sub(r"_at_(\d+)$", r"@\1", field)


def json_fields(record) -> dict:
    """A flat dataclass record as the report writes it, its fields named by `json_key`."""
    return {json_key(f.name): getattr(record, f.name) for f in fields(record)}


# -- hits, answer sentences, F1 ----------------------------------------------------------------


def quote_hit(quote: str, answer: str, max_chars: int = MAX_QUOTE_CHARS) -> bool:
    """The expected answer is inside a non-empty quote of at most `max_chars`."""
    return bool(quote) and bool(answer) and answer in quote and len(quote) <= max_chars


def occurrences(text: str, answer: str) -> list[tuple[int, int]]:
    """Every (start, end) span of `answer` in `text`, overlapping ones included."""
    spans, i = [], text.find(answer) if answer else -1
    while i >= 0:
        spans.append((i, i + len(answer)))
        i = text.find(answer, i + 1)
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences as (start, end), the same units the engine quotes (`qa.text.sentences`)."""
    return sentences(text)


def answer_sentence(text: str, start: int, end: int) -> str:
    """The sentence(s) of `text` covering the span [start, end): one sentence,
    or all the sentences from the first to the last the span touches."""
    covering = [(s, e) for s, e in sentence_spans(text) if s < end and start < e]
    if not covering:
        return text[start:end]
    return text[covering[0][0] : covering[-1][1]]


def answer_sentences(text: str, answer: str) -> list[str]:
    """The distinct sentences containing an occurrence of `answer`, in order."""
    found = [answer_sentence(text, s, e) for s, e in occurrences(text, answer)]
    return list(dict.fromkeys(found))


def _content_chars(text: str) -> str:
    return "".join(c for c in text if not c.isspace() and not unicodedata.category(c).startswith("P"))


def longest_common_substring(a: str, b: str) -> int:
    """Length of the longest common contiguous substring (CMRC 2018's `find_lcs`)."""
    best, prev = 0, [0] * (len(b) + 1)
    for ca in a:
        cur = [0] * (len(b) + 1)
        for j, cb in enumerate(b, start=1):
            if ca == cb:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def char_f1(prediction: str, reference: str) -> float:
    """CMRC 2018 F1: LCS-based precision/recall over non-punctuation characters."""
    pred, ref = _content_chars(prediction), _content_chars(reference)
    if not pred or not ref:
        return 0.0
    common = longest_common_substring(pred, ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


# -- ranking -----------------------------------------------------------------------------------


def passage_contains(passage: Passage, answer: str, spans: Sequence[tuple[int, int]] = ()) -> bool:
    """The passage holds the answer: as a substring of its text, or one of the
    answer's document `spans` (in the passage's source) lies in [start, end)."""
    return answer in passage.text or any(passage.start <= s and e <= passage.end for s, e in spans)


def first_relevant_rank(relevant: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant item, None if there is none."""
    return next((i for i, r in enumerate(relevant, start=1) if r), None)


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first relevant passage is in the top k."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else math.nan


def mrr(ranks: Sequence[int | None], k: int = RANK_DEPTH) -> float:
    """Mean reciprocal rank, counting ranks beyond k (or none) as 0."""
    return sum(1 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else math.nan


# -- abstention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What abstention needs to know about one question and one system."""

    answerable: bool
    hit: bool  # the candidate quote is a hit (False for unanswerable questions)
    score: float | None  # candidate confidence; None when there was no quote at all


def answered(outcome: Outcome, threshold: float | None) -> bool:
    """The quote is shown: one exists and its score reaches the threshold
    (threshold None = the system never abstains)."""
    if outcome.score is None:
        return False
    return threshold is None or outcome.score >= threshold


@dataclass(frozen=True)
class Rates:
    """SQuAD 2.0-style rates at one threshold (None where there is no question of the kind)."""

    threshold: float | None
    hasans_acc: float | None  # answerable questions answered with a hit
    noans_acc: float | None  # unanswerable questions declined
    accuracy: float | None  # both, pooled over all questions
    balanced: float | None  # the mean of the two: both kinds of error weigh the same

    def to_dict(self) -> dict:
        return asdict(self)


def abstention_rates(outcomes: Sequence[Outcome], threshold: float | None) -> Rates:
    """HasAns / NoAns / overall / balanced accuracy at one threshold."""
    has = [o for o in outcomes if o.answerable]
    no = [o for o in outcomes if not o.answerable]
    has_ok = sum(1 for o in has if o.hit and answered(o, threshold))
    no_ok = sum(1 for o in no if not answered(o, threshold))
    hasans = has_ok / len(has) if has else None
    noans = no_ok / len(no) if no else None
    return Rates(
        threshold=threshold,
        hasans_acc=hasans,
        noans_acc=noans,
        accuracy=(has_ok + no_ok) / len(outcomes) if outcomes else None,
        balanced=(hasans + noans) / 2 if has and no else (hasans if has else noans),
    )


def calibration_bins(outcomes: Sequence[Outcome], bins: int = 10) -> list[tuple[float, float, int]]:
    """Reliability diagram: per confidence bin [i/bins, (i+1)/bins), (mean confidence, share of right
    quotes, questions) over the questions that got a quote (an unanswerable question's quote is wrong)."""
    scored = [(min(o.score, 1.0 - 1e-9), o.answerable and o.hit) for o in outcomes if o.score is not None]
    out = []
    for i in range(bins):
        inside = [(p, ok) for p, ok in scored if i / bins <= p < (i + 1) / bins]
        if inside:
            out.append((sum(p for p, _ in inside) / len(inside), sum(ok for _, ok in inside) / len(inside),
                        len(inside)))
    return out


def expected_calibration_error(outcomes: Sequence[Outcome], bins: int = 10) -> float | None:
    """|confidence - share right| averaged over the reliability bins, weighted by their questions."""
    rows = calibration_bins(outcomes, bins)
    n = sum(k for _, _, k in rows)
    return sum(k * abs(p - r) for p, r, k in rows) / n if n else None


def precision_threshold(outcomes: Sequence[Outcome], target: float,
                        thresholds: Iterable[float] = THRESHOLDS) -> float | None:
    """The lowest threshold at which the shown quotes are right at least `target` of the time (None when
    no threshold reaches it)."""
    for t in sorted(thresholds):
        shown = [o for o in outcomes if answered(o, t)]
        if shown and sum(o.answerable and o.hit for o in shown) / len(shown) >= target:
            return t
    return None


def sweep_thresholds(outcomes: Sequence[Outcome], thresholds: Iterable[float] = THRESHOLDS) -> list[Rates]:
    """`abstention_rates` at every threshold, in the given order."""
    return [abstention_rates(outcomes, t) for t in thresholds]


def best_threshold(rows: Sequence[Rates], key: str = "balanced") -> Rates:
    """The sweep row with the best `key` (default: balanced accuracy, the mean of HasAns and
    NoAns, so declining a real question and answering an unanswerable one weigh the same);
    among ties, the middle of the first run of consecutive best rows (the widest margin)."""
    values = [getattr(r, key) for r in rows]
    top = max(values)
    first = values.index(top)
    last = first
    while last + 1 < len(values) and values[last + 1] == top:
        last += 1
    return rows[(first + last) // 2]


# -- summaries ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, None for no values."""
    return sum(values) / len(values) if values else None
