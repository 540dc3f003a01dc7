"""What the web chat shows about its documents and the conversation, as escaped text.

Complements `qa.web.format` (replies and the article panel): the documents panel (a table of
title, file, characters and when added), the choices of the document pickers, status lines
after an upload or removal, and the notes a reply gets when the question was completed from
the conversation ("理解为：…") or searched in one document only. Pure functions of strings
and `qa.documents.DocumentInfo`s: no Gradio, no model, no I/O.
"""
from __future__ import annotations

import html
from typing import Iterable

from ..corpus.documents import DocumentInfo, Limits
from ..text.normalise import is_english
from .format import escape_md

ALL_DOCUMENTS = "*"  # the scope value meaning "every document" (no document name is "*")
ALL_LABEL = "全部文档 / All documents"


# ---------------------------------------------------------------- replies


def understood_note(understood_as: str, english: bool) -> str:
    """"理解为：…" / "Understood as: …" (markdown, escaped); "" when the question was taken as is."""
    if not understood_as:
        return ""
    label = "Understood as:" if english else "理解为："
    sep = " " if english else ""
    return f'<span class="qa-understood">{label}{sep}{escape_md(understood_as)}</span>'


def scope_note(only: str, english: bool) -> str:
    """Said under a declined reply when the search was limited to one document."""
    if not only:
        return ""
    if english:
        return f'<span class="qa-scope-note">(Searched only {escape_md(only)}.)</span>'
    return f'<span class="qa-scope-note">（只在「{escape_md(only)}」里找过。）</span>'


def decorate_reply(reply: str, question: str, understood_as: str = "", found: bool = True, only: str = "") -> str:
    """A reply with the notes that belong to it: what the question was understood as (first),
    and, when nothing was found in a chosen document, that only that document was searched."""
    english = is_english(question)
    parts = [understood_note(understood_as, english), reply]
    if not found:
        parts.append(scope_note(only, english))
    return "\n\n".join(p for p in parts if p)


# ---------------------------------------------------------------- the documents panel


def added_label(added: str) -> str:
    """"2026-11-30T17:40:12" -> "2026-11-30 17:40"."""
    return added.replace("T", " ")[:16] if added else ""


def documents_table(docs: Iterable[DocumentInfo]) -> str:
    """The documents panel's table (HTML, every value escaped)."""
    rows = []
    for d in docs:
        rows.append(
            "<tr>"
            f'<td class="qa-doc-title">{html.escape(d.title)}</td>'
            f'<td class="qa-doc-name">{html.escape(d.name)}</td>'
            f'<td class="qa-doc-chars">{d.chars:,}</td>'
            f'<td class="qa-doc-added">{html.escape(added_label(d.added))}</td>'
            "</tr>"
        )
    if not rows:
        return '<p class="qa-docs-empty">还没有文档。 / No documents yet.</p>'
    head = ("<thead><tr><th>标题 / Title</th><th>文件 / File</th><th>字数 / Chars</th>"
            "<th>添加时间 / Added</th></tr></thead>")
    return f'<table class="qa-docs-table">{head}<tbody>{"".join(rows)}</tbody></table>'


def document_label(d: DocumentInfo) -> str:
    """How a document is named in a picker: its title, and its file when they differ."""
    stem = d.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return d.title if stem == d.title else f"{d.title}（{d.name}）"


def document_choices(docs: Iterable[DocumentInfo]) -> list[tuple[str, str]]:
    """(label, name) pairs for a dropdown of documents."""
    return [(document_label(d), d.name) for d in docs]


def scope_choices(docs: Iterable[DocumentInfo]) -> list[tuple[str, str]]:
    """The "search in" choices: every document first, then each one."""
    return [(ALL_LABEL, ALL_DOCUMENTS), *document_choices(docs)]


def panel_label(n: int) -> str:
    return f"文档 / Documents（{n}）· 上传 / Upload"


def limits_text(limits: Limits) -> str:
    """The upload limits, both languages (markdown, escaped)."""
    return f"{escape_md(limits.describe())}  \n*{escape_md(limits.describe(english=True))}*"


def status(message: str, ok: bool = True) -> str:
    """A status line for the documents panel (markdown, escaped): ✓ for done, ⚠ for refused."""
    if not message:
        return ""
    return f"{'✓' if ok else '⚠'} {escape_md(message)}"


def added_message(name: str, chars: int, note: str = "") -> str:
    done = f"已添加「{name}」（{chars:,} 字），可以提问了。 / Added {name} ({chars:,} characters); ask away."
    return f"{done} {note}" if note else done


def removed_message(name: str) -> str:
    return (f"已删除「{name}」（文件移到了文档文件夹的 .removed/ 里，可以找回）。 / "
            f"Removed {name} (moved to .removed/ in the docs folder, so it can be restored).")
