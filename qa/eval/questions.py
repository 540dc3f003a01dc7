"""The questions an eval asks, as typed records.

Two sources: the project's question file (`eval/questions.jsonl`, one JSON object a line,
checked strictly so a typo names its file and line), and any SQuAD-format file, whose
paragraphs become the documents of a folder (a share of them withheld, so their questions
must be declined). `locate_answers` finds where each expected answer is in the cleaned
documents, for the ranking metrics and F1.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..settings import Choice
from .metrics import answer_sentences, occurrences, quote_hit


class QuestionType(Choice):
    """Question type: what kind of answer the question wants (reported per type)."""

    NUMBER = "number"
    NAME = "name"
    LIST = "list"
    PARAPHRASE = "paraphrase"
    ENGLISH = "english"
    READING = "reading"  # a SQuAD-format reading-comprehension question
    UNANSWERABLE = "unanswerable"  # the documents do not say


class Split(Choice):
    """Split: dev (choices are tuned on it) or test (reported only)."""

    DEV = "dev"
    TEST = "test"


QUESTION_KEYS = ("id", "question", "answer", "type", "split")
TUNE_SHARE = 0.5  # share of a SQuAD file's paragraphs in the tuning ("dev") part; the rest is held out ("test")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answer: str | None  # None: the article does not say
    type: QuestionType
    split: Split
    line: int = 0
    alternatives: tuple[str, ...] = ()  # other accepted answers (SQuAD files list several)
    source: str | None = None  # the document that holds the answer, when known (SQuAD paragraphs)

    @property
    def answerable(self) -> bool:
        return self.answer is not None

    def hit(self, quote: str) -> bool:
        """The quote is a hit for this question: it holds an accepted answer and is short enough."""
        return self.answerable and any(quote_hit(quote, a) for a in (self.answer, *self.alternatives))

    def to_dict(self) -> dict:
        """The question as the report lists it."""
        return {"id": self.id, "question": self.question, "answer": self.answer,
                "type": self.type.value, "split": self.split.value}


class QuestionFileError(ValueError):
    """A malformed question file; the message names the file and line."""

    def __init__(self, path: str | Path, line: int, problem: str):
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = str(path), line, problem


def _one_of(choice: type[Choice], value: str, what: str, fail) -> Choice:
    """`value` as a member of `choice`, exactly as written (no case folding in the file)."""
    try:
        return choice(value)
    except ValueError:
        fail(f"unknown {what} {value!r} (expected one of: {', '.join(m.value for m in choice)})")


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
    qtype = _one_of(QuestionType, obj["type"], "type", fail)
    split = _one_of(Split, obj["split"], "split", fail)
    if (answer is None) != (qtype is QuestionType.UNANSWERABLE):
        fail("'answer' must be null exactly when type is 'unanswerable'")
    return Question(obj["id"], obj["question"], answer, qtype, split, line)


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


def squad_questions(path: Path, holdout: float, docs_dir: Path) -> list[Question]:
    """Write the kept paragraphs of a SQuAD file into `docs_dir` (one document each) and return the
    questions: those of withheld paragraphs are unanswerable. Paragraphs are split stably by id into
    the tuning part ("dev") and the held-out part ("test")."""
    from ..training.squad import load

    questions = []
    for i, para in enumerate(load(path)):
        withheld = para.split(holdout, salt="withheld")
        split = Split.DEV if para.split(TUNE_SHARE, salt="tune") else Split.TEST
        source = f"p{i:05d}.txt"
        if not withheld:
            (docs_dir / source).write_text(para.context, encoding="utf-8")
        for q in para.questions:
            if not q.question:
                continue  # a blank question in the file: nothing to ask
            if not q.answers and not withheld:
                continue  # an unanswerable question of a kept paragraph: not in SQuAD 1 sets
            if withheld:
                questions.append(Question(q.id, q.question, None, QuestionType.UNANSWERABLE, split))
            else:
                texts = tuple(dict.fromkeys(a.text for a in q.answers))
                questions.append(Question(q.id, q.question, texts[0], QuestionType.READING, split,
                                          alternatives=texts[1:], source=source))
    return questions


def group_by(questions: Sequence[Question], key: str) -> dict[str, list[Question]]:
    """The questions by "type" or "split", in the order the choices are declared; empty groups left out."""
    order = QuestionType if key == "type" else Split
    groups = {k.value: [q for q in questions if getattr(q, key) is k] for k in order}
    return {k: v for k, v in groups.items() if v}


@dataclass(frozen=True)
class Gold:
    """Where a question's expected answer is in the cleaned documents."""

    spans: Mapping[str, list[tuple[int, int]]]  # source -> occurrences
    sentences: list[str]


def locate_answers(questions: Sequence[Question], documents: Mapping[str, str]) -> dict[str, Gold]:
    """Each question's `Gold`, by question id (empty for unanswerable questions)."""
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
