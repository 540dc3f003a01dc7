"""What the web chat shows, with hand-made answers and a fake engine (no model).

`qa.web.format` formats replies and sources, `qa.web.article` the article panel; `app.build_app`
(`qa.web.layout`) wires the event handlers of `qa.web.page`, which are called here directly.
The three kinds of answer (answered / unsure / not found, with the answer span and the closest
passages) are built by hand here: plain frozen `qa.types.Answer`s.
"""
from __future__ import annotations

import html
import re

import gradio as gr
import pytest

import app
from qa.settings import Settings
from qa.text.normalise import is_english
from qa.types import Answer, AnswerKind, Passage, Span
from qa.web import article as art
from qa.web import format as fmt
from qa.web import page as web_page

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


def test_found_reply_quotes_in_block_quote_with_title_place_and_confidence():
    reply = fmt.format_reply("赫章县共创建达标党支部多少个？", found_answer(), docs, lambda s: "赫章县简报")
    first = reply.splitlines()[0]
    assert first.startswith("> ")
    assert "828" in first and "达标党支部" in first
    meta = re.search(r'<span class="qa-meta">(.*?)</span>', reply).group(1)
    assert meta == "来源：《赫章县简报》，第 2 段"  # the document's title, not its file name
    assert '<span class="qa-conf">置信度 0.82</span>' in reply


def test_confidence_is_explained_in_one_line_behind_a_question_mark():
    reply = fmt.format_reply("赫章县共创建达标党支部多少个？", found_answer(), docs)
    why = re.search(r'<details class="qa-why"><summary title="([^"]*)">\?', reply)
    assert why and "概率" in why.group(1) and "校准" in why.group(1)  # what it means, how it was measured
    english = fmt.format_reply("How many party branches?", found_answer(), docs)
    assert "probability" in english and "calibrated" in english and "置信度" not in english


def test_the_answer_span_is_emphasised_inside_the_quote_and_escaped():
    at = DOC.index("828个")
    answer = found_answer(span=Span("hezhang.txt", at, at + 4, "828个"))
    reply = fmt.format_reply("赫章县共创建达标党支部多少个？", answer, docs)
    assert '> 该县共创建达标党支部<mark class="qa-span">828个</mark>，共有175名党员获表彰。' in reply
    assert "<mark><strong>" not in reply and "<strong>828个</strong>" in reply  # in the source passage too
    hostile = "<b>x</b>"
    doc = f"前文。{hostile}后文。"
    answer = Answer(True, doc, "h.txt", 0, len(doc), 0.9, span=Span("h.txt", 3, 3 + len(hostile), hostile))
    assert '<mark class="qa-span">&lt;b&gt;x&lt;/b&gt;</mark>' in fmt.format_reply("什么？", answer, lambda s: doc)


def test_found_reply_without_document_lookup_gives_character_numbers():
    reply = fmt.format_reply("赫章县共创建达标党支部多少个？", found_answer())
    assert f"来源：《hezhang.txt》，第 {Q_START + 1}–{Q_END} 字" in reply


def test_sources_list_only_the_passage_that_holds_the_quote_once():
    overlapping = Passage(text=DOC[3:Q_END], source="hezhang.txt", start=3, end=Q_END, score=0.8)
    answer = found_answer(passages=found_answer().passages + (overlapping,))
    reply = fmt.format_reply("赫章县共创建达标党支部多少个？", answer, docs)
    assert "<summary>来源原文（1）</summary>" in reply  # two overlapping passages: one entry
    assert re.findall(r"<mark>(.*?)</mark>", reply) == [QUOTE]
    assert "李学友" not in reply  # the byline passage does not support the quote
    metas = re.findall(r'<div class="qa-src-meta">(.*?)</div>', reply)
    assert metas == ["《hezhang.txt》 第 1–2 段"]
    assert "0.90" not in reply and "0.30" not in reply  # retrieval scores are not shown
    details = reply[reply.index("<details class=\"qa-sources"):]
    assert "\n\n" not in details  # markdown would end the HTML block at a blank line


def test_no_sources_section_when_no_passage_shows_more_than_the_quote():
    exact = Passage(text=QUOTE, source="hezhang.txt", start=Q_START, end=Q_END, score=0.9)
    reply = fmt.format_reply("赫章县共创建达标党支部多少个？", found_answer(passages=(exact,)), docs)
    assert "qa-sources" not in reply


def test_found_reply_in_english_for_english_question():
    reply = fmt.format_reply("How many party branches?", found_answer(), docs)
    assert "Source: 《hezhang.txt》, paragraph 2" in reply and "confidence 0.82" in reply
    assert "> " + QUOTE in reply
    assert "<summary>Source passage (1)</summary>" in reply


@pytest.mark.parametrize(
    "question, expected, hint",
    [("本文作者的电话是多少？", "文章中没有找到答案。", "换个问法"),
     ("What is the capital of France?", "The article does not say.", "Try rephrasing"),
     ("😀😀", "文章中没有找到答案。", "换个问法")],  # no Latin letter: Chinese
)
def test_not_found_says_so_with_a_hint_in_the_question_language(question, expected, hint):
    reply = fmt.format_reply(question, NOT_FOUND, docs)
    assert reply.splitlines()[0] == expected
    assert hint in reply and "<details" not in reply and "来源" not in reply


def closest(*texts: str, source: str = "hezhang.txt", doc: str = DOC) -> tuple[Passage, ...]:
    out = []
    for t in texts:
        at = doc.index(t)
        out.append(Passage(text=t, source=source, start=at, end=at + len(t), score=0.5))
    return tuple(out)


def test_not_found_lists_the_closest_passages_as_buttons_to_highlight_them():
    answer = Answer.not_found(0.2, closest=closest("赫章县是贵州省深度贫困县之一。", "本报记者 李学友"))
    reply = fmt.format_reply("赫章县有多少人口？", answer, docs, lambda s: "赫章县简报")
    buttons = re.findall(r'<button type="button" class="qa-jump" value="(\d+):(\d+):([^"]*)">', reply)
    assert [(s, int(a), int(b)) for a, b, s in buttons] == [(p.source, p.start, p.end) for p in answer.closest]
    assert "《赫章县简报》 第 1 段" in reply and reply.count("《赫章县简报》") == 2  # where each one is
    assert "换个问法" in reply


def test_overlapping_closest_passages_are_one_entry():
    a = Passage(DOC[0:10], "hezhang.txt", 0, 10, 0.5)
    b = Passage(DOC[5:15], "hezhang.txt", 5, 15, 0.4)
    reply = fmt.format_reply("什么？", Answer.not_found(0.1, closest=(a, b)), docs)
    assert reply.count('class="qa-jump"') == 1 and 'value="0:15:hezhang.txt"' in reply


def test_unsure_reply_shows_the_quote_as_possibly_relevant_not_as_the_answer():
    answer = Answer(False, QUOTE, "hezhang.txt", Q_START, Q_END, 0.41, kind=AnswerKind.UNSURE,
                    closest=closest(QUOTE, "赫章县是贵州省深度贫困县之一。"))
    reply = fmt.format_reply("赫章县有多少名党员？", answer, docs)
    assert reply.startswith('<div class="qa-kind qa-kind-unsure">可能相关，但不确定是否回答了问题。')
    assert "\n> " not in "\n" + reply  # no block quote: it is not given as the answer
    assert "置信度 0.41" in reply
    starts = re.findall(r'class="qa-jump" value="(\d+):', reply)
    assert starts == [str(Q_START), "0"]  # the quote itself, then the other passage (no duplicate)
    english = fmt.format_reply("How many members?", answer, docs)
    assert "Possibly relevant, but not sure it answers the question." in english


def test_a_byline_quote_is_shown_without_its_decorative_box():
    doc = "标题\n\n□ 本报记者 李学友\n\n正文，有逗号。"
    at = doc.index("□")
    answer = Answer(True, "□ 本报记者 李学友", "p.txt", at, at + 10, 0.9)
    reply = fmt.format_reply("本文作者是谁？", answer, lambda s: doc)
    assert reply.splitlines()[0] == "> 本报记者 李学友"
    assert "□" not in reply


def test_document_title_is_the_headline_not_the_banner():
    assert fmt.document_title(PAGE) == "八年攻坚 奋楫争先"
    assert fmt.document_title("云岭县茶产业发展迅速\n\n今年以来，云岭县新建茶园3.2万亩。") == "云岭县茶产业发展迅速"
    assert fmt.document_title(DOC) == "赫章县是贵州省深度贫困县之一。"  # no heading above the text: its first line


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
    # The place is in an HTML block (escaped, never read as markdown): shown literally, no link.
    assert "「[点我](http://x)」" in re.search(r'<span class="qa-meta">(.*?)</span>', reply).group(1)
    assert "<a " not in reply


def test_one_is_english_rule():
    assert fmt.is_english is is_english  # the web uses qa.text's rule
    assert is_english("How many cadres were sent to villages?")
    assert not is_english("赫章县共创建达标党支部多少个？")
    assert not is_english("What does 赫章 mean?")
    assert not is_english("😀")  # an emoji-only question gets a Chinese reply


# ------------------------------------------------------------------ the article panel


def test_render_article_highlights_exact_span():
    out = art.render_article(DOC, Q_START, Q_END, source="hezhang.txt", scroll="hit")
    assert re.search(r'<mark id="qa-hit" class="qa-mark-hit">(.*?)</mark>', out).group(1) == QUOTE
    assert out.count("<mark") == 1
    assert "hezhang.txt" in out and 'data-scroll="hit"' in out
    assert "本报记者 李学友" in out and "赫章县是贵州省" in out


def test_render_article_numbers_paragraphs_and_styles_headings():
    out = art.render_article(PAGE)
    numbers = re.findall(r'<span class="qa-n" aria-hidden="true">(\d+)</span>', out)
    assert numbers == ["1", "2", "3", "4"]  # the numbers the replies refer to
    assert '<p class="qa-h qa-title">八年攻坚 奋楫争先</p>' in out
    assert '<p class="qa-h qa-section">大党建统领大扶贫</p>' in out
    assert '<p class="qa-h qa-caption">赫章县松林坡乡香葱基地一角</p>' in out


def test_a_highlight_over_two_paragraphs_is_marked_in_each():
    start, end = PAGE.index("实现脱贫。"), PAGE.index("没有空行")
    out = art.render_article(PAGE, start, end)
    assert re.findall(r'<mark id="qa-hit" class="qa-mark-hit">(.*?)</mark>', out) == ["实现脱贫。"]
    assert re.findall(r'<mark class="qa-mark-hit qa-hit-more">(.*?)</mark>', out) == ["第二行也是一段，"]


def test_the_article_emphasises_the_answer_inside_the_highlighted_quote():
    at = DOC.index("828个")
    out = art.render_article(DOC, Q_START, Q_END, span=(at, at + 4))
    assert '<mark id="qa-hit" class="qa-mark-hit">该县共创建达标党支部<strong class="qa-span">828个</strong>' in out
    maybe = art.render_article(DOC, Q_START, Q_END, kind="maybe")
    assert 'class="qa-mark-maybe"' in maybe


def test_the_article_head_names_the_title_and_the_file():
    out = art.render_article(PAGE, source="page.txt", title=fmt.document_title(PAGE))
    assert '<div class="qa-article-title">八年攻坚 奋楫争先<span class="qa-article-file">page.txt</span></div>' in out


@pytest.mark.parametrize("start, end", [(None, None), (5, 5), (-1, 3), (0, 10_000), (8, 2)])
def test_render_article_without_a_valid_span_has_no_mark(start, end):
    out = art.render_article(DOC, start, end, scroll="hit")
    assert "<mark" not in out
    assert "828" in out
    assert 'data-scroll="keep"' in out  # nothing to scroll to


def test_render_article_escapes_html():
    text = "开头<script>alert(1)</script>中间<img src=x onerror=alert(1)>结尾"
    start = text.index("<img")
    out = art.render_article(text, start, start + len("<img src=x onerror=alert(1)>"), source="<b>x</b>.txt",
                             note="<img src=y>")
    assert not RAW_TAG.search(out)
    assert "<b>" not in out
    assert '<mark id="qa-hit" class="qa-mark-hit">&lt;img src=x onerror=alert(1)&gt;</mark>' in out


def test_render_article_collapses_blank_line_runs_for_display():
    out = art.render_article("甲。\n\n\n\n\n乙。", 0, 2)
    assert "\n" not in out and out.count('<p class="qa-p">') == 2


def test_every_rendering_differs_so_the_panel_reapplies_its_scroll():
    assert art.render_article(DOC, scroll="top") != art.render_article(DOC, scroll="top")


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
    assert "watch('value'" in web_page.ARTICLE_JS  # assets/article.js: the panel's scrolling
    assert "clipboard" in kwargs["js"]  # the copy button copies the citation, not the markup


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
        if source in self.sources:  # added while the page is open
            return "第三篇文章。"
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
        if "不确定" in question:
            return Answer(False, QUOTE, "hezhang.txt", Q_START, Q_END, 0.4, kind=AnswerKind.UNSURE)
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
    assert f'<mark id="qa-hit" class="qa-mark-hit">{QUOTE}</mark>' in article


def test_chat_endpoint_empty_and_too_long_questions_get_chat_replies(fake_app):
    engine, fns = fake_app
    before = len(engine.asked)
    history, _, article, source = fns["chat"]("   ", [], "other.txt")
    assert history == [{"role": "assistant", "content": fmt.EMPTY_ZH}]
    assert source == "other.txt" and "<mark" not in article
    history, _, _, _ = fns["chat"]("党支部" * 1000, [], None)
    limit = Settings().max_question_chars  # the one question limit
    assert "3000" in history[-1]["content"] and str(limit) in history[-1]["content"]
    assert len(history[0]["content"]) < 400  # the echo is shortened
    assert len(engine.asked) == before  # the engine was not asked


def test_chat_endpoint_escapes_hostile_question(fake_app):
    _, fns = fake_app
    history, *_ = fns["chat"]("<img src=x onerror=alert(1)>", [], None)
    assert not RAW_TAG.search(history[0]["content"])
    assert history[-1]["content"].startswith("The article does not say.")


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
    assert source == "hezhang.txt" and f'<mark id="qa-hit" class="qa-mark-hit">{QUOTE}</mark>' in article
    assert 'data-scroll="hit"' in article and html.escape(fmt.NOTE_LATEST) in article
    assert refs == {1: ["hezhang.txt", Q_START, Q_END, "answered", None]} and pending is None
    assert turns == [{"question": "赫章县党支部？", "quote": QUOTE}]  # the conversation, for follow-ups


def test_page_declined_reply_clears_the_highlight_and_says_why(fake_app):
    _, fns = fake_app
    refs = {1: ["hezhang.txt", Q_START, Q_END, "answered", None]}
    asked = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "法国首都？"}]
    history, article, source, new_refs, _, turns = fns["answer_question"]("法国首都？", asked, "hezhang.txt", refs)
    assert turns == [{"question": "法国首都？", "quote": ""}]  # a declined turn: quote ""
    assert history[-1]["content"].startswith(fmt.NOT_FOUND_ZH)
    assert "<mark" not in article and html.escape(fmt.NOTE_DECLINED) in article
    assert 'data-scroll="keep"' in article  # the reader stays where they were
    assert source == "hezhang.txt" and new_refs == refs


def test_page_selecting_an_earlier_reply_or_its_question_highlights_its_quote(fake_app):
    _, fns = fake_app
    refs = {1: ["hezhang.txt", Q_START, Q_END, "answered", None]}
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}] * 2
    for index in (1, 0):  # the reply, or the question just before it
        select = gr.SelectData(None, {"index": index, "value": "x", "selected": True})
        article, source = fns["recall"](refs, history, select)
        assert f'<mark id="qa-hit" class="qa-mark-hit">{QUOTE}</mark>' in article and source == "hezhang.txt"
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
        fns["answer"]("问" * (Settings().max_question_chars + 1))


def test_several_articles_get_a_picker_and_switching_shows_the_other_article(fake_app):
    _, fns = fake_app
    assert "另一篇文章" in fns["show_source"]("other.txt") and "other.txt" in fns["show_source"]("other.txt")
    table, label, remove, scope, picker, status, article, *examples, seen = fns["load_page"]()
    assert picker["visible"] is True and scope["visible"] is True
    assert seen == ["hezhang.txt", "other.txt"]


def test_an_unsure_answer_is_highlighted_dashed_and_said_so(fake_app):
    engine, fns = fake_app
    history, article, source, refs, _, turns = fns["answer_question"]("不确定的问题", [], "other.txt", {})
    assert "可能相关" in history[-1]["content"]
    assert 'class="qa-mark-maybe"' in article and html.escape(fmt.NOTE_UNSURE) in article
    assert refs == {0: ["hezhang.txt", Q_START, Q_END, "unsure", None]}
    assert turns[-1]["quote"] == ""  # not given as the answer: nothing for a follow-up to lean on


def test_a_clicked_closest_passage_is_highlighted_in_the_article(fake_app):
    _, fns = fake_app
    article, source = fns["look"](f"hezhang.txt\t0\t15\t3")
    assert source == "hezhang.txt" and 'class="qa-mark-look"' in article and html.escape(fmt.NOTE_LOOK) in article
    assert fns["look"]("nowhere.txt\t0\t5\t1") == (SKIP, SKIP)
    assert fns["look"]("garbage") == (SKIP, SKIP)


def test_the_page_is_read_at_every_load_and_polled_for_changes(fake_app):
    engine, fns = fake_app
    assert fns["poll"](["hezhang.txt", "other.txt"], "hezhang.txt", None) == (SKIP,) * 13  # unchanged
    engine.sources = ["hezhang.txt", "other.txt", "third.txt"]
    try:
        table, label, *_rest, seen = fns["poll"](["hezhang.txt", "other.txt"], "hezhang.txt", None)
        assert "third.txt" in table and "（3）" in label["label"] and seen == engine.sources
    finally:
        engine.sources = FakeEngine.sources


def test_examples_follow_the_document_searched(fake_app):
    _, fns = fake_app
    _, _, *examples = fns["choose_scope"]("other.txt", "hezhang.txt")
    shown = [e["value"] for e in examples if e.get("visible")]
    assert shown == ["另一篇文章讲了多少项？"] or all("赫章" not in q for q in shown)


def test_chat_events_are_private_and_the_endpoints_named():
    demo = app.build_app(FakeEngine())
    named = {fn.api_name for fn in demo.fns.values() if fn.api_name and fn.api_visibility == "public"}
    assert named == {"chat", "answer", "documents"}  # no docs folder: the documents are only listed
