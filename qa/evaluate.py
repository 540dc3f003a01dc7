"""`python -m qa eval`: measure the answer engine against a labelled question set.

Read top to bottom:

1. The question file (`eval/questions.jsonl`) and its strict parser.
2. Pure metric functions: quote hits, answer sentences, character F1, ranking
   metrics, the SQuAD 2.0-style abstention sweep, percentiles.
3. The systems compared in one run: the engine in three retrieval modes
   (`hybrid` - the product, `bm25`, `dense`) and `naive`, the tutorial baseline
   (fixed 500-character LangChain chunks, FAISS top-1 with the same embedding
   model, the whole chunk returned as the "quote", never abstains).
4. Running every system over every question and summarising per system,
   per question type and per split.
5. The optional settings sweep (chunking and fusion weight, dev split only).
6. Output: terminal tables, `--json`, `--plot`; and the command line.

Metric definitions (answerable = expected answer is a string, not null):

* quote_hit@1 - the expected answer is a substring of the quote from
  `candidate()` (abstention ignored) and the quote is at most 150 characters.
  answered_hit - the same with abstention applied (the quote must also be
  shown to the user, i.e. score >= threshold); on answerable questions this is
  by definition SQuAD 2.0's HasAns accuracy, so the two numbers coincide.
* hasans_acc / noans_acc - answerable questions answered with a hit /
  unanswerable questions declined, at the configured threshold. accuracy is
  their pooled rate over all questions. A threshold sweep (0..1, step 0.01)
  picks the threshold with the best accuracy on the dev split.
* hit@1, recall@3, recall@5, mrr@10 - rank of the first retrieved passage that
  contains the expected answer (as a substring of the passage text, or an
  occurrence of it in the document lies inside the passage's [start, end)).
* f1 - CMRC 2018 character F1 (longest common substring over characters that
  are neither punctuation nor whitespace) between the quote and the sentence of
  the cleaned document that contains the expected answer (best over
  occurrences). Sentences end at 。！？； (plus closing quote marks) or a newline.
* mean_quote_len - over questions where a quote was returned; p50_ms / p95_ms -
  wall time of one `candidate()` call (after one untimed warm-up call).
  Each question is asked once: the thresholded decision is derived as
  `score >= settings.threshold`, which is exactly what `QA.answer()` does.
* Also in --json: accuracy, answered_precision (share of shown quotes that
  are hits), contains@1 (answer in quote, any length), verbatim_rate (quotes
  equal to document[start:end]), errors (engine exceptions, counted as misses).

The index is built into a fresh temporary folder unless `--index` is given, so
`build_seconds` is a real build; with `--index` an existing index may simply be
loaded (build_seconds is then null).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from .settings import PROJECT_DIR, Settings
from .types import Answer, Passage

# ---------------------------------------------------------------------------
# 1. The question file
# ---------------------------------------------------------------------------

QUESTION_KEYS = ("id", "question", "answer", "type", "split")
TYPES = ("number", "name", "list", "paraphrase", "english", "reading", "unanswerable")
SPLITS = ("dev", "test")
# hybrid = the product (hybrid retrieval + learned scorer); rules = the same retrieval with the
# first engine's hand-weighted scorer; bm25 / dense = one ranker only (learned scorer);
# sentence-bm25 / sentence-cosine = top-1 sentence of the whole corpus; naive = tutorial RAG.
SYSTEMS = ("hybrid", "rules", "bm25", "dense", "sentence-bm25", "sentence-cosine", "naive")
DEFAULT_SYSTEMS = ("hybrid", "rules", "bm25", "dense", "naive")
SQUAD_SYSTEMS = ("hybrid", "rules", "sentence-bm25", "sentence-cosine", "naive")

MAX_QUOTE_CHARS = 150  # a "hit" must be a short quote, whatever the engine allows
RANK_DEPTH = 10  # passages retrieved per question for the ranking metrics
THRESHOLDS = tuple(round(i * 0.01, 2) for i in range(101))


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answer: str | None  # None: the article does not say
    type: str
    split: str
    line: int = 0
    alternatives: tuple[str, ...] = ()  # other accepted answers (SQuAD files list several)
    source: str | None = None  # the document that holds the answer, when known (SQuAD paragraphs)

    @property
    def answerable(self) -> bool:
        return self.answer is not None

    def hit(self, quote: str) -> bool:
        """The quote is a hit for this question: it holds an accepted answer and is short enough."""
        return self.answerable and any(quote_hit(quote, a) for a in (self.answer, *self.alternatives))


class QuestionFileError(ValueError):
    """A malformed question file; the message names the file and line."""

    def __init__(self, path: str | Path, line: int, problem: str):
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = str(path), line, problem


def parse_question(obj: object, path: str | Path, line: int) -> Question:
    """Validate one decoded JSON line."""

    def fail(problem: str):
        raise QuestionFileError(path, line, problem)

    if not isinstance(obj, dict):
        fail(f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in QUESTION_KEYS if k not in obj]
    extra = sorted(k for k in obj if k not in QUESTION_KEYS)
    if missing:
        fail(f"missing key(s): {', '.join(missing)}")
    if extra:
        fail(f"unexpected key(s): {', '.join(extra)} (allowed: {', '.join(QUESTION_KEYS)})")
    for key in ("id", "question", "type", "split"):
        if not isinstance(obj[key], str):
            fail(f"'{key}' must be a string, got {type(obj[key]).__name__}")
    if not obj["id"].strip():
        fail("empty 'id'")
    if not obj["question"].strip():
        fail("empty 'question'")
    answer = obj["answer"]
    if answer is not None and not isinstance(answer, str):
        fail(f"'answer' must be a string or null, got {type(answer).__name__}")
    if answer is not None and not answer.strip():
        fail("empty 'answer' (use null for an unanswerable question)")
    if obj["type"] not in TYPES:
        fail(f"unknown type {obj['type']!r} (expected one of: {', '.join(TYPES)})")
    if obj["split"] not in SPLITS:
        fail(f"unknown split {obj['split']!r} (expected one of: {', '.join(SPLITS)})")
    if (answer is None) != (obj["type"] == "unanswerable"):
        fail("'answer' must be null exactly when type is 'unanswerable'")
    return Question(obj["id"], obj["question"], answer, obj["type"], obj["split"], line)


def parse_questions(path: str | Path) -> list[Question]:
    """All questions of a JSON-lines file; blank lines are skipped.

    Raises QuestionFileError (naming file and line) on invalid UTF-8, bad
    JSON, missing or extra keys, wrong value types, unknown type/split, empty
    question, or a duplicate id; OSError if the file cannot be read.
    """
    questions: list[Question] = []
    first_line: dict[str, int] = {}
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QuestionFileError(path, data[: exc.start].count(b"\n") + 1, "not valid UTF-8") from None
    for line_no, raw in enumerate(text.split("\n"), start=1):  # not splitlines(): JSON may hold U+2028
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise QuestionFileError(path, line_no, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
        q = parse_question(obj, path, line_no)
        if q.id in first_line:
            raise QuestionFileError(path, line_no, f"duplicate id {q.id!r} (first on line {first_line[q.id]})")
        first_line[q.id] = line_no
        questions.append(q)
    if not questions:
        raise QuestionFileError(path, 1, "no questions in the file")
    return questions


# ---------------------------------------------------------------------------
# 2. Metric functions (pure)
# ---------------------------------------------------------------------------



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
    from .text import sentences

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


class Outcome(NamedTuple):
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


def abstention_rates(outcomes: Sequence[Outcome], threshold: float | None) -> dict:
    """SQuAD 2.0-style HasAns / NoAns / overall accuracy at one threshold."""
    has = [o for o in outcomes if o.answerable]
    no = [o for o in outcomes if not o.answerable]
    has_ok = sum(1 for o in has if o.hit and answered(o, threshold))
    no_ok = sum(1 for o in no if not answered(o, threshold))
    hasans = has_ok / len(has) if has else None
    noans = no_ok / len(no) if no else None
    return {
        "threshold": threshold,
        "hasans_acc": hasans,
        "noans_acc": noans,
        "accuracy": (has_ok + no_ok) / len(outcomes) if outcomes else None,
        # Both kinds of error weigh the same, however many questions of each kind there are.
        "balanced": (hasans + noans) / 2 if has and no else (hasans if has else noans),
    }


def sweep_thresholds(outcomes: Sequence[Outcome], thresholds: Iterable[float] = THRESHOLDS) -> list[dict]:
    """`abstention_rates` at every threshold, in the given order."""
    return [abstention_rates(outcomes, t) for t in thresholds]


def best_threshold(rows: Sequence[dict], key: str = "balanced") -> dict:
    """The sweep row with the best `key` (default: balanced accuracy, the mean of HasAns and
    NoAns, so declining a real question and answering an unanswerable one weigh the same);
    among ties, the middle of the first run of consecutive best rows (the widest margin)."""
    top = max(r[key] for r in rows)
    first = next(i for i, r in enumerate(rows) if r[key] == top)
    last = first
    while last + 1 < len(rows) and rows[last + 1][key] == top:
        last += 1
    return rows[(first + last) // 2]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ---------------------------------------------------------------------------
# 3. The systems
# ---------------------------------------------------------------------------


class EngineSystem:
    """The answer engine in one retrieval mode ("hybrid", "bm25" or "dense"), named `name`."""

    def __init__(self, engine, mode: str, name: str | None = None):
        self.engine, self.mode, self.name = engine, mode, name or mode
        self.threshold: float | None = engine.settings.active_threshold
        self.build_seconds: float | None = engine.build_seconds

    def candidate(self, question: str) -> Answer:
        """The best quote, with the top `RANK_DEPTH` passages as its ranking (one query, not two)."""
        return self.engine.candidate(question, k=RANK_DEPTH, mode=self.mode)


class SentenceBaseline:
    """The top-1 sentence (quote unit) of the whole corpus by BM25 or by cosine, with no passages
    and no reranking; its score is the sentence's query coverage (BM25) or cosine."""

    def __init__(self, engine, by: str):
        self.engine, self.by, self.name = engine, by, f"sentence-{by}"
        self.threshold = 0.5 if by == "bm25" else engine.settings.cosine_low + 0.1  # nominal; see the sweep
        self.build_seconds = None
        idx = engine.index
        self.texts = [idx.documents[u.source][u.start : u.end] for u in idx.units]
        if by == "bm25":
            from .lexical import BM25Index

            self.bm25 = BM25Index(self.texts, engine.settings.bm25_tokens)

    def candidate(self, question: str) -> Answer:
        engine, idx = self.engine, self.engine.index
        q = engine._prepare(question)
        if not self.texts:
            return Answer.not_found()
        if self.by == "bm25":
            lexical = engine._lexical_query(q, idx)
            j = int(self.bm25.scores(lexical).argmax())
            score = self.bm25.coverage(lexical, self.texts[j])
        else:
            cos = engine.unit_matrix @ engine._encode(q)
            j = int(cos.argmax())
            score = float(cos[j])
        u = idx.units[j]
        return Answer(True, self.texts[j], u.source, u.start, u.end, round(float(score), 4), ())


class NaiveRAG:
    """What a tutorial builds: RecursiveCharacterTextSplitter 500-character chunks
    (no overlap) of the cleaned documents, a FAISS IndexFlatIP over the same
    embedding model, and the whole top-1 chunk returned as the quote; it never
    abstains."""

    name = "naive"
    threshold = None

    def __init__(self, documents: dict[str, str], model, chunk_size: int = 500):
        import faiss
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from .embedding import encode_passages

        began = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=0, add_start_index=True)
        self.chunks: list[Passage] = []
        for source, text in documents.items():
            for doc in splitter.create_documents([text]):
                start = doc.metadata["start_index"]
                self.chunks.append(Passage(doc.page_content, source, start, start + len(doc.page_content), 0.0))
        vectors = encode_passages(model, [c.text for c in self.chunks])
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)
        self.model = model
        self.build_seconds = time.perf_counter() - began

    def retrieve(self, question: str, k: int) -> list[Passage]:
        from .embedding import encode_queries

        scores, ids = self.index.search(encode_queries(self.model, [question]), min(k, self.index.ntotal))
        return [replace(self.chunks[i], score=float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def candidate(self, question: str) -> Answer:
        """The whole top-1 chunk as the quote, with the top `RANK_DEPTH` chunks as the ranking."""
        top = self.retrieve(question, RANK_DEPTH)
        if not top:
            return Answer.not_found()
        p = top[0]
        return Answer(True, p.text, p.source, p.start, p.end, p.score, tuple(top))


# ---------------------------------------------------------------------------
# 4. Running and summarising
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Gold:
    """Where a question's expected answer is in the cleaned documents."""

    spans: dict[str, list[tuple[int, int]]]  # source -> occurrences
    sentences: list[str]


def locate_answers(questions: Sequence[Question], documents: dict[str, str]) -> dict[str, Gold]:
    gold = {}
    for q in questions:
        spans: dict[str, list[tuple[int, int]]] = {}
        sentences: list[str] = []
        if q.answerable:
            for source, text in documents.items():
                if found := occurrences(text, q.answer):
                    spans[source] = found
                    sentences += answer_sentences(text, q.answer)
        gold[q.id] = Gold(spans, sentences)
    return gold


def run_system(system, questions: Sequence[Question], gold: dict[str, Gold], documents: dict[str, str],
               timed: bool = True) -> dict[str, dict]:
    """One record per question id: the candidate quote, its score, the
    thresholded decision, hit, retrieval rank, F1, latency."""
    if timed and questions:
        try:
            system.candidate(questions[0].question)  # warm-up, untimed (lazy loads, caches)
        except Exception:
            pass  # the timed call below records the error
    records = {}
    for q in questions:
        began = time.perf_counter()
        try:
            cand = system.candidate(q.question)
            error = None
        except Exception as exc:  # a crash on one question is reported, not fatal
            cand, error = Answer.not_found(), f"{type(exc).__name__}: {exc}"
        ms = (time.perf_counter() - began) * 1000
        passages = cand.passages
        quote = cand.quote if cand.found else ""
        outcome = Outcome(q.answerable, q.hit(quote), cand.score if cand.found else None)
        g = gold[q.id]
        rank = None
        if q.answerable:
            rank = first_relevant_rank([passage_contains(p, q.answer, g.spans.get(p.source, ())) for p in passages])
        records[q.id] = {
            "quote": quote,
            "source": cand.source,
            "start": cand.start,
            "end": cand.end,
            "score": cand.score,
            "candidate_found": bool(cand.found),
            "found": answered(outcome, system.threshold),
            "hit": outcome.hit,
            "contains": bool(q.answerable and quote and q.answer in quote),
            "doc_hit": None if q.source is None or not q.answerable else cand.found and cand.source == q.source,
            "verbatim": (not quote) or documents.get(cand.source, "")[cand.start : cand.end] == quote,
            "rank": rank,
            "f1": max((char_f1(quote, s) for s in g.sentences), default=0.0) if q.answerable else None,
            "ms": ms,
            "error": error,
        }
    return records


def _outcome(q: Question, r: dict) -> Outcome:
    return Outcome(q.answerable, r["hit"], r["score"] if r["candidate_found"] else None)


def summarize(questions: Sequence[Question], records: dict[str, dict], threshold: float | None) -> dict:
    """Every metric over `questions` for one system (None where undefined)."""
    has = [q for q in questions if q.answerable]
    rec = [records[q.id] for q in questions]
    has_rec = [records[q.id] for q in has]
    ranks = [r["rank"] for r in has_rec]
    quotes = [r["quote"] for r in rec if r["quote"]]
    shown = [(q, records[q.id]) for q in questions if records[q.id]["found"]]
    rates = abstention_rates([_outcome(q, records[q.id]) for q in questions], threshold)
    return {
        "n": len(questions),
        "n_answerable": len(has),
        "n_unanswerable": len(questions) - len(has),
        "quote_hit@1": _mean([r["hit"] for r in has_rec]),
        "answered_hit": rates["hasans_acc"],
        "hasans_acc": rates["hasans_acc"],
        "noans_acc": rates["noans_acc"],
        "accuracy": rates["accuracy"],
        "answered_precision": _mean([q.answerable and r["hit"] for q, r in shown]),
        "contains@1": _mean([r["contains"] for r in has_rec]),
        "doc@1": _mean([r["doc_hit"] for r in has_rec if r.get("doc_hit") is not None]),
        "hit@1": recall_at(ranks, 1) if ranks else None,
        "recall@3": recall_at(ranks, 3) if ranks else None,
        "recall@5": recall_at(ranks, 5) if ranks else None,
        "mrr@10": mrr(ranks, 10) if ranks else None,
        "f1": _mean([r["f1"] for r in has_rec]),
        "mean_quote_len": _mean([len(s) for s in quotes]),
        "verbatim_rate": _mean([r["verbatim"] for r in rec if r["quote"]]),
        "p50_ms": percentile([r["ms"] for r in rec], 50),
        "p95_ms": percentile([r["ms"] for r in rec], 95),
        "errors": sum(1 for r in rec if r["error"]),
    }


def group_by(questions: Sequence[Question], key: str) -> dict[str, list[Question]]:
    order = TYPES if key == "type" else SPLITS
    groups = {k: [q for q in questions if getattr(q, key) == k] for k in order}
    return {k: v for k, v in groups.items() if v}


def system_report(system, questions: Sequence[Question], records: dict[str, dict]) -> dict:
    """Overall, per-type and per-split metrics, plus the threshold sweep
    (best threshold chosen on dev, its rates reported on every split)."""
    report = {"threshold": system.threshold, "build_seconds": system.build_seconds}
    report.update(summarize(questions, records, system.threshold))
    report["by_type"] = {t: summarize(qs, records, system.threshold) for t, qs in group_by(questions, "type").items()}
    report["by_split"] = {}
    for split, qs in group_by(questions, "split").items():
        part = summarize(qs, records, system.threshold)
        part["by_type"] = {t: summarize(g, records, system.threshold) for t, g in group_by(qs, "type").items()}
        report["by_split"][split] = part
    if system.threshold is not None:  # the naive baseline never abstains: nothing to sweep
        chosen_on = "dev" if any(q.split == "dev" for q in questions) else "evaluated questions"
        pool = [q for q in questions if q.split == "dev"] or list(questions)
        rows = sweep_thresholds([_outcome(q, records[q.id]) for q in pool])
        best = best_threshold(rows)
        report["best_threshold"] = dict(best, chosen_on=chosen_on)
        report["at_best_threshold"] = {
            split: abstention_rates([_outcome(q, records[q.id]) for q in qs], best["threshold"])
            for split, qs in [("all", questions), *group_by(questions, "split").items()]
        }
        report["threshold_sweep"] = {
            split: sweep_thresholds([_outcome(q, records[q.id]) for q in qs])
            for split, qs in group_by(questions, "split").items()
        }
    return report


# ---------------------------------------------------------------------------
# 5. Settings sweep (dev split, hybrid)
# ---------------------------------------------------------------------------

SWEEP_CHUNK_SIZES = (100, 150, 200, 300, 400)
SWEEP_OVERLAPS = (0, 40, 80)
SWEEP_FUSION_WEIGHTS = (0.3, 0.5, 0.7)


def sweep_settings(base: Settings, docs: Path, questions: Sequence[Question], gold, documents, log) -> list[dict]:
    """Hybrid quality on `questions` for every chunk_size x chunk_overlap x
    fusion_weight in the grid; one index build per chunking."""
    from . import QA

    rows = []
    for size in SWEEP_CHUNK_SIZES:
        for overlap in SWEEP_OVERLAPS:
            if overlap * 2 >= size:
                continue
            index_dir = Path(tempfile.mkdtemp(prefix="qa-eval-sweep-"))
            try:
                build = None
                for weight in SWEEP_FUSION_WEIGHTS:
                    settings = base.with_(chunk_size=size, chunk_overlap=overlap, fusion_weight=weight)
                    engine = QA(docs=str(docs), index_dir=str(index_dir), settings=settings)
                    build = build if build is not None else engine.build_seconds
                    system = EngineSystem(engine, "hybrid")
                    records = run_system(system, questions, gold, documents, timed=False)
                    m = summarize(questions, records, system.threshold)
                    best = best_threshold(sweep_thresholds([_outcome(q, records[q.id]) for q in questions]))
                    rows.append({
                        "chunk_size": size, "chunk_overlap": overlap, "fusion_weight": weight, "n_answerable": m["n_answerable"],
                        **{k: m[k] for k in ("quote_hit@1", "hit@1", "recall@3", "mrr@10", "f1", "mean_quote_len", "accuracy")},
                        "best_threshold": best["threshold"], "best_balanced": best["balanced"],
                        "build_seconds": build,
                    })
                    log(f"  sweep chunk_size={size} overlap={overlap} fusion_weight={weight}: "
                        f"quote_hit@1={m['quote_hit@1']:.3f} mrr@10={m['mrr@10']:.3f}")
            finally:
                shutil.rmtree(index_dir, ignore_errors=True)
    return rows


# ---------------------------------------------------------------------------
# 6. Output and command line
# ---------------------------------------------------------------------------

MAIN_COLUMNS = [  # (header, key, format)
    ("quote_hit@1", "quote_hit@1", ".3f"), ("answered_hit", "answered_hit", ".3f"),
    ("hasans", "hasans_acc", ".3f"), ("noans", "noans_acc", ".3f"), ("acc", "accuracy", ".3f"),
    ("hit@1", "hit@1", ".3f"), ("R@3", "recall@3", ".3f"), ("R@5", "recall@5", ".3f"), ("MRR@10", "mrr@10", ".3f"),
    ("F1", "f1", ".3f"), ("qlen", "mean_quote_len", ".0f"), ("p50ms", "p50_ms", ".1f"), ("p95ms", "p95_ms", ".1f"),
]
TYPE_COLUMNS = [
    ("n", "n", "d"), ("quote_hit@1", "quote_hit@1", ".3f"), ("hasans", "hasans_acc", ".3f"),
    ("noans", "noans_acc", ".3f"), ("hit@1", "hit@1", ".3f"), ("R@3", "recall@3", ".3f"),
    ("MRR@10", "mrr@10", ".3f"), ("F1", "f1", ".3f"), ("qlen", "mean_quote_len", ".0f"),
]
SWEEP_COLUMNS = [
    ("chunk", "chunk_size", "d"), ("overlap", "chunk_overlap", "d"), ("fusion_w", "fusion_weight", ".1f"),
    ("quote_hit@1", "quote_hit@1", ".3f"), ("hit@1", "hit@1", ".3f"), ("R@3", "recall@3", ".3f"),
    ("MRR@10", "mrr@10", ".3f"), ("F1", "f1", ".3f"), ("qlen", "mean_quote_len", ".0f"),
    ("acc@thr", "accuracy", ".3f"), ("best_thr", "best_threshold", ".2f"), ("best_bal", "best_balanced", ".3f"),
]


def _fmt(value, fmt: str = ".3f") -> str:
    """A table cell; missing or undefined values print as '-'."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def format_table(row_label: str, rows: dict[str, dict], columns) -> str:
    """A fixed-width text table, one row per entry of `rows`."""
    header = [row_label] + [h for h, _, _ in columns]
    body = [[name] + [_fmt(r.get(k), f) for _, k, f in columns] for name, r in rows.items()]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
             for line in [header, *body]]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def baseline_verdicts(systems: dict) -> list[str]:
    """One line per metric the product should win: does hybrid beat every baseline?"""
    if "hybrid" not in systems:
        return []
    lines = []
    for metric in ("quote_hit@1", "noans_acc"):
        ours = systems["hybrid"].get(metric)
        losses = [f"{n} {_fmt(m.get(metric))}" for n, m in systems.items()
                  if n != "hybrid" and ours is not None and m.get(metric) is not None and m[metric] >= ours]
        verdict = "beats every baseline" if not losses else "does NOT beat " + ", ".join(losses)
        lines.append(f"hybrid {metric} {_fmt(ours)}: {verdict}")
    return lines


def render_report(report: dict) -> str:
    systems = report["systems"]
    views = ["all"] + list(next(iter(systems.values()))["by_split"]) if report["split"] == "all" else [report["split"]]
    out = []
    for view in views:
        rows = {name: (m if view in ("all", report["split"]) else m["by_split"][view]) for name, m in systems.items()}
        first = next(iter(rows.values()))
        out.append(f"\n== {view}: {first['n']} questions ({first['n_answerable']} answerable, "
                   f"{first['n_unanswerable']} unanswerable) ==")
        out.append(format_table("system", rows, MAIN_COLUMNS))
    for name, m in systems.items():
        if "best_threshold" in m:
            b = m["best_threshold"]
            at = "  ".join(f"{s}: hasans {_fmt(r['hasans_acc'])} noans {_fmt(r['noans_acc'])} acc {_fmt(r['accuracy'])}"
                           for s, r in m["at_best_threshold"].items())
            out.append(f"{name}: threshold {m['threshold']} -> best balanced on {b['chosen_on']} "
                       f"{b['threshold']:.2f} | {at}")
    out.extend(baseline_verdicts(systems))
    if "hybrid" in systems:
        h = systems["hybrid"]
        for view in views:
            src = h if view in ("all", report["split"]) else h["by_split"][view]
            out.append(f"\n== hybrid by question type ({view}) ==")
            out.append(format_table("type", src["by_type"], TYPE_COLUMNS))
    engine_modes = "/".join(n for n in systems if n != "naive")
    builds = {engine_modes if n != "naive" else n: m["build_seconds"] for n, m in systems.items()}
    out.append("\nindex build: " + ", ".join(
        f"{n} {'loaded from disk (not measured)' if b is None else f'{b:.2f}s'}" for n, b in builds.items()))
    errors = {n: m["errors"] for n, m in systems.items() if m["errors"]}
    if errors:
        out.append(f"ERRORS raised by the engine (counted as misses): {errors}")
    if report.get("sweep"):
        rows = report["sweep"]
        n = rows[0].get("n_answerable")
        noise = f"; one question = {1 / n:.3f}" if n else ""
        out.append(f"\n== settings sweep (hybrid, dev split; * = best quote_hit@1, then MRR@10; "
                   f"= = current settings{noise}) ==")
        best = max(range(len(rows)), key=lambda i: (rows[i]["quote_hit@1"] or 0, rows[i]["mrr@10"] or 0))
        current = report["settings"]

        def label(i: int, r: dict) -> str:
            same = all(r[k] == current.get(k) for k in ("chunk_size", "chunk_overlap", "fusion_weight"))
            return f"{i + 1}{'*' if i == best else ''}{'=' if same else ''}"

        out.append(format_table("#", {label(i, r): r for i, r in enumerate(rows)}, SWEEP_COLUMNS))
    return "\n".join(out)


def plot_thresholds(report: dict, path: Path, system: str = "hybrid") -> None:
    """HasAns and NoAns accuracy vs threshold (solid: dev, dashed: test; thin
    green: balanced dev accuracy), with the configured and best dev thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = report["systems"][system]
    fig, ax = plt.subplots(figsize=(10, 5), dpi=120)
    styles = {"dev": "-", "test": "--"}
    for split, rows in m["threshold_sweep"].items():
        xs = [r["threshold"] for r in rows]
        for key, label, color in (("hasans_acc", "HasAns accuracy", "tab:blue"), ("noans_acc", "NoAns accuracy", "tab:orange")):
            if rows[0][key] is not None:
                ax.plot(xs, [r[key] for r in rows], styles.get(split, ":"), color=color, label=f"{label} ({split})")
        if split == m["best_threshold"]["chosen_on"]:
            ax.plot(xs, [r["balanced"] for r in rows], color="tab:green", linewidth=0.9, alpha=0.7,
                    label=f"balanced accuracy ({split})")
    ax.axvline(m["threshold"], color="black", linewidth=1.2, label=f"configured threshold {m['threshold']:.2f}")
    best = m["best_threshold"]
    ax.axvline(best["threshold"], color="gray", linestyle=":", linewidth=1.2,
               label=f"best on {best['chosen_on']} {best['threshold']:.2f} (balanced {best['balanced']:.2f})")
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), xlabel="confidence threshold (answer shown when score >= threshold)",
           ylabel="accuracy", title=f"Abstention vs threshold - {system}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _systems_arg(value: str) -> list[str]:
    names = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in names if s not in SYSTEMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown system(s) {unknown or value!r}; choose from {','.join(SYSTEMS)}")
    return list(dict.fromkeys(names))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--questions", type=Path, default=PROJECT_DIR / "eval" / "questions.jsonl",
                        help="JSON-lines question file (default: eval/questions.jsonl)")
    parser.add_argument("--docs", type=Path, default=PROJECT_DIR / "seeds", help="article folder (default: seeds)")
    parser.add_argument("--index", type=Path, default=None,
                        help="index folder (default: a fresh temporary folder, deleted afterwards, so the "
                             "build time is measured)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all",
                        help="questions to evaluate (default: all, reported per split)")
    parser.add_argument("--systems", type=_systems_arg, default=None,
                        help=f"comma-separated systems to compare, from {','.join(SYSTEMS)} (default: "
                             f"{','.join(DEFAULT_SYSTEMS)}; with --squad: {','.join(SQUAD_SYSTEMS)})")
    parser.add_argument("--squad", type=Path, default=None,
                        help="evaluate on a SQuAD-format file instead: each paragraph becomes a document of a "
                             "temporary folder; --holdout of them are withheld and their questions must be declined")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of paragraphs withheld (with --squad)")
    parser.add_argument("--followups", type=Path, default=None,
                        help="evaluate follow-up questions instead (JSON lines of conversations, e.g. "
                             "eval/followups.jsonl over --docs eval/followup-docs)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate at most this many questions per split")
    parser.add_argument("--json", type=Path, default=None, help="write metrics and per-question results here")
    parser.add_argument("--plot", type=Path, default=None, help="write the hybrid threshold plot (PNG) here")
    parser.add_argument("--sweep", action="store_true",
                        help="also sweep chunk_size/chunk_overlap/fusion_weight on the dev split (slower)")


TUNE_SHARE = 0.5  # share of a SQuAD file's paragraphs in the tuning ("dev") part; the rest is held out ("test")


def squad_questions(path: Path, holdout: float, docs_dir: Path) -> list[Question]:
    """Write the kept paragraphs of a SQuAD file into `docs_dir` (one document each) and return the
    questions: those of withheld paragraphs are unanswerable. Paragraphs are split stably by id into
    the tuning part ("dev") and the held-out part ("test")."""
    from .squad import load

    questions = []
    for i, para in enumerate(load(path)):
        withheld = para.split(holdout, salt="withheld")
        split = "dev" if para.split(TUNE_SHARE, salt="tune") else "test"
        source = f"p{i:05d}.txt"
        if not withheld:
            (docs_dir / source).write_text(para.context, encoding="utf-8")
        for q in para.questions:
            if not q.question:
                continue  # a blank question in the file: nothing to ask
            if not q.answers and not withheld:
                continue  # an unanswerable question of a kept paragraph: not in SQuAD 1 sets
            if withheld:
                questions.append(Question(q.id, q.question, None, "unanswerable", split))
            else:
                texts = tuple(dict.fromkeys(a.text for a in q.answers))
                questions.append(Question(q.id, q.question, texts[0], "reading", split,
                                          alternatives=texts[1:], source=source))
    return questions


def build_systems(names: Sequence[str], docs: Path, index_dir: Path, settings: Settings, documents: dict,
                  log) -> list:
    """The systems to compare; engines with the same scorer are shared, all use one index folder."""
    from . import QA
    from .embedding import load_model
    from .settings import ScorerKind

    engines: dict[ScorerKind, object] = {}

    def engine(scorer: ScorerKind):
        if scorer not in engines:
            if not engines:
                log(f"building the index in {index_dir} ...")
            engines[scorer] = QA(docs=str(docs), index_dir=str(index_dir), settings=settings.with_(scorer=scorer))
        return engines[scorer]

    systems = []
    for name in names:
        if name == "naive":
            systems.append(NaiveRAG(documents, load_model(settings.model)))
        elif name == "rules":
            systems.append(EngineSystem(engine(ScorerKind.RULES), "hybrid", "rules"))
        elif name.startswith("sentence-"):
            systems.append(SentenceBaseline(engine(ScorerKind.RULES), name.split("-", 1)[1]))
        else:
            systems.append(EngineSystem(engine(settings.scorer), name))
    return systems


def run(args: argparse.Namespace) -> int:
    """Evaluate; 0 when it ran (quality is reported, not asserted), 2 on a bad
    question file, 1 when the engine cannot be built."""
    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.followups:
        return _run_followups(args, log)
    squad_docs = None
    try:
        if args.squad:
            from .squad import SquadFormatError

            squad_docs = Path(tempfile.mkdtemp(prefix="qa-eval-squad-"))
            args.docs = squad_docs
            try:
                questions = squad_questions(args.squad, args.holdout, squad_docs)
            except SquadFormatError as exc:
                shutil.rmtree(squad_docs, ignore_errors=True)
                log(f"error: malformed SQuAD file: {exc}")
                return 2
        else:
            questions = parse_questions(args.questions)
    except QuestionFileError as exc:
        log(f"error: malformed question file: {exc}")
        return 2
    except OSError as exc:
        log(f"error: cannot read question file {args.questions}: {exc.strerror or exc}")
        return 2
    if args.systems is None:
        args.systems = list(SQUAD_SYSTEMS if args.squad else DEFAULT_SYSTEMS)
    if args.limit:
        questions = [q for split in SPLITS for q in [q for q in questions if q.split == split][: args.limit]]
    if args.split != "all":
        questions = [q for q in questions if q.split == args.split]
        if not questions:
            log(f"error: no '{args.split}' questions in {args.questions}")
            return 2
    if args.plot and "hybrid" not in args.systems:
        log("error: --plot draws the hybrid system; add hybrid to --systems")
        return 2

    try:
        from .text import load_documents
    except ImportError as exc:
        log(f"error: the answer engine is not usable: {exc}")
        return 1

    settings = Settings()
    documents = {d.source: d.text for d in load_documents(args.docs)}
    gold = locate_answers(questions, documents)
    missing = [q.id for q in questions if q.answerable and not gold[q.id].spans]
    if missing:
        log(f"warning: expected answer not found in any cleaned document for: {', '.join(missing)}")

    temp_index = None if args.index else Path(tempfile.mkdtemp(prefix="qa-eval-index-"))
    try:
        systems = build_systems(args.systems, args.docs, args.index or temp_index, settings, documents, log)

        report = {"questions_file": str(args.squad or args.questions), "docs": str(args.squad or args.docs),
                  "split": args.split, "holdout": args.holdout if args.squad else None,
                  "settings": settings.to_dict(), "systems": {}, "questions": []}
        all_records = {}
        for system in systems:
            log(f"evaluating {system.name} on {len(questions)} questions ...")
            all_records[system.name] = run_system(system, questions, gold, documents)
            report["systems"][system.name] = system_report(system, questions, all_records[system.name])
        for q in questions:
            report["questions"].append({
                "id": q.id, "question": q.question, "answer": q.answer, "type": q.type, "split": q.split,
                "systems": {name: recs[q.id] for name, recs in all_records.items()},
            })
        if args.sweep:
            dev = [q for q in questions if q.split == "dev"]
            if dev:
                log(f"sweeping settings on {len(dev)} dev questions ...")
                report["sweep"] = sweep_settings(settings, args.docs, dev, gold, documents, log)
            else:
                log("warning: --sweep needs dev questions; skipped")
    finally:
        if temp_index is not None:
            shutil.rmtree(temp_index, ignore_errors=True)
        if squad_docs is not None:
            shutil.rmtree(squad_docs, ignore_errors=True)

    print(render_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    if args.plot:
        plot_thresholds(report, args.plot)
        log(f"wrote {args.plot}")
    return 0


def _run_followups(args, log) -> int:
    from . import QA, followup_eval

    temp_index = None if args.index else Path(tempfile.mkdtemp(prefix="qa-eval-index-"))
    try:
        engine = QA(docs=str(args.docs), index_dir=str(args.index or temp_index))
        report = followup_eval.run(engine, args.followups)
    except ValueError as exc:
        log(f"error: {exc}")
        return 2
    finally:
        if temp_index is not None:
            shutil.rmtree(temp_index, ignore_errors=True)
    print(followup_eval.render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.evaluate", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
