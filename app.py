"""Web chat over the news articles in `seeds/`: every answer is a verbatim quote.

Run `python app.py` (or `make run`) and open http://127.0.0.1:7860.

Layout: the chat on the left, the article on the right with the latest quote
highlighted and scrolled into view (on a phone: chat, input, article, examples, in
one column). Selecting an earlier reply highlights its quote again. The model and
index load once, at start-up. What the page shows is formatted by `qa/web_format.py`;
its style and scripts are `assets/chat.css`, `assets/chat.js` and `assets/article.js`.

Endpoints (for `gradio_client` users; see `/?view=api` in the browser):

* `/answer` - `(question: str, history: list | None = None, document: str | None = None)`
  -> `Answer.to_dict()`:
  `{"found", "quote", "source", "start", "end", "score", "passages", "understood_as"}`.
  `history` is the conversation so far, oldest first, each `{"question", "quote"}` (quote ""
  when the bot declined): a follow-up ("那蔬菜呢？") is completed from it and `understood_as`
  says how. `document` limits the answer to one document (a name from `/documents`).
  Offsets are 0-based, end-exclusive character offsets into the cleaned document.
  An empty or over-long question, a malformed history or an unknown document raises
  `gr.Error`, which `gradio_client` surfaces as an `AppError` carrying the message; a
  successful call therefore always returns exactly those keys.
* `/documents` - `()` -> the document list, each `{"name", "title", "chars", "added"}`.
* `/add_document` - `(file)` -> the document list with the new one (pass
  `gradio_client.handle_file(path)`; .txt, .md, .html or .pdf; see `qa.documents`).
  `/add_text` - `(title: str, text: str)` -> the list, for pasted text.
  `/remove_document` - `(name: str)` -> the list without it. Refusals raise `gr.Error`.
* `/chat` - `(message: str, history: list, source: str | None)` ->
  `(history, "", article_html, source)`: one turn of the chat as the page shows it,
  replies in markdown (`{"role", "content"}` messages, content a string). Empty or
  over-long input gets a reply, not an error.

The page keeps the conversation (question and quote of each turn) and passes it to the engine,
so follow-up questions work; Clear forgets it. The documents panel lists, adds (upload or
paste) and removes documents; `qa.documents` does the work, `qa.web_docs` the formatting.
Nothing from the user or the article reaches the page as raw HTML: all text is
escaped in `qa.web_format` / `qa.web_docs`, and the Chatbot's own sanitizer stays on as a
second layer.
"""

# No `from __future__ import annotations`: gr.api reads the real type hints of answer_api
# (AnswerDict) and chat_api to publish their schemas, and a string would become "Any".
import argparse
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import gradio as gr
from gradio.utils import get_upload_folder

from qa.corpus import documents
from qa import web_docs
from qa.web_format import (
    EMPTY_ZH,
    ERROR_EN,
    ERROR_ZH,
    MAX_QUESTION_CHARS,
    NOTE_DECLINED,
    NOTE_LATEST,
    NOTE_RECALLED,
    NOTE_START,
    echo_question,
    escape_md,
    format_reply,
    format_too_long,
    is_english,
    render_article,
)

if TYPE_CHECKING:
    from qa.types import Answer

log = logging.getLogger("app")

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "assets"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860

# Queue: answers take tens of milliseconds and the engine is thread-safe, so a
# handful of workers drains 20+ simultaneous users in well under a second; the
# queue itself is bounded so a flood gets a "queue full" message, not a hang.
CONCURRENCY_LIMIT = 8
QUEUE_MAX_SIZE = 128

EXAMPLES = [
    "赫章县共创建达标党支部多少个？",
    "本文作者是谁？",
    "赫章县是哪个省的深度贫困县？",
    "Who wrote this report?",
    "What is the capital of France?",
]

ABOUT = (
    "**只引用原文，从不编造：** 每个回答都是文章里的原句，并标明在第几段；文章没有答案时就直说“没有找到”。"
    "点选一条回答，文章里会重新高亮它的引文。 "
    '<span lang="en">*Quotes the article verbatim and never invents; says so when the article has no answer. '
    "Select a reply to highlight its quote again.*</span>"
)

PLACEHOLDER = "输入问题，回车发送 · Type a question"
BUSY_PLACEHOLDER = "正在查找答案… / Looking for the answer…"

THEME_FONTS = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


ARTICLE_JS = _asset("article.js")  # the article panel's js_on_load


class PassageDict(TypedDict):
    text: str
    source: str
    start: int
    end: int
    score: float


class AnswerDict(TypedDict):
    """`Answer.to_dict()`; spelled out so the API page shows the schema."""

    found: bool
    quote: str
    source: str
    start: int
    end: int
    score: float
    passages: list[PassageDict]
    understood_as: str


# ---------------------------------------------------------------- the app

MAX_HISTORY_TURNS = 20  # turns of the conversation passed to the engine (the latest ones)
MAX_QUOTE_CHARS_IN_HISTORY = 5000  # a history quote longer than this is refused by /answer


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


def check_history(history: Any) -> list[dict]:
    """The conversation as the engine takes it, or ValueError saying what is wrong with it."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise ValueError('history 必须是列表。 / history must be a list of {"question": str, "quote": str}.')
    turns = []
    for i, turn in enumerate(history):
        if (not isinstance(turn, dict) or not isinstance(turn.get("question"), str)
                or not isinstance(turn.get("quote", ""), (str, type(None)))):
            raise ValueError(
                f'history 第 {i + 1} 项格式不对，应为 {{"question": 字符串, "quote": 字符串}}。 / '
                f'history item {i + 1} must be {{"question": str, "quote": str}} (quote "" when declined).'
            )
        question, quote = turn["question"], turn.get("quote") or ""
        if len(question) > MAX_QUESTION_CHARS or len(quote) > MAX_QUOTE_CHARS_IN_HISTORY:
            raise ValueError(
                f"history 第 {i + 1} 项太长。 / history item {i + 1} is too long (question ≤ {MAX_QUESTION_CHARS}, "
                f"quote ≤ {MAX_QUOTE_CHARS_IN_HISTORY} characters)."
            )
        if question.strip():
            turns.append({"question": question, "quote": quote})
    return turns[-MAX_HISTORY_TURNS:]


def build_app(engine: Any, limits: documents.Limits | None = None, editable: bool = True) -> gr.Blocks:
    """The Blocks app around a loaded engine (`qa.QA` or anything with its API).

    With `editable` (and an engine that has a `docs_dir`), the page and the API can add and
    remove documents within `limits`; otherwise the documents are only listed."""
    limits = limits or documents.Limits()
    docs_dir = getattr(engine, "docs_dir", None)
    manage = editable and docs_dir is not None

    def sources() -> list[str]:
        return list(engine.sources)

    def default_source() -> str:
        names = sources()
        return names[0] if names else ""

    def listing() -> list[documents.DocumentInfo]:
        """The documents as the engine answers from them (the folder when there is one)."""
        if docs_dir is not None:
            return documents.list_documents(docs_dir)
        out = []
        for name in sources():
            doc = engine.document(name)
            title = next((ln.strip() for ln in doc.splitlines() if ln.strip()), name)
            out.append(documents.DocumentInfo(name, title[: documents.MAX_TITLE_CHARS], len(doc), ""))
        return out

    def reindex() -> None:
        """Bring the engine up to date with the folder now (it would otherwise on the next question),
        so that a new document can be shown and asked at once."""
        refresh = getattr(engine, "refresh", None)  # qa.QA re-checks the folder here
        if callable(refresh):
            refresh()

    def article_for(source: str, start: int | None = None, end: int | None = None,
                    note: str = NOTE_START, scroll: str = "keep") -> str:
        if not source:
            return render_article("（没有文章 / no article loaded）")
        try:
            text = engine.document(source)
        except KeyError:  # removed since
            return render_article("（这篇文档已被删除。 / This document has been removed.）", source=source)
        return render_article(text, start, end, source=source, note=note, scroll=scroll)

    def ask(question: str, turns: list | None = None, only: str | None = None) -> tuple[str, "Answer | None"]:
        """Reply markdown plus the answer (None when the question was not answered)."""
        q = (question or "").strip()
        if not q:
            return EMPTY_ZH, None
        if len(q) > MAX_QUESTION_CHARS:
            return format_too_long(q), None
        only = only or None
        try:
            answer = engine.answer(q, history=(turns or [])[-MAX_HISTORY_TURNS:] or None, only=only)
        except ValueError as exc:  # the engine's own clear message (e.g. empty after cleanup)
            return escape_md(str(exc)), None
        except KeyError:  # the chosen document was removed meanwhile
            gone = (f"The document {only} is no longer there; choose another one." if is_english(q)
                    else f"文档「{only}」已经不在了，请重新选择要查找的文档。")
            return escape_md(gone), None
        except Exception:
            log.exception("answering failed for %r", q[:200])
            return (ERROR_EN if is_english(q) else ERROR_ZH), None
        reply = format_reply(q, answer, engine.document)
        return web_docs.decorate_reply(reply, q, answer.understood_as, answer.found, only or ""), answer

    def known(source: str | None) -> str:
        return source if source in sources() else default_source()

    def turn(message: str, history: list, turns: list | None = None,
             only: str | None = None) -> tuple[list, "Answer | None"]:
        """Answer `message`: `history` with the reply appended, and the answer (None if not asked)."""
        reply, answer = ask(message, turns, only)
        return history + [{"role": "assistant", "content": reply}], answer

    def article_after(answer: "Answer | None", current_source: str | None) -> tuple[str, str]:
        """The article panel and its source after a reply: the quote highlighted; none when the
        article does not answer (said in the panel's status line) or the question was not asked."""
        if answer is not None and answer.found and answer.source:
            return article_for(answer.source, answer.start, answer.end, note=NOTE_LATEST, scroll="hit"), answer.source
        source = known(current_source)
        return article_for(source, note=NOTE_DECLINED if answer is not None else NOTE_START), source

    # ---- /chat: one turn in a single call, for programs
    def chat_api(message: str, history: list, source: str | None) -> tuple[list, str, str, str]:
        """One chat turn: the history with the question and its reply appended, "" (the
        cleared input box), the article panel's HTML (quote highlighted) and its source."""
        message = message or ""
        history = list(history or [])
        if message.strip():
            history.append({"role": "user", "content": echo_question(message.strip())})
        history, answer = turn(message, history)
        article, shown = article_after(answer, source)
        return history, "", article, shown

    # ---- the page: show the question at once, then answer it
    def show_question(message: str, history: list | None):
        """Step 1 (not queued, instant): the question joins the chat and the input waits."""
        q = (message or "").strip()
        if not q:  # an empty submit does nothing visible
            return gr.skip(), gr.skip(), None, *[gr.skip()] * len(lockable)
        history = list(history or []) + [{"role": "user", "content": echo_question(q)}]
        box = gr.update(value="", interactive=False, placeholder=BUSY_PLACEHOLDER)
        return history, box, q, *[gr.update(interactive=False)] * len(lockable)

    def answer_question(pending: str | None, history: list | None, current_source: str | None, refs: dict | None,
                        turns: list | None = None, only: str | None = None):
        """Step 2 (queued): the reply, the article with its quote highlighted, what each reply quoted,
        and the conversation so far (question and quote of each answered turn) for follow-ups."""
        if not pending:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), None, gr.skip()
        turns = list(turns or [])
        only = None if only in (None, "", web_docs.ALL_DOCUMENTS) else only
        history, answer = turn(pending, list(history or []), turns, only)
        refs = dict(refs or {})
        if answer is not None and answer.found and answer.source:
            refs[len(history) - 1] = (answer.source, answer.start, answer.end)
        if answer is not None:
            turns.append({"question": pending, "quote": answer.quote if answer.found else ""})
        article, source = article_after(answer, current_source)
        return history, article, source, refs, None, turns[-MAX_HISTORY_TURNS:]

    def unlock():
        """Step 3: the input takes questions again."""
        box = gr.update(interactive=True, placeholder=PLACEHOLDER)
        return box, *[gr.update(interactive=True)] * len(lockable)

    def recall(refs: dict | None, history: list | None, evt: gr.SelectData):
        """Selecting a reply (or its question) highlights that reply's quote again."""
        index = evt.index if isinstance(evt.index, int) else None
        refs = refs or {}
        for i in (index, None if index is None else index + 1):  # a question: its reply follows it
            if i in refs:
                source, start, end = refs[i]
                latest = i == len(history or []) - 1
                note = NOTE_LATEST if latest else NOTE_RECALLED
                return article_for(source, start, end, note=note, scroll="hit"), source
        return gr.skip(), gr.skip()  # a reply without a quote: leave the article as it is

    def clear():
        """Empty chat, no highlight, article at the top, and the conversation forgotten."""
        box = gr.update(value="", interactive=True, placeholder=PLACEHOLDER)
        first = default_source()
        return ([], box, article_for(first, scroll="top"), gr.update(value=first), {}, None, [],
                *[gr.update(interactive=True)] * len(lockable))

    def show_source(source: str) -> str:
        return article_for(source, scroll="top")

    def choose_scope(only: str | None, current_source: str | None):
        """Asking in one document shows that document."""
        if only and only != web_docs.ALL_DOCUMENTS and only in sources() and only != current_source:
            return article_for(only, scroll="top"), gr.update(value=only)
        return gr.skip(), gr.skip()

    # ---- the documents panel
    def panel(status_text: str = "", shown: str | None = None, scope_value: str | None = None):
        """Everything that shows the document list: table, accordion label, remove choices, the
        search-in and article pickers (kept if their document is still there), and the status line."""
        docs = listing()
        names = [d.name for d in docs]
        several = len(docs) > 1
        scope_keep = scope_value if scope_value in names else web_docs.ALL_DOCUMENTS
        return (
            web_docs.documents_table(docs),
            gr.update(label=web_docs.panel_label(len(docs))),
            gr.update(choices=web_docs.document_choices(docs), value=None),
            gr.update(choices=web_docs.scope_choices(docs), value=scope_keep, visible=several),
            gr.update(choices=web_docs.document_choices(docs), value=shown if shown in names else default_source(),
                      visible=several),
            status_text,
        )

    def after_change(status_text: str, shown: str | None, scope_value: str | None, article_html):
        table, label, remove_choices, scope_update, picker_update, status_line = panel(status_text, shown, scope_value)
        return table, label, remove_choices, scope_update, picker_update, status_line, article_html

    def refused(exc: Exception) -> tuple:
        """The panel unchanged but for its status line (outputs: table, label, remove, scope, picker,
        status, article)."""
        return (*(gr.skip(),) * 5, web_docs.status(str(exc), ok=False), gr.skip())

    def added(result: documents.Added, scope_value: str | None) -> tuple:
        try:
            reindex()
        except Exception:
            log.exception("indexing after adding %s failed", result.info.name)
            return refused(RuntimeError(
                f"「{result.info.name}」已保存，但建立索引失败，请看服务器日志。 / {result.info.name} was saved, "
                "but indexing it failed; see the server log."))
        message = web_docs.status(web_docs.added_message(result.info.name, result.info.chars, result.note))
        table, label, remove_choices, scope_update, picker_update, status_line = panel(
            message, result.info.name, scope_value)
        return (table, label, remove_choices, scope_update, picker_update, status_line,
                article_for(result.info.name, scroll="top"))

    def page_upload(path: str | None, scope_value: str | None):
        """A file chosen in the panel: saved as a document, indexed, shown; then the file box is emptied."""
        if not path:
            return (*(gr.skip(),) * 7, gr.skip())
        try:
            result = documents.add_path(docs_dir, path, Path(path).name, limits)
        except documents.DocumentRejected as exc:
            return (*refused(exc), None)
        return (*added(result, scope_value), None)

    def page_paste(title: str, body: str, scope_value: str | None):
        try:
            result = documents.add_text(docs_dir, title, body, limits)
        except documents.DocumentRejected as exc:
            return (*refused(exc), gr.skip(), gr.skip())
        return (*added(result, scope_value), "", "")

    def page_remove(name: str | None, shown: str | None, scope_value: str | None):
        if not name:
            return refused(ValueError("请先选择要删除的文档。 / Choose a document to remove first."))
        try:
            info = documents.remove(docs_dir, name)
        except documents.DocumentRejected as exc:
            return refused(exc)
        try:
            reindex()
        except Exception:
            log.exception("re-indexing after removing %s failed", name)
        still = shown if shown != info.name else default_source()
        return after_change(web_docs.status(web_docs.removed_message(info.name)), still, scope_value,
                            article_for(still, scroll="top") if shown == info.name else gr.skip())

    # ---- the web API
    def answer_api(question: str, history: list[TurnDict] | None = None, document: str | None = None) -> AnswerDict:
        """Answer a question with a verbatim quote from the articles.

        `history` (optional): the conversation so far, oldest first, each {"question", "quote"}
        (quote "" when the bot declined); a follow-up question is completed from it and
        `understood_as` says how. `document` (optional): answer from that document alone.
        Returns `Answer.to_dict()`: found, quote, source, start, end, score, passages,
        understood_as (offsets: 0-based, end-exclusive, into the cleaned document text).
        When `found` is false, `quote` is empty. An empty question, one longer than 2000
        characters, a malformed history or an unknown document raises gr.Error
        (gradio_client: AppError with the message).
        """
        q = (question or "").strip() if isinstance(question, str) else ""
        if not q:
            raise gr.Error("问题为空，请输入一个问题。 / The question is empty.", print_exception=False)
        if len(q) > MAX_QUESTION_CHARS:
            raise gr.Error(
                f"问题太长（{len(q)} 字，上限 {MAX_QUESTION_CHARS}）。 / The question is too long "
                f"({len(q)} characters, limit {MAX_QUESTION_CHARS}).",
                print_exception=False,
            )
        try:
            turns = check_history(history)
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        if document is not None and not isinstance(document, str):
            raise gr.Error("document 必须是文档名。 / document must be a document name (see /documents).",
                           print_exception=False)
        only = document or None
        if only is not None and only not in sources():
            reindex()  # added a moment ago?
            if only not in sources():
                raise gr.Error(f"没有名为「{only}」的文档。 / There is no document named {only!r}; "
                               f"known: {', '.join(sources())}.", print_exception=False)
        try:
            return engine.answer(q, history=turns or None, only=only).to_dict()
        except KeyError as exc:  # removed in between
            raise gr.Error(f"没有名为「{only}」的文档。 / There is no document named {only!r}.",
                           print_exception=False) from exc
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def documents_api() -> list[DocumentDict]:
        """The documents answered from: name (what `document=` takes), title, chars, added."""
        return [d.to_dict() for d in listing()]

    def add_document_api(file: FileDict) -> list[DocumentDict]:
        """Add a document from a file (gradio_client.handle_file(path)): .txt, .md, .html or .pdf.
        Returns the document list. A name already taken gets a suffix (report-2.txt); the same
        text twice, an empty, unreadable, scanned or oversized file raises gr.Error saying why."""
        path = file.get("path") if isinstance(file, dict) else None
        if not isinstance(path, str) or not path:
            raise gr.Error("请用 gradio_client.handle_file(路径) 传文件。 / Pass the file as "
                           "gradio_client.handle_file(path).", print_exception=False)
        uploads = Path(get_upload_folder()).resolve()
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(uploads):  # only files uploaded to this server, never a server path
            raise gr.Error("文件必须先上传。 / The file must be uploaded (gradio_client.handle_file).",
                           print_exception=False)
        name = file.get("orig_name") or resolved.name
        try:
            documents.add_path(docs_dir, resolved, str(name), limits)
        except documents.DocumentRejected as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        reindex()
        return documents_api()

    def add_text_api(title: str, text: str) -> list[DocumentDict]:
        """Add pasted text as a document under `title` (may be empty: then its first line). Returns the list."""
        try:
            documents.add_text(docs_dir, title if isinstance(title, str) else "", text if isinstance(text, str) else "",
                               limits)
        except documents.DocumentRejected as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        reindex()
        return documents_api()

    def remove_document_api(name: str) -> list[DocumentDict]:
        """Remove the document `name` (moved to .removed/ in the docs folder). Returns the list."""
        try:
            documents.remove(docs_dir, name if isinstance(name, str) else "")
        except documents.DocumentRejected as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        reindex()
        return documents_api()

    initial_docs = listing()
    several = len(initial_docs) > 1
    first = default_source()

    with gr.Blocks(title="文章问答 · Article QA", analytics_enabled=False, fill_width=True) as demo:
        refs = gr.State({})  # chat message index -> (source, start, end) of the quote it gave
        pending = gr.State(None)  # the question being answered
        turns = gr.State([])  # the conversation for the engine: {"question", "quote"} per answered turn
        gr.Markdown("## 文章问答 · Quote-only article QA", elem_id="qa-title")
        gr.Markdown(ABOUT, elem_id="qa-about")
        with gr.Row(equal_height=False, elem_id="qa-main"):
            with gr.Column(scale=5, min_width=340, elem_id="qa-chat-col"):
                chatbot = gr.Chatbot(
                    label="chat",
                    show_label=False,  # the floating label would cover scrolled messages
                    height=560,
                    latex_delimiters=[],  # quotes may contain "$": never render LaTeX
                    sanitize_html=True,
                    feedback_options=None,
                    buttons=["copy"],
                    placeholder="问一个关于文章的问题，或点击下面的例子。<br>Ask about the article, or click an example below.",
                    elem_id="qa-chat",
                )
                with gr.Row(elem_id="qa-ask-row"):
                    msg = gr.Textbox(
                        placeholder=PLACEHOLDER,
                        show_label=False,
                        container=False,  # no frame: the whole width of a phone for the question
                        lines=1,
                        max_lines=4,
                        scale=6,
                        min_width=300,
                        autofocus=True,
                        elem_id="qa-input",
                    )
                    send = gr.Button("发送 / Ask", variant="primary", scale=1, min_width=110, elem_id="qa-send")
                    clear_btn = gr.Button("清空 / Clear", scale=1, min_width=110, elem_id="qa-clear")
                scope = gr.Dropdown(
                    choices=web_docs.scope_choices(initial_docs),
                    value=web_docs.ALL_DOCUMENTS,
                    label="在哪些文档里找 / Search in",
                    visible=several,
                    elem_id="qa-scope",
                )
                with gr.Column(elem_id="qa-examples"):
                    gr.Markdown("例子 / Examples", elem_id="qa-examples-label")
                    with gr.Row(elem_classes="qa-example-row"):
                        example_buttons = [
                            gr.Button(q, size="sm", variant="secondary", elem_classes="qa-example")
                            for q in EXAMPLES
                        ]
            with gr.Column(scale=4, min_width=320, elem_id="qa-article-col"):
                picker = gr.Dropdown(
                    choices=web_docs.document_choices(initial_docs),
                    value=first,
                    label="文章 / Article",
                    visible=several,  # one article: its title above the text suffices
                    elem_id="qa-source",
                )
                article = gr.HTML(
                    value=article_for(first),
                    label="article",
                    js_on_load=ARTICLE_JS,
                    elem_id="qa-article",
                )
                with gr.Accordion(web_docs.panel_label(len(initial_docs)), open=False, elem_id="qa-docs") as docs_box:
                    docs_table = gr.HTML(web_docs.documents_table(initial_docs), elem_id="qa-docs-list")
                    docs_status = gr.Markdown("", elem_id="qa-docs-status")
                    with gr.Row(elem_id="qa-remove-row", visible=manage):
                        remove_pick = gr.Dropdown(choices=web_docs.document_choices(initial_docs), value=None,
                                                  label="删除文档 / Remove a document", scale=3, elem_id="qa-remove-pick")
                        remove_btn = gr.Button("删除 / Remove", variant="stop", scale=1, min_width=100,
                                               elem_id="qa-remove")
                    upload = gr.File(label="上传文件 / Upload a file", file_count="single", type="filepath",
                                     file_types=list(documents.ACCEPTED_SUFFIXES), visible=manage, height=120,
                                     elem_id="qa-upload")
                    with gr.Accordion("粘贴文字 / Paste text", open=False, visible=manage, elem_id="qa-paste"):
                        paste_title = gr.Textbox(label="标题 / Title", max_lines=1, max_length=200,
                                                 elem_id="qa-paste-title")
                        paste_body = gr.Textbox(label="正文 / Text", lines=5, max_lines=12,
                                                max_length=limits.max_chars + 1000, elem_id="qa-paste-body")
                        paste_btn = gr.Button("添加 / Add", elem_id="qa-paste-add")
                    gr.Markdown(web_docs.limits_text(limits), visible=manage, elem_id="qa-limits")

        lockable = [send, *example_buttons]  # disabled, with the input, while an answer is computed
        private: dict = dict(api_visibility="private")
        answering = []  # the queued answer steps, which Clear cancels
        for trigger, source_box in [(msg.submit, msg), (send.click, msg)] + [(b.click, b) for b in example_buttons]:
            step = trigger(show_question, [source_box, chatbot], [chatbot, msg, pending, *lockable],
                           queue=False, show_progress="hidden", **private)
            step = step.then(answer_question, [pending, chatbot, picker, refs, turns, scope],
                             [chatbot, article, picker, refs, pending, turns],
                             show_progress="minimal", show_progress_on=[chatbot], **private)
            answering.append(step)
            step.then(unlock, None, [msg, *lockable], queue=False, show_progress="hidden", **private)

        clear_outputs = [chatbot, msg, article, picker, refs, pending, turns, *lockable]
        clear_btn.click(clear, None, clear_outputs, cancels=answering, queue=False, show_progress="hidden", **private)
        chatbot.clear(clear, None, clear_outputs, cancels=answering, queue=False, show_progress="hidden", **private)
        chatbot.select(recall, [refs, chatbot], [article, picker], queue=False, show_progress="hidden", **private)
        picker.input(show_source, picker, article, show_progress="hidden", **private)
        scope.input(choose_scope, [scope, picker], [article, picker], show_progress="hidden", **private)

        panel_outputs = [docs_table, docs_box, remove_pick, scope, picker, docs_status, article]
        if manage:
            upload.upload(page_upload, [upload, scope], [*panel_outputs, upload],
                          show_progress="minimal", show_progress_on=[docs_status], **private)
            paste_btn.click(page_paste, [paste_title, paste_body, scope], [*panel_outputs, paste_title, paste_body],
                            show_progress="minimal", show_progress_on=[docs_status], **private)
            remove_btn.click(page_remove, [remove_pick, picker, scope], panel_outputs,
                             show_progress="minimal", show_progress_on=[docs_status], **private)

        gr.api(chat_api, api_name="chat")
        gr.api(answer_api, api_name="answer")
        gr.api(documents_api, api_name="documents")
        if manage:
            gr.api(add_document_api, api_name="add_document")
            gr.api(add_text_api, api_name="add_text")
            gr.api(remove_document_api, api_name="remove_document")

    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return demo


def launch_kwargs() -> dict:
    """Theme, CSS and page script for `demo.launch` (Gradio 6 takes them at launch, not in Blocks)."""
    theme = gr.themes.Soft(font=THEME_FONTS, font_mono=["Noto Sans Mono CJK SC", "monospace"])
    # Gradio refuses larger uploads before they reach the disk; qa.documents says the same limit in words.
    return {"theme": theme, "css_paths": [ASSETS / "chat.css"], "js": _asset("chat.js"),
            "max_file_size": documents.Limits().max_file_bytes}


def parse_args(argv: list[str] | None = None, env: dict | None = None) -> argparse.Namespace:
    """--host/--port beat GRADIO_SERVER_NAME/GRADIO_SERVER_PORT, which beat 127.0.0.1:7860."""
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(description="Quote-only QA chat over the articles in a folder.")
    p.add_argument("--host", default=env.get("GRADIO_SERVER_NAME") or DEFAULT_HOST, help="bind address")
    p.add_argument("--port", type=int, default=int(env.get("GRADIO_SERVER_PORT") or DEFAULT_PORT))
    p.add_argument("--docs", default=str(HERE / "seeds"),
                   help="folder of .txt / .md documents to answer from (uploads are saved there)")
    p.add_argument("--index", default=str(HERE / "index"), help="index folder (built if missing)")
    p.add_argument("--model", default=None, help="embedding model (default: the bundled e5-small)")
    p.add_argument("--read-only", action="store_true",
                   help="list the documents but do not let the page or the API add or remove any")
    return p.parse_args(argv)


def load_engine(docs: str, index_dir: str, model: str | None = None):
    import qa

    engine = qa.QA(docs=docs, index_dir=index_dir, model=model)
    info = engine.info()
    log.info(
        "Loaded model %s; %s chunks from %s documents; index at %s",
        info.get("model"), info.get("chunks"), info.get("documents"), info.get("index_dir"),
    )
    return engine


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    engine = load_engine(args.docs, args.index, args.model)
    threading.Thread(target=engine.warm_up, name="warm-up", daemon=True).start()  # while the page loads
    demo = build_app(engine, editable=not args.read_only)
    log.info("Serving on http://%s:%d", args.host, args.port)
    demo.launch(server_name=args.host, server_port=args.port, share=False, **launch_kwargs())


if __name__ == "__main__":
    main(sys.argv[1:])
