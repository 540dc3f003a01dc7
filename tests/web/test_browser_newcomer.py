"""What a new user ran into (issue 25), and the three kinds of answer, in a real browser.

Each test is one thing a user would notice: the document list after someone else's upload, what
the copy button copies, what a decline or an unsure answer shows, contrast and axe-core (light and
dark, desktop and phone, after an answer), the phone layout, accessible names, errors, citations.
Answers of a kind the live engine does not give on demand (unsure, a span, closest passages) are
hand-made `Answer`s over the real article (`Scripted` in conftest.py); the rest is the live engine.
"""
from __future__ import annotations

import re
import subprocess

import pytest

from qa.corpus import documents
from qa.types import Answer, AnswerKind, Passage, Span
from support.browser import (
    BOT,
    DECLINED,
    DESKTOP,
    HIT,
    PHONE,
    PHONE_ARGS,
    QUESTION,
    TITLE,
    ask,
    low_contrast,
    open_page,
    serious_axe_violations,
    wait_hit_visible,
)
from support.live_server import PROJECT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]

SEED = "hezhang-poverty-alleviation.txt"
TEA = "云岭县茶产业发展迅速\n\n今年以来，云岭县新建茶园3.2万亩，全县茶园总面积达到15万亩。"


def passage(engine, text: str) -> Passage:
    doc = engine.document(SEED)
    at = doc.index(text)
    return Passage(text, SEED, at, at + len(text), 0.5)


UNSURE_Q = "赫章县在全省排第几？"
NOT_FOUND_Q = "赫章县的县长是谁？"
SPAN_Q = "赫章县共创建了多少个达标党支部？"


def unsure(engine) -> Answer:
    p = passage(engine, "赫章县是贵州省16个深度贫困县之一")
    other = passage(engine, "党的十八大以来，赫章县坚持以大党建为统领")
    return Answer(False, p.text, SEED, p.start, p.end, 0.41, kind=AnswerKind.UNSURE, closest=(p, other))


def not_found(engine) -> Answer:
    return Answer.not_found(0.2, closest=(passage(engine, "党的十八大以来，赫章县坚持以大党建为统领"),
                                          passage(engine, "实施易地扶贫搬迁")))


def with_span(engine) -> Answer:
    p = passage(engine, "共创建达标党支部828个")
    at = p.start + p.text.index("828个")
    return Answer(True, p.text, SEED, p.start, p.end, 0.9, span=Span(SEED, at, at + 4, "828个"))


@pytest.fixture(autouse=True)
def scripted(engine):
    engine.scripted.update({UNSURE_Q: unsure, NOT_FOUND_Q: not_found, SPAN_Q: with_span})
    yield
    engine.scripted.clear()


# ------------------------------------------------------------------ 1. the document list is read per page


def test_a_new_document_reaches_every_page_a_reload_and_an_open_one(browser, docs_server):
    url, docs, engine = docs_server
    open_before = open_page(browser, url)
    try:
        added = documents.add_text(docs, "", TEA)  # another visitor's upload
        engine.refresh()
        fresh = open_page(browser, url)
        try:
            label = fresh.locator("#qa-docs").get_by_role("button", name="文档 / Documents")
            assert "（2）" in label.first.inner_text()
            assert fresh.locator("#qa-scope").is_visible()  # two documents: the search-in choice
            fresh.locator("#qa-scope input").click()
            assert fresh.get_by_role("option", name=re.compile("云岭县茶产业发展迅速")).count() == 1
        finally:
            fresh.context.close()
        # The page that was already open catches up by itself within a few seconds.
        open_before.locator("#qa-docs button", has_text="（2）").first.wait_for(timeout=15_000)
        assert open_before.locator("#qa-scope").is_visible()
    finally:
        open_before.context.close()
        documents.remove(docs, added.info.name)
        engine.refresh()


# ------------------------------------------------------------------ 2. copy


def test_copy_copies_the_quote_and_its_source_line_not_markup(browser, server):
    page = open_page(browser, server, permissions=["clipboard-read", "clipboard-write"])
    try:
        reply = ask(page, QUESTION)
        quote = reply.locator("blockquote").inner_text().strip()
        source = reply.locator(".qa-meta").inner_text().strip()
        reply.hover()
        page.get_by_role("button", name="复制回答 / Copy reply").last.click()
        page.wait_for_timeout(300)
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == f"{quote}\n{source}"
        assert source.startswith(f"来源：《{TITLE}》") and "王朝荣" in copied
        assert "<" not in copied and "qa-" not in copied and "details" not in copied
    finally:
        page.context.close()


# ------------------------------------------------------------------ 3. the three kinds of answer


def test_a_decline_lists_closest_passages_that_highlight_in_the_article(page, engine):
    reply = ask(page, NOT_FOUND_Q)
    assert reply.inner_text().startswith("文章中没有找到答案。")
    assert "换个问法" in reply.inner_text()
    buttons = reply.locator("button.qa-jump")
    assert buttons.count() == 2 and f"《{TITLE}》" in buttons.first.inner_text()
    assert page.locator("#qa-article mark").count() == 0
    buttons.last.click()
    look = page.locator("#qa-article mark.qa-mark-look")
    look.first.wait_for()
    assert "易地扶贫搬迁" in look.first.inner_text()
    wait_hit_visible(page)
    assert "你点选的段落" in page.locator("#qa-article .qa-article-note").inner_text()


def test_a_live_decline_says_so_with_a_rephrasing_hint(page):
    reply = ask(page, DECLINED)
    lines = reply.inner_text().strip().splitlines()
    assert lines[0] == "The article does not say." and "Try rephrasing" in reply.inner_text()


def test_an_unsure_answer_is_possibly_relevant_not_the_answer(page):
    reply = ask(page, UNSURE_Q)
    text = reply.inner_text()
    assert text.startswith("可能相关，但不确定是否回答了问题。")
    assert reply.locator("blockquote").count() == 0  # the quote is not given as the answer
    assert "16个深度贫困县" in reply.locator("button.qa-jump").first.inner_text()
    dashed = page.locator("#qa-article mark.qa-mark-maybe")
    dashed.first.wait_for()
    assert "16个深度贫困县" in dashed.first.inner_text()
    assert "不确定" in page.locator("#qa-article .qa-article-note").inner_text()


def test_the_answer_inside_the_quote_is_emphasised_in_reply_and_article(page):
    reply = ask(page, SPAN_Q)
    assert reply.locator("blockquote mark.qa-span").inner_text() == "828个"
    page.locator(f"{HIT} strong.qa-span", has_text="828个").wait_for()


def test_the_confidence_is_explained(page):
    reply = ask(page, QUESTION)
    why = reply.locator("details.qa-why")
    assert "概率" in why.locator("summary").get_attribute("title")
    why.locator("summary").click()
    text = why.locator(".qa-why-text").inner_text()
    assert "概率" in text and "校准" in text


# ------------------------------------------------------------------ 4. contrast and axe-core


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_axe_finds_nothing_serious_and_all_text_is_readable(browser, server, scheme, viewport):
    size, extra = (DESKTOP, {}) if viewport == "desktop" else (PHONE, PHONE_ARGS)
    page = open_page(browser, server, viewport=size, color_scheme=scheme, **extra)
    try:
        ask(page, "那蔬菜呢？")  # a reply with its "理解为" label after the next one
        reply = ask(page, QUESTION)
        reply.locator("details.qa-sources summary").click()
        reply.locator("details.qa-why summary").click()
        ask(page, NOT_FOUND_Q)  # closest passages and the hint
        page.locator("#qa-docs").get_by_role("button", name="文档 / Documents").first.click()
        page.locator("#qa-docs .qa-docs-table").wait_for()
        page.locator("#qa-input textarea").fill("")  # the placeholder shows
        assert serious_axe_violations(page) == []
        assert low_contrast(page) == []
        if scheme == "dark":  # scrollbars and form controls drawn dark too
            assert page.evaluate("getComputedStyle(document.querySelector('.qa-article-body')).colorScheme") == "dark"
    finally:
        page.context.close()


# ------------------------------------------------------------------ 5. the phone


def test_phone_chat_first_tall_enough_examples_by_the_input(browser, server):
    page = open_page(browser, server, viewport=PHONE, **PHONE_ARGS)
    try:
        box = lambda sel: page.locator(sel).bounding_box()  # noqa: E731
        chat, ask_row, examples, article = box("#qa-chat"), box("#qa-ask-row"), box("#qa-examples"), box("#qa-article")
        assert chat["y"] < 150 and chat["height"] >= 0.45 * PHONE["height"]
        assert 0 <= examples["y"] - (ask_row["y"] + ask_row["height"]) < 60 and examples["y"] < article["y"]
        assert examples["y"] + 30 < PHONE["height"]  # the first examples on the first screen
        reply = ask(page, "本文作者是谁？")
        ask(page, QUESTION)
        reply = page.locator(BOT).last
        page.wait_for_timeout(800)
        top = reply.bounding_box()["y"]
        log = box("#qa-chat [role=log]")
        assert log["y"] <= top < log["y"] + log["height"] / 2  # the reply is read from its start
    finally:
        page.context.close()


# ------------------------------------------------------------------ 6. accessibility


def test_controls_are_named_in_the_page_language(page):
    assert page.get_by_role("textbox", name="问题 / Question").count() == 1
    assert page.get_by_role("log", name="对话 / Chat").count() == 1
    ask(page, QUESTION)
    assert page.get_by_role("button", name="清空对话 / Clear chat").count() == 1
    assert page.get_by_role("button", name="复制回答 / Copy reply").count() == 1
    assert page.get_by_role("button", name="复制问题 / Copy question").count() == 1
    assert page.get_by_role("region", name="文章 / Article").count() == 1


def test_no_extra_tab_stop_no_stray_scrollbar_and_the_page_fits_the_window(page):
    focusable = page.evaluate("""() => [...document.querySelectorAll('#qa-header *')]
        .filter(e => e.tabIndex >= 0 && e.getBoundingClientRect().width > 0).length""")
    assert focusable == 0
    page.locator("#qa-input textarea").focus()
    page.keyboard.press("Shift+Tab")  # nothing before the input but the page itself
    assert page.evaluate("document.activeElement === document.body || !document.activeElement.closest('#qa-header')")
    scrolled = page.evaluate("""() => [...document.querySelectorAll('#qa-header, #qa-header *')].filter(e => {
        const s = getComputedStyle(e);
        return /auto|scroll/.test(s.overflowY + s.overflowX) && (e.scrollHeight > e.clientHeight || e.scrollWidth > e.clientWidth);
    }).length""")
    assert scrolled == 0
    ask(page, QUESTION)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= DESKTOP["height"], f"the page is {height} px tall in a {DESKTOP['height']} px window"


# ------------------------------------------------------------------ 7. errors, length, language


@pytest.mark.parametrize("name, data, zh, en", [
    ("report.docx", b"PK\x03\x04" + b"\x00" * 200, "不支持", "not supported"),
    ("setup.txt", b"MZ\x90\x00\x03" + bytes(range(256)) * 8, "", ""),  # a renamed .exe
])
def test_an_unusable_upload_is_refused_in_both_languages_without_a_stuck_error(browser, docs_server, tmp_path,
                                                                               name, data, zh, en):
    url, docs, _ = docs_server
    path = tmp_path / name
    path.write_bytes(data)
    page = open_page(browser, url)
    try:
        page.locator("#qa-docs").get_by_role("button", name="文档 / Documents").first.click()
        page.locator("#qa-upload input[type=file]").set_input_files(str(path))
        status = page.locator("#qa-docs-status", has_text="⚠")
        status.wait_for()
        text = status.inner_text()
        assert zh in text and en in text and re.search(r"[\u4e00-\u9fff]", text) and re.search(r"[A-Za-z]{3}", text)
        page.wait_for_timeout(1000)
        assert page.locator("#qa-upload").get_by_text("Error", exact=True).count() == 0
        assert page.locator("[data-testid='toast-body']").count() == 0
        assert not (docs / name).exists()
    finally:
        page.context.close()


def test_the_length_limit_is_said_before_sending(page):
    box = page.locator("#qa-input textarea")
    hint = page.locator("#qa-hint .qa-len-hint")
    box.fill("问" * 450)
    assert "还可以输入" in hint.inner_text()
    box.fill("问" * 3000)
    assert "问题太长" in hint.inner_text() and "3000" in hint.inner_text()
    box.fill("短问题？")
    assert hint.inner_text() == ""
    assert page.locator(BOT).count() == 0  # nothing was sent


def test_an_emoji_only_question_is_answered_in_chinese(page):
    reply = ask(page, "😀😀😀")
    assert re.search(r"[\u4e00-\u9fff]", reply.inner_text())
    assert "The article" not in reply.inner_text() and "Try rephrasing" not in reply.inner_text()


# ------------------------------------------------------------------ 8. citations


def test_sources_name_the_title_and_list_one_supporting_passage(page):
    reply = ask(page, QUESTION)
    meta = reply.locator(".qa-meta").inner_text()
    assert meta.startswith(f"来源：《{TITLE}》，第 ") and SEED not in reply.inner_text()
    reply.locator("details.qa-sources summary").click()
    items = reply.locator("details.qa-sources li")
    assert items.count() == 1  # one passage, not overlapping copies of it
    assert "王朝荣" in items.first.locator("mark").inner_text()  # and it holds the quote
    assert items.first.locator(".qa-src-meta").inner_text().startswith(f"《{TITLE}》")


def test_a_byline_quote_has_no_stray_box(page):
    reply = ask(page, "本文作者是谁？")
    assert "李学友" in reply.inner_text() and "□" not in reply.inner_text()


def test_examples_follow_the_document_searched(browser, docs_server):
    url, docs, engine = docs_server
    added = documents.add_text(docs, "", TEA)
    engine.refresh()
    page = open_page(browser, url)
    try:
        examples = page.locator("#qa-examples .qa-example")
        assert any("赫章县" in t for t in examples.all_inner_texts())
        page.locator("#qa-scope input").click()
        page.get_by_role("option", name=re.compile("云岭县茶产业发展迅速")).first.click()
        page.wait_for_function("() => [...document.querySelectorAll('#qa-examples .qa-example')]"
                               ".some(b => b.textContent.includes('云岭县'))")
        shown = [t for t in examples.all_inner_texts() if t.strip()]
        assert shown and not any("赫章县" in t for t in shown)
        examples.first.click()
        page.locator(BOT).last.wait_for()
        page.wait_for_function("() => !document.querySelector('#qa-input textarea').disabled")
        assert "3.2万亩" in page.locator(BOT).last.inner_text()
    finally:
        page.context.close()
        documents.remove(docs, added.info.name)
        engine.refresh()


# ------------------------------------------------------------------ 9. removed documents and git


def test_removed_documents_are_not_untracked_files_of_the_project():
    ignored = subprocess.run(["git", "check-ignore", "-q", "seeds/.removed/20261203-x-report.txt"], cwd=PROJECT)
    assert ignored.returncode == 0
