"""SQuAD-format reading-comprehension files: typed records, checked on load.

Used by training (`python -m qa train`) and by the open-corpus evaluation
(`python -m qa eval --squad FILE`). Traditional-character sets (DRCD) are
converted to simplified with OpenCC, keeping every answer offset valid.
A malformed file raises `SquadFormatError` naming the file and the problem.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..text import normalise as text


class SquadFormatError(ValueError):
    """The file is not SQuAD format; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Span:
    """An answer: `context[start:end] == text`."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: tuple[Span, ...]  # empty: unanswerable from its paragraph


@dataclass(frozen=True)
class SquadParagraph:
    id: str  # stable across runs: title + position in the file
    title: str
    context: str
    questions: tuple[SquadQuestion, ...]

    def split(self, holdout: float, salt: str = "") -> bool:
        """True when this paragraph falls in the seeded `holdout` share (stable by id)."""
        h = int(hashlib.sha256((salt + self.id).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return h < holdout


def load(path: str | Path, simplify: bool = True) -> list[SquadParagraph]:
    """Paragraphs with their questions; answers whose offsets do not match are repaired by search
    or dropped. `simplify` converts traditional characters (DRCD) to simplified."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SquadFormatError(f"{path}: no such file") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise SquadFormatError(f"{path}: not UTF-8 JSON ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise SquadFormatError(f"{path}: expected an object with a 'data' list (SQuAD format)")
    paragraphs = []
    for a, article in enumerate(raw["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise SquadFormatError(f"{path}: data[{a}] has no 'paragraphs' list")
        title = str(article.get("title", ""))
        for p, para in enumerate(article["paragraphs"]):
            where = f"data[{a}].paragraphs[{p}]"
            if not isinstance(para, dict) or not isinstance(para.get("context"), str):
                raise SquadFormatError(f"{path}: {where} has no 'context' string")
            if not isinstance(para.get("qas"), list):
                raise SquadFormatError(f"{path}: {where} has no 'qas' list")
            context = text.fold(para["context"]) if simplify else para["context"]
            questions = []
            for q, qa in enumerate(para["qas"]):
                if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
                    raise SquadFormatError(f"{path}: {where}.qas[{q}] has no 'question' string")
                answers = qa.get("answers", [])
                if not isinstance(answers, list):
                    raise SquadFormatError(f"{path}: {where}.qas[{q}].answers is not a list")
                spans = []
                for ans in answers:
                    if not isinstance(ans, dict) or not isinstance(ans.get("text"), str):
                        raise SquadFormatError(f"{path}: {where}.qas[{q}] has an answer without 'text'")
                    span = _locate(context, text.fold(ans["text"]) if simplify else ans["text"],
                                   ans.get("answer_start"))
                    if span and span not in spans:
                        spans.append(span)
                question = text.fold(qa["question"]) if simplify else qa["question"]
                questions.append(SquadQuestion(str(qa.get("id", f"{a}-{p}-{q}")), question.strip(), tuple(spans)))
            paragraphs.append(SquadParagraph(f"{title}#{a}-{p}", title, context, tuple(questions)))
    if not paragraphs:
        raise SquadFormatError(f"{path}: no paragraphs")
    return paragraphs


def _locate(context: str, answer: str, start) -> Span | None:
    answer = answer.strip()
    if not answer:
        return None
    if isinstance(start, int) and context[start : start + len(answer)] == answer:
        return Span(start, start + len(answer), answer)
    found = context.find(answer)
    return Span(found, found + len(answer), answer) if found >= 0 else None
