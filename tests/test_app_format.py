"""Reply and article formatting of the web chat, with hand-made answers (no model)."""
from __future__ import annotations

import re

import pytest

import app
from qa.types import Answer, Passage

DOC = "赫章县是贵州省深度贫困县之一。\n\n该县共创建达标党支部828个，共有175名党员获表彰。\n\n本报记者 李学友"
QUOTE = "该县共创建达标党支部828个，共有175名党员获表彰。"
Q_START = DOC.index(QUOTE)
Q_END = Q_START + len(QUOTE)

RAW_TAG = re.compile(r"<\s*(script|img|iframe|svg)\b", re.IGNORECASE)


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


def test_found_reply_quotes_in_block_quote_with_position_and_confidence():
    reply = app.format_reply("赫章县共创建达标党支部多少个？", found_answer())
    first = reply.splitlines()[0]
    assert first.startswith("> ")
    assert "828" in first and "达标党支部" in first
    assert f"来源：hezhang.txt，第 {Q_START + 1}–{Q_END} 字 · 置信度 0.82" in reply


def test_found_reply_has_collapsible_sources_with_highlight():
    reply = app.format_reply("赫章县共创建达标党支部多少个？", found_answer())
    assert "<details" in reply and "<summary>来源 / Sources（2）</summary>" in reply
    marks = re.findall(r"<mark>(.*?)</mark>", reply)
    assert marks == [QUOTE]  # marked in the passage that holds it, not in the other one
    assert "李学友" in reply
    # The HTML block must not contain a blank line (markdown would end the block there).
    details = reply[reply.index("<details"):]
    assert "\n\n" not in details


def test_found_reply_in_english_for_english_question():
    reply = app.format_reply("How many party branches?", found_answer())
    assert f"Source: hezhang.txt, characters {Q_START + 1}–{Q_END} · confidence 0.82" in reply
    assert "> " + QUOTE in reply


@pytest.mark.parametrize(
    "question, expected",
    [("本文作者的电话是多少？", "文章中没有找到答案。"), ("What is the capital of France?", "The article does not say.")],
)
def test_not_found_is_plain_and_in_the_question_language(question, expected):
    reply = app.format_reply(question, NOT_FOUND)
    assert reply == expected
    assert "<details" not in reply and "来源" not in reply


def test_found_without_quote_counts_as_not_found():
    assert app.format_reply("谁？", found_answer(quote="")) == "文章中没有找到答案。"


def test_several_sources_each_named():
    passages = (
        Passage(text="甲文第一句。", source="a/first.txt", start=0, end=6, score=0.9),
        Passage(text="乙文第二句。", source="second.txt", start=10, end=16, score=0.5),
        Passage(text="丙文第三句。", source="third.md", start=3, end=9, score=0.2),
    )
    answer = Answer(True, "甲文第一句。", "a/first.txt", 0, 6, 0.7, passages)
    reply = app.format_reply("哪一句？", answer)
    assert "来源：a/first.txt，第 1–6 字" in reply
    for name in ("a/first.txt", "second.txt", "third.md"):
        assert name in reply
    assert reply.count("<li>") == 3
    assert re.findall(r"<mark>(.*?)</mark>", reply) == ["甲文第一句。"]


def test_quote_marked_by_text_when_passage_offsets_do_not_cover_it():
    passages = (Passage(text="前文。甲文第一句。后文。", source="other.txt", start=0, end=12, score=0.4),)
    answer = Answer(True, "甲文第一句。", "a.txt", 0, 6, 0.7, passages)
    assert "<mark>甲文第一句。</mark>" in app.format_reply("哪一句？", answer)


def test_partially_overlapping_passage_marks_only_the_overlap():
    text = "ABCDEFGHIJ"
    passages = (Passage(text=text[5:], source="x.txt", start=5, end=10, score=0.5),)
    answer = Answer(True, text[3:8], "x.txt", 3, 8, 0.6, passages)
    assert "<mark>FGH</mark>" in app.format_sources(answer)


HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>']


@pytest.mark.parametrize("payload", HOSTILE)
def test_html_in_quote_source_and_passages_is_escaped(payload):
    passages = (Passage(text=f"前{payload}后", source=f"{payload}.txt", start=0, end=len(payload) + 2, score=0.5),)
    answer = Answer(True, payload, f"{payload}.txt", 1, 1 + len(payload), 0.9, passages)
    reply = app.format_reply("这是什么？", answer)
    assert not RAW_TAG.search(reply)
    assert "&lt;" in reply


@pytest.mark.parametrize("payload", HOSTILE)
def test_user_message_echo_is_escaped(payload):
    echoed = app.echo_question(payload)
    assert not RAW_TAG.search(echoed)
    assert "&lt;" in echoed


def test_markdown_in_quote_is_neutralised():
    quote = "1. **粗体** [链接](http://x) `代码` $$x$$ # 标题"
    answer = Answer(True, quote, "m.txt", 0, len(quote), 0.9, ())
    reply = app.format_reply("什么？", answer)
    assert "**" not in reply.replace(r"\*", "")
    assert "](" not in reply and "$$" not in reply
    assert reply.startswith("> 1\\. ")


def test_is_english():
    assert app.is_english("How many cadres were sent to villages?")
    assert app.is_english("<script>alert(1)</script>")
    assert not app.is_english("赫章县共创建达标党支部多少个？")
    assert not app.is_english("What does 赫章 mean?")
    assert not app.is_english("？")  # full-width punctuation counts as Chinese


def test_render_article_highlights_exact_span():
    out = app.render_article(DOC, Q_START, Q_END, source="hezhang.txt")
    assert re.search(r'<mark id="qa-hit">(.*?)</mark>', out).group(1) == QUOTE
    assert out.count("<mark") == 1
    assert "hezhang.txt" in out
    assert "本报记者 李学友" in out and "赫章县是贵州省" in out


@pytest.mark.parametrize("start, end", [(None, None), (5, 5), (-1, 3), (0, 10_000), (8, 2)])
def test_render_article_without_a_valid_span_has_no_mark(start, end):
    out = app.render_article(DOC, start, end)
    assert "<mark" not in out
    assert "828" in out


def test_render_article_escapes_html():
    text = "开头<script>alert(1)</script>中间<img src=x onerror=alert(1)>结尾"
    start = text.index("<img")
    out = app.render_article(text, start, start + len("<img src=x onerror=alert(1)>"), source="<b>x</b>.txt")
    assert not RAW_TAG.search(out)
    assert "<b>" not in out
    assert '<mark id="qa-hit">&lt;img src=x onerror=alert(1)&gt;</mark>' in out


def test_render_article_collapses_blank_line_runs_for_display():
    out = app.render_article("甲。\n\n\n\n\n乙。", 0, 2)
    assert "\n\n\n" not in out


def test_too_long_reply_is_clear_in_both_languages():
    assert "2000" in app.format_too_long("问" * 2500) and "2500" in app.format_too_long("问" * 2500)
    assert "too long" in app.format_too_long("a" * 2500)


def test_parse_args_flags_beat_env_and_default_is_localhost():
    assert (app.parse_args([], env={}).host, app.parse_args([], env={}).port) == ("127.0.0.1", 7860)
    env = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "9000"}
    args = app.parse_args([], env=env)
    assert (args.host, args.port) == ("0.0.0.0", 9000)
    args = app.parse_args(["--host", "127.0.0.2", "--port", "9100"], env=env)
    assert (args.host, args.port) == ("127.0.0.2", 9100)


# ------------------------------------------------- the event handlers, with a fake engine


class FakeEngine:
    sources = ["hezhang.txt", "other.txt"]

    def __init__(self):
        self.asked: list[str] = []

    def document(self, source):
        return DOC if source == "hezhang.txt" else "另一篇文章。"

    def answer(self, question, k=3):
        if not question.strip():
            raise ValueError("问题为空 / empty question")
        self.asked.append(question)
        return found_answer() if "党支部" in question else NOT_FOUND

    def info(self):
        return {"model": "fake", "chunks": 2, "index_dir": "nowhere", "documents": 2}


@pytest.fixture(scope="module")
def fake_app():
    engine = FakeEngine()
    demo = app.build_app(engine)
    fns = {fn.api_name: fn.fn for fn in demo.fns.values() if fn.api_name}
    return engine, fns


def test_chat_handler_answers_and_highlights_article(fake_app):
    engine, fns = fake_app
    history, box, article, source = fns["chat"]("赫章县共创建达标党支部多少个？", [], "other.txt")
    assert box == "" and source == "hezhang.txt"
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert "828" in history[-1]["content"]
    assert f'<mark id="qa-hit">{QUOTE}</mark>' in article


def test_chat_handler_empty_and_too_long_questions_get_chat_replies(fake_app):
    engine, fns = fake_app
    before = len(engine.asked)
    history, _, article, source = fns["chat"]("   ", [], "other.txt")
    assert history == [{"role": "assistant", "content": app.EMPTY_ZH}]
    assert source == "other.txt" and "<mark" not in article
    history, _, _, _ = fns["chat"]("党支部" * 1000, [], None)
    assert "3000" in history[-1]["content"] and "2000" in history[-1]["content"]
    assert len(history[0]["content"]) < 400  # the echo is shortened
    assert len(engine.asked) == before  # the engine was not asked


def test_chat_handler_escapes_hostile_question(fake_app):
    _, fns = fake_app
    history, *_ = fns["chat"]("<img src=x onerror=alert(1)>", [], None)
    assert not RAW_TAG.search(history[0]["content"])
    assert history[-1]["content"] == "The article does not say."


def test_answer_endpoint_returns_dict_and_rejects_empty(fake_app):
    import gradio as gr

    _, fns = fake_app
    result = fns["answer"]("赫章县共创建达标党支部多少个？")
    assert set(result) == {"found", "quote", "source", "start", "end", "score", "passages"}
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
