"""Web chat over the news articles in `seeds/`: every answer is a verbatim quote.

Run `python app.py` (or `make run`) and open http://127.0.0.1:7860.

Layout: the chat on the left, the article on the right with the latest quote
highlighted and scrolled into view. The model and index load once, at start-up.

Endpoints (for `gradio_client` users; see `/?view=api` in the browser):

* `/answer` - `question: str` -> `Answer.to_dict()`:
  `{"found", "quote", "source", "start", "end", "score", "passages"}`.
  Offsets are 0-based, end-exclusive character offsets into the cleaned document.
  An empty or over-long question raises `gr.Error`, which `gradio_client`
  surfaces as an `AppError` carrying the message; a successful call therefore
  always returns exactly those keys.
* `/chat` - `(message: str, history: list, source: str | None)` ->
  `(history, "", article_html, source)`: the chat as the browser sees it. Replies
  are markdown; Gradio 6 returns each message's content as a list of parts
  (`[{"type": "text", "text": ...}]`). Empty or over-long input gets a reply, not an error.

Nothing from the user or the article reaches the page as raw HTML: all text is
escaped here, and the Chatbot's own sanitizer stays on as a second layer.
"""

# No `from __future__ import annotations`: gr.api reads the real return type of
# answer_api (AnswerDict) to publish its schema, and a string would become "Any".
import argparse
import html
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import gradio as gr

if TYPE_CHECKING:  # the engine is imported lazily so that formatting needs no model
    from qa.types import Answer

log = logging.getLogger("app")

HERE = Path(__file__).resolve().parent
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860

MAX_QUESTION_CHARS = 2000  # longer questions get a "please shorten" reply
ECHO_CHARS = 300  # how much of an over-long question is echoed back in the chat

# Queue: answers take tens of milliseconds and the engine is thread-safe, so a
# handful of workers drains 20+ simultaneous users in well under a second; the
# queue itself is bounded so a flood gets a "queue full" message, not a hang.
CONCURRENCY_LIMIT = 8
QUEUE_MAX_SIZE = 128

NOT_FOUND_ZH = "文章中没有找到答案。"
NOT_FOUND_EN = "The article does not say."
EMPTY_ZH = "请输入一个问题。 / Please type a question."
ERROR_ZH = "抱歉，处理这个问题时出错了，请换个说法再试。"
ERROR_EN = "Sorry, something went wrong with this question. Please try rephrasing it."

EXAMPLES = [
    "赫章县共创建达标党支部多少个？",
    "本文作者是谁？",
    "赫章县是哪个省的深度贫困县？",
    "Who wrote this report?",
    "What is the capital of France?",
]

ABOUT = (
    "**只引用原文，从不编造。** 每个回答都是文章中的原句，并注明出处位置；"
    "文章里没有答案时，机器人会直接说“没有找到”。 "
    "*It only quotes the article verbatim and never invents anything; "
    "when the article does not answer the question, it says so.*"
)



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


# ---------------------------------------------------------------- text helpers

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef\U00020000-\U0002ffff]")
# Markdown punctuation that could turn quoted text into formatting, links or LaTeX.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$])")
_BLANK_RUNS = re.compile(r"\n[ \t\u3000]*(?:\n[ \t\u3000]*)+")
_MD_LINE_START = re.compile(r"^(\s*)(\d+)\.(?=\s)|^(\s*)([-=])", re.MULTILINE)


def is_english(question: str) -> bool:
    """True when the question has no CJK characters (then replies are in English)."""
    return not _CJK.search(question or "")


def escape_md(text: str) -> str:
    """Escape `text` so that markdown + HTML rendering shows it literally."""
    text = html.escape(text, quote=False)  # quote=True would emit "&#x27;", whose "#" we escape
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(
        lambda m: f"{m.group(1)}{m.group(2)}\\." if m.group(2) else f"{m.group(3)}\\{m.group(4)}", text
    )


def _escape_html_text(text: str) -> str:
    """Escape for HTML; line breaks stay visible, runs of blank lines become one break."""
    return html.escape(_BLANK_RUNS.sub("\n", text), quote=True).replace("\n", "<br>")


def _blockquote(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()] or [""]
    return "\n".join(f"> {escape_md(ln)}" for ln in lines)


def _position(start: int, end: int, english: bool) -> str:
    """Human character numbers: 1-based and inclusive (`start` is 0-based)."""
    if english:
        return f"characters {start + 1}–{end}"
    return f"第 {start + 1}–{end} 字"


def highlight_in_passage(passage_text: str, p_start: int, hl_start: int, hl_end: int) -> str:
    """Escaped HTML of a passage with `[hl_start, hl_end)` (document offsets) in <mark>."""
    lo = max(hl_start - p_start, 0)
    hi = min(hl_end - p_start, len(passage_text))
    if hi <= lo:
        return _escape_html_text(passage_text)
    return (
        _escape_html_text(passage_text[:lo])
        + "<mark>"
        + _escape_html_text(passage_text[lo:hi])
        + "</mark>"
        + _escape_html_text(passage_text[hi:])
    )


def _passage_html(answer: "Answer", passage: Any) -> str:
    """One supporting passage, with the quote marked when the passage contains it."""
    if passage.source == answer.source and passage.start < answer.end and answer.start < passage.end:
        body = highlight_in_passage(passage.text, passage.start, answer.start, answer.end)
    elif answer.quote and answer.quote in passage.text:
        at = passage.text.index(answer.quote)
        body = highlight_in_passage(passage.text, 0, at, at + len(answer.quote))
    else:
        body = _escape_html_text(passage.text)
    where = f"{html.escape(passage.source)} · {passage.start + 1}–{passage.end} · {passage.score:.2f}"
    return f'<li><div class="qa-src-meta">{where}</div><div class="qa-src-text">{body}</div></li>'


def format_sources(answer: "Answer") -> str:
    """The collapsible 来源 / Sources section (one HTML block, no blank lines)."""
    if not answer.passages:
        return ""
    items = "".join(_passage_html(answer, p) for p in answer.passages)
    return (
        f'<details class="qa-sources"><summary>来源 / Sources（{len(answer.passages)}）</summary>'
        f'<ol>{items}</ol></details>'
    )


def format_reply(question: str, answer: "Answer") -> str:
    """The chat reply (markdown) for one answer.

    Found: the quote as a block quote, then "来源：file，第 a–b 字 · 置信度 s"
    (English labels for an English question), then the collapsible sources.
    Not found: just "文章中没有找到答案。" / "The article does not say.".
    """
    english = is_english(question)
    if not answer.found or not answer.quote:
        return NOT_FOUND_EN if english else NOT_FOUND_ZH
    source = escape_md(answer.source)
    if english:
        meta = f"Source: {source}, {_position(answer.start, answer.end, True)} · confidence {answer.score:.2f}"
    else:
        meta = f"来源：{source}，{_position(answer.start, answer.end, False)} · 置信度 {answer.score:.2f}"
    parts = [_blockquote(answer.quote), meta]
    sources = format_sources(answer)
    if sources:
        parts.append(sources)
    return "\n\n".join(parts)


def format_too_long(question: str) -> str:
    n = len(question)
    if is_english(question):
        return f"Your question is too long ({n:,} characters). Please ask in at most {MAX_QUESTION_CHARS:,} characters."
    return f"问题太长了（{n} 字），没有作答。请把问题缩短到 {MAX_QUESTION_CHARS} 字以内再问。"


def echo_question(question: str) -> str:
    """The user's message as shown in the chat: escaped, and shortened when huge."""
    shown = question if len(question) <= ECHO_CHARS else question[:ECHO_CHARS] + "…"
    return escape_md(shown)



def _article_segment(text: str) -> str:
    # Collapse runs of blank lines for display only (offsets are used before this).
    return html.escape(_BLANK_RUNS.sub("\n\n", text), quote=True)


def render_article(text: str, start: int | None = None, end: int | None = None, source: str = "") -> str:
    """The article as escaped HTML, with `text[start:end]` in `<mark id="qa-hit">`."""
    head = f'<div class="qa-article-title">{html.escape(source)}</div>' if source else ""
    if start is not None and end is not None and 0 <= start < end <= len(text):
        body = (
            _article_segment(text[:start])
            + '<mark id="qa-hit">'
            + html.escape(text[start:end], quote=True)
            + "</mark>"
            + _article_segment(text[end:])
        )
    else:
        body = _article_segment(text)
    return f'<div class="qa-article">{head}<div class="qa-article-body">{body}</div></div>'


# Scroll the highlighted quote into view inside the article panel (not the page).
ARTICLE_JS = """
const scrollToHit = () => {
  const box = element.querySelector('.qa-article-body');
  const hit = element.querySelector('#qa-hit');
  if (!box || !hit) return;
  const top = hit.offsetTop - box.clientHeight / 3;
  box.scrollTo({top: Math.max(0, top), behavior: 'smooth'});
};
watch('value', () => requestAnimationFrame(scrollToHit));
requestAnimationFrame(scrollToHit);
"""

CSS = """
.qa-article { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
  background: var(--background-fill-primary); overflow: hidden; }
.qa-article-title { padding: 8px 14px; font-weight: 600; border-bottom: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); }
.qa-article-body { position: relative; height: 600px; overflow-y: auto; padding: 10px 16px;
  white-space: pre-line; line-height: 1.8; font-size: 15px; }
.qa-article mark, .qa-sources mark { background: #ffe58f; color: inherit; padding: 0 2px; border-radius: 3px; }
.qa-article mark#qa-hit { box-shadow: 0 0 0 2px #fadb14; }
.qa-sources summary { cursor: pointer; font-weight: 600; }
.qa-sources ol { padding-left: 1.4em; margin: 6px 0 0; }
.qa-sources li { margin-bottom: 8px; }
.qa-src-meta { font-size: 12px; opacity: 0.7; }
.qa-src-text { font-size: 14px; line-height: 1.7; }
#qa-about { font-size: 14px; }
"""

THEME_FONTS = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]


# ---------------------------------------------------------------- the app


def build_app(engine: Any) -> gr.Blocks:
    """The Blocks app around a loaded engine (`qa.QA` or anything with its API)."""
    sources = list(engine.sources)
    default_source = sources[0] if sources else ""

    def article_for(source: str, start: int | None = None, end: int | None = None) -> str:
        if not source:
            return render_article("（没有文章 / no article loaded）")
        return render_article(engine.document(source), start, end, source=source)

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
        return format_reply(q, answer), answer

    def chat(message: str, history: list | None, current_source: str | None):
        """Answer `message` in the chat; also update the article panel."""
        history = list(history or [])
        message = message or ""
        reply, answer = ask(message)
        if message.strip():
            history.append({"role": "user", "content": echo_question(message.strip())})
        history.append({"role": "assistant", "content": reply})
        if answer is not None and answer.found and answer.source:
            return history, "", article_for(answer.source, answer.start, answer.end), answer.source
        source = current_source if current_source in sources else default_source
        return history, "", article_for(source), source

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

    def show_source(source: str) -> str:
        return article_for(source)

    def clear():
        return [], "", article_for(default_source), default_source

    with gr.Blocks(title="文章问答 · Article QA", analytics_enabled=False, fill_width=True) as demo:
        gr.Markdown("## 文章问答 · Quote-only article QA")
        gr.Markdown(ABOUT, elem_id="qa-about")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=380):
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
                with gr.Row():
                    msg = gr.Textbox(
                        placeholder="输入问题后按回车 · Type a question and press Enter",
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=6,
                        autofocus=True,
                        elem_id="qa-input",
                    )
                    send = gr.Button("发送 / Ask", variant="primary", scale=1, min_width=140)
                    clear_btn = gr.Button("清空 / Clear", scale=1, min_width=140)
                examples = gr.Examples(
                    examples=[[q] for q in EXAMPLES], inputs=[msg], label="例子 / Examples", examples_per_page=10
                )
            with gr.Column(scale=4, min_width=320):
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

        chat_io = dict(inputs=[msg, chatbot, picker], outputs=[chatbot, msg, article, picker])
        msg.submit(chat, **chat_io, api_name="chat")
        send.click(chat, **chat_io, api_visibility="private")
        examples.load_input_event.then(chat, **chat_io, api_visibility="private")
        clear_btn.click(clear, None, [chatbot, msg, article, picker], api_visibility="private", queue=False)
        picker.input(show_source, picker, article, api_visibility="private")
        gr.api(answer_api, api_name="answer")

    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return demo


def launch_kwargs() -> dict:
    """Theme/CSS for `demo.launch` (Gradio 6 takes them at launch, not in Blocks)."""
    theme = gr.themes.Soft(font=THEME_FONTS, font_mono=["Noto Sans Mono CJK SC", "monospace"])
    return {"theme": theme, "css": CSS}


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
