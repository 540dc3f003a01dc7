"""Quoting: pick the sentence (or two adjacent sentences) that answers the question.

Candidates are the quote units (sentences) inside the top passages. Each is scored
by how close it is in meaning (dense cosine of question and sentence) and how much
of the question's rare vocabulary it contains (IDF-weighted coverage). The same
features give the confidence that abstention thresholds. The quote is always a
slice of the cleaned document, returned with its offsets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

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
# Questions about the page itself (a headline, caption, byline) are answered by headings,
# wherever they are; such a heading gets this much extra weight.
STRUCTURE = re.compile(
    r"标题|题目|口号|配图|图片|照片|图说|系列|栏目|记者|作者|署名|谁写|"
    r"headline|title|caption|photo|picture|image|slogan|series|byline|reporter|author|who wrote",
    re.IGNORECASE,
)
HEADING_BOOST = 1.0
# Who wrote it is answered by the byline ("□ 本报记者 李学友"), a heading that names its author.
AUTHORSHIP = re.compile(r"记者|作者|署名|谁写|撰写|reporter|author|who wrote|journalist", re.IGNORECASE)
BYLINE = re.compile(r"记者|作者|通讯员|撰稿|^□")


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
           bm25: BM25Index, mode: str, settings: Settings) -> Quote | None:
    """The best quote among the units of the top passages, or None when there are none."""
    prior: dict[int, float] = {}
    top = ranking[: settings.quote_passages]
    best_score = top[0].score if top and top[0].score > 0 else 1.0
    for item in top:
        for uid in index.chunk_units[item.chunk]:
            prior[uid] = max(prior.get(uid, 0.0), item.score / best_score)
    asks_structure = bool(STRUCTURE.search(question))
    if asks_structure:
        for unit in index.units:
            if unit.heading:
                prior.setdefault(unit.id, 0.0)
    if not prior:
        return None
    ids = np.fromiter(prior, dtype=np.int64)
    zeros = np.zeros(len(ids))
    dense = scaled_cosine(unit_matrix[ids] @ query_vector, settings)
    coverage = zeros if mode == "dense" else np.array(
        [bm25.coverage(question, _text(index, index.units[i])) for i in ids])
    # English questions share no token with Chinese text: lexical evidence then means nothing.
    lexical_usable = mode != "dense" and has_cjk(question)
    if mode == "bm25":
        conf = coverage
    elif lexical_usable:
        conf = blend(dense, coverage)
    else:
        conf = dense
    lexical = coverage if lexical_usable else zeros
    semantic = zeros if mode == "bm25" else DENSE_WEIGHT * dense
    select = semantic + lexical + PRIOR_WEIGHT * np.array([prior[i] for i in ids])
    if asks_structure:
        heading = np.array([index.units[i].heading for i in ids], dtype=float)
        if AUTHORSHIP.search(question):
            # A byline matches the question as fully as a sentence containing all its words.
            heading = heading * np.array([bool(BYLINE.search(_text(index, index.units[i]))) for i in ids])
            conf = np.maximum(conf, heading * blend(dense, 1.0))
        else:
            conf = np.maximum(conf, heading * dense)
        select = select + HEADING_BOOST * heading
    j = int(np.argmax(select))
    unit = index.units[int(ids[j])]
    start, end = unit.start, unit.end
    if lexical_usable:
        start, end = _maybe_merge(question, index, unit, coverage[j], bm25, settings)
    doc = index.documents[unit.source]
    return Quote(unit.source, start, end, doc[start:end], round(float(conf[j]), 4))


def _text(index: Index, unit: Unit) -> str:
    return index.documents[unit.source][unit.start : unit.end]


def _maybe_merge(question: str, index: Index, unit: Unit, coverage: float, bm25: BM25Index,
                 settings: Settings) -> tuple[int, int]:
    """Extend the quote by one adjacent sentence of the same paragraph when it adds enough of the question."""
    doc = index.documents[unit.source]
    best = (unit.start, unit.end)
    best_cov = coverage
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
        if cov >= best_cov + MERGE_GAIN:
            best, best_cov = (start, end), cov
    return best
