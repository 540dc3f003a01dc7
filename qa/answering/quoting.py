"""Quoting: pick the sentence (or two adjacent sentences) that answers the question.

Read top to bottom:

1. `Candidate`: the typed features of one quote unit (sentence) of the top passages —
   dense cosine, IDF-weighted coverage of the question, the passage's fused rank score,
   whether it holds the kind of answer asked for (qa/answer_type.py), whether it is the
   line of a page role the question asks about (qa/layout.py).
2. `rule_score` / `rule_confidence`: the hand-weighted selection and confidence of the
   previous engine, kept as the `rules` scorer and as the first stage of `learned`.
3. `Selector`: built once per index. It collects the candidates; with the `learned`
   scorer it reranks the best `rerank_candidates` of them with the trained model — a
   (question, sentence) cross-encoder (qa/scorer.py) or a span reader that reads each
   candidate with its neighbouring sentences (qa/reader.py) — and a small logistic model
   over all features (qa/combiner.py), whose calibrated probability is the confidence.

The quote is always a slice of the cleaned document, returned with its offsets.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import answer_type
from ..text import layout
from ..index.faiss_store import Index, Unit
from ..index.lexical import BM25Index
from ..index.retrieval import Scored
from ..settings import RetrievalMode, ScorerKind, Settings
from ..text.normalise import fold, has_cjk


@dataclass(frozen=True)
class Quote:
    """A chosen span of a document and the confidence that it answers the question."""

    source: str
    start: int
    end: int
    text: str
    confidence: float
    span: tuple[int, int] | None = None  # the reader's answer inside the quote (document offsets)
    # The next-best sentences (source, start, end, text, confidence), best first, the quote's own first:
    # what a reader is pointed to when the quote is not confident enough to be the answer.
    closest: tuple[tuple[str, int, int, str, float], ...] = ()


@dataclass(frozen=True)
class Candidate:
    """Everything the scorers know about one candidate sentence for one question."""

    unit: int
    text: str
    cosine: float  # raw cosine of question and sentence vectors
    dense: float  # cosine stretched to [0, 1] (Settings.cosine_low/high)
    coverage: float  # IDF-weighted share of the question's tokens in the sentence
    prior: float  # fused score of the best passage holding it, relative to the top passage
    typed: bool  # holds the kind of answer asked for (a figure, a year, a name)
    focus: bool  # names the focus noun of the question (哪个乡 → 乡)
    consistent: bool  # its paragraph names every figure the question names
    paragraph_coverage: float  # IDF-weighted share of the question's tokens in its paragraph (0: dense mode)
    role: bool  # a line of the page role the question asks about (主标题, 配图 …)
    lexical: bool  # the question has words to look for (Chinese, or bridged from English)
    english: bool  # the question is not Chinese
    rule: float = 0.0  # the rule-based selection score
    reader: float = math.nan  # the trained model's score: the span reader's (learned only)
    span: tuple[int, int] | None = None  # the reader's best answer span in `text` (characters), when known
    # Share of the question's subjects (names of people, places, organisations; years) that the sentence
    # names, and that its paragraph names up to and including it (1.0: the question names none). A
    # quote about another subject than the one asked about (a near miss) names it nowhere.
    named: float = 1.0
    named_before: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


def scaled_cosine(cos, settings: Settings):
    """Stretch the model's useful cosine band to [0, 1]."""
    low, high = settings.cosine_low, settings.cosine_high
    return np.clip((np.asarray(cos) - low) / (high - low), 0.0, 1.0)


def rule_score(c: Candidate, mode: RetrievalMode, settings: Settings) -> float:
    """Selection score of the rule-based scorer (weights in Settings, chosen on the article's dev split)."""
    w = settings.quoting
    semantic = 0.0 if mode is RetrievalMode.BM25 else w.dense_weight * c.dense
    lexical = c.coverage if c.lexical and mode is not RetrievalMode.DENSE else 0.0
    passage = 0.0 if c.role else w.prior_weight * c.prior
    return (semantic + lexical + passage + w.role_boost * c.role + w.type_weight * c.typed
            + w.focus_weight * c.focus)


def rule_confidence(c: Candidate, mode: RetrievalMode, settings: Settings, roles: int) -> float:
    """Confidence of the rule-based scorer: blended cosine and coverage, scaled down when the sentence
    holds no answer of the asked-for kind or the question has no word in the text."""
    w = settings.quoting
    if mode is RetrievalMode.BM25:
        conf = c.coverage
    elif mode is RetrievalMode.DENSE:
        conf = c.dense
    elif c.lexical:
        conf = 0.5 * c.dense + 0.5 * c.coverage
    else:  # no word of the question occurs in the text, in any language: a cosine alone is not evidence
        conf = w.unsupported_factor * c.dense
    if c.role:
        conf = max(conf, w.role_confidence if roles == 1 else 0.5 * c.dense + 0.5 * w.role_confidence)
    if not (c.typed and c.consistent):
        conf *= w.type_penalty
    return round(float(conf), 4)


class Selector:
    """Chooses the quote among the sentences of the top passages of one index."""

    def __init__(self, index: Index, unit_matrix: np.ndarray, bm25: BM25Index, settings: Settings,
                 reader=None, combiner=None):
        self.index, self.unit_matrix, self.bm25, self.settings = index, unit_matrix, bm25, settings
        self.reader, self.combiner = reader, combiner

    # -- candidates ---------------------------------------------------------------------------

    def candidates(self, question: str, query_vector: np.ndarray, ranking: list[Scored],
                   lexical_query: str, mode: RetrievalMode,
                   only: str | None = None) -> tuple[list[Candidate], layout.Asked | None, int]:
        """Features of every unit of the top passages (and of the asked-for page lines), best rule score
        first; also what page role the question asks about and how many lines have it."""
        index, settings = self.index, self.settings
        prior: dict[int, float] = {}
        top = ranking[: settings.quote_passages]
        best = top[0].score if top and top[0].score > 0 else 1.0
        for item in top:
            for uid in index.chunk_units[item.chunk]:
                prior[uid] = max(prior.get(uid, 0.0), item.score / best)
        asked = layout.asked(question)
        of_role = set(units_of_role(index, asked, only)) if asked else set()
        for uid in of_role:
            prior.setdefault(uid, 0.0)
        if not prior:
            return [], asked, 0
        ids = np.fromiter(prior, dtype=np.int64)
        cosines = self.unit_matrix[ids] @ query_vector
        dense = scaled_cosine(cosines, settings)
        lexical = mode is not RetrievalMode.DENSE and has_cjk(lexical_query)
        expectation = answer_type.expect(question)
        english = not has_cjk(question)
        names = answer_type.subjects(fold(question)) if has_cjk(question) else ()
        out = []
        for j, uid in enumerate(ids):
            unit = index.units[int(uid)]
            t = _text(index, unit)
            folded = fold(t)  # a traditional-character document is matched in simplified characters
            paragraph = _paragraph(index, unit)
            role = int(uid) in of_role
            words = mode is not RetrievalMode.DENSE
            c = Candidate(
                unit=int(uid), text=t, cosine=float(cosines[j]), dense=float(dense[j]),
                coverage=self.bm25.coverage(lexical_query, t) if words else 0.0,
                prior=prior[int(uid)], typed=answer_type.holds(expectation, folded),
                focus=answer_type.mentions_focus(expectation, folded),
                consistent=answer_type.names_literals(expectation, fold(paragraph)),
                paragraph_coverage=self.bm25.coverage(lexical_query, paragraph) if words else 0.0,
                role=role, lexical=lexical, english=english,
                named=answer_type.named_share(names, folded),
                named_before=answer_type.named_share(names, fold(_paragraph_until(index, unit))))
            rule = rule_score(c, mode, settings)
            if role and asked.role == "section":  # a heading is chosen by how well its section answers
                rule += _section_coverage(index, self.bm25, lexical_query, c.unit)
            out.append(replace(c, rule=rule))
        out.sort(key=lambda c: -c.rule)
        return out, asked, len(of_role)

    # -- choice -------------------------------------------------------------------------------

    def choose(self, question: str, query_vector: np.ndarray, ranking: list[Scored], lexical_query: str,
               mode: RetrievalMode = RetrievalMode.HYBRID, only: str | None = None) -> Quote | None:
        """The best quote with its confidence, or None when there is no candidate (`only`: one document)."""
        found, asked, roles = self.candidates(question, query_vector, ranking, lexical_query, mode, only)
        if not found:
            return None
        if self.settings.scorer is ScorerKind.LEARNED and self.reader is not None and not found[0].role:
            ranked = self._learned(question, found, ranking)
            if not has_cjk(lexical_query):  # no word to look for in the text, in any language (as in the
                # rules): the tuning data has no such question, so the model's score alone is not evidence
                factor = self.settings.quoting.unsupported_factor
                ranked = [(c, round(p * factor, 4)) for c, p in ranked]
        else:  # the rules, and page questions (no training data asks about the page)
            ranked = [(c, rule_confidence(c, mode, self.settings, roles)) for c in found]
        best, confidence = ranked[0]
        unit = self.index.units[best.unit]
        start, end = unit.start, unit.end
        if best.lexical and not best.role:
            start, end = self._maybe_merge(lexical_query, unit, best.coverage, answer_type.expect(question))
        doc = self.index.documents[unit.source]
        span = (unit.start + best.span[0], unit.start + best.span[1]) if best.span else None
        closest = tuple((u.source, u.start, u.end, doc_text, p) for u, doc_text, p in (
            (self.index.units[c.unit], _text(self.index, self.index.units[c.unit]), p) for c, p in ranked[:3]))
        return Quote(unit.source, start, end, doc[start:end], confidence, span, closest)

    def score(self, question: str, found: list[Candidate], reader=None,
              ranking: list[Scored] | None = None) -> list[Candidate]:
        """The candidates the trained model reads, with its scores (from `reader`, default the selector's
        own scorer): a passage reader reads the paragraphs of the top `reader_passages` chunks of
        `ranking` whole and scores every sentence of them; otherwise the best `rerank_candidates` of
        `found` are read with their neighbours."""
        reader = reader or self.reader
        if ranking and getattr(getattr(reader, "config", None), "reads", "window") == "passage":
            read = self._read_passages(question, ranking, reader)
            top = [c for c in found if c.unit in read]
            if top:
                return [replace(c, reader=read[c.unit][0], span=read[c.unit][1]) for c in top]
        top = found[: self.settings.rerank_candidates]
        read = self._read(question, [c.unit for c in top], reader)  # each with its neighbours
        return [replace(c, reader=x, span=span) for c, (x, span) in zip(top, read)]

    def _read(self, question: str, units: list[int], reader) -> list[tuple[float, tuple | None]]:
        """Each unit's score and best answer span from a span reader that reads it with up to
        `reader_context` sentences of its paragraph on each side; candidates of one paragraph share a
        window when theirs overlap."""
        index, context = self.index, self.settings.reader_context
        windows: list[list[int]] = []
        for uid in sorted(units):
            lo, hi = _paragraph_neighbours(index, uid, context)
            last = windows[-1] if windows else None
            if last and last[-1] >= lo and index.units[last[0]].source == index.units[uid].source \
                    and hi - last[0] <= 2 * context + 3:
                last.extend(range(last[-1] + 1, hi + 1))
            else:
                windows.append(list(range(lo, hi + 1)))
        read = reader.read_windows(question, [[fold(_text(index, index.units[u])) for u in w] for w in windows])
        best: dict[int, tuple[float, tuple | None]] = {}
        for window, (row, spans) in zip(windows, read):
            for u, x, span in zip(window, row, spans):
                if u not in best or float(x) > best[u][0]:  # -inf (cut off) is kept until a window reads it
                    best[u] = (float(x), span)
        cut = [u for u in units if not np.isfinite(best[u][0])]  # past the token budget of a shared window
        for u, (row, spans) in zip(cut, reader.read_windows(question, [[fold(_text(index, index.units[u]))]
                                                                        for u in cut])):
            best[u] = (float(row[0]), spans[0]) if np.isfinite(row[0]) else (-30.0, None)  # no token at all
        return [best[u] for u in units]

    def _read_passages(self, question: str, ranking: list[Scored], reader) -> dict[int, tuple[float, tuple | None]]:
        """Score and best answer span of every sentence of the paragraphs that the top `reader_passages`
        chunks touch, each paragraph read whole by the reader (in strided windows when longer than one)."""
        index = self.index
        units = sorted({u for item in ranking[: self.settings.reader_passages] for u in index.chunk_units[item.chunk]})
        paragraphs: list[tuple[int, int]] = []
        for uid in units:
            if paragraphs and paragraphs[-1][0] <= uid <= paragraphs[-1][1]:
                continue
            paragraphs.append(_paragraph_neighbours(index, uid, len(index.units)))
        scores: dict[int, tuple[float, tuple | None]] = {}
        for lo, hi in paragraphs:
            got, spans = reader.read_passage(question, [fold(_text(index, index.units[u])) for u in range(lo, hi + 1)])
            for u, x, span in zip(range(lo, hi + 1), got, spans):
                scores[u] = (float(x), span) if np.isfinite(x) else (-30.0, None)  # a sentence with no token at all
        return scores

    def _learned(self, question: str, found: list[Candidate], ranking: list[Scored]) -> list[tuple[Candidate, float]]:
        """The reader-scored candidates best first, each with the probability that it is a right answer."""
        scored = self.score(question, found, ranking=ranking)
        z = self.combiner.logits(scored)
        p = self.combiner.probabilities(scored, z)
        return [(scored[j], round(float(p[j]), 4)) for j in np.argsort(-z, kind="stable")]

    def _maybe_merge(self, question: str, unit: Unit, coverage: float,
                     expectation: answer_type.Expectation) -> tuple[int, int]:
        """Extend the quote by one adjacent sentence of the same paragraph when it adds enough of the
        question, or when it holds the kind of answer asked for and the chosen sentence does not."""
        index = self.index
        doc = index.documents[unit.source]
        best = (unit.start, unit.end)
        best_cov = coverage
        lacks_answer = not answer_type.holds(expectation, fold(doc[unit.start : unit.end]))
        for nid in (unit.id - 1, unit.id + 1):
            if not 0 <= nid < len(index.units):
                continue
            other = index.units[nid]
            if other.source != unit.source:
                continue
            start, end = min(unit.start, other.start), max(unit.end, other.end)
            if end - start > self.settings.max_quote_chars or "\n" in doc[start:end]:
                continue
            cov = self.bm25.coverage(question, doc[start:end])
            completes = lacks_answer and answer_type.holds(expectation, fold(doc[other.start : other.end]))
            if cov >= best_cov + self.settings.quoting.merge_gain or (completes and best == (unit.start, unit.end)):
                best, best_cov = (start, end), cov
        return best


def units_of_role(index: Index, asked: layout.Asked, only: str | None = None) -> list[int]:
    """Ids of the lines with the asked-for role; with an ordinal (第一张, last), only that one per document."""
    by_source: dict[str, list[int]] = {}
    for uid in index.role_units.get(asked.role, ()):  # the lines of that role only, not every unit
        unit = index.units[uid]
        if only is None or unit.source == only:
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


def _paragraph_neighbours(index: Index, uid: int, n: int) -> tuple[int, int]:
    """First and last unit id of `uid` with up to `n` units of the same paragraph on each side."""
    unit = index.units[uid]
    doc = index.documents[unit.source]

    def same(a: Unit, b: Unit) -> bool:  # adjacent units of one block: no blank line between them
        return a.source == b.source and "\n\n" not in doc[min(a.end, b.end) : max(a.start, b.start)]

    lo = hi = uid
    while lo > 0 and uid - lo < n and same(index.units[lo - 1], index.units[lo]):
        lo -= 1
    while hi + 1 < len(index.units) and hi - uid < n and same(index.units[hi], index.units[hi + 1]):
        hi += 1
    return lo, hi


def _paragraph(index: Index, unit: Unit) -> str:
    """The block (paragraph, headline or caption) that `unit` belongs to."""
    doc = index.documents[unit.source]
    start = doc.rfind("\n\n", 0, unit.start)
    end = doc.find("\n\n", unit.end)
    return doc[0 if start < 0 else start + 2 : len(doc) if end < 0 else end]


def _paragraph_until(index: Index, unit: Unit) -> str:
    """The block `unit` belongs to, from its start to the end of `unit`."""
    doc = index.documents[unit.source]
    start = doc.rfind("\n\n", 0, unit.start)
    return doc[0 if start < 0 else start + 2 : unit.end]


def _text(index: Index, unit: Unit) -> str:
    return index.documents[unit.source][unit.start : unit.end]
