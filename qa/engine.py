"""The answer engine: documents + model + index -> quoted answers.

`QA` ties the pipeline steps together for one docs folder and one index folder.
It loads the model and index once, checks before each question that the documents
have not changed (a cheap stat; rehash only on change), and rebuilds when they
have, so it never answers from a stale index. It is safe to share between threads.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .text import crosslingual, normalise as text
from .models import embedding
from .models.loader import load_encoder, load_reader
from .index import faiss_store as index_mod, retrieval
from .answering.conversation import FollowUps, Turn
from .corpus.watch import FolderWatch
from .answering.quoting import Selector
from .index.store import LocalStore, Store, open_store
from .settings import PROJECT_DIR, RetrievalMode, ScorerKind, Settings, default_model_name
from .types import Answer, AnswerKind, Passage, Span

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class _Search:
    """One question's retrieval over one consistent snapshot of the index."""

    index: index_mod.Index
    selector: Selector
    query_vector: np.ndarray
    lexical: str  # what BM25 and coverage look for (the Chinese words of an English question)
    ranking: list[retrieval.Scored]


EMPTY_QUESTION = "请输入问题。 / Please enter a question."


class QA:
    """Question answering over the documents in `docs`, with its index in `index_dir` (the local store)
    or in the store named by `store` (`Settings.store`, `QA_STORE`): "local", "milvus:FOLDER" (Milvus
    Lite) or "http://HOST:19530" (a Milvus server); see qa/index/store.py and docs/distributed.md."""

    def __init__(self, docs: str | Path | None = None, index_dir: str | Path | None = None,
                 model: str | None = None, settings: Settings | None = None, store: str | None = None):
        self.settings = settings or Settings()
        self.docs_dir = Path(docs) if docs is not None else PROJECT_DIR / "seeds"
        self.index_dir = Path(index_dir) if index_dir is not None else PROJECT_DIR / "index"
        self.model_name = model or self.settings.model or default_model_name()
        self.model = load_encoder(self.model_name, self.settings.encoder_runtime)
        self.reader = self.combiner = None
        if self.settings.scorer is ScorerKind.LEARNED:
            from .answering.combiner import Combiner

            self.reader = load_reader(runtime=self.settings.scorer_runtime, threads=self.settings.reader_threads)
            self.combiner = Combiner.load()
        self.skipped: list[str] = []  # documents that could not be read, with the reason
        self.build_seconds: float | None = None
        self._lock = threading.RLock()
        self._encode_lock = threading.Lock()  # HF fast tokenizers are not safe to share across threads
        self._signature = None
        self._lexicon: crosslingual.Lexicon | None = None  # built on the first English question
        self._generation = 0  # counts store syncs: the lexicon belongs to one
        self.followups = FollowUps(self._similarity)
        self._watch = FolderWatch(self.docs_dir)
        if not self.docs_dir.is_dir():
            raise FileNotFoundError(f"The documents folder {self.docs_dir} does not exist.")
        self.store: Store = open_store(store, self.index_dir, self.settings, self.model, self.model_name)
        self._refresh(force=True)

    # -- the index ---------------------------------------------------------------------------

    def docs_signature(self):
        return self._watch.signature()  # bounded per question however many documents (qa/watch.py)

    def _refresh(self, force: bool = False) -> None:
        """Bring the store up to date with the documents folder when it (or the settings) changed:
        the local store loads its index or rebuilds it, the Milvus store upserts or deletes the rows
        of the documents that changed."""
        signature = self.docs_signature()
        if not force and signature == self._signature:
            return
        with self._lock:
            if not force and signature == self._signature:
                return
            seconds, skipped = self.store.sync(self.docs_dir, keep_in_memory=self._signature is not None)
            if seconds is not None:
                for reason in skipped:
                    log.warning("Skipped a document: %s", reason)
                self.build_seconds, self.skipped = seconds, skipped
            self._lexicon = None
            self._generation += 1
            self._signature = signature

    def _local(self) -> LocalStore:
        if not isinstance(self.store, LocalStore):
            raise AttributeError(f"The {self.store.kind} store keeps no in-process index; "
                                 "use QA.retrieve / QA.document / QA.sources instead.")
        return self.store

    @property
    def index(self) -> index_mod.Index:
        """The loaded in-process index (local store only)."""
        return self._local().state[0]

    @property
    def bm25(self):
        return self._local().state[1]

    @property
    def unit_matrix(self) -> np.ndarray:
        return self._local().state[2]

    # -- public ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-check the documents folder now (the engine also does it before each question)."""
        self._refresh()

    @property
    def sources(self) -> list[str]:
        return self.store.sources()

    def document(self, source: str) -> str:
        """The cleaned text of `source`; every offset refers to it."""
        try:
            return self.store.document(source)
        except KeyError:
            raise KeyError(f"No document named {source!r}; known: {', '.join(self.sources)}") from None

    def info(self) -> dict:
        return {
            "model": embedding.model_id(self.model_name, self.settings.encoder_runtime),
            **self.store.counts(),
            "index_dir": self.store.location(),
            "store": self.store.kind,
        }

    def close(self) -> None:
        """Let go of the store (Milvus Lite: its data folder, for another process to open)."""
        self.store.close()

    def prepare(self, question: str) -> str:
        if not isinstance(question, str):
            raise TypeError("The question must be a string.")
        q = text.clean_question(question, self.settings.max_question_chars)
        if not q:
            raise ValueError(EMPTY_QUESTION)
        return q

    def _lexical_query(self, question: str, generation: int) -> str:
        """What BM25 and coverage look for: the question, or the Chinese words an English one names."""
        if not text.is_english(question):
            return question
        with self._lock:
            if self._lexicon is None or self._generation != generation:
                lexicon = crosslingual.Lexicon.in_child(list(self.store.documents().values()))
                if self._generation == generation:
                    self._lexicon = lexicon
            else:
                lexicon = self._lexicon
        return lexicon.bridge(question).query

    def encode(self, question: str) -> np.ndarray:
        with self._encode_lock:
            return embedding.encode_queries(self.model, [question])[0]

    def _similarity(self, phrase: str, others: list[str]) -> np.ndarray:
        with self._encode_lock:
            vecs = embedding.encode_queries(self.model, [phrase, *others])
        return vecs[1:] @ vecs[0]

    def understand(self, question: str, history=None) -> str:
        """`question` as searched: completed from `history` (earlier turns, oldest first, each a
        `Turn` or {"question", "quote"}) when it is a follow-up ("那蔬菜呢？"), else itself."""
        return self._understand(self.prepare(question), history)

    def _understand(self, q: str, history) -> str:
        if not history:
            return q
        turns = [Turn.coerce(h) for h in history]
        turns = [Turn(text.clean_question(t.question, self.settings.max_question_chars), t.quote) for t in turns]
        return self.followups.resolve(q, [t for t in turns if t.question]).question

    def _search(self, q: str, mode: RetrievalMode, only: str | None = None) -> _Search:
        """Embed a prepared question and rank the chunks of the current index (of `only` alone, if given)."""
        self._refresh()
        generation = self._generation
        qvec = self.encode(q)
        lexical = self._lexical_query(q, generation)
        found = self.store.search(q, lexical, qvec, mode, only)
        selector = Selector(found.index, found.unit_matrix, found.coverage, self.settings, self.reader, self.combiner)
        return _Search(found.index, selector, qvec, lexical, found.ranking)

    def retrieve(self, question: str, k: int = 10, mode: RetrievalMode | str = RetrievalMode.HYBRID) -> list[Passage]:
        """The top-`k` passages for `question`, best first."""
        found = self._search(self.prepare(question), RetrievalMode.from_str(mode))
        return retrieval.passages(found.index, found.ranking, k)

    def candidate(self, question: str, k: int | None = None,
                  mode: RetrievalMode | str = RetrievalMode.HYBRID, history=None, only: str | None = None) -> Answer:
        """The best quote and its confidence, without applying the abstention threshold.
        With `history`, a follow-up question is completed first (`Answer.understood_as`) and both the
        question as typed and its completion are searched: the better-supported answer is kept.
        With `only`, the answer comes from that document alone."""
        asked = self.prepare(question)
        q = self._understand(asked, history)
        mode = RetrievalMode.from_str(mode)
        k = self.settings.k if k is None else k
        if q == asked:
            return self._best(asked, k, mode, only, "")
        typed, completed = self._best(asked, k, mode, only, ""), self._best(q, k, mode, only, q)
        return completed if completed.score >= typed.score else typed

    def _best(self, q: str, k: int, mode: RetrievalMode, only: str | None, understood_as: str) -> Answer:
        """The best quote for the prepared question `q` (found=False only when nothing matches)."""
        if not any(ch.isalnum() for ch in q):  # only punctuation or emoji: nothing to look for
            return Answer.not_found(understood_as=understood_as)
        found = self._search(q, mode, only)
        quote = found.selector.choose(q, found.query_vector, found.ranking, found.lexical, mode, only)
        if quote is None:
            return Answer.not_found(understood_as=understood_as,
                                    closest=tuple(retrieval.passages(found.index, found.ranking, 3)))
        passages = tuple(retrieval.passages(found.index, found.ranking, k))
        span = None
        if quote.span:
            doc = found.index.documents[quote.source]
            span = Span(quote.source, quote.span[0], quote.span[1], doc[quote.span[0]:quote.span[1]])
        closest = tuple(Passage(t, src, s, e, p) for src, s, e, t, p in quote.closest)
        return Answer(True, quote.text, quote.source, quote.start, quote.end, quote.confidence, passages,
                      understood_as, AnswerKind.ANSWERED, span, closest)

    def features(self, question: str, reader=None) -> list:
        """The candidate sentences the scorer chooses among (`quoting.Candidate`, best rule score first),
        the first `rerank_candidates` with the trained model's scores when `reader` (or the engine's own) is set.
        Used to fit and inspect the learned scorer."""
        q = self.prepare(question)
        found = self._search(q, RetrievalMode.HYBRID)
        cands, _, _ = found.selector.candidates(q, found.query_vector, found.ranking, found.lexical,
                                                RetrievalMode.HYBRID)
        reader = reader or self.reader
        return found.selector.score(q, cands, reader, found.ranking) if reader is not None and cands else cands

    def warm_up(self) -> None:
        """Load what the first questions would otherwise wait for — jieba's dictionary and its tagger
        (~1–2 s, the tagger only for questions about people), the English lexicon (built in a child
        process) and the models' first runs — so a server's first user is answered as fast as the
        rest. Answers are unchanged. A question about a person needs the tagger too."""
        self.candidate("谁负责这项工作？")
        self.candidate("Who is in charge of this work?")

    def answer(self, question: str, k: int | None = None,
               mode: RetrievalMode | str = RetrievalMode.HYBRID, history=None, only: str | None = None) -> Answer:
        """A verbatim quote that answers `question`, or `found=False` when the evidence is weak.
        `history`: earlier turns, oldest first, each {"question": str, "quote": str};
        `only`: a document name (`sources`) to answer from alone."""
        best = self.candidate(question, k, mode, history, only)
        return self.judge(best)

    def judge(self, best: Answer) -> Answer:
        """`best` (from `candidate`) as shown: answered at or above the answer threshold, unsure (the
        quote kept, not given as the answer) at or above the unsure threshold, else not found; unsure and
        not found come with the closest passages."""
        if best.found and best.score >= self.settings.active_threshold:
            return replace(best, closest=())
        if best.found and best.score >= self.settings.active_unsure_threshold:
            return replace(best, found=False, kind=AnswerKind.UNSURE)
        return Answer.not_found(best.score, best.understood_as, best.closest)
