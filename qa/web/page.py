"""The chat page: the Blocks layout and its event handlers, over a `ChatService`.

Layout: the chat on the left (input, length hint, search-in choice and examples under it), the
article on the right with the latest quote highlighted, the documents panel under the article;
on a phone one column in that order (`assets/chat.css`). The document list, the search-in choice,
the pickers and the examples are read when a page loads and re-read every few seconds when the
documents changed (by anyone), so every open page shows the same documents.

Handlers are methods of `Page`; the unit tests call them by name (`demo.fns`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ..types import AnswerKind
from . import docs as web_docs
from . import format as fmt
from .article import render_article
from .examples import MAX_EXAMPLES
from .service import MAX_HISTORY_TURNS, ChatService, Refused

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
POLL_SECONDS = 5  # how often an open page checks whether the documents changed

ABOUT = (
    "**只引用原文，从不编造：** 每个回答都是文章里的原句，并标明出处；没有把握时只说“可能相关”，"
    "找不到就直说，并给出最接近的段落。 "
    '<span lang="en">*Quotes the article verbatim, never invents; says when it is unsure or finds nothing.*</span>'
)
PLACEHOLDER = "输入问题，回车发送 · Type a question"
BUSY_PLACEHOLDER = "正在查找答案… / Looking for the answer…"
CHAT_PLACEHOLDER = "问一个关于文章的问题，或点击下面的例子。<br>Ask about the article, or click an example below."


def asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


ARTICLE_JS = asset("article.js")  # the article panel's js_on_load


@dataclass
class Parts:
    """The page's components (filled in by `Page.layout`)."""

    chatbot: Any = None
    msg: Any = None
    send: Any = None
    clear: Any = None
    hint: Any = None
    scope: Any = None
    examples: list = field(default_factory=list)
    picker: Any = None
    article: Any = None
    jump: Any = None
    jump_go: Any = None
    docs_box: Any = None
    docs_table: Any = None
    docs_status: Any = None
    remove_pick: Any = None
    remove: Any = None
    upload: Any = None
    paste_title: Any = None
    paste_body: Any = None
    paste: Any = None
    refs: Any = None  # chat message index -> [source, start, end, kind, span] of the quote it gave
    pending: Any = None  # the question being answered
    turns: Any = None  # the conversation for the engine: {"question", "quote"} per answered turn
    seen: Any = None  # the document names this page shows

    def panel(self) -> list:
        """What shows the document list (outputs of every panel update, in this order)."""
        return [self.docs_table, self.docs_box, self.remove_pick, self.scope, self.picker, self.docs_status,
                self.article, *self.examples, self.seen]


class Page:
    """The page's handlers over one service; `build()` lays it out and wires them."""

    def __init__(self, service: ChatService):
        self.service = service
        self.p = Parts()

    # ---------------------------------------------------------------- the article panel

    def article_for(self, source: str, start: int | None = None, end: int | None = None, note: str = fmt.NOTE_START,
                    scroll: str = "keep", kind: str = "hit", span: tuple[int, int] | None = None) -> str:
        if not source:
            return render_article("（没有文章 / no article loaded）")
        try:
            text = self.service.text(source)
        except KeyError:  # removed since
            return render_article("（这篇文档已被删除。 / This document has been removed.）", source=source)
        return render_article(text, start, end, source=source, note=note, scroll=scroll,
                              title=self.service.title(source), kind=kind, span=span)

    def article_after(self, answer, current_source: str | None) -> tuple[str, str]:
        """The article panel and its source after a reply: the quote highlighted (dashed when unsure);
        none when the article does not answer (said in the status line) or the question was not asked."""
        if answer is not None and answer.quote and answer.source and answer.kind is not AnswerKind.NOT_FOUND:
            unsure = answer.kind is AnswerKind.UNSURE
            span = (answer.span.start, answer.span.end) if answer.span and not unsure else None
            return self.article_for(answer.source, answer.start, answer.end, scroll="hit",
                                    note=fmt.NOTE_UNSURE if unsure else fmt.NOTE_LATEST,
                                    kind="maybe" if unsure else "hit", span=span), answer.source
        source = self.service.known(current_source)
        return self.article_for(source, note=fmt.NOTE_DECLINED if answer is not None else fmt.NOTE_START), source

    # ---------------------------------------------------------------- one turn

    def chat_api(self, message: str, history: list, source: str | None) -> tuple[list, str, str, str]:
        """One chat turn: the history with the question and its reply appended, "" (the
        cleared input box), the article panel's HTML (quote highlighted) and its source."""
        message = message or ""
        history = list(history or [])
        if message.strip():
            history.append({"role": "user", "content": fmt.echo_question(message.strip())})
        reply = self.service.ask(message)
        history.append({"role": "assistant", "content": reply.markdown})
        article, shown = self.article_after(reply.answer, source)
        return history, "", article, shown

    def show_question(self, message: str, history: list | None):
        """Step 1 (not queued, instant): the question joins the chat and the input waits."""
        q = (message or "").strip()
        lockable = 1 + len(self.p.examples)
        if not q:  # an empty submit does nothing visible
            return gr.skip(), gr.skip(), None, *[gr.skip()] * lockable
        history = list(history or []) + [{"role": "user", "content": fmt.echo_question(q)}]
        box = gr.update(value="", interactive=False, placeholder=BUSY_PLACEHOLDER)
        return history, box, q, *[gr.update(interactive=False)] * lockable

    def answer_question(self, pending: str | None, history: list | None, current_source: str | None,
                        refs: dict | None, turns: list | None = None, only: str | None = None):
        """Step 2 (queued): the reply, the article with its quote highlighted, what each reply quoted,
        and the conversation so far (question and quote of each answered turn) for follow-ups."""
        if not pending:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), None, gr.skip()
        turns = list(turns or [])
        reply = self.service.ask(pending, turns, only)
        history = list(history or []) + [{"role": "assistant", "content": reply.markdown}]
        refs = dict(refs or {})
        answer = reply.answer
        if answer is not None and answer.quote and answer.kind is not AnswerKind.NOT_FOUND:
            span = [answer.span.start, answer.span.end] if answer.span and answer.found else None
            refs[len(history) - 1] = [answer.source, answer.start, answer.end, answer.kind.value, span]
        if answer is not None:
            turns.append({"question": pending, "quote": answer.quote if answer.found else ""})
        article, source = self.article_after(answer, current_source)
        return history, article, source, refs, None, turns[-MAX_HISTORY_TURNS:]

    def unlock(self):
        """Step 3: the input takes questions again."""
        box = gr.update(interactive=True, placeholder=PLACEHOLDER)
        return box, *[gr.update(interactive=True)] * (1 + len(self.p.examples))

    def recall(self, refs: dict | None, history: list | None, evt: gr.SelectData):
        """Selecting a reply (or its question) highlights that reply's quote again."""
        index = evt.index if isinstance(evt.index, int) else None
        refs = {int(k): v for k, v in (refs or {}).items()}
        for i in (index, None if index is None else index + 1):  # a question: its reply follows it
            if i in refs:
                source, start, end, kind, span = refs[i]
                unsure = kind == AnswerKind.UNSURE.value
                note = fmt.NOTE_UNSURE if unsure else fmt.NOTE_LATEST if i == len(history or []) - 1 \
                    else fmt.NOTE_RECALLED
                return self.article_for(source, start, end, note=note, scroll="hit", kind="maybe" if unsure else "hit",
                                        span=tuple(span) if span else None), source
        return gr.skip(), gr.skip()  # a reply without a quote: leave the article as it is

    def look(self, target: str | None):
        """A closest passage clicked in a reply ("source\\tstart\\tend\\tnonce", set by chat.js): shown
        highlighted in the article."""
        try:
            source, start, end = (target or "").split("\t")[:3]
            start, end = int(start), int(end)
        except ValueError:
            return gr.skip(), gr.skip()
        if source not in self.service.sources():
            return gr.skip(), gr.skip()
        return self.article_for(source, start, end, note=fmt.NOTE_LOOK, scroll="hit", kind="look"), source

    def clear(self):
        """Empty chat, no highlight, article at the top, and the conversation forgotten."""
        box = gr.update(value="", interactive=True, placeholder=PLACEHOLDER)
        first = self.service.default_source()
        return ([], box, self.article_for(first, scroll="top"), gr.update(value=first), {}, None, [],
                *[gr.update(interactive=True)] * (1 + len(self.p.examples)))

    def show_source(self, source: str) -> str:
        return self.article_for(source, scroll="top")

    def choose_scope(self, only: str | None, current_source: str | None):
        """Asking in one document shows that document, and examples about it."""
        names = self.service.sources()
        chosen = only if only in names else None
        examples = self.example_updates(chosen)
        if chosen and chosen != current_source:
            return self.article_for(chosen, scroll="top"), gr.update(value=chosen), *examples
        return gr.skip(), gr.skip(), *examples

    def example_updates(self, only: str | None) -> list:
        questions = self.service.examples(only)
        return [gr.update(value=questions[i], visible=True) if i < len(questions) else gr.update(visible=False)
                for i in range(MAX_EXAMPLES)]

    # ---------------------------------------------------------------- the documents panel

    def panel(self, status_text: str = "", shown: str | None = None, scope_value: str | None = None,
              article: Any = None) -> tuple:
        """Every output of `Parts.panel`: table, accordion label, remove choices, the search-in and
        article pickers (kept if their document is still there), status line, article, examples, seen."""
        docs = self.service.listing()
        names = [d.name for d in docs]
        several = len(docs) > 1
        scope_keep = scope_value if scope_value in names else web_docs.ALL_DOCUMENTS
        shown_keep = shown if shown in names else self.service.default_source()
        if article is None:
            article = self.article_for(shown_keep) if shown_keep != shown else gr.skip()
        return (
            web_docs.documents_table(docs),
            gr.update(label=web_docs.panel_label(len(docs))),
            gr.update(choices=web_docs.document_choices(docs), value=None),
            gr.update(choices=web_docs.scope_choices(docs), value=scope_keep, visible=several),
            gr.update(choices=web_docs.document_choices(docs), value=shown_keep, visible=several),
            status_text,
            article,
            *self.example_updates(None if scope_keep == web_docs.ALL_DOCUMENTS else scope_keep),
            names,
        )

    def load_page(self):
        """A page (re)loads: the documents as they are now, the first one shown."""
        return self.panel("", None, None, self.article_for(self.service.default_source()))

    def poll(self, seen: list | None, shown: str | None, scope_value: str | None):
        """Every few seconds: the panel again when the documents changed (here or in another page)."""
        if list(seen or []) == self.service.sources():
            return (gr.skip(),) * len(self.p.panel())
        return self.panel("", shown, scope_value)

    def refused(self, exc: Exception) -> tuple:
        """The panel unchanged but for its status line."""
        out = [gr.skip()] * len(self.p.panel())
        out[5] = web_docs.status(str(exc), ok=False)
        return tuple(out)

    def added(self, result, scope_value: str | None) -> tuple:
        message = web_docs.status(web_docs.added_message(result.info.name, result.info.chars, result.note))
        return self.panel(message, result.info.name, scope_value, self.article_for(result.info.name, scroll="top"))

    def page_upload(self, path: str | None, scope_value: str | None):
        """A file chosen in the panel: saved as a document, indexed, shown; then the file box is emptied."""
        if not path:
            return (*(gr.skip(),) * len(self.p.panel()), gr.skip())
        try:
            result = self.service.add_file(path, Path(path).name)
        except Refused as exc:
            return (*self.refused(exc), None)
        return (*self.added(result, scope_value), None)

    def page_paste(self, title: str, body: str, scope_value: str | None):
        try:
            result = self.service.add_text(title, body)
        except Refused as exc:
            return (*self.refused(exc), gr.skip(), gr.skip())
        return (*self.added(result, scope_value), "", "")

    def page_remove(self, name: str | None, shown: str | None, scope_value: str | None):
        try:
            info = self.service.remove(name)
        except Refused as exc:
            return self.refused(exc)
        still = shown if shown != info.name else self.service.default_source()
        article = self.article_for(still, scroll="top") if shown == info.name else gr.skip()
        return self.panel(web_docs.status(web_docs.removed_message(info.name)), still, scope_value, article)
