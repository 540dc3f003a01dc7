"""Typed records that carry text plus character offsets through the pipeline.

Every offset refers to the *cleaned* text of a document (`qa.document(source)`),
so `document[start:end] == text` holds for chunks, passages and quotes alike.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Document:
    """One cleaned source file; `source` is its path relative to the docs folder."""

    source: str
    text: str
    sha256: str  # of the raw bytes on disk, for index staleness checks

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A retrieval unit: a slice `[start, end)` of a document's cleaned text."""

    id: int
    source: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused retrieval score (higher is better)."""

    text: str
    source: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """A verbatim quote from a document, or `found=False` with an empty quote."""

    found: bool
    quote: str
    source: str
    start: int
    end: int
    score: float
    passages: tuple[Passage, ...] = field(default_factory=tuple)
    understood_as: str = ""  # the question completed from the conversation, when it was a follow-up

    @classmethod
    def not_found(cls, score: float = 0.0, understood_as: str = "") -> "Answer":
        """The articles do not support an answer; `score` is the best candidate's confidence."""
        return cls(False, "", "", 0, 0, score, (), understood_as)

    def to_dict(self) -> dict:
        return {
            "found": self.found,
            "quote": self.quote,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "passages": [p.to_dict() for p in self.passages],
            "understood_as": self.understood_as,
        }
