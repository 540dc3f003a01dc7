"""Typed records that carry text plus character offsets through the pipeline.

Every offset refers to the *cleaned* text of a document (`qa.document(source)`),
so `document[start:end] == text` holds for chunks, passages and quotes alike.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum


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


class AnswerKind(str, Enum):
    """How sure the engine is that its quote answers the question."""

    ANSWERED = "answered"  # confident: the quote is the answer
    UNSURE = "unsure"  # a best quote below the answer threshold: possibly relevant, never given as the answer
    NOT_FOUND = "not_found"  # nothing in the documents supports an answer

    @classmethod
    def from_str(cls, value: "str | AnswerKind") -> "AnswerKind":
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"Unknown answer kind {value!r}; choose one of: "
                             f"{', '.join(k.value for k in cls)}") from None


@dataclass(frozen=True)
class Span:
    """A slice `[start, end)` of one document's cleaned text."""

    source: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """A verbatim quote from a document, with how sure the engine is of it (`kind`).

    `answered`: `quote` answers the question. `unsure`: `quote` is the best candidate but below the
    answer threshold; show it only as possibly relevant. `not_found`: `quote` is empty. With `unsure`
    and `not_found`, `closest` holds up to three passages nearest to the question, for the reader to look
    at. `found` is `kind is ANSWERED`."""

    found: bool
    quote: str
    source: str
    start: int
    end: int
    score: float
    passages: tuple[Passage, ...] = field(default_factory=tuple)
    understood_as: str = ""  # the question completed from the conversation, when it was a follow-up
    kind: AnswerKind | None = None  # None: derived from `found` (answered / not_found)
    span: Span | None = None  # the reader's answer inside the quote (document offsets), when confident
    closest: tuple[Passage, ...] = field(default_factory=tuple)  # with unsure / not_found: where to look

    def __post_init__(self):
        if self.kind is None:
            object.__setattr__(self, "kind", AnswerKind.ANSWERED if self.found else AnswerKind.NOT_FOUND)
        else:
            object.__setattr__(self, "kind", AnswerKind.from_str(self.kind))
        if self.found != (self.kind is AnswerKind.ANSWERED):
            raise ValueError(f"found={self.found} contradicts kind={self.kind.value}")

    @classmethod
    def not_found(cls, score: float = 0.0, understood_as: str = "",
                  closest: tuple[Passage, ...] = ()) -> "Answer":
        """The articles do not support an answer; `score` is the best candidate's confidence."""
        return cls(False, "", "", 0, 0, score, (), understood_as, AnswerKind.NOT_FOUND, None, tuple(closest))

    def to_dict(self) -> dict:
        return {
            "found": self.found,
            "kind": self.kind.value,
            "quote": self.quote,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "span": self.span.to_dict() if self.span else None,
            "passages": [p.to_dict() for p in self.passages],
            "closest": [p.to_dict() for p in self.closest],
            "understood_as": self.understood_as,
        }
