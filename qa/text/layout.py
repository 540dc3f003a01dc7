"""Layout roles: what each headline-like line of a newspaper page is.

A cleaned document is a sequence of blocks: running-text paragraphs, and blocks without
running text (headlines, byline, captions). Which of these a line is follows from where
it stands, by the conventions of a Chinese newspaper page:

    banner   the line across the top of the page, above the title   奋斗百年路 启航新征程
    kicker   a heading above the title that a paragraph follows      携手战贫 千年梦圆
    title    the main headline: the one a "——" subtitle follows       八年攻坚 奋楫争先
    subtitle the line starting with a dash                           ——赫章县打赢脱贫攻坚战盘点
    byline   the reporter line                                        □ 本报记者 李学友
    section  a heading a paragraph follows, below the title           大党建统领大扶贫
    caption  a heading no paragraph follows (a photo's line)          赫章县松林坡乡香葱基地一角

Questions about the page (主标题是什么？第一张配图拍的是哪里？) are answered by role.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import normalise as text

ROLES = ("banner", "kicker", "title", "subtitle", "byline", "section", "caption")
BYLINE = re.compile(r"记者|作者|通讯员|撰稿|^□")
SUBTITLE = re.compile(r"^[—–-]{1,2}")

# What a question names, most specific first (副标题 before 标题, 小标题 before 标题): words that only
# ever name a part of a page, and words that do so only next to a page reference (本文, this report):
# "《呐喊》的作者是谁？" and "记者在海雀村看到了什么？" are about the content, not the byline.
_ASKED = (  # (role, page-only words, words that need a page reference)
    ("subtitle", r"副标题|副题", r"subtitle"),
    ("section", r"小标题|分标题|段落标题", r"章节|部分.{0,6}标题|section|sub-?heading"),
    ("byline", r"署名", r"记者|作者|谁写|撰写|reporter|author|who wrote|journalist|byline"),
    ("caption", r"配图|图注|图说|caption", r"图片|照片|photo|picture|image"),
    ("kicker", r"引题", r"系列报道|专栏|(?:report|article)s? series|series of reports"),
    ("banner", r"通栏|报头", r"口号|顶部|最上方|slogan|banner"),
    ("title", r"主标题|大标题", r"标题|题目|headline|title"),
)
_PAGE_REF = r"本文|这篇|该文|文章|报道|本报|本版|版面|页面|稿件|\b(?:this|the) (?:article|report|story|page)\b"
_ASKED_RE = tuple((role, re.compile(own, re.IGNORECASE), re.compile(needs, re.IGNORECASE))
                  for role, own, needs in _ASKED)
_PAGE_RE = re.compile(_PAGE_REF, re.IGNORECASE)
_CN_ORDINAL = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_ORDINAL = re.compile(r"第([一二两三四五六七八九十]|\d+)[张幅个篇条]|(first|second|third|last)\b|最后一?[张幅个条]",
                      re.IGNORECASE)
_EN_ORDINAL = {"first": 1, "second": 2, "third": 3, "last": -1}


@dataclass(frozen=True)
class Asked:
    """The layout role a question asks about, and which one of them (1-based, -1 = last; 0 = any)."""

    role: str
    ordinal: int = 0


def asked(question: str) -> Asked | None:
    """The role `question` asks about, or None for a question about the content."""
    page = bool(_PAGE_RE.search(question))
    for role, own, needs in _ASKED_RE:
        if own.search(question) or (page and needs.search(question)):
            return Asked(role, _ordinal(question))
    return None


def _ordinal(question: str) -> int:
    m = _ORDINAL.search(question)
    if not m:
        return 0
    if m.group(1):
        return int(m.group(1)) if m.group(1).isdigit() else _CN_ORDINAL[m.group(1)]
    if m.group(2):
        return _EN_ORDINAL[m.group(2).lower()]
    return -1  # 最后一张


def roles(doc: str) -> list[tuple[int, int, str]]:
    """(start, end, role) of every block of `doc` without running text, in order."""
    blocks = []
    for m in re.finditer(r"[^\n]+(?:\n[^\n]+)*", doc):  # blocks are separated by blank lines
        block = m.group(0)
        blocks.append((m.start(), m.end(), not any(mark in block for mark in text.BODY_MARKS)))
    headings = [i for i, b in enumerate(blocks) if b[2]]
    title = next((i for i in headings if i + 1 < len(blocks) and blocks[i + 1][2]
                  and SUBTITLE.match(doc[blocks[i + 1][0] : blocks[i + 1][1]])), None)
    if title is None and headings:
        title = headings[0]
    out = []
    for i in headings:
        start, end, _ = blocks[i]
        body_follows = i + 1 < len(blocks) and not blocks[i + 1][2]
        line = doc[start:end]
        if SUBTITLE.match(line):
            role = "subtitle"
        elif i == title:
            role = "title"
        elif BYLINE.search(line):
            role = "byline"
        elif i == 0:
            role = "banner"
        elif body_follows:
            role = "kicker" if i < title else "section"
        else:
            role = "caption"
        out.append((start, end, role))
    return out


def role_of(spans: list[tuple[int, int, str]], start: int, end: int) -> str:
    """The role of the block holding [start, end), or "" for running text."""
    for s, e, role in spans:
        if s <= start and end <= e:
            return role
    return ""
