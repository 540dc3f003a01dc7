"""What the web chat shows: replies, sources and the article panel, as escaped text.

Pure functions of strings and `Answer`s: no Gradio, no model, no I/O. Everything typed by
a user or read from an article is escaped here before it reaches the page; the Chatbot's
own sanitizer stays on (`qa.web.page`) as a second layer.

A reply says which of the three kinds of answer it is (`Answer.kind`): *answered* — the quote
as a block quote, the answer inside it (`Answer.span`) marked, then where it is and the
confidence with a "?" that explains it; *unsure* — "可能相关，但不确定是否回答了问题" with the
quote shown as a passage to look at, not as the answer; *not found* — "文章中没有找到答案。".
The last two list the closest passages (`Answer.closest`) as buttons that highlight them in
the article panel (`assets/chat.js`), and a hint on rephrasing.

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

from ..text.layout import roles as layout_roles
from ..text.normalise import is_english
from ..types import Answer, AnswerKind, Passage

ECHO_CHARS = 300  # how much of an over-long question is echoed back in the chat

NOT_FOUND_ZH = "文章中没有找到答案。"
NOT_FOUND_EN = "The article does not say."
UNSURE_ZH = "可能相关，但不确定是否回答了问题。"
UNSURE_EN = "Possibly relevant, but not sure it answers the question."
HINT_ZH = "换个问法试试：用文章里的说法，问一件具体的事（谁、哪里、多少、什么时候）。"
HINT_EN = "Try rephrasing: use the article's own words and ask about one thing (who, where, how many, when)."
CONFIDENCE_ZH = ("置信度（0–1）：这句引文回答了问题的估计概率——阅读模型给候选句打分，再在几个带答案标注的调优问题集上"
                 "校准（逻辑回归）。够高才作为答案；稍低只说“可能相关”；再低就说没有找到。")
CONFIDENCE_EN = ("Confidence (0–1): the estimated probability that the quote answers the question — the reading "
                 "model's score for the sentence, calibrated (logistic regression) on tuning question sets with known "
                 "answers. High enough: given as the answer; a little lower: only \"possibly relevant\"; lower still: "
                 "not found.")
EMPTY_ZH = "请输入一个问题。 / Please type a question."
ERROR_ZH = "抱歉，处理这个问题时出错了，请换个说法再试。"
ERROR_EN = "Sorry, something went wrong with this question. Please try rephrasing it."

# The article panel's status line: what the highlight is, or why there is none.
NOTE_START = "提问后，回答引用的原句会在这里高亮。 / The quoted sentence is highlighted here."
NOTE_LATEST = "高亮的是最新回答的引文。 / Highlighted: the latest reply's quote."
NOTE_DECLINED = "最新的问题文章里没有答案，所以没有高亮。 / The article does not answer the latest question."
NOTE_RECALLED = "高亮的是你点选的那条回答的引文。 / Highlighted: the quote of the reply you selected."
NOTE_UNSURE = "高亮的是可能相关的原句，不确定它回答了问题。 / Highlighted: possibly relevant, not sure it answers."
NOTE_LOOK = "高亮的是你点选的段落。 / Highlighted: the passage you chose."

ROLE_NAMES_ZH = {
    "banner": "通栏标题", "kicker": "引题", "title": "标题", "subtitle": "副标题",
    "byline": "署名", "section": "小标题", "caption": "图片说明",
}
ROLE_NAMES_EN = {
    "banner": "the banner line", "kicker": "the kicker above the headline", "title": "the headline",
    "subtitle": "the subtitle", "byline": "the byline", "section": "a section heading", "caption": "a photo caption",
}

# ---------------------------------------------------------------- escaping

# Markdown punctuation that could turn quoted text into formatting, links or LaTeX.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$])")
_BLANK_RUNS = re.compile(r"\n[ \t\u3000]*(?:\n[ \t\u3000]*)+")
_MD_LINE_START = re.compile(r"^(\s*)(\d+)\.(?=\s)|^(\s*)([-=])", re.MULTILINE)


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


# ---------------------------------------------------------------- titles and quotes

_DECORATION = re.compile(r"^[\s\u3000]*[□■◆◇●○▲△★☆※▪▫]+[\s\u3000]*")  # a newspaper's mark before a byline


def document_title(doc: str) -> str:
    """A document's title: its headline — the line a "——" subtitle follows, else the first heading
    before any paragraph (never the banner line above it or the byline) — else its first line."""
    items = lines(doc)
    for ln, after in zip(items, items[1:]):
        if ln.role == "title" and after.role == "subtitle":
            return " ".join(doc[ln.start:ln.end].split())
    for ln in items:
        if not ln.role:  # running text: no heading above it
            break
        if ln.role in ("title", "kicker"):
            return " ".join(doc[ln.start:ln.end].split())
    first = next((t.strip() for t in doc.splitlines() if t.strip()), "")
    return " ".join(first.split())


def display_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of a quote as shown: (offset in `text`, line), leading spaces and a
    byline's decorative mark ("□ 本报记者 …") dropped."""
    out = []
    for m in re.finditer(r"[^\n]+", text):
        lead = _DECORATION.match(m.group(0))
        cut = lead.end() if lead else len(m.group(0)) - len(m.group(0).lstrip())
        shown = m.group(0)[cut:].rstrip()
        if shown:
            out.append((m.start() + cut, shown))
    return out


def shown_quote(text: str) -> str:
    """A quote's text as the reply shows it (and the copy button copies it)."""
    return "\n".join(line for _, line in display_lines(text)) or text.strip()


def _emphasised(line: str, lo: int, hi: int, escape: Callable[[str], str], tag: str = '<mark class="qa-span">') -> str:
    """`line` escaped, with `line[lo:hi]` in `tag` (the answer inside a quote: <mark class="qa-span">)."""
    lo, hi = max(lo, 0), min(hi, len(line))
    if hi <= lo:
        return escape(line)
    close = "</" + tag[1:].split(">")[0].split()[0] + ">"
    return f"{escape(line[:lo])}{tag}{escape(line[lo:hi])}{close}{escape(line[hi:])}"


def _quote_marked(text: str, lo: int, hi: int, answer: Answer, text_start: int) -> str:
    """`text` (starting at document offset `text_start`) escaped, the quote `[lo, hi)` in <mark> and
    the answer inside it (`answer.span`) in <strong>."""
    lo, hi = max(lo, 0), min(hi, len(text))
    if hi <= lo:
        return escape_html_text(text)
    inner = text[lo:hi]
    span = answer.span
    if span and span.source == answer.source:
        inner_html = _emphasised(inner, span.start - text_start - lo, span.end - text_start - lo, escape_html_text,
                                 "<strong>")
    else:
        inner_html = escape_html_text(inner)
    return f"{escape_html_text(text[:lo])}<mark>{inner_html}</mark>{escape_html_text(text[hi:])}"


def quote_block(answer: Answer) -> str:
    """The quote as a markdown block quote, the answer inside it (`answer.span`) marked."""
    span = answer.span if answer.span and answer.span.source == answer.source else None
    out = []
    for offset, line in display_lines(answer.quote) or [(0, answer.quote.strip())]:
        at = answer.start + offset  # the line's document offset
        lo, hi = (span.start - at, span.end - at) if span else (0, 0)
        out.append("> " + _emphasised(line, lo, hi, escape_md))
    return "\n".join(out)


# ---------------------------------------------------------------- passages


@dataclass(frozen=True)
class Region:
    """A stretch of one document to show: passages merged where they overlap."""

    source: str
    start: int
    end: int


def merged(passages: Iterable[Passage | Region]) -> list[Region]:
    """One region per stretch of text: overlapping or touching passages of a document joined, in order."""
    out: list[Region] = []
    for p in sorted(passages, key=lambda p: (p.source, p.start, p.end)):
        if out and out[-1].source == p.source and p.start <= out[-1].end:
            last = out.pop()
            out.append(Region(p.source, last.start, max(last.end, p.end)))
        else:
            out.append(Region(p.source, p.start, p.end))
    return out


def supporting(answer: Answer) -> list[Region]:
    """The passages that hold the quote (merged), not every passage searched."""
    return merged(p for p in answer.passages
                  if p.source == answer.source and p.start <= answer.start and answer.end <= p.end)


def _excerpt(text: str, lo: int, hi: int, limit: int) -> tuple[str, int, int]:
    """`text` cut to about `limit` characters around `[lo, hi)`; the mark's offsets in the cut text."""
    if len(text) <= limit:
        return text, lo, hi
    left = max(0, min(lo - limit // 4, len(text) - limit))
    cut = text[left:left + limit]
    prefix = "…" if left else ""
    suffix = "…" if left + limit < len(text) else ""
    return prefix + cut + suffix, lo - left + len(prefix), hi - left + len(prefix)


def _label(title: str, place_text: str) -> str:
    return f"《{title}》 {place_text}" if title else place_text


def sources_html(answer: Answer, english: bool, document: DocumentLookup, title: TitleLookup) -> str:
    """The collapsible source passage(s) of an answered quote: where, and the text around the quote
    with the quote marked. "" when no passage shows more than the quote itself."""
    try:
        doc = document(answer.source)
    except Exception:  # removed since: nothing to show
        return ""
    items = []
    for r in supporting(answer):
        if (r.start, r.end) == (answer.start, answer.end):
            continue
        excerpt, lo, hi = _excerpt(doc[r.start:r.end], answer.start - r.start, answer.end - r.start, 400)
        body = _quote_marked(excerpt, lo, hi, answer, answer.start - lo)
        label = _label(title(answer.source), describe(place(doc, r.start, r.end), english))
        items.append(f'<li><div class="qa-src-meta">{html.escape(label)}</div>'
                     f'<div class="qa-src-text">{body}</div></li>')
    if not items:
        return ""
    summary = f"Source passage ({len(items)})" if english else f"来源原文（{len(items)}）"
    return f'<details class="qa-sources"><summary>{summary}</summary><ol>{"".join(items)}</ol></details>'


def jump_button(source: str, start: int, end: int, label: str, text: str) -> str:
    """A passage the reader can click to see it highlighted in the article (`assets/chat.js`). The
    place travels in the button's value, "start:end:source" (the chat's sanitizer drops data-*)."""
    return (f'<button type="button" class="qa-jump" value="{start}:{end}:{html.escape(source)}">'
            f'<span class="qa-jump-where">{html.escape(label)}</span>'
            f'<span class="qa-jump-text">{escape_html_text(text)}</span></button>')


def closest_html(regions: list[Region], english: bool, document: DocumentLookup, title: TitleLookup,
                 heading: str) -> str:
    """The passages to look at, each a button that highlights it in the article."""
    items = []
    for r in regions:
        try:
            doc = document(r.source)
        except Exception:
            continue
        if not (0 <= r.start < r.end <= len(doc)):
            continue
        excerpt, _, _ = _excerpt(shown_quote(doc[r.start:r.end]), 0, 0, 90)
        label = _label(title(r.source), describe(place(doc, r.start, r.end), english))
        items.append(f"<li>{jump_button(r.source, r.start, r.end, label, excerpt)}</li>")
    if not items:
        return ""
    return f'<div class="qa-closest"><div class="qa-closest-head">{heading}</div><ol>{"".join(items)}</ol></div>'


# ---------------------------------------------------------------- chat replies

TitleLookup = Callable[[str], str]


def _no_title(source: str) -> str:
    return source


def _missing(source: str) -> str:
    raise KeyError(source)


def confidence_html(score: float, english: bool) -> str:
    """"置信度 0.83" and a "?" that says what it means and how it was measured."""
    label, why, name = (("confidence", CONFIDENCE_EN, "What confidence means") if english
                        else ("置信度", CONFIDENCE_ZH, "置信度是什么意思"))
    return (f'<span class="qa-conf">{label} {score:.2f}</span> <details class="qa-why">'
            f'<summary title="{html.escape(why)}">?<span class="qa-sr">{name}</span></summary>'
            f'<span class="qa-why-text">{html.escape(why)}</span></details>')


def source_line(answer: Answer, english: bool, document: DocumentLookup | None, title: TitleLookup) -> str:
    """"来源：《八年攻坚 奋楫争先》，第 4 段（小标题「…」下）" (plain text)."""
    place_text = where(document, answer.source, answer.start, answer.end, english)
    name = title(answer.source)
    if english:
        return f"Source: 《{name}》, {place_text}"
    return f"来源：《{name}》，{place_text}"


def format_reply(question: str, answer: Answer, document: DocumentLookup | None = None,
                 title: TitleLookup | None = None) -> str:
    """The chat reply (markdown with escaped HTML blocks) for one answer, by its kind.

    `document(source)` gives an article's text, to say where a quote is (without it: character
    numbers) and to show passages; `title(source)` its title (default: the file name)."""
    english = is_english(question)
    title = title or _no_title
    look = document or _missing
    kind = answer.kind if answer.quote or answer.kind is AnswerKind.NOT_FOUND else AnswerKind.NOT_FOUND
    if kind is AnswerKind.ANSWERED:
        meta = (f'<div class="qa-meta-line"><span class="qa-meta">{html.escape(source_line(answer, english, document, title))}'
                f'</span> · {confidence_html(answer.score, english)}</div>')
        return "\n\n".join(p for p in (quote_block(answer), meta, sources_html(answer, english, look, title)) if p)
    if kind is AnswerKind.UNSURE:
        head = UNSURE_EN if english else UNSURE_ZH
        quote = Region(answer.source, answer.start, answer.end)
        others = [r for r in merged(answer.closest) if not (r.source == quote.source
                                                              and r.start < quote.end and quote.start < r.end)]
        parts = [f'<div class="qa-kind qa-kind-unsure">{html.escape(head)} {confidence_html(answer.score, english)}</div>',
                 closest_html([quote], english, look, title,
                              "Possibly relevant sentence:" if english else "可能相关的原句："),
                 closest_html(others, english, look, title, "Other passages to look at:" if english else "其他相近的段落：")]
    else:
        parts = [NOT_FOUND_EN if english else NOT_FOUND_ZH,
                 closest_html(merged(answer.closest), english, look, title,
                              "Closest passages (click to see them in the article):" if english
                              else "最接近的段落（点击在文章里查看）：")]
    parts.append(f'<div class="qa-hint">{html.escape(HINT_EN if english else HINT_ZH)}</div>')
    return "\n\n".join(p for p in parts if p)


