"""`build_app`: the Blocks page laid out and wired to `Page`'s handlers, plus the web API.

`launch_kwargs` gives what Gradio 6 takes at launch: the theme (its colours chosen for contrast
>= 4.5:1 in light and dark mode), the stylesheet and the page script from `assets/`.
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from ..corpus import documents
from . import api
from . import docs as web_docs
from .examples import MAX_EXAMPLES
from .page import ABOUT, ARTICLE_JS, ASSETS, CHAT_PLACEHOLDER, PLACEHOLDER, POLL_SECONDS, Page, Parts, asset
from .service import ChatService

# Queue: answers take tens of milliseconds and the engine is thread-safe, so a handful of
# workers drains 20+ simultaneous users in well under a second; the queue itself is bounded
# so a flood gets a "queue full" message, not a hang.
CONCURRENCY_LIMIT = 8
QUEUE_MAX_SIZE = 128

THEME_FONTS = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
PRIVATE: dict = dict(api_visibility="private")
QUIET: dict = dict(queue=False, show_progress="hidden", **PRIVATE)


def _chat_column(p: Parts, service: ChatService) -> None:
    p.chatbot = gr.Chatbot(
        label="对话 / Chat",
        show_label=False,  # the floating label would cover scrolled messages
        height="calc(100vh - 350px)",
        min_height=300,
        latex_delimiters=[],  # quotes may contain "$": never render LaTeX
        sanitize_html=True,
        feedback_options=None,
        buttons=["copy"],
        placeholder=CHAT_PLACEHOLDER,
        elem_id="qa-chat",
    )
    with gr.Row(elem_id="qa-ask-row"):
        p.msg = gr.Textbox(placeholder=PLACEHOLDER, label="问题 / Question", show_label=False,
                           container=False,  # no frame: the whole width of a phone for the question
                           lines=1, max_lines=4, scale=6, min_width=240, autofocus=True, elem_id="qa-input")
        p.send = gr.Button("发送 / Ask", variant="primary", scale=1, min_width=100, elem_id="qa-send")
        p.clear = gr.Button("清空 / Clear", scale=1, min_width=100, elem_id="qa-clear")
    p.hint = gr.HTML(f'<div class="qa-len-hint" data-max="{service.max_question_chars}" aria-live="polite"></div>',
                     elem_id="qa-hint", padding=False)
    with gr.Column(elem_id="qa-examples"):
        gr.HTML('<div class="qa-examples-label">例子 / Examples</div>', padding=False)
        with gr.Row(elem_classes="qa-example-row"):
            p.examples = [gr.Button("", size="sm", variant="secondary", visible=False, elem_classes="qa-example")
                          for _ in range(MAX_EXAMPLES)]
    p.scope = gr.Dropdown(choices=[(web_docs.ALL_LABEL, web_docs.ALL_DOCUMENTS)], value=web_docs.ALL_DOCUMENTS, label="在哪些文档里找 / Search in",
                          visible=False, elem_id="qa-scope")


def _documents_panel(p: Parts, service: ChatService) -> None:
    manage, limits = service.manage, service.limits
    with gr.Accordion(web_docs.panel_label(0), open=False, elem_id="qa-docs") as p.docs_box:
        p.docs_table = gr.HTML("", elem_id="qa-docs-list")
        p.docs_status = gr.Markdown("", elem_id="qa-docs-status")
        with gr.Row(elem_id="qa-remove-row", visible=manage):
            p.remove_pick = gr.Dropdown(choices=[], value=None, label="删除文档 / Remove a document", scale=3,
                                        elem_id="qa-remove-pick")
            p.remove = gr.Button("删除 / Remove", variant="stop", scale=1, min_width=100, elem_id="qa-remove")
        # No file_types: an unsupported file reaches qa.documents, which says why in both languages
        # (Gradio's own check would show an English-only popup and leave an "Error" label on the box).
        p.upload = gr.File(label="上传文件 / Upload a file", file_count="single", type="filepath",
                           visible=manage, height=120, elem_id="qa-upload")
        with gr.Accordion("粘贴文字 / Paste text", open=False, visible=manage, elem_id="qa-paste"):
            p.paste_title = gr.Textbox(label="标题 / Title", max_lines=1, max_length=200, elem_id="qa-paste-title")
            p.paste_body = gr.Textbox(label="正文 / Text", lines=5, max_lines=12, max_length=limits.max_chars + 1000,
                                      elem_id="qa-paste-body")
            p.paste = gr.Button("添加 / Add", elem_id="qa-paste-add")
        gr.Markdown(web_docs.limits_text(limits), visible=manage, elem_id="qa-limits")


def _layout(page: Page) -> None:
    p, service = page.p, page.service
    p.refs, p.pending, p.turns, p.seen = gr.State({}), gr.State(None), gr.State([]), gr.State([])
    with gr.Row(elem_id="qa-header"):
        gr.HTML('<h1 class="qa-h1">文章问答 · Quote-only article QA</h1>', padding=False, elem_id="qa-title")
        gr.Markdown(ABOUT, elem_id="qa-about")
    with gr.Row(equal_height=False, elem_id="qa-main"):
        with gr.Column(scale=5, min_width=340, elem_id="qa-chat-col"):
            _chat_column(p, service)
        with gr.Column(scale=4, min_width=320, elem_id="qa-article-col"):
            p.picker = gr.Dropdown(choices=[], value=None, label="文章 / Article", visible=False, elem_id="qa-source")
            p.article = gr.HTML(value=page.article_for(service.default_source()), label="article",
                                js_on_load=ARTICLE_JS, elem_id="qa-article", padding=False)
            # A passage clicked in a reply: chat.js puts "source\tstart\tend" in window.qaJump and clicks this
            # hidden button; the event's js hands that to `Page.look` as the hidden box's value.
            p.jump = gr.Textbox(visible="hidden", label="jump", elem_id="qa-jump")
            p.jump_go = gr.Button("jump", visible="hidden", elem_id="qa-jump-go")
            _documents_panel(p, service)


def _wire_chat(page: Page) -> None:
    p = page.p
    lockable = [p.send, *p.examples]  # disabled, with the input, while an answer is computed
    answering = []  # the queued answer steps, which Clear cancels
    for trigger, box in [(p.msg.submit, p.msg), (p.send.click, p.msg)] + [(b.click, b) for b in p.examples]:
        step = trigger(page.show_question, [box, p.chatbot], [p.chatbot, p.msg, p.pending, *lockable], **QUIET)
        step = step.then(page.answer_question, [p.pending, p.chatbot, p.picker, p.refs, p.turns, p.scope],
                         [p.chatbot, p.article, p.picker, p.refs, p.pending, p.turns],
                         show_progress="minimal", show_progress_on=[p.chatbot], **PRIVATE)
        answering.append(step)
        step.then(page.unlock, None, [p.msg, *lockable], **QUIET)
    clear_outputs = [p.chatbot, p.msg, p.article, p.picker, p.refs, p.pending, p.turns, *lockable]
    p.clear.click(page.clear, None, clear_outputs, cancels=answering, **QUIET)
    p.chatbot.clear(page.clear, None, clear_outputs, cancels=answering, **QUIET)
    p.chatbot.select(page.recall, [p.refs, p.chatbot], [p.article, p.picker], **QUIET)
    p.jump_go.click(page.look, p.jump, [p.article, p.picker], js="() => [window.qaJump || '']", **QUIET)
    p.picker.input(page.show_source, p.picker, p.article, show_progress="hidden", **PRIVATE)
    p.scope.input(page.choose_scope, [p.scope, p.picker], [p.article, p.picker, *p.examples],
                  show_progress="hidden", **PRIVATE)


def _wire_documents(page: Page, demo: gr.Blocks) -> None:
    p = page.p
    panel = p.panel()
    demo.load(page.load_page, None, panel, **QUIET)
    gr.Timer(POLL_SECONDS).tick(page.poll, [p.seen, p.picker, p.scope], panel, **QUIET)
    if not page.service.manage:
        return
    busy = dict(show_progress="minimal", show_progress_on=[p.docs_status], **PRIVATE)
    p.upload.upload(page.page_upload, [p.upload, p.scope], [*panel, p.upload], **busy)
    p.paste.click(page.page_paste, [p.paste_title, p.paste_body, p.scope], [*panel, p.paste_title, p.paste_body],
                  **busy)
    p.remove.click(page.page_remove, [p.remove_pick, p.picker, p.scope], panel, **busy)


def build_app(engine: Any, limits: documents.Limits | None = None, editable: bool = True) -> gr.Blocks:
    """The Blocks app around a loaded engine (`qa.QA` or anything with its API).

    With `editable` (and an engine that has a `docs_dir`), the page and the API can add and
    remove documents within `limits`; otherwise the documents are only listed."""
    page = Page(ChatService(engine, limits, editable))
    with gr.Blocks(title="文章问答 · Article QA", analytics_enabled=False, fill_width=True) as demo:
        _layout(page)
        _wire_chat(page)
        _wire_documents(page, demo)
        api.register(page)
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return demo


def theme() -> gr.themes.Base:
    """Gradio's Soft theme with text colours that keep >= 4.5:1 on its backgrounds, light and dark."""
    return gr.themes.Soft(font=THEME_FONTS, font_mono=["Noto Sans Mono CJK SC", "monospace"]).set(
        body_text_color_subdued="#4b5563",  # on white 7.6:1; on the grey panels > 6:1
        body_text_color_subdued_dark="#b4bcc8",  # on the dark panels > 7:1
        input_placeholder_color="#5b6270",  # on the light input 6:1
        input_placeholder_color_dark="#a3acb9",  # on the dark input 6.8:1
        button_primary_background_fill="#4f46e5",  # white text 6.3:1 (the theme's #6366f1: 4.46)
        button_primary_background_fill_hover="#4338ca",
        block_label_text_color="*primary_700",  # field labels on their light chip (primary_500: 3.7:1)
        block_title_text_color="*primary_700",
    )


def launch_kwargs() -> dict:
    """Theme, CSS and page script for `demo.launch` (Gradio 6 takes them at launch, not in Blocks)."""
    # Gradio refuses larger uploads before they reach the disk; qa.documents says the same limit in words.
    return {"theme": theme(), "css_paths": [ASSETS / "chat.css"], "js": asset("chat.js"),
            "max_file_size": documents.Limits().max_file_bytes}
