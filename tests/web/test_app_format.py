"""What the web chat shows, with hand-made answers and a fake engine (no model).

`qa.web_format` formats replies, sources and the article panel; `app.build_app` wires
the event handlers, which are called here directly.
"""
from __future__ import annotations

import html
import re

import gradio as gr
import pytest

import app
from qa import web_format as fmt
from qa.types import Answer, Passage

DOC = "赫章县是贵州省深度贫困县之一。\n\n该县共创建达标党支部828个，共有175名党员获表彰。\n\n本报记者 李学友"
QUOTE = "该县共创建达标党支部828个，共有175名党员获表彰。"
Q_START = DOC.index(QUOTE)
Q_END = Q_START + len(QUOTE)

# A page with the layout roles of the seed article: banner, title, byline, two sections, caption.
PAGE = (
    "奋斗百年路 启航新征程\n\n八年攻坚 奋楫争先\n\n——赫章县打赢脱贫攻坚战盘点\n\n□ 本报记者 李学友\n\n"
    "大党建统领大扶贫\n\n党的十八大以来，赫章县坚持以大党建为统领。\n\n该县共创建达标党支部828个。\n\n"
    "全力攻克贫困堡垒\n\n全县累计减少贫困人口，实现脱贫。\n第二行也是一段，没有空行。\n\n"
    "赫章县松林坡乡香葱基地一角"
)

RAW_TAG = re.compile(r"<\s*(script|img|iframe|svg)\b", re.IGNORECASE)


def docs(source: str) -> str:
    return {"hezhang.txt": DOC, "page.txt": PAGE}[source]


def found_answer(**changes) -> Answer:
    passage = Passage(text=DOC[: Q_END + 2], source="hezhang.txt", start=0, end=Q_END + 2, score=0.9)
    other = Passage(text="本报记者 李学友", source="hezhang.txt", start=DOC.index("本报"), end=len(DOC), score=0.3)
    fields = dict(
        found=True, quote=QUOTE, source="hezhang.txt", start=Q_START, end=Q_END, score=0.8234,
        passages=(passage, other),
    )
    fields.update(changes)
    return Answer(**fields)


NOT_FOUND = Answer(found=False, quote="", source="", start=0, end=0, score=0.12, passages=())


def span(doc: str, text: str) -> tuple[int, int]:
    at = doc.index(text)
    return at, at + len(text)


# ------------------------------------------------------------------ places in reader terms


def test_paragraphs_are_numbered_and_headings_named_by_role():
    lines = fmt.lines(PAGE)
    roles = [ln.role for ln in lines if ln.role]
    assert roles == ["banner", "title", "subtitle", "byline", "section", "section", "caption"]
    paragraphs = [PAGE[ln.start:ln.end] for ln in lines if not ln.role]
    assert [ln.number for ln in lines if not ln.role] == [1, 2, 3, 4]
    assert paragraphs[3] == "第二行也是一段，没有空行。"  # a line of running text is a paragraph
    assert all(PAGE[ln.start:ln.end].strip() for ln in lines)


@pytest.mark.parametrize("text, zh, en", [
    ("该县共创建达标党支部828个。", "第 2 段（小标题「大党建统领大扶贫」下）",
     "paragraph 2 (under the heading 「大党建统领大扶贫」)"),
    ("全县累计减少贫困人口", "第 3 段（小标题「全力攻克贫困堡垒」下）",
     "paragraph 3 (under the heading 「全力攻克贫困堡垒」)"),
    ("八年攻坚 奋楫争先", "标题", "the headline"),
    ("本报记者", "署名", "the byline"),
    ("香葱基地", "图片说明", "a photo caption"),
    ("全力攻克贫困堡垒", "小标题", "a section heading"),
])
def test_place_is_said_in_reader_terms(text, zh, en):
    p = fmt.place(PAGE, *span(PAGE, text))
    assert fmt.describe(p, english=False) == zh
    assert fmt.describe(p, english=True) == en


def test_a_span_over_two_paragraphs_names_both():
    start = PAGE.index("实现脱贫。")
    end = PAGE.index("没有空行")
    assert fmt.describe(fmt.place(PAGE, start, end), False) == "第 3–4 段（小标题「全力攻克贫困堡垒」下）"
    assert fmt.describe(fmt.place(PAGE, start, end), True).startswith("paragraphs 3–4 ")


def test_a_span_from_headings_into_text_is_placed_by_its_paragraphs():
    start, end = 0, PAGE.index("以大党建")
    assert fmt.describe(fmt.place(PAGE, start, end), False) == "第 1 段（小标题「大党建统领大扶贫」下）"
    start, end = PAGE.index("八年攻坚"), PAGE.index("李学友")  # headings only: the first one's role
    assert fmt.describe(fmt.place(PAGE, start, end), False) == "标题"


def test_text_before_any_section_has_no_heading():
    assert fmt.describe(fmt.place(DOC, Q_START, Q_END), False) == "第 2 段"
    assert fmt.describe(fmt.place(DOC, Q_START, Q_END), True) == "paragraph 2"


@pytest.mark.parametrize("start, end", [(5, 5), (-1, 3), (0, 10_000), (8, 2)])
def test_no_place_for_an_invalid_span(start, end):
    assert fmt.place(DOC, start, end) is None
    assert fmt.describe(None, False) == ""


def test_where_falls_back_to_characters_without_the_document():
    assert fmt.where(None, "x.txt", 3, 8, english=False) == "第 4–8 字"
    assert fmt.where(docs, "missing.txt", 3, 8, english=True) == "characters 4–8"  # unknown source
    assert fmt.where(docs, "hezhang.txt", Q_START, Q_END, english=False) == "第 2 段"


# ------------------------------------------------------------------ replies


def test_found_reply_quotes_in_block_quote_with_place_and_confidence():
    reply = fmt.format_reply("赫章县共创建达标党支部多少个？", found_answer(), docs)
    first = reply.splitlines()[0]
    assert first.startswith("> ")
    assert "828" in first and "达标党支部" in first
    meta = reply.splitlines()[2]
    assert meta == '来源：hezhang.txt，第 2 段 · <span class="qa-nowrap">置信度 0.82</span>'


def test_found_reply_without_document_lookup_gives_character_numbers():
    reply = fmt.format_reply("赫章县共创建达标党支部多少个？", found_answer())
    assert f"来源：hezhang.txt，第 {Q_START + 1}–{Q_END} 字 · " in reply


def test_found_reply_has_collapsible_sources_with_highlight_and_no_raw_scores():
    reply = fmt.format_reply("赫章县共创建达标党支部多少个？", found_answer(), docs)
    assert "<details" in reply and "<summary>来源 / Sources：检索到的段落（2）</summary>" in reply
    marks = re.findall(r"<mark>(.*?)</mark>", reply)
    assert marks == [QUOTE]  # marked in the passage that holds it, not in the other one
    assert "李学友" in reply
    metas = re.findall(r'<div class="qa-src-meta">(.*?)</div>', reply)
    # Where each passage is, for a reader (the lone heading of DOC is its title, for qa.layout).
    assert metas == ["第 1–2 段", "标题"]
    assert "0.90" not in reply and "0.30" not in reply  # retrieval scores are not shown
    # The HTML block must not contain a blank line (markdown would end the block there).
    details = reply[reply.index("<details"):]
    assert "\n\n" not in details


def test_found_reply_in_english_for_english_question():
    reply = fmt.format_reply("How many party branches?", found_answer(), docs)
    assert 'Source: hezhang.txt, paragraph 2 · <span class="qa-nowrap">confidence 0.82</span>' in reply
    assert "> " + QUOTE in reply
    assert "<summary>Passages searched (2)</summary>" in reply


@pytest.mark.parametrize(
    "question, expected",
    [("本文作者的电话是多少？", "文章中没有找到答案。"), ("What is the capital of France?", "The article does not say.")],
)
def test_not_found_is_plain_and_in_the_question_language(question, expected):
    reply = fmt.format_reply(question, NOT_FOUND, docs)
    assert reply == expected
    assert "<details" not in reply and "来源" not in reply


def test_found_without_quote_counts_as_not_found():
    assert fmt.format_reply("谁？", found_answer(quote="")) == "文章中没有找到答案。"


def test_several_sources_each_named():
    passages = (
        Passage(text="甲文第一句。", source="a/first.txt", start=0, end=6, score=0.9),
        Passage(text="乙文第二句。", source="second.txt", start=10, end=16, score=0.5),
        Passage(text="丙文第三句。", source="third.md", start=3, end=9, score=0.2),
    )
    answer = Answer(True, "甲文第一句。", "a/first.txt", 0, 6, 0.7, passages)
    reply = fmt.format_reply("哪一句？", answer)
    assert "来源：a/first.txt，第 1–6 字" in reply
    metas = re.findall(r'<div class="qa-src-meta">(.*?)</div>', reply)
    assert [m.split(" · ")[0] for m in metas] == ["a/first.txt", "second.txt", "third.md"]
    assert reply.count("<li>") == 3
    assert re.findall(r"<mark>(.*?)</mark>", reply) == ["甲文第一句。"]


def test_quote_marked_by_text_when_passage_offsets_do_not_cover_it():
    passages = (Passage(text="前文。甲文第一句。后文。", source="other.txt", start=0, end=12, score=0.4),)
    answer = Answer(True, "甲文第一句。", "a.txt", 0, 6, 0.7, passages)
    assert "<mark>甲文第一句。</mark>" in fmt.format_reply("哪一句？", answer)


def test_partially_overlapping_passage_marks_only_the_overlap():
    text = "ABCDEFGHIJ"
    passages = (Passage(text=text[5:], source="x.txt", start=5, end=10, score=0.5),)
    answer = Answer(True, text[3:8], "x.txt", 3, 8, 0.6, passages)
    assert "<mark>FGH</mark>" in fmt.format_sources(answer)


HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>']


@pytest.mark.parametrize("payload", HOSTILE)
def test_html_in_quote_source_and_passages_is_escaped(payload):
    doc = f"前{payload}后"
    passages = (Passage(text=doc, source=f"{payload}.txt", start=0, end=len(doc), score=0.5),)
    answer = Answer(True, payload, f"{payload}.txt", 1, 1 + len(payload), 0.9, passages)
    for lookup in (None, lambda source: doc):
        reply = fmt.format_reply("这是什么？", answer, lookup)
        assert not RAW_TAG.search(reply)
        assert "&lt;" in reply


@pytest.mark.parametrize("payload", HOSTILE)
def test_user_message_echo_is_escaped(payload):
    echoed = fmt.echo_question(payload)
    assert not RAW_TAG.search(echoed)
    assert "&lt;" in echoed


def test_markdown_in_quote_is_neutralised():
    quote = "1. **粗体** [链接](http://x) `代码` $$x$$ # 标题"
    answer = Answer(True, quote, "m.txt", 0, len(quote), 0.9, ())
    reply = fmt.format_reply("什么？", answer)
    assert "**" not in reply.replace(r"\*", "")
    assert "](" not in reply and "$$" not in reply
    assert reply.startswith("> 1\\. ")


def test_markdown_in_a_section_heading_is_neutralised_in_the_place():
    doc = "标题\n\n——副标题\n\n[点我](http://x)\n\n正文第一段，有逗号。"
    answer = Answer(True, "正文第一段", "m.txt", doc.index("正文"), doc.index("正文") + 5, 0.9, ())
    reply = fmt.format_reply("什么？", answer, lambda s: doc)
    assert "](" not in reply and "\\[点我\\]" in reply


def test_is_english():
    assert fmt.is_english("How many cadres were sent to villages?")
    assert fmt.is_english("<script>alert(1)</script>")
    assert not fmt.is_english("赫章县共创建达标党支部多少个？")
    assert not fmt.is_english("What does 赫章 mean?")
    assert not fmt.is_english("？")  # full-width punctuation counts as Chinese


def test_too_long_reply_is_clear_in_both_languages():
    assert "2000" in fmt.format_too_long("问" * 2500) and "2500" in fmt.format_too_long("问" * 2500)
    assert "too long" in fmt.format_too_long("a" * 2500)


# ------------------------------------------------------------------ the article panel


def test_render_article_highlights_exact_span():
    out = fmt.render_article(DOC, Q_START, Q_END, source="hezhang.txt", scroll="hit")
    assert re.search(r'<mark id="qa-hit">(.*?)</mark>', out).group(1) == QUOTE
    assert out.count("<mark") == 1
    assert "hezhang.txt" in out and 'data-scroll="hit"' in out
    assert "本报记者 李学友" in out and "赫章县是贵州省" in out


def test_render_article_numbers_paragraphs_and_styles_headings():
    out = fmt.render_article(PAGE)
    numbers = re.findall(r'<span class="qa-n" aria-hidden="true">(\d+)</span>', out)
    assert numbers == ["1", "2", "3", "4"]  # the numbers the replies refer to
    assert '<p class="qa-h qa-title">八年攻坚 奋楫争先</p>' in out
    assert '<p class="qa-h qa-section">大党建统领大扶贫</p>' in out
    assert '<p class="qa-h qa-caption">赫章县松林坡乡香葱基地一角</p>' in out


def test_a_highlight_over_two_paragraphs_is_marked_in_each():
    start, end = PAGE.index("实现脱贫。"), PAGE.index("没有空行")
    out = fmt.render_article(PAGE, start, end)
    assert re.findall(r'<mark id="qa-hit">(.*?)</mark>', out) == ["实现脱贫。"]
    assert re.findall(r'<mark class="qa-hit-more">(.*?)</mark>', out) == ["第二行也是一段，"]


@pytest.mark.parametrize("start, end", [(None, None), (5, 5), (-1, 3), (0, 10_000), (8, 2)])
def test_render_article_without_a_valid_span_has_no_mark(start, end):
    out = fmt.render_article(DOC, start, end, scroll="hit")
    assert "<mark" not in out
    assert "828" in out
    assert 'data-scroll="keep"' in out  # nothing to scroll to


def test_render_article_escapes_html():
    text = "开头<script>alert(1)</script>中间<img src=x onerror=alert(1)>结尾"
    start = text.index("<img")
    out = fmt.render_article(text, start, start + len("<img src=x onerror=alert(1)>"), source="<b>x</b>.txt",
                             note="<img src=y>")
    assert not RAW_TAG.search(out)
    assert "<b>" not in out
    assert '<mark id="qa-hit">&lt;img src=x onerror=alert(1)&gt;</mark>' in out


def test_render_article_collapses_blank_line_runs_for_display():
    out = fmt.render_article("甲。\n\n\n\n\n乙。", 0, 2)
    assert "\n" not in out and out.count('<p class="qa-p">') == 2


def test_every_rendering_differs_so_the_panel_reapplies_its_scroll():
    assert fmt.render_article(DOC, scroll="top") != fmt.render_article(DOC, scroll="top")


# ------------------------------------------------------------------ settings


def test_parse_args_flags_beat_env_and_default_is_localhost():
    assert (app.parse_args([], env={}).host, app.parse_args([], env={}).port) == ("127.0.0.1", 7860)
    env = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "9000"}
    args = app.parse_args([], env=env)
    assert (args.host, args.port) == ("0.0.0.0", 9000)
    args = app.parse_args(["--host", "127.0.0.2", "--port", "9100"], env=env)
    assert (args.host, args.port) == ("127.0.0.2", 9100)


def test_launch_kwargs_load_the_asset_files():
    kwargs = app.launch_kwargs()
    assert [p.name for p in kwargs["css_paths"]] == ["chat.css"] and kwargs["css_paths"][0].is_file()
    assert "documentElement" in kwargs["js"]  # assets/chat.js: the page language
    assert "watch('value'" in app.ARTICLE_JS  # assets/article.js: the panel's scrolling


# ------------------------------------------------- the event handlers, with a fake engine


class FakeEngine:
    sources = ["hezhang.txt", "other.txt"]

    def __init__(self):
        self.asked: list[str] = []
        self.calls: list[dict] = []

    def document(self, source):
        if source == "hezhang.txt":
            return DOC
        if source == "other.txt":
            return "另一篇文章。"
        raise KeyError(source)

    def answer(self, question, k=3, mode="hybrid", history=None, only=None):
        if not question.strip():
            raise ValueError("问题为空 / empty question")
        if only is not None and only not in self.sources:
            raise KeyError(only)
        self.asked.append(question)
        self.calls.append({"question": question, "history": history, "only": only})
        understood = ""
        if history and question == "那党员呢？":  # a follow-up, completed from the conversation
            understood = "该县共有多少名党员获表彰？"
        if "党支部" in question or understood:
            return found_answer(understood_as=understood)
        return Answer.not_found(0.12, understood)

    def info(self):
        return {"model": "fake", "chunks": 2, "index_dir": "nowhere", "documents": 2}


@pytest.fixture(scope="module")
def fake_app():
    engine = FakeEngine()
    demo = app.build_app(engine)
    fns = {fn.api_name: fn.fn for fn in demo.fns.values() if fn.api_name}
    fns.update({fn.fn.__name__: fn.fn for fn in demo.fns.values() if fn.fn})
    return engine, fns


SKIP = gr.skip()


def test_chat_endpoint_answers_and_highlights_article(fake_app):
    engine, fns = fake_app
    history, box, article, source = fns["chat"]("赫章县共创建达标党支部多少个？", [], "other.txt")
    assert box == "" and source == "hezhang.txt"
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert "828" in history[-1]["content"] and "第 2 段" in history[-1]["content"]
    assert f'<mark id="qa-hit">{QUOTE}</mark>' in article


def test_chat_endpoint_empty_and_too_long_questions_get_chat_replies(fake_app):
    engine, fns = fake_app
    before = len(engine.asked)
    history, _, article, source = fns["chat"]("   ", [], "other.txt")
    assert history == [{"role": "assistant", "content": fmt.EMPTY_ZH}]
    assert source == "other.txt" and "<mark" not in article
    history, _, _, _ = fns["chat"]("党支部" * 1000, [], None)
    assert "3000" in history[-1]["content"] and "2000" in history[-1]["content"]
    assert len(history[0]["content"]) < 400  # the echo is shortened
    assert len(engine.asked) == before  # the engine was not asked


def test_chat_endpoint_escapes_hostile_question(fake_app):
    _, fns = fake_app
    history, *_ = fns["chat"]("<img src=x onerror=alert(1)>", [], None)
    assert not RAW_TAG.search(history[0]["content"])
    assert history[-1]["content"] == "The article does not say."


def test_page_shows_the_question_first_and_locks_the_input(fake_app):
    _, fns = fake_app
    history, box, pending, *locked = fns["show_question"]("  赫章县党支部？ ", [{"role": "user", "content": "旧"}])
    assert history[-1] == {"role": "user", "content": "赫章县党支部？"}
    assert box["value"] == "" and box["interactive"] is False and "正在查找答案" in box["placeholder"]
    assert pending == "赫章县党支部？"
    assert locked and all(u["interactive"] is False for u in locked)  # Ask and the examples


@pytest.mark.parametrize("message", ["", "   ", "\n", None])
def test_page_empty_submit_does_nothing_visible(fake_app, message):
    _, fns = fake_app
    history, box, pending, *locked = fns["show_question"](message, [{"role": "user", "content": "旧"}])
    assert history == SKIP and box == SKIP and pending is None
    assert all(u == SKIP for u in locked)
    assert fns["answer_question"](None, [], "hezhang.txt", {}) == (SKIP, SKIP, SKIP, SKIP, None, SKIP)


def test_page_answer_highlights_and_remembers_the_quote(fake_app):
    _, fns = fake_app
    asked = [{"role": "user", "content": "赫章县党支部？"}]
    history, article, source, refs, pending, turns = fns["answer_question"]("赫章县党支部？", asked, "other.txt", {})
    assert [m["role"] for m in history] == ["user", "assistant"] and "828" in history[1]["content"]
    assert source == "hezhang.txt" and f'<mark id="qa-hit">{QUOTE}</mark>' in article
    assert 'data-scroll="hit"' in article and html.escape(fmt.NOTE_LATEST) in article
    assert refs == {1: ("hezhang.txt", Q_START, Q_END)} and pending is None
    assert turns == [{"question": "赫章县党支部？", "quote": QUOTE}]  # the conversation, for follow-ups


def test_page_declined_reply_clears_the_highlight_and_says_why(fake_app):
    _, fns = fake_app
    refs = {1: ("hezhang.txt", Q_START, Q_END)}
    asked = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "法国首都？"}]
    history, article, source, new_refs, _, turns = fns["answer_question"]("法国首都？", asked, "hezhang.txt", refs)
    assert turns == [{"question": "法国首都？", "quote": ""}]  # a declined turn: quote ""
    assert history[-1]["content"] == fmt.NOT_FOUND_ZH
    assert "<mark" not in article and html.escape(fmt.NOTE_DECLINED) in article
    assert 'data-scroll="keep"' in article  # the reader stays where they were
    assert source == "hezhang.txt" and new_refs == refs


def test_page_selecting_an_earlier_reply_or_its_question_highlights_its_quote(fake_app):
    _, fns = fake_app
    refs = {1: ("hezhang.txt", Q_START, Q_END)}
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}] * 2
    for index in (1, 0):  # the reply, or the question just before it
        select = gr.SelectData(None, {"index": index, "value": "x", "selected": True})
        article, source = fns["recall"](refs, history, select)
        assert f'<mark id="qa-hit">{QUOTE}</mark>' in article and source == "hezhang.txt"
        assert html.escape(fmt.NOTE_RECALLED) in article and 'data-scroll="hit"' in article
    # The latest reply is still "the latest reply's quote".
    article, _ = fns["recall"](refs, history[:2], gr.SelectData(None, {"index": 1, "value": "x", "selected": True}))
    assert html.escape(fmt.NOTE_LATEST) in article
    # A reply without a quote leaves the article alone.
    select = gr.SelectData(None, {"index": 3, "value": "x", "selected": True})
    assert fns["recall"](refs, history, select) == (SKIP, SKIP)


def test_page_unlock_and_clear_reset_everything(fake_app):
    _, fns = fake_app
    box, *buttons = fns["unlock"]()
    assert box["interactive"] is True and all(b["interactive"] is True for b in buttons)
    history, box, article, source, refs, pending, turns, *buttons = fns["clear"]()
    assert history == [] and refs == {} and pending is None and source["value"] == "hezhang.txt"
    assert turns == []  # the conversation is forgotten
    assert box["value"] == "" and box["interactive"] is True
    assert "<mark" not in article and 'data-scroll="top"' in article
    assert all(b["interactive"] is True for b in buttons)


def test_answer_endpoint_returns_dict_and_rejects_empty(fake_app):
    _, fns = fake_app
    result = fns["answer"]("赫章县共创建达标党支部多少个？")
    assert result == found_answer().to_dict()  # exactly Answer.to_dict()
    assert {"found", "quote", "source", "start", "end", "score", "passages"} <= set(result)
    with pytest.raises(gr.Error):
        fns["answer"]("  ")
    with pytest.raises(gr.Error):
        fns["answer"]("问" * 2001)


def test_several_articles_get_a_picker_and_switching_shows_the_other_article():
    demo = app.build_app(FakeEngine())
    show = next(fn.fn for fn in demo.fns.values() if fn.fn and fn.fn.__name__ == "show_source")
    assert "另一篇文章" in show("other.txt") and "other.txt" in show("other.txt")
    pickers = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "qa-source"]
    assert pickers and pickers[0].visible is True


def test_chat_events_are_private_and_the_endpoints_named():
    demo = app.build_app(FakeEngine())
    named = {fn.api_name for fn in demo.fns.values() if fn.api_name and fn.api_visibility == "public"}
    assert named == {"chat", "answer", "documents"}  # no docs folder: the documents are only listed
