"""Web chat over the news articles in `seeds/`: every answer is a verbatim quote.

Run `python app.py` (or `make run`) and open http://127.0.0.1:7860.

Layout: the chat on the left, the article on the right with the latest quote
highlighted and scrolled into view (on a phone: chat, input, article, examples, in
one column). Selecting an earlier reply highlights its quote again. The model and
index load once, at start-up. What the page shows is formatted by `qa/web_format.py`;
its style and scripts are `assets/chat.css`, `assets/chat.js` and `assets/article.js`.

Endpoints (for `gradio_client` users; see `/?view=api` in the browser):

* `/answer` - `question: str` -> `Answer.to_dict()`:
  `{"found", "quote", "source", "start", "end", "score", "passages", "understood_as"}`.
  Offsets are 0-based, end-exclusive character offsets into the cleaned document.
  An empty or over-long question raises `gr.Error`, which `gradio_client`
  surfaces as an `AppError` carrying the message; a successful call therefore
  always returns exactly those keys.
* `/chat` - `(message: str, history: list, source: str | None)` ->
  `(history, "", article_html, source)`: one turn of the chat as the page shows it,
  replies in markdown (`{"role", "content"}` messages, content a string). Empty or
  over-long input gets a reply, not an error.

Nothing from the user or the article reaches the page as raw HTML: all text is
escaped in `qa.web_format`, and the Chatbot's own sanitizer stays on as a second layer.
"""

# No `from __future__ import annotations`: gr.api reads the real type hints of answer_api
# (AnswerDict) and chat_api to publish their schemas, and a string would become "Any".
import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import gradio as gr

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


def build_app(engine: Any) -> gr.Blocks:
    """The Blocks app around a loaded engine (`qa.QA` or anything with its API)."""
    sources = list(engine.sources)
    default_source = sources[0] if sources else ""

    def article_for(source: str, start: int | None = None, end: int | None = None,
                    note: str = NOTE_START, scroll: str = "keep") -> str:
        if not source:
            return render_article("（没有文章 / no article loaded）")
        return render_article(engine.document(source), start, end, source=source, note=note, scroll=scroll)

    def ask(question: str) -> tuple[str, "Answer | None"]:
        """Reply markdown plus the answer (None when the question was not answered)."""
        q = (question or "").strip()
        if not q:
            return EMPTY_ZH, None
        if len(q) > MAX_QUESTION_CHARS:
            return format_too_long(q), None
        try:
            answer = engine.answer(q)
        except ValueError as exc:  # the engine's own clear message (e.g. empty after cleanup)
            return escape_md(str(exc)), None
        except Exception:
            log.exception("answering failed for %r", q[:200])
            return (ERROR_EN if is_english(q) else ERROR_ZH), None
        return format_reply(q, answer, engine.document), answer

    def known(source: str | None) -> str:
        return source if source in sources else default_source

    def turn(message: str, history: list) -> tuple[list, "Answer | None"]:
        """Answer `message`: `history` with the reply appended, and the answer (None if not asked)."""
        reply, answer = ask(message)
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

    def answer_question(pending: str | None, history: list | None, current_source: str | None, refs: dict | None):
        """Step 2 (queued): the reply, the article with its quote highlighted, and what each reply quoted."""
        if not pending:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), None
        history, answer = turn(pending, list(history or []))
        refs = dict(refs or {})
        if answer is not None and answer.found and answer.source:
            refs[len(history) - 1] = (answer.source, answer.start, answer.end)
        article, source = article_after(answer, current_source)
        return history, article, source, refs, None

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
        box = gr.update(value="", interactive=True, placeholder=PLACEHOLDER)
        return ([], box, article_for(default_source, scroll="top"), default_source, {}, None,
                *[gr.update(interactive=True)] * len(lockable))

    def show_source(source: str) -> str:
        return article_for(source, scroll="top")

    def answer_api(question: str) -> AnswerDict:
        """Answer a question with a verbatim quote from the article.

        Returns `Answer.to_dict()`: found, quote, source, start, end, score, passages
        (offsets: 0-based, end-exclusive, into the cleaned document text). When
        `found` is false, `quote` is empty. An empty question, or one longer than
        2000 characters, raises gr.Error (gradio_client: AppError with the message).
        """
        q = (question or "").strip()
        if not q:
            raise gr.Error("问题为空，请输入一个问题。 / The question is empty.", print_exception=False)
        if len(q) > MAX_QUESTION_CHARS:
            raise gr.Error(
                f"问题太长（{len(q)} 字，上限 {MAX_QUESTION_CHARS}）。 / The question is too long "
                f"({len(q)} characters, limit {MAX_QUESTION_CHARS}).",
                print_exception=False,
            )
        try:
            return engine.answer(q).to_dict()
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    with gr.Blocks(title="文章问答 · Article QA", analytics_enabled=False, fill_width=True) as demo:
        refs = gr.State({})  # chat message index -> (source, start, end) of the quote it gave
        pending = gr.State(None)  # the question being answered
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
                with gr.Column(elem_id="qa-examples"):
                    gr.Markdown("例子 / Examples", elem_id="qa-examples-label")
                    with gr.Row(elem_classes="qa-example-row"):
                        example_buttons = [
                            gr.Button(q, size="sm", variant="secondary", elem_classes="qa-example")
                            for q in EXAMPLES
                        ]
            with gr.Column(scale=4, min_width=320, elem_id="qa-article-col"):
                picker = gr.Dropdown(
                    choices=sources,
                    value=default_source,
                    label="文章 / Article",
                    visible=len(sources) > 1,  # one article: its title above the text suffices
                    elem_id="qa-source",
                )
                article = gr.HTML(
                    value=article_for(default_source),
                    label="article",
                    js_on_load=ARTICLE_JS,
                    elem_id="qa-article",
                )

        lockable = [send, *example_buttons]  # disabled, with the input, while an answer is computed
        private: dict = dict(api_visibility="private")
        answering = []  # the queued answer steps, which Clear cancels
        for trigger, source_box in [(msg.submit, msg), (send.click, msg)] + [(b.click, b) for b in example_buttons]:
            step = trigger(show_question, [source_box, chatbot], [chatbot, msg, pending, *lockable],
                           queue=False, show_progress="hidden", **private)
            step = step.then(answer_question, [pending, chatbot, picker, refs], [chatbot, article, picker, refs, pending],
                             show_progress="minimal", show_progress_on=[chatbot], **private)
            answering.append(step)
            step.then(unlock, None, [msg, *lockable], queue=False, show_progress="hidden", **private)

        clear_outputs = [chatbot, msg, article, picker, refs, pending, *lockable]
        clear_btn.click(clear, None, clear_outputs, cancels=answering, queue=False, show_progress="hidden", **private)
        chatbot.clear(clear, None, clear_outputs, cancels=answering, queue=False, show_progress="hidden", **private)
        chatbot.select(recall, [refs, chatbot], [article, picker], queue=False, show_progress="hidden", **private)
        picker.input(show_source, picker, article, show_progress="hidden", **private)
        gr.api(chat_api, api_name="chat")
        gr.api(answer_api, api_name="answer")

    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return demo


def launch_kwargs() -> dict:
    """Theme, CSS and page script for `demo.launch` (Gradio 6 takes them at launch, not in Blocks)."""
    theme = gr.themes.Soft(font=THEME_FONTS, font_mono=["Noto Sans Mono CJK SC", "monospace"])
    return {"theme": theme, "css_paths": [ASSETS / "chat.css"], "js": _asset("chat.js")}


def parse_args(argv: list[str] | None = None, env: dict | None = None) -> argparse.Namespace:
    """--host/--port beat GRADIO_SERVER_NAME/GRADIO_SERVER_PORT, which beat 127.0.0.1:7860."""
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(description="Quote-only QA chat over the articles in a folder.")
    p.add_argument("--host", default=env.get("GRADIO_SERVER_NAME") or DEFAULT_HOST, help="bind address")
    p.add_argument("--port", type=int, default=int(env.get("GRADIO_SERVER_PORT") or DEFAULT_PORT))
    p.add_argument("--docs", default=str(HERE / "seeds"), help="folder of .txt articles")
    p.add_argument("--index", default=str(HERE / "index"), help="index folder (built if missing)")
    p.add_argument("--model", default=None, help="embedding model (default: the bundled e5-small)")
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
    demo = build_app(engine)
    log.info("Serving on http://%s:%d", args.host, args.port)
    demo.launch(server_name=args.host, server_port=args.port, share=False, **launch_kwargs())


if __name__ == "__main__":
    main(sys.argv[1:])
