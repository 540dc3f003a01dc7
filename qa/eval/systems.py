"""The systems an eval compares, each answering one question at a time with an `Answer`.

- `hybrid`: the product (hybrid retrieval + the configured scorer, the learned one by default);
- `rules`: the same retrieval with the first engine's hand-weighted scorer;
- `bm25`, `dense`: one ranker only, the configured scorer;
- `sentence-bm25`, `sentence-cosine`: the top-1 sentence of the whole corpus, no passages;
- `naive`: what a tutorial builds (500-character LangChain chunks, FAISS top-1 with the same
  embedding model, the whole chunk returned as the "quote", never abstains).

Every system has a `name`, a `threshold` (None: never abstains), `build_seconds` (None: not
measured) and `candidate(question) -> Answer` — the best quote and its confidence, abstention
left to the caller, with the top `RANK_DEPTH` passages as its ranking where it has one.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

from ..settings import RetrievalMode, ScorerKind, Settings, Choice
from ..types import Answer, Passage
from .metrics import RANK_DEPTH


class SystemName(Choice):
    """System: one of the answerers an eval compares."""

    HYBRID = "hybrid"
    RULES = "rules"
    BM25 = "bm25"
    DENSE = "dense"
    SENTENCE_BM25 = "sentence-bm25"
    SENTENCE_COSINE = "sentence-cosine"
    NAIVE = "naive"


DEFAULT_SYSTEMS = (SystemName.HYBRID, SystemName.RULES, SystemName.BM25, SystemName.DENSE, SystemName.NAIVE)
SQUAD_SYSTEMS = (SystemName.HYBRID, SystemName.RULES, SystemName.SENTENCE_BM25, SystemName.SENTENCE_COSINE,
                 SystemName.NAIVE)


class System(Protocol):
    name: str
    threshold: float | None
    build_seconds: float | None

    def candidate(self, question: str) -> Answer: ...


class EngineSystem:
    """The answer engine in one retrieval mode, named `name`."""

    def __init__(self, engine, mode: RetrievalMode, name: str | None = None):
        self.engine, self.mode, self.name = engine, mode, name or mode.value
        self.threshold: float | None = engine.settings.active_threshold
        self.unsure_threshold: float | None = engine.settings.active_unsure_threshold
        self.build_seconds: float | None = engine.build_seconds

    def candidate(self, question: str) -> Answer:
        """The best quote, with the top `RANK_DEPTH` passages as its ranking (one query, not two)."""
        return self.engine.candidate(question, k=RANK_DEPTH, mode=self.mode)


class SentenceRanker(Choice):
    """Sentence ranker: how a sentence baseline picks its sentence."""

    BM25 = "bm25"  # scored by the sentence's query coverage
    COSINE = "cosine"  # scored by its cosine with the question


class SentenceBaseline:
    """The top-1 sentence (quote unit) of the whole corpus by BM25 or by cosine, with no passages
    and no reranking; its score is the sentence's query coverage (BM25) or cosine."""

    def __init__(self, engine, by: SentenceRanker):
        self.engine, self.by, self.name = engine, by, f"sentence-{by.value}"
        # nominal thresholds; the sweep finds the best one
        self.threshold = 0.5 if by is SentenceRanker.BM25 else engine.settings.cosine_low + 0.1
        self.build_seconds = None
        idx = engine.index
        self.texts = [idx.documents[u.source][u.start : u.end] for u in idx.units]
        if by is SentenceRanker.BM25:
            from ..index.lexical import BM25Index

            self.bm25 = BM25Index(self.texts, engine.settings.bm25_tokens)

    def candidate(self, question: str) -> Answer:
        engine, idx = self.engine, self.engine.index
        q = engine.prepare(question)
        if not self.texts:
            return Answer.not_found()
        if self.by is SentenceRanker.BM25:
            lexical = engine._lexical_query(q, idx)
            j = int(self.bm25.scores(lexical).argmax())
            score = self.bm25.coverage(lexical, self.texts[j])
        else:
            cos = engine.unit_matrix @ engine.encode(q)
            j = int(cos.argmax())
            score = float(cos[j])
        u = idx.units[j]
        return Answer(True, self.texts[j], u.source, u.start, u.end, round(float(score), 4), ())


class NaiveRAG:
    """What a tutorial builds: RecursiveCharacterTextSplitter 500-character chunks
    (no overlap) of the cleaned documents, a FAISS IndexFlatIP over the same
    embedding model, and the whole top-1 chunk returned as the quote; it never
    abstains."""

    name = SystemName.NAIVE.value
    threshold = None

    def __init__(self, documents: Mapping[str, str], model, chunk_size: int = 500):
        import faiss
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from ..models.embedding import encode_passages

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
        from ..models.embedding import encode_queries

        scores, ids = self.index.search(encode_queries(self.model, [question]), min(k, self.index.ntotal))
        return [replace(self.chunks[i], score=float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def candidate(self, question: str) -> Answer:
        """The whole top-1 chunk as the quote, with the top `RANK_DEPTH` chunks as the ranking."""
        top = self.retrieve(question, RANK_DEPTH)
        if not top:
            return Answer.not_found()
        p = top[0]
        return Answer(True, p.text, p.source, p.start, p.end, p.score, tuple(top))


def build_systems(names: Sequence[SystemName], docs: Path, index_dir: Path, settings: Settings,
                  documents: Mapping[str, str], log: Callable[[str], None]) -> list[System]:
    """The systems to compare; engines with the same scorer are shared, all use one index folder."""
    from .. import QA
    from ..models.loader import load_encoder

    engines: dict[ScorerKind, object] = {}

    def engine(scorer: ScorerKind):
        if scorer not in engines:
            if not engines:
                log(f"building the index in {index_dir} ...")
            engines[scorer] = QA(docs=str(docs), index_dir=str(index_dir), settings=settings.with_(scorer=scorer))
        return engines[scorer]

    systems: list[System] = []
    for name in map(SystemName.from_str, names):
        if name is SystemName.NAIVE:
            systems.append(NaiveRAG(documents, load_encoder(settings.model, settings.encoder_runtime)))
        elif name is SystemName.RULES:
            systems.append(EngineSystem(engine(ScorerKind.RULES), RetrievalMode.HYBRID, name.value))
        elif name in (SystemName.SENTENCE_BM25, SystemName.SENTENCE_COSINE):
            by = SentenceRanker.from_str(name.value.split("-", 1)[1])
            systems.append(SentenceBaseline(engine(ScorerKind.RULES), by))
        else:
            systems.append(EngineSystem(engine(settings.scorer), RetrievalMode.from_str(name.value)))
    return systems
