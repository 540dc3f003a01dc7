"""What the web chat does, without Gradio: check questions, answer them, manage the documents.

`ChatService` wraps a loaded engine (`qa.QA`, or anything with its API) and is what both the page
(`qa.web.page`) and the web API (`qa.web.api`) call. Every refusal is a `Refused` carrying one
sentence in Chinese and English; the page shows it in the chat or the documents panel, the API
raises it as `gr.Error`. The error mapping is written here once.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..corpus import documents
from ..settings import Settings
from ..text.normalise import is_english
from ..types import Answer
from . import docs as web_docs
from . import format as fmt
from .examples import examples_for

log = logging.getLogger(__name__)

MAX_HISTORY_TURNS = 20  # turns of the conversation passed to the engine (the latest ones)
MAX_QUOTE_CHARS_IN_HISTORY = 5000  # a history quote longer than this is refused by /answer


class Refused(ValueError):
    """A request the chat does not carry out; the message says why, in Chinese then English."""


def question_limit(engine: Any) -> int:
    """The one question limit: the engine's `Settings.max_question_chars`."""
    settings = getattr(engine, "settings", None)
    return getattr(settings, "max_question_chars", None) or Settings().max_question_chars


@dataclass(frozen=True)
class Reply:
    """One chat reply: its markdown, and the answer (None when the question was not asked)."""

    markdown: str
    answer: Answer | None = None


class ChatService:
    """The chat's behaviour over one engine; documents are managed when the engine has a `docs_dir`."""

    def __init__(self, engine: Any, limits: documents.Limits | None = None, editable: bool = True):
        self.engine = engine
        self.limits = limits or documents.Limits()
        self.docs_dir = getattr(engine, "docs_dir", None)
        self.manage = editable and self.docs_dir is not None
        self.max_question_chars = question_limit(engine)

    # ---------------------------------------------------------------- documents

    def sources(self) -> list[str]:
        return list(self.engine.sources)

    def default_source(self) -> str:
        names = self.sources()
        return names[0] if names else ""

    def known(self, source: str | None) -> str:
        return source if source in self.sources() else self.default_source()

    def text(self, source: str) -> str:
        """A document's cleaned text (KeyError when it is not there)."""
        return self.engine.document(source)

    def title(self, source: str, fallback: str | None = None) -> str:
        """A document's title, its headline (not the banner above it); `fallback` (the name) if unreadable."""
        try:
            return _title(self.text(source)) or source
        except KeyError:
            return source if fallback is None else fallback

    def listing(self) -> list[documents.DocumentInfo]:
        """The documents as the engine answers from them, each titled by its headline."""
        if self.docs_dir is not None:
            infos = documents.list_documents(self.docs_dir)
        else:
            infos = [documents.DocumentInfo(name, "", len(self.text(name)), "") for name in self.sources()]
        return [replace(d, title=_short(self.title(d.name, d.title))) if d.chars else d for d in infos]

    def examples(self, only: str | None = None) -> list[str]:
        """Example questions about the document searched (all documents: the first ones)."""
        names = [only] if only and only in self.sources() else self.sources()
        texts = {}
        for name in names:
            try:
                texts[name] = self.text(name)
            except KeyError:
                continue
        return examples_for(texts)

    def reindex(self) -> None:
        """Bring the engine up to date with the folder now, so a new document can be asked at once."""
        refresh = getattr(self.engine, "refresh", None)  # qa.QA re-checks the folder here
        if callable(refresh):
            refresh()

    def _changed(self, action) -> Any:
        if not self.manage:
            raise Refused("这个服务器只读，不能修改文档。 / This server is read-only: documents cannot be changed.")
        try:
            result = action()
        except documents.DocumentRejected as exc:
            raise Refused(str(exc)) from None
        try:
            self.reindex()
        except Exception:
            log.exception("re-indexing after a change of documents failed")
            raise Refused("文档已保存，但建立索引失败，请看服务器日志。 / The document was saved, but "
                          "indexing failed; see the server log.") from None
        return result

    def add_file(self, path: str | Path, name: str) -> documents.Added:
        return self._changed(lambda: documents.add_path(self.docs_dir, path, name, self.limits))

    def add_text(self, title: str, body: str) -> documents.Added:
        return self._changed(lambda: documents.add_text(
            self.docs_dir, title if isinstance(title, str) else "", body if isinstance(body, str) else "",
            self.limits))

    def remove(self, name: str | None) -> documents.DocumentInfo:
        if not name:
            raise Refused("请先选择要删除的文档。 / Choose a document to remove first.")
        return self._changed(lambda: documents.remove(self.docs_dir, name if isinstance(name, str) else ""))

    # ---------------------------------------------------------------- questions

    def too_long(self, question: str) -> str:
        n, limit = len(question), self.max_question_chars
        if is_english(question):
            return f"Your question is too long ({n:,} characters). Please ask in at most {limit:,} characters."
        return f"问题太长了（{n} 字），没有作答。请把问题缩短到 {limit} 字以内再问。"

    def check_question(self, question: Any) -> str:
        q = question.strip() if isinstance(question, str) else ""
        if not q:
            raise Refused("问题为空，请输入一个问题。 / The question is empty.")
        if len(q) > self.max_question_chars:
            raise Refused(f"问题太长（{len(q)} 字，上限 {self.max_question_chars}）。 / The question is too long "
                          f"({len(q)} characters, limit {self.max_question_chars}).")
        return q

    def check_history(self, history: Any) -> list[dict]:
        """The conversation as the engine takes it; Refused saying what is wrong with it."""
        if history is None:
            return []
        if not isinstance(history, list):
            raise Refused('history 必须是列表。 / history must be a list of {"question": str, "quote": str}.')
        turns = []
        for i, turn in enumerate(history):
            if (not isinstance(turn, dict) or not isinstance(turn.get("question"), str)
                    or not isinstance(turn.get("quote", ""), (str, type(None)))):
                raise Refused(
                    f'history 第 {i + 1} 项格式不对，应为 {{"question": 字符串, "quote": 字符串}}。 / '
                    f'history item {i + 1} must be {{"question": str, "quote": str}} (quote "" when declined).')
            question, quote = turn["question"], turn.get("quote") or ""
            if len(question) > self.max_question_chars or len(quote) > MAX_QUOTE_CHARS_IN_HISTORY:
                raise Refused(
                    f"history 第 {i + 1} 项太长。 / history item {i + 1} is too long (question ≤ "
                    f"{self.max_question_chars}, quote ≤ {MAX_QUOTE_CHARS_IN_HISTORY} characters).")
            if question.strip():
                turns.append({"question": question, "quote": quote})
        return turns[-MAX_HISTORY_TURNS:]

    def check_document(self, document: Any) -> str | None:
        if document is not None and not isinstance(document, str):
            raise Refused("document 必须是文档名。 / document must be a document name (see /documents).")
        if document and document not in self.sources():
            self.reindex()  # added a moment ago?
            if document not in self.sources():
                raise Refused(f"没有名为「{document}」的文档。 / There is no document named {document!r}; "
                              f"known: {', '.join(self.sources())}.")
        return document or None

    def answer_dict(self, question: Any, history: Any = None, document: Any = None) -> dict:
        """`/answer`: `Answer.to_dict()`, or Refused for a bad question, history or document."""
        q = self.check_question(question)
        turns = self.check_history(history)
        only = self.check_document(document)
        try:
            return self.engine.answer(q, history=turns or None, only=only).to_dict()
        except KeyError:  # removed in between
            raise Refused(f"没有名为「{only}」的文档。 / There is no document named {only!r}.") from None
        except ValueError as exc:
            raise Refused(str(exc)) from None

    def ask(self, question: str | None, turns: list | None = None, only: str | None = None) -> Reply:
        """The chat's reply to `question` (never raises: a refusal is a reply in the question's language)."""
        q = (question or "").strip()
        if not q:
            return Reply(fmt.EMPTY_ZH)
        if len(q) > self.max_question_chars:
            return Reply(self.too_long(q))
        only = None if only in (None, "", web_docs.ALL_DOCUMENTS) else only
        try:
            answer = self.engine.answer(q, history=(turns or [])[-MAX_HISTORY_TURNS:] or None, only=only)
        except ValueError as exc:  # the engine's own clear message (e.g. empty after cleanup)
            return Reply(fmt.escape_md(str(exc)))
        except KeyError:  # the chosen document was removed meanwhile
            gone = (f"The document {only} is no longer there; choose another one." if is_english(q)
                    else f"文档「{only}」已经不在了，请重新选择要查找的文档。")
            return Reply(fmt.escape_md(gone))
        except Exception:
            log.exception("answering failed for %r", q[:200])
            return Reply(fmt.ERROR_EN if is_english(q) else fmt.ERROR_ZH)
        reply = fmt.format_reply(q, answer, self.text, self.title)
        return Reply(web_docs.decorate_reply(reply, q, answer.understood_as, answer.found, only or ""), answer)


def _short(title: str) -> str:
    limit = documents.MAX_TITLE_CHARS
    return title if len(title) <= limit else title[: limit - 1] + "…"


@functools.lru_cache(maxsize=64)
def _title(text: str) -> str:
    return fmt.document_title(text)
