"""The chat in a real browser (Debian's Chromium, headless) against a live server.

Skipped when /usr/bin/chromium or playwright is missing, unless QA_REQUIRE_BROWSER=1.
Set QA_SCREENSHOTS=docs to write the screenshots of docs/web.md there: screenshot.png
(1366x900), screenshot-phone.png (390x844), screenshot-dark.png (dark mode) and
screenshot-documents.png (the documents panel after an upload, and a follow-up question).
Uploads go to a temporary copy of seeds/, never to the project's own folder. Fixtures:
tests/web/conftest.py; helpers: tests/support/browser.py. What a new user ran into (issue 25)
and the three kinds of answer: test_browser_newcomer.py.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from support.sample_files import NEWS_HTML, blank_pdf

from support.browser import (
    BOT,
    DECLINED,
    DEEP_QUESTION,
    DESKTOP,
    HIT,
    PHONE,
    PHONE_ARGS,
    QUESTION,
    TITLE,
    USER,
    article_scroll,
    ask,
    open_page,
    wait_hit_visible,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]


# Record the article panel's scrollTop at every animation frame (to catch a flash to the top).
SAMPLE_SCROLL = """() => {
    window.__scrolls = [];
    const tick = () => {
        const b = document.querySelector('#qa-article .qa-article-body');
        if (b) window.__scrolls.push(b.scrollTop);
        if (window.__scrolls.length < 600) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""


# Contrast ratio (WCAG) of an element's computed text colour on its computed background.
CONTRAST = """(el) => {
    const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => {
        const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const cs = getComputedStyle(el);
    const [a, b] = [lum(rgb(cs.color)), lum(rgb(cs.backgroundColor))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


# ------------------------------------------------------------------ answering


def test_question_gets_quote_place_and_article_highlight(page):
    reply = ask(page, QUESTION)
    text = reply.inner_text()
    assert "王朝荣" in text
    assert reply.locator("blockquote").count() == 1
    assert "置信度" in text
    assert re.search(r"第 \d+ 段（小标题「.+」下）", text), text  # where, in reader terms
    assert not re.search(r"第 \d+–\d+ 字", text)  # not character offsets
    # The article panel highlights the quote, scrolled into its visible area.
    hit = page.locator(HIT)
    hit.wait_for()
    assert "王朝荣" in hit.inner_text()
    wait_hit_visible(page)
    # The paragraph number the reply names is the one shown beside the highlight.
    number = re.search(r"第 (\d+) 段", text).group(1)
    shown = page.evaluate("() => document.querySelector('#qa-hit').closest('p').querySelector('.qa-n').textContent")
    assert shown == number
    # The collapsible sources open and show the quote highlighted, places but no raw scores.
    reply.locator("details.qa-sources summary").click()
    marks = reply.locator("details.qa-sources mark")
    assert marks.count() >= 1 and "王朝荣" in marks.first.inner_text()
    metas = reply.locator(".qa-src-meta").all_inner_texts()
    assert metas and all(re.search(r"段|标题|署名|图片说明", m) and not re.search(r"\d\.\d\d", m) for m in metas)


def test_html_in_question_is_shown_as_text(page):
    page.evaluate("window.__xss = 0")
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    reply = ask(page, payload)
    user = page.locator(USER).last
    assert "<img src=x" in user.inner_text()
    assert page.locator("#qa-chat img[src='x']").count() == 0
    assert page.locator("#qa-chat script").count() == 0
    assert page.evaluate("window.__xss") == 0
    assert reply.inner_text().strip()


def test_quote_deep_in_the_article_is_scrolled_into_view(page):
    reply = ask(page, DEEP_QUESTION)
    assert "9735" in reply.inner_text()
    page.locator(HIT, has_text="9735").wait_for()
    wait_hit_visible(page)
    assert article_scroll(page) > 300


def test_example_click_answers(page):
    page.get_by_role("button", name="赫章县是哪个省的深度贫困县？").click()
    page.locator(BOT).last.wait_for()
    assert "贵州" in page.locator(BOT).last.inner_text()


# ------------------------------------------------------------------ while an answer is computed


def test_question_shows_at_once_and_the_input_waits_clearly(page, engine):
    engine.delay = 2.5
    try:
        box = page.locator("#qa-input textarea")
        box.fill(QUESTION)
        started = time.monotonic()
        box.press("Enter")
        page.locator(USER).first.wait_for()
        shown_after = time.monotonic() - started
        assert page.locator(BOT).count() == 0, "the answer came before the question was shown"
        assert shown_after < 2.0
        assert page.locator(USER).first.inner_text().strip() == QUESTION
        # The input is locked with a clear Chinese state; Ask and the examples are too.
        assert box.is_disabled() and "正在查找答案" in box.get_attribute("placeholder")
        assert page.locator("#qa-send").is_disabled()
        assert page.get_by_role("button", name="本文作者是谁？").is_disabled()
        # No English "processing" label and no progress overlay on the article or the input.
        page.wait_for_timeout(600)
        assert not page.get_by_text(re.compile("processing", re.I)).filter(visible=True).count()
        overlays = page.evaluate("""() => [...document.querySelectorAll('#qa-article-col .wrap, #qa-ask-row .wrap')]
            .filter(w => w.getBoundingClientRect().height > 0 && !w.classList.contains('hide')).length""")
        assert overlays == 0
        # Then the answer, and the input takes questions again, with the focus back.
        page.locator(BOT).first.wait_for()
        assert "王朝荣" in page.locator(BOT).first.inner_text()
        page.wait_for_function("() => !document.querySelector('#qa-input textarea').disabled")
        page.wait_for_function("() => document.activeElement === document.querySelector('#qa-input textarea')")
        assert box.get_attribute("placeholder") != "" and "正在查找答案" not in box.get_attribute("placeholder")
    finally:
        engine.delay = 0.0


def test_a_second_question_after_the_first_is_answered_in_turn(page):
    ask(page, QUESTION)
    ask(page, "赫章县是哪个省的深度贫困县？")
    assert page.locator(USER).count() == 2 and page.locator(BOT).count() == 2
    assert "王朝荣" in page.locator(BOT).first.inner_text() and "贵州" in page.locator(BOT).last.inner_text()


def test_empty_submit_does_nothing_visible(page):
    reply = ask(page, QUESTION)
    before = reply.inner_text()
    box = page.locator("#qa-input textarea")
    for empty in ("", "   "):
        box.fill(empty)
        box.press("Enter")
        page.locator("#qa-send").click()
    page.wait_for_timeout(1000)
    assert page.locator(BOT).count() == 1 and page.locator(USER).count() == 1
    assert page.locator(BOT).last.inner_text() == before  # nothing merged into the reply


# ------------------------------------------------------------------ the highlight


def test_declined_reply_clears_the_highlight_says_so_and_keeps_the_scroll(page):
    ask(page, DEEP_QUESTION)
    wait_hit_visible(page)
    page.wait_for_timeout(800)  # the smooth scroll settles
    scrolled = article_scroll(page)
    page.evaluate(SAMPLE_SCROLL)  # the panel's scroll position at every frame from now on
    reply = ask(page, DECLINED)
    assert reply.inner_text().strip().startswith("The article does not say.")
    page.locator("#qa-article .qa-article-note", has_text="没有答案").wait_for()
    assert page.locator("#qa-article mark").count() == 0
    assert abs(article_scroll(page) - scrolled) < 5
    frames = page.evaluate("window.__scrolls")
    assert frames and min(frames) > scrolled - 5, "the article jumped while it was re-rendered"


def test_selecting_an_earlier_reply_highlights_its_quote_again(page):
    ask(page, QUESTION)
    ask(page, DEEP_QUESTION)
    page.locator(HIT, has_text="9735").wait_for()
    page.locator(BOT).first.locator("blockquote").click()
    page.locator(HIT, has_text="王朝荣").wait_for()
    wait_hit_visible(page)
    assert "点选" in page.locator("#qa-article .qa-article-note").inner_text()


@pytest.mark.parametrize("control", ["button", "trash"])
def test_both_clear_controls_reset_chat_highlight_and_scroll(page, control):
    ask(page, DEEP_QUESTION)
    wait_hit_visible(page)
    assert article_scroll(page) > 300
    if control == "button":
        page.get_by_role("button", name="清空 / Clear").click()
    else:
        page.locator("#qa-chat").get_by_role("button", name=re.compile("清空对话|Clear")).click()
    page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=BOT)
    page.wait_for_function("() => !document.querySelector('#qa-article mark')")
    page.wait_for_function("() => document.querySelector('#qa-article .qa-article-body').scrollTop === 0")
    assert page.locator(USER).count() == 0
    assert page.locator("#qa-input textarea").is_enabled()


# ------------------------------------------------------------------ page-wide


def test_page_language_is_chinese_whatever_the_browser_locale(browser, server):
    page = open_page(browser, server, locale="en-US")
    try:
        page.wait_for_function("() => document.documentElement.lang.startsWith('zh')")
        page.wait_for_timeout(500)  # Gradio's i18n sets the locale's language after load
        assert page.evaluate("document.documentElement.lang").startswith("zh")
    finally:
        page.context.close()


def test_screen_reader_labels_of_messages_are_plain_text(page):
    reply = ask(page, QUESTION)
    page.wait_for_function("sel => (document.querySelector(sel).getAttribute('aria-label') || '').includes('王朝荣')", arg=BOT)
    label = reply.get_attribute("aria-label")
    assert "<" not in label and "&lt;" not in label and "\\" not in label and "> " not in label
    assert "王朝荣" in label and "置信度" in label
    user_label = page.locator(USER).last.get_attribute("aria-label")
    assert user_label.endswith(QUESTION)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_highlight_contrast_is_readable(browser, server, scheme):
    page = open_page(browser, server, color_scheme=scheme)
    try:
        reply = ask(page, QUESTION)
        assert page.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
        assert page.locator(HIT).evaluate(CONTRAST) >= 4.5
        reply.locator("details.qa-sources summary").click()
        assert reply.locator("details.qa-sources mark").first.evaluate(CONTRAST) >= 4.5
    finally:
        page.context.close()


# ------------------------------------------------------------------ follow-ups

POTATO = "2020年全县种了多少亩马铃薯？"


def test_follow_up_reply_says_what_it_was_understood_as_and_clear_forgets(page):
    first = ask(page, POTATO)
    assert "65万亩" in first.inner_text() and "理解为" not in first.inner_text()
    follow = ask(page, "那蔬菜呢？")
    note = follow.locator(".qa-understood")
    assert note.count() == 1
    understood = note.inner_text()
    assert understood.startswith("理解为：") and "蔬菜" in understood and "马铃薯" not in understood
    assert "30万亩" in follow.inner_text()
    page.locator(HIT, has_text="30万亩").wait_for()
    page.get_by_role("button", name="清空 / Clear").click()
    page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=BOT)
    alone = ask(page, "那蔬菜呢？")  # the conversation was forgotten: nothing to complete it from
    assert alone.locator(".qa-understood").count() == 0


# ------------------------------------------------------------------ documents

DOCS_PANEL = "#qa-docs"
TEA_QUESTION = "云岭县新建茶园多少亩？"


def open_documents(page):
    """Open the documents panel (an accordion under the article) and return it."""
    panel = page.locator(DOCS_PANEL)
    panel.get_by_role("button", name="文档 / Documents").first.click()
    panel.locator(".qa-docs-table").wait_for()
    return panel


def upload(page, path: Path):
    page.locator("#qa-upload input[type=file]").set_input_files(str(path))


def choose(page, dropdown: str, option: str):
    """Pick `option` in a Gradio dropdown."""
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option).first.click()


def test_upload_lists_the_document_and_questions_can_be_asked_of_it(browser, docs_server, tmp_path):
    url, docs, _ = docs_server
    news = tmp_path / "news.html"
    news.write_text(NEWS_HTML, encoding="utf-8")
    page = open_page(browser, url)
    try:
        panel = open_documents(page)
        assert "10 MB" in panel.locator("#qa-limits").inner_text()  # the limits are said
        upload(page, news)
        panel.locator("#qa-docs-status", has_text="已添加").wait_for()
        table = panel.locator(".qa-docs-table")
        assert "云岭县茶产业发展迅速" in table.inner_text() and "news.txt" in table.inner_text()
        assert "（2）" in panel.get_by_role("button", name="文档 / Documents").first.inner_text()
        # The new document is shown, and the search can be limited to it.
        page.locator("#qa-article .qa-article-title", has_text="news.txt").wait_for()
        scope = page.locator("#qa-scope")
        scope.wait_for()
        choose(page, "#qa-scope", "云岭县茶产业发展迅速（news.txt）")
        reply = ask(page, TEA_QUESTION)
        assert "3.2万亩" in reply.inner_text() and "《云岭县茶产业发展迅速》" in reply.inner_text()
        page.locator(HIT, has_text="3.2万亩").wait_for()
        # Limited to the other document: not found there, and the reply says where it looked.
        choose(page, "#qa-scope", "hezhang-poverty-alleviation.txt")
        declined = ask(page, TEA_QUESTION)
        assert "只在「hezhang-poverty-alleviation.txt」里找过" in declined.inner_text()
        # Removed: gone from the table, the file moved aside.
        choose(page, "#qa-remove-pick", "云岭县茶产业发展迅速（news.txt）")
        page.locator("#qa-remove").click()
        panel.locator("#qa-docs-status", has_text="已删除").wait_for()
        assert "news.txt" not in panel.locator(".qa-docs-table").inner_text()
        assert not (docs / "news.txt").exists() and list((docs / ".removed").iterdir())
    finally:
        page.context.close()


def test_unreadable_upload_says_why(browser, docs_server, tmp_path):
    url, docs, _ = docs_server
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(blank_pdf())
    page = open_page(browser, url)
    try:
        panel = open_documents(page)
        upload(page, scan)
        status = panel.locator("#qa-docs-status", has_text="没有文字层")
        status.wait_for()
        assert "扫描件" in status.inner_text() and "no text layer" in status.inner_text()
        assert not (docs / "scan.txt").exists()
    finally:
        page.context.close()


def test_oversized_upload_is_refused_before_it_is_sent(browser, docs_server, tmp_path):
    """Gradio's own size check (launch max_file_size = qa.documents.Limits.max_file_bytes) stops it
    in the browser; the toast names the file and the limit, and nothing reaches the folder."""
    url, docs, _ = docs_server
    big = tmp_path / "big.txt"
    big.write_bytes("字".encode() * (4 * 1024 * 1024))  # 12 MB
    page = open_page(browser, url)
    try:
        open_documents(page)
        upload(page, big)
        toast = page.locator("[data-testid='toast-body']", has_text="big.txt")
        toast.wait_for()
        assert "10" in toast.inner_text() and "size" in toast.inner_text()
        page.wait_for_timeout(500)
        assert not (docs / "big.txt").exists()
    finally:
        page.context.close()


def test_pasted_text_becomes_a_document(browser, docs_server):
    url, docs, _ = docs_server
    page = open_page(browser, url)
    try:
        panel = open_documents(page)
        panel.get_by_role("button", name="粘贴文字").click()
        page.locator("#qa-paste-title textarea, #qa-paste-title input").first.fill("<b>蔬菜简报</b>")
        page.locator("#qa-paste-body textarea").fill("2021年全县新建蔬菜大棚1200个，带动农户800户。")
        page.locator("#qa-paste-add").click()
        panel.locator("#qa-docs-status", has_text="已添加").wait_for()
        assert "<b>蔬菜简报</b>" in panel.locator(".qa-docs-table").inner_text()  # shown as text
        assert panel.locator(".qa-docs-table b").count() == 0
        reply = ask(page, "全县新建蔬菜大棚多少个？")
        assert "1200" in reply.inner_text()
    finally:
        page.context.close()
        for p in docs.glob("*蔬菜简报*.txt"):
            p.unlink()


# ------------------------------------------------------------------ screenshots


def test_screenshots(browser, server, tmp_path):
    """The pictures of docs/web.md: desktop (an answer), phone, dark (a decline, then an answer).
    Copied to $QA_SCREENSHOTS."""
    shots = {}
    for name, viewport, extra, before in [
        ("screenshot.png", DESKTOP, {}, []),
        ("screenshot-phone.png", PHONE, PHONE_ARGS, []),
        ("screenshot-dark.png", DESKTOP, {"color_scheme": "dark"}, ["赫章县的县长是谁？"]),
    ]:
        page = open_page(browser, server, viewport=viewport, **extra)
        try:
            for question in before:
                ask(page, question)
            ask(page, QUESTION)
            wait_hit_visible(page)
            page.wait_for_timeout(800)
            shots[name] = tmp_path / name
            page.screenshot(path=str(shots[name]))
        finally:
            page.context.close()
        assert shots[name].stat().st_size > 10_000
    target = os.environ.get("QA_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for name, shot in shots.items():
            shutil.copyfile(shot, Path(target) / name)


def test_screenshot_of_documents_and_a_follow_up(browser, docs_server, tmp_path):
    """The README's picture of the documents panel (after an upload) and a follow-up reply."""
    url, docs, _ = docs_server
    news = tmp_path / "云岭县茶产业.html"
    news.write_text(NEWS_HTML, encoding="utf-8")
    page = open_page(browser, url)
    try:
        panel = open_documents(page)
        upload(page, news)
        panel.locator("#qa-docs-status", has_text="已添加").wait_for()
        page.locator("#qa-article .qa-article-title", has_text="云岭县茶产业").wait_for()
        ask(page, POTATO)
        ask(page, "那蔬菜呢？")
        page.locator(HIT, has_text="30万亩").wait_for()
        wait_hit_visible(page)
        page.wait_for_timeout(800)
        shot = tmp_path / "screenshot-documents.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        page.context.close()
        for p in docs.glob("云岭县茶产业*.txt"):
            p.unlink()
    target = os.environ.get("QA_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(target) / shot.name)
