"""Quoting: pick the sentence (or two adjacent sentences) that answers the question.

Candidates are the quote units (sentences) inside the top passages. Each is scored
by how close it is in meaning (dense cosine of question and sentence), how much of
the question's rare vocabulary it contains (IDF-weighted coverage), and whether it
holds the kind of answer asked for (qa/answer_type.py). The same features give the
confidence that abstention thresholds. Questions about the page itself are answered
by the line of that layout role (qa/layout.py). The quote is always a slice of the
cleaned document, returned with its offsets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import answer_type, layout
from .index import Index, Unit
from .lexical import BM25Index
from .retrieval import Scored
from .settings import Settings
from .text import has_cjk

# Sentence choice = DENSE_WEIGHT * scaled cosine + coverage + PRIOR_WEIGHT * passage rank score.
# Weights from a grid search on the dev split (README, "How the defaults were chosen").
DENSE_WEIGHT = 0.5
PRIOR_WEIGHT = 1.0
MERGE_GAIN = 0.1  # coverage a neighbouring sentence must add to be quoted too
# Questions about the page itself (主标题, 第一张配图, 作者 …) are answered by the lines of that
# layout role (qa/layout.py) wherever they are: such a line outweighs any sentence.
ROLE_BOOST = 2.0
# A sentence holding the kind of answer asked for (a figure for 多少, a name for 谁) is preferred;
# when the chosen one holds none, or misses a figure the question names, confidence is scaled down.
TYPE_WEIGHT = 0.5
FOCUS_WEIGHT = 0.2
TYPE_PENALTY = 0.5
UNSUPPORTED_FACTOR = 0.5


@dataclass(frozen=True)
class Quote:
    """A chosen span of a document and the confidence that it answers the question."""

    source: str
    start: int
    end: int
    text: str
    confidence: float


def scaled_cosine(cos: np.ndarray | float, settings: Settings):
    """Stretch the model's useful cosine band to [0, 1]."""
    low, high = settings.cosine_low, settings.cosine_high
    return np.clip((np.asarray(cos) - low) / (high - low), 0.0, 1.0)


def blend(dense, coverage):
    """Hybrid confidence: scaled cosine and query coverage weigh the same."""
    return 0.5 * dense + 0.5 * coverage


def choose(question: str, query_vector: np.ndarray, ranking: list[Scored], index: Index, unit_matrix: np.ndarray,
           bm25: BM25Index, mode: str, settings: Settings, lexical_query: str | None = None) -> Quote | None:
    """The best quote among the units of the top passages, or None when there are none.

    `lexical_query` is what coverage is measured with: the question itself, or for an
    English question the Chinese words the cross-lingual bridge found for it.
    """
    lexical_query = question if lexical_query is None else lexical_query
    prior: dict[int, float] = {}
    top = ranking[: settings.quote_passages]
    best_score = top[0].score if top and top[0].score > 0 else 1.0
    for item in top:
        for uid in index.chunk_units[item.chunk]:
            prior[uid] = max(prior.get(uid, 0.0), item.score / best_score)
    asked = layout.asked(question)
    of_role = _units_of_role(index, asked) if asked else []
    for uid in of_role:
        prior.setdefault(uid, 0.0)
    if not prior:
        return None
    ids = np.fromiter(prior, dtype=np.int64)
    zeros = np.zeros(len(ids))
    texts = [_text(index, index.units[i]) for i in ids]
    dense = scaled_cosine(unit_matrix[ids] @ query_vector, settings)
    coverage = zeros if mode == "dense" else np.array([bm25.coverage(lexical_query, t) for t in texts])
    # An English question the bridge found no Chinese words for has no lexical evidence.
    lexical_usable = mode != "dense" and has_cjk(lexical_query)
    if mode == "bm25":
        conf = coverage
    elif lexical_usable:
        conf = blend(dense, coverage)
    elif mode == "hybrid":
        # No word of the question occurs in the text, in any language: the cosine alone is not
        # evidence (short sentences sit close to any input, "{{7*7}}" included).
        conf = UNSUPPORTED_FACTOR * dense
    else:
        conf = dense
    lexical = coverage if lexical_usable else zeros
    semantic = zeros if mode == "bm25" else DENSE_WEIGHT * dense
    of_asked_role = np.isin(ids, of_role).astype(float)
    # Passage rank says nothing about which heading a page question means: it counts for sentences only.
    passage = PRIOR_WEIGHT * np.array([prior[i] for i in ids]) * (1.0 - of_asked_role)
    select = semantic + lexical + passage + ROLE_BOOST * of_asked_role
    if of_role:
        if asked.role == "section":  # a section heading is chosen by how well its section answers
            select = select + of_asked_role * np.array([_section_coverage(index, bm25, lexical_query, i) for i in ids])
        # The one line of that role (the title, the first caption) answers the question outright;
        # among several, it matches as fully as a sentence holding all the question's words.
        conf = np.maximum(conf, of_asked_role * (1.0 if len(of_role) == 1 else blend(dense, 1.0)))
    expectation = answer_type.expect(question)
    typed = np.array([answer_type.holds(expectation, t) for t in texts], dtype=float)
    focus = np.array([answer_type.mentions_focus(expectation, t) for t in texts], dtype=float)
    select = select + TYPE_WEIGHT * typed + FOCUS_WEIGHT * focus
    j = int(np.argmax(select))
    unit = index.units[int(ids[j])]
    consistent = typed[j] and answer_type.names_literals(expectation, _paragraph(index, unit))
    if not consistent:
        conf = conf * TYPE_PENALTY
    start, end = unit.start, unit.end
    if lexical_usable:
        start, end = _maybe_merge(lexical_query, index, unit, coverage[j], bm25, settings, expectation)
    doc = index.documents[unit.source]
    return Quote(unit.source, start, end, doc[start:end], round(float(conf[j]), 4))


def _units_of_role(index: Index, asked: layout.Asked) -> list[int]:
    """Ids of the lines with the asked-for role; with an ordinal (第一张, last), only that one per document."""
    by_source: dict[str, list[int]] = {}
    for unit in index.units:
        if unit.role == asked.role:
            by_source.setdefault(unit.source, []).append(unit.id)
    if not asked.ordinal:
        return [uid for ids in by_source.values() for uid in ids]
    n = asked.ordinal - 1 if asked.ordinal > 0 else asked.ordinal
    return [ids[n] for ids in by_source.values() if -len(ids) <= n < len(ids)]


def _section_coverage(index: Index, bm25: BM25Index, question: str, uid: int) -> float:
    """How much of the question the section under heading `uid` covers (heading to next heading)."""
    heading = index.units[uid]
    end = heading.end
    for unit in index.units[uid + 1 :]:
        if unit.source != heading.source or unit.heading:
            break
        end = unit.end
    return bm25.coverage(question, index.documents[heading.source][heading.start : end])


def _paragraph(index: Index, unit: Unit) -> str:
    """The block (paragraph, headline or caption) that `unit` belongs to."""
    doc = index.documents[unit.source]
    start = doc.rfind("\n\n", 0, unit.start)
    end = doc.find("\n\n", unit.end)
    return doc[0 if start < 0 else start + 2 : len(doc) if end < 0 else end]


def _text(index: Index, unit: Unit) -> str:
    return index.documents[unit.source][unit.start : unit.end]


def _maybe_merge(question: str, index: Index, unit: Unit, coverage: float, bm25: BM25Index,
                 settings: Settings, expectation: answer_type.Expectation) -> tuple[int, int]:
    """Extend the quote by one adjacent sentence of the same paragraph when it adds enough of the
    question, or when it holds the kind of answer asked for and the chosen sentence does not
    ("…考上自己心仪的大学。" then "…搬迁户娄刚…" for 那个年轻人叫什么)."""
    doc = index.documents[unit.source]
    best = (unit.start, unit.end)
    best_cov = coverage
    lacks_answer = not answer_type.holds(expectation, doc[unit.start : unit.end])
    for nid in (unit.id - 1, unit.id + 1):
        if not 0 <= nid < len(index.units):
            continue
        other = index.units[nid]
        if other.source != unit.source:
            continue
        start, end = min(unit.start, other.start), max(unit.end, other.end)
        if end - start > settings.max_quote_chars or "\n" in doc[start:end]:
            continue
        cov = bm25.coverage(question, doc[start:end])
        completes = lacks_answer and answer_type.holds(expectation, doc[other.start : other.end])
        if cov >= best_cov + MERGE_GAIN or (completes and best == (unit.start, unit.end)):
            best, best_cov = (start, end), cov
    return best
