"""The web API (`gradio_client`; every endpoint is listed at `/?view=api`).

* `/answer` - `(question, history=None, document=None)` -> `Answer.to_dict()`.
* `/chat` - `(message, history, source)` -> `(history, "", article_html, source)`: one chat turn
  as the page shows it (an empty or over-long message gets a reply, not an error).
* `/documents` - `()` -> the list, each `{"name", "title", "chars", "added"}`.
* `/add_document` - `(file)`, `/add_text` - `(title, text)`, `/remove_document` - `(name)` -> the list
  (only when the server manages its documents).

A refusal (`service.Refused`) is raised as `gr.Error` with its Chinese + English sentence, which
`gradio_client` surfaces as an `AppError`.
"""
# No `from __future__ import annotations`: gr.api reads the real type hints (AnswerDict, ...) to
# publish the schemas, and a string would become "Any".
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Optional, TypedDict

import gradio as gr
from gradio.utils import get_upload_folder

from .service import Refused

if TYPE_CHECKING:
    from .page import Page


class PassageDict(TypedDict):
    text: str
    source: str
    start: int
    end: int
    score: float


class SpanDict(TypedDict):
    source: str
    start: int
    end: int
    text: str


class AnswerDict(TypedDict):
    """`Answer.to_dict()`; spelled out so the API page shows the schema."""

    found: bool
    kind: str  # "answered" | "unsure" | "not_found"
    quote: str
    source: str
    start: int
    end: int
    score: float
    span: Optional[SpanDict]
    passages: list[PassageDict]
    closest: list[PassageDict]
    understood_as: str


class TurnDict(TypedDict):
    """One earlier turn of the conversation: the question and the quote shown ("" if declined)."""

    question: str
    quote: str


class DocumentDict(TypedDict):
    """`DocumentInfo.to_dict()`; spelled out so the API page shows the schema."""

    name: str
    title: str
    chars: int
    added: str


class FileDict(TypedDict, total=False):
    """An uploaded file as gradio_client sends it (`gradio_client.handle_file(path)`)."""

    path: str
    orig_name: str


def _as_error(fn):
    """A `Refused` becomes `gr.Error` (the message in both languages, no traceback)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Refused as exc:
            raise gr.Error(str(exc), print_exception=False) from None
    return wrapper


def register(page: "Page") -> None:
    """Publish the endpoints (inside the Blocks context)."""
    service = page.service

    def chat_api(message: str, history: list, source: Optional[str]) -> tuple[list, str, str, str]:
        """One chat turn: the history with the question and its reply appended, "" (the cleared input
        box), the article panel's HTML (quote highlighted) and its source."""
        return page.chat_api(message, history, source)

    @_as_error
    def answer_api(question: str, history: Optional[list[TurnDict]] = None,
                   document: Optional[str] = None) -> AnswerDict:
        """Answer a question with a verbatim quote from the articles.

        `history` (optional): the conversation so far, oldest first, each {"question", "quote"}
        (quote "" when the bot declined); a follow-up question is completed from it and
        `understood_as` says how. `document` (optional): answer from that document alone.
        Returns `Answer.to_dict()`: found, kind (answered / unsure / not_found), quote, source,
        start, end, score, span (the answer inside the quote, or null), passages, closest (where to
        look when unsure or not found), understood_as. Offsets: 0-based, end-exclusive, into the
        cleaned document text. An empty or over-long question, a malformed history or an unknown
        document raises gr.Error (gradio_client: AppError with the message).
        """
        return service.answer_dict(question, history, document)

    def documents_api() -> list[DocumentDict]:
        """The documents answered from: name (what `document=` takes), title, chars, added."""
        return [d.to_dict() for d in service.listing()]

    @_as_error
    def add_document_api(file: FileDict) -> list[DocumentDict]:
        """Add a document from a file (gradio_client.handle_file(path)): .txt, .md, .html or .pdf.
        Returns the document list. A name already taken gets a suffix (report-2.txt); the same
        text twice, an empty, unreadable, scanned or oversized file raises gr.Error saying why."""
        path = file.get("path") if isinstance(file, dict) else None
        if not isinstance(path, str) or not path:
            raise Refused("请用 gradio_client.handle_file(路径) 传文件。 / Pass the file as "
                          "gradio_client.handle_file(path).")
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(Path(get_upload_folder()).resolve()):  # never a server path
            raise Refused("文件必须先上传。 / The file must be uploaded (gradio_client.handle_file).")
        service.add_file(resolved, str(file.get("orig_name") or resolved.name))
        return documents_api()

    @_as_error
    def add_text_api(title: str, text: str) -> list[DocumentDict]:
        """Add pasted text as a document under `title` (may be empty: then its first line). Returns the list."""
        service.add_text(title, text)
        return documents_api()

    @_as_error
    def remove_document_api(name: str) -> list[DocumentDict]:
        """Remove the document `name` (moved to .removed/ in the docs folder). Returns the list."""
        service.remove(name if isinstance(name, str) else "")
        return documents_api()

    gr.api(chat_api, api_name="chat")
    gr.api(answer_api, api_name="answer")
    gr.api(documents_api, api_name="documents")
    if service.manage:
        gr.api(add_document_api, api_name="add_document")
        gr.api(add_text_api, api_name="add_text")
        gr.api(remove_document_api, api_name="remove_document")
