"""The article panel: the article as escaped HTML, numbered like the replies count, one stretch marked.

The mark says what it is by its class: the latest answer's quote (`hit`), a quote the engine is
unsure of (`maybe`, drawn dashed) or a passage the reader chose to look at (`look`). The answer
inside a quote (`Answer.span`) is emphasised within the mark. Pure functions, no Gradio.
"""
from __future__ import annotations

import html
import itertools
from typing import Iterable

from .format import Line, escape_html_text, lines

_render_serial = itertools.count(1)  # makes every rendering differ, so the panel always re-applies its scroll
MARK_KINDS = ("hit", "maybe", "look")


def _line_html(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def _marked(text: str, lo: int, hi: int, first: bool, kind: str, span: tuple[int, int] | None) -> str:
    """`text` escaped, with `text[lo:hi]` in a mark (the first part of a mark gets id="qa-hit") and
    `text[span]` (offsets in `text`) in <strong> inside it."""
    if hi <= lo:
        return _line_html(text)
    inner = text[lo:hi]
    if span is not None and max(span[0], lo) < min(span[1], hi):
        a, b = max(span[0], lo) - lo, min(span[1], hi) - lo
        inner_html = (f'{_line_html(inner[:a])}<strong class="qa-span">{_line_html(inner[a:b])}</strong>'
                      f"{_line_html(inner[b:])}")
    else:
        inner_html = _line_html(inner)
    classes = f"qa-mark-{kind}" + ("" if first else " qa-hit-more")
    ident = ' id="qa-hit"' if first else ""
    return f'{_line_html(text[:lo])}<mark{ident} class="{classes}">{inner_html}</mark>{_line_html(text[hi:])}'


def _lines_html(doc: str, items: Iterable[Line], start: int | None, end: int | None, kind: str,
                span: tuple[int, int] | None) -> str:
    out = []
    first = True
    for ln in items:
        text = doc[ln.start:ln.end]
        lo = hi = 0
        if start is not None and end is not None and ln.start < end and start < ln.end:
            lo, hi = max(start, ln.start) - ln.start, min(end, ln.end) - ln.start
        local = (span[0] - ln.start, span[1] - ln.start) if span else None
        body = _marked(text, lo, hi, first, kind, local)
        if hi > lo:
            first = False
        if ln.role:
            out.append(f'<p class="qa-h qa-{ln.role}">{body}</p>')
        else:
            out.append(f'<p class="qa-p"><span class="qa-n" aria-hidden="true">{ln.number}</span>{body}</p>')
    return "".join(out)


def render_article(text: str, start: int | None = None, end: int | None = None, source: str = "",
                   note: str = "", scroll: str = "keep", *, title: str = "", kind: str = "hit",
                   span: tuple[int, int] | None = None) -> str:
    """The article as escaped HTML, with `text[start:end]` marked (`<mark id="qa-hit">` first).

    Running-text paragraphs carry their number (as the chat replies count them); headings,
    byline and captions are styled by role. The head names the article by `title` and its file
    `source`; `note` is a status line under it. `kind` is what the mark is (`MARK_KINDS`); `span`
    (document offsets) is emphasised inside it. `scroll` tells the panel's script what to do:
    "hit" (bring the mark into view), "keep" (stay where the reader is) or "top".
    """
    valid = start is not None and end is not None and 0 <= start < end <= len(text)
    if not valid:
        start = end = None
    if scroll == "hit" and not valid:
        scroll = "keep"
    kind = kind if kind in MARK_KINDS else "hit"
    head = ""
    if source or title:
        file_part = f'<span class="qa-article-file">{html.escape(source)}</span>' if source and source != title else ""
        head = f'<div class="qa-article-title">{html.escape(title or source)}{file_part}</div>'
    status = (f'<div class="qa-article-note" role="status" title="{html.escape(note)}">{html.escape(note)}</div>'
              if note else "")
    body = _lines_html(text, lines(text), start, end, kind, span if valid else None)
    if not body and text.strip():  # no block structure at all (should not happen): show it plainly
        body = f'<p class="qa-p">{escape_html_text(text)}</p>'
    return (
        f'<div class="qa-article" data-scroll="{html.escape(scroll)}" data-render="{next(_render_serial)}">'
        f'{head}{status}<div class="qa-article-body" tabindex="0" role="region" aria-label="文章 / Article">'
        f"{body}</div></div>"
    )
