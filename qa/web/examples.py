"""Example questions under the chat input, about the document(s) being searched.

The seed article has hand-written examples (one the article does not answer, to show a
decline). Any other document gets questions made from its own sentences: a clause with a
figure ("云岭县新建茶园3.2万亩") becomes "云岭县新建茶园多少亩？"; a byline gives "本文作者是谁？".
Pure functions of document texts.
"""
from __future__ import annotations

import re

from ..text.layout import roles

MAX_EXAMPLES = 5

CURATED = {
    "hezhang-poverty-alleviation.txt": [
        "赫章县共创建达标党支部多少个？",
        "本文作者是谁？",
        "赫章县是哪个省的深度贫困县？",
        "Who wrote this report?",
        "Who won the World Cup in 2018?",
    ],
}

_CLAUSE = re.compile(r"[^，。；！？：,;!?:\n]+")
# A figure and its measure word: the figure becomes "多少", the measure word stays.
_FIGURE = re.compile(r"(\d+(?:\.\d+)?)(?:万|亿|千|百)?(亩|个|户|人|名|元|家|所|座|条|公里|吨|头|只|项|次|间|套|株|棵)")
_LEADING = re.compile(r"^(?:并|且|其中|共|还|已|和|及|同时|目前|截至|此外|另外)+")


def figure_question(clause: str) -> str | None:
    """"云岭县新建茶园3.2万亩" -> "云岭县新建茶园多少亩？"; None when the clause makes no good question."""
    clause = _LEADING.sub("", clause.strip())
    m = next(reversed(list(_FIGURE.finditer(clause))), None)  # the clause's last figure
    if not m or m.start() < 4 or len(clause) > 30 or len(clause) - m.end() > 1:
        return None  # no figure, too little before it, too long, or the figure is not what the clause says
    before = clause[:m.start()]
    if re.search(r"\d", re.sub(r"\d{4}年", "", before)) or before.endswith("年"):
        return None  # another figure (a year is fine), or a year right before it: ambiguous
    return f"{before}多少{m.group(2)}？"


def generated(doc: str) -> list[str]:
    """Questions made from one document's sentences (figures first, then the byline)."""
    out: list[str] = []
    for m in _CLAUSE.finditer(doc):
        q = figure_question(m.group(0))
        if q and q not in out:
            out.append(q)
        if len(out) >= 3:
            break
    if any(role == "byline" for _, _, role in roles(doc)):
        out.append("本文作者是谁？")
    return out


def examples_for(texts: dict[str, str]) -> list[str]:
    """Up to `MAX_EXAMPLES` questions about the documents `texts` (name -> text), in their order:
    the curated ones of a known document, else questions made from each document in turn."""
    for name in texts:
        if name in CURATED:
            return CURATED[name][:MAX_EXAMPLES]
    per_doc = [generated(doc) for doc in texts.values()]
    out: list[str] = []
    for i in range(MAX_EXAMPLES):
        for qs in per_doc:
            if i < len(qs) and qs[i] not in out and len(out) < MAX_EXAMPLES:
                out.append(qs[i])
    return out
