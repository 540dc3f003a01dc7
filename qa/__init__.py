"""Question answering over Chinese news articles, by verbatim quotation.

    import qa
    a = qa.answer("赫章县有多少个贫困村脱贫出列？")
    a.found, a.quote, a.source, a.start, a.end, a.score, a.passages

`qa.answer` and `qa.document` use the project's `seeds/` and `index/`; `qa.QA(docs=...,
index_dir=..., model=...)` does the same for any folder. The model and index load
once per process and are shared; everything here is safe to call from many threads.
"""
from __future__ import annotations

import threading

from .answering.conversation import Turn
from .engine import QA
from .settings import Settings
from .types import Answer, AnswerKind, Chunk, Document, Passage, Span

__all__ = ["QA", "Turn", "Answer", "AnswerKind", "Span", "Passage", "Chunk", "Document", "Settings", "answer", "document", "default"]

_default: QA | None = None
_default_lock = threading.Lock()


def default() -> QA:
    """The shared engine for the project's own `seeds/` and `index/`."""
    global _default
    with _default_lock:
        if _default is None:
            _default = QA()
        return _default


def answer(question: str, k: int | None = None, history=None, only: str | None = None) -> Answer:
    """Answer `question` from the project's articles (see `QA.answer`); `history` is the earlier
    turns, oldest first, each {"question": str, "quote": str}, for follow-up questions; `only`
    restricts the answer to one document."""
    return default().answer(question, k, history=history, only=only)


def document(source: str) -> str:
    """The cleaned text of a document of the project's articles; offsets refer to it."""
    return default().document(source)
