"""What the web chat (`app.py`) shows: replies, sources and the article panel, as escaped text.

Pure functions of strings and `Answer`s: no Gradio, no model, no I/O. Everything typed by
a user or read from an article is escaped here before it reaches the page; the Chatbot's
own sanitizer stays on in `app.py` as a second layer.

Places in an article are said the way a reader finds them: "第 4 段（小标题「大党建统领
大扶贫」下）", not as character offsets. Paragraphs are numbered like the article panel
numbers them: every line of running text is one paragraph; headlines, the byline, section
headings and captions (`qa.layout` roles) are named by their role instead.
"""
from __future__ import annotations

import functools
import html
import itertools
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from .text.layout import roles as layout_roles
from .types import Answer, Passage

MAX_QUESTION_CHARS = 2000  # longer questions get a "please shorten" reply
ECHO_CHARS = 300  # how much of an over-long question is echoed back in the chat

NOT_FOUND_ZH = "文章中没有找到答案。"
NOT_FOUND_EN = "The article does not say."
EMPTY_ZH = "请输入一个问题。 / Please type a question."
ERROR_ZH = "抱歉，处理这个问题时出错了，请换个说法再试。"
ERROR_EN = "Sorry, something went wrong with this question. Please try rephrasing it."

# The article panel's status line: what the highlight is, or why there is none.
NOTE_START = "提问后，回答引用的原句会在这里高亮。 / The quoted sentence is highlighted here."
NOTE_LATEST = "高亮的是最新回答的引文。 / Highlighted: the latest reply's quote."
NOTE_DECLINED = "最新的问题文章里没有答案，所以没有高亮。 / The article does not answer the latest question."
NOTE_RECALLED = "高亮的是你点选的那条回答的引文。 / Highlighted: the quote of the reply you selected."

ROLE_NAMES_ZH = {
    "banner": "通栏标题", "kicker": "引题", "title": "标题", "subtitle": "副标题",
    "byline": "署名", "section": "小标题", "caption": "图片说明",
}
ROLE_NAMES_EN = {
    "banner": "the banner line", "kicker": "the kicker above the headline", "title": "the headline",
    "subtitle": "the subtitle", "byline": "the byline", "section": "a section heading", "caption": "a photo caption",
}

# ---------------------------------------------------------------- escaping

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


def escape_html_text(text: str) -> str:
    """Escape for HTML; line breaks stay visible, runs of blank lines become one break."""
    return html.escape(_BLANK_RUNS.sub("\n", text), quote=True).replace("\n", "<br>")


def _blockquote(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()] or [""]
    return "\n".join(f"> {escape_md(ln)}" for ln in lines)


def echo_question(question: str) -> str:
    """The user's message as shown in the chat: escaped, and shortened when huge."""
    shown = question if len(question) <= ECHO_CHARS else question[:ECHO_CHARS] + "…"
    return escape_md(shown)


# ---------------------------------------------------------------- places in an article


@dataclass(frozen=True)
class Line:
    """One displayed unit of an article: a paragraph of running text, or a heading-like line."""

    start: int
    end: int
    role: str  # "" for running text, else a `qa.layout` role
    number: int  # paragraph number (1-based) of running text; 0 for headings
    section: str  # text of the section heading this line falls under ("" before the first)


@functools.lru_cache(maxsize=16)
def lines(doc: str) -> tuple[Line, ...]:
    """The article's paragraphs and headings, in order, with `doc` offsets.

    Blocks are separated by blank lines (as `qa.text.clean` leaves them). A block that
    `qa.layout` gives a role is one heading line; in running text every line is a paragraph.
    """
    role_at = {start: role for start, _end, role in layout_roles(doc)}
    out: list[Line] = []
    number, section = 0, ""
    for block in re.finditer(r"[^\n]+(?:\n[^\n]+)*", doc):
        if not block.group(0).strip():
            continue
        role = role_at.get(block.start(), "")
        if role:
            if role == "section":
                section = " ".join(block.group(0).split())
            out.append(Line(block.start(), block.end(), role, 0, section))
            continue
        for ln in re.finditer(r"[^\n]+", block.group(0)):
            if ln.group(0).strip():
                number += 1
                s = block.start() + ln.start()
                out.append(Line(s, s + len(ln.group(0)), "", number, section))
    return tuple(out)


@dataclass(frozen=True)
class Place:
    """Where `[start, end)` of an article is, in reader terms."""

    first: int  # first and last paragraph number (0 when the span is not in running text)
    last: int
    role: str  # the heading role when the span starts in a heading-like line, else ""
    section: str  # the section heading the span falls under ("" if none)


def place(doc: str, start: int, end: int) -> Place | None:
    """The place of `doc[start:end]`, or None when the span is not in the text.

    A span with running text in it is placed by its paragraphs (and the section of the
    first); a span of headings only (a quoted headline, byline or caption) by its role.
    """
    if not (0 <= start < end <= len(doc)):
        return None
    hit = [ln for ln in lines(doc) if ln.start < end and start < ln.end]
    if not hit:
        return None
    paras = [ln for ln in hit if ln.number]
    if not paras:
        return Place(0, 0, hit[0].role, "")
    return Place(paras[0].number, paras[-1].number, "", paras[0].section)


def describe(p: Place | None, english: bool) -> str:
    """"第 4 段（小标题「…」下）" / "paragraph 4 (under the heading 「…」)"; "" for None."""
    if p is None:
        return ""
    if english:
        if p.role:
            return ROLE_NAMES_EN.get(p.role, "a heading")
        where = f"paragraph {p.first}" if p.first == p.last else f"paragraphs {p.first}–{p.last}"
        return f"{where} (under the heading 「{p.section}」)" if p.section else where
    if p.role:
        return ROLE_NAMES_ZH.get(p.role, "标题")
    where = f"第 {p.first} 段" if p.first == p.last else f"第 {p.first}–{p.last} 段"
    return f"{where}（小标题「{p.section}」下）" if p.section else where


def _characters(start: int, end: int, english: bool) -> str:
    """Fallback when the document is not at hand: 1-based, inclusive character numbers."""
    return f"characters {start + 1}–{end}" if english else f"第 {start + 1}–{end} 字"


DocumentLookup = Callable[[str], str]


def where(document: DocumentLookup | None, source: str, start: int, end: int, english: bool) -> str:
    """The reader-terms place of a span of `source`; character numbers if the text is unavailable."""
    text = None
    if document is not None:
        try:
            text = document(source)
        except Exception:  # an unknown source: say what we can
            text = None
    if text is not None:
        found = describe(place(text, start, end), english)
        if found:
            return found
    return _characters(start, end, english)


# ---------------------------------------------------------------- chat replies


def highlight_in_passage(passage_text: str, p_start: int, hl_start: int, hl_end: int) -> str:
    """Escaped HTML of a passage with `[hl_start, hl_end)` (document offsets) in <mark>."""
    lo = max(hl_start - p_start, 0)
    hi = min(hl_end - p_start, len(passage_text))
    if hi <= lo:
        return escape_html_text(passage_text)
    return (
        escape_html_text(passage_text[:lo])
        + "<mark>"
        + escape_html_text(passage_text[lo:hi])
        + "</mark>"
        + escape_html_text(passage_text[hi:])
    )


def _passage_html(answer: Answer, passage: Passage, english: bool, document: DocumentLookup | None,
                  name_files: bool) -> str:
    """One supporting passage: where it is (reader terms), then its text with the quote marked."""
    if passage.source == answer.source and passage.start < answer.end and answer.start < passage.end:
        body = highlight_in_passage(passage.text, passage.start, answer.start, answer.end)
    elif answer.quote and answer.quote in passage.text:
        at = passage.text.index(answer.quote)
        body = highlight_in_passage(passage.text, 0, at, at + len(answer.quote))
    else:
        body = escape_html_text(passage.text)
    place_text = where(document, passage.source, passage.start, passage.end, english)
    label = f"{passage.source} · {place_text}" if name_files else place_text
    return f'<li><div class="qa-src-meta">{html.escape(label)}</div><div class="qa-src-text">{body}</div></li>'


def format_sources(answer: Answer, english: bool = False, document: DocumentLookup | None = None) -> str:
    """The collapsible 来源 / Sources section (one HTML block, no blank lines)."""
    if not answer.passages:
        return ""
    name_files = len({p.source for p in answer.passages} | {answer.source}) > 1
    items = "".join(_passage_html(answer, p, english, document, name_files) for p in answer.passages)
    summary = (f"Passages searched ({len(answer.passages)})" if english
               else f"来源 / Sources：检索到的段落（{len(answer.passages)}）")
    return f'<details class="qa-sources"><summary>{summary}</summary><ol>{items}</ol></details>'


def format_reply(question: str, answer: Answer, document: DocumentLookup | None = None) -> str:
    """The chat reply (markdown) for one answer.

    Found: the quote as a block quote, then "来源：file · 第 4 段（小标题「…」下） · 置信度 0.83"
    (English labels for an English question), then the collapsible passages searched.
    `document(source)` gives an article's text, to say where the quote is; without it the
    place is given in character numbers. Not found: just "文章中没有找到答案。" /
    "The article does not say.".
    """
    english = is_english(question)
    if not answer.found or not answer.quote:
        return NOT_FOUND_EN if english else NOT_FOUND_ZH
    source = escape_md(answer.source)
    place_text = escape_md(where(document, answer.source, answer.start, answer.end, english))
    if english:
        meta = f'Source: {source}, {place_text} · <span class="qa-nowrap">confidence {answer.score:.2f}</span>'
    else:
        meta = f'来源：{source}，{place_text} · <span class="qa-nowrap">置信度 {answer.score:.2f}</span>'
    parts = [_blockquote(answer.quote), meta]
    sources = format_sources(answer, english, document)
    if sources:
        parts.append(sources)
    return "\n\n".join(parts)


def format_too_long(question: str) -> str:
    n = len(question)
    if is_english(question):
        return f"Your question is too long ({n:,} characters). Please ask in at most {MAX_QUESTION_CHARS:,} characters."
    return f"问题太长了（{n} 字），没有作答。请把问题缩短到 {MAX_QUESTION_CHARS} 字以内再问。"


# ---------------------------------------------------------------- the article panel

_render_serial = itertools.count(1)  # makes every rendering differ, so the panel always re-applies its scroll


def _marked(text: str, lo: int, hi: int, first: bool) -> str:
    """`text` escaped, with `text[lo:hi]` in a mark (the first part of a hit gets id="qa-hit")."""
    if hi <= lo:
        return _line_html(text)
    mark = '<mark id="qa-hit">' if first else '<mark class="qa-hit-more">'
    return _line_html(text[:lo]) + mark + _line_html(text[lo:hi]) + "</mark>" + _line_html(text[hi:])


def _line_html(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def _lines_html(doc: str, items: Iterable[Line], start: int | None, end: int | None) -> str:
    out = []
    first = True
    for ln in items:
        text = doc[ln.start:ln.end]
        lo = hi = 0
        if start is not None and end is not None and ln.start < end and start < ln.end:
            lo, hi = max(start, ln.start) - ln.start, min(end, ln.end) - ln.start
        body = _marked(text, lo, hi, first)
        if hi > lo:
            first = False
        if ln.role:
            out.append(f'<p class="qa-h qa-{ln.role}">{body}</p>')
        else:
            out.append(f'<p class="qa-p"><span class="qa-n" aria-hidden="true">{ln.number}</span>{body}</p>')
    return "".join(out)


def render_article(text: str, start: int | None = None, end: int | None = None, source: str = "",
                   note: str = "", scroll: str = "keep") -> str:
    """The article as escaped HTML, with `text[start:end]` marked (`<mark id="qa-hit">` first).

    Running-text paragraphs carry their number (as the chat replies count them); headings,
    byline and captions are styled by role. `note` is a status line under the title;
    `scroll` tells the panel's script what to do: "hit" (bring the highlight into view),
    "keep" (stay where the reader is) or "top".
    """
    valid = start is not None and end is not None and 0 <= start < end <= len(text)
    if not valid:
        start = end = None
    if scroll == "hit" and not valid:
        scroll = "keep"
    head = f'<div class="qa-article-title">{html.escape(source)}</div>' if source else ""
    status = (f'<div class="qa-article-note" role="status" title="{html.escape(note)}">{html.escape(note)}</div>'
              if note else "")
    body = _lines_html(text, lines(text), start, end)
    if not body and text.strip():  # no block structure at all (should not happen): show it plainly
        body = f'<p class="qa-p">{escape_html_text(text)}</p>'
    return (
        f'<div class="qa-article" data-scroll="{html.escape(scroll)}" data-render="{next(_render_serial)}">'
        f'{head}{status}<div class="qa-article-body" tabindex="0">{body}</div></div>'
    )
