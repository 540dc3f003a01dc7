"""Follow-up questions: complete a question that leans on the conversation before searching.

A chat user writes "那蔬菜呢？" after "2020年全县种了多少亩马铃薯？", "现在呢？" after a question
about 1985, "他原来在哪个村任职？" after a reply that named a person. Such a question is
completed into a standalone one, and only the search uses it; the answer is still a
verbatim quote. What is recognised, by the shape of the question, not by its content:

- ellipsis: "X呢？", "那X呢？", "还有X呢？", English "what about X?", "and X?" — X takes the
  place of the *parallel slot* of the previous question: its time expression when X is a
  time (现在, 2020年), otherwise the word of the previous question closest to X in meaning
  (the embedding model's cosine: 蔬菜 → 马铃薯);
- a personal pronoun (他, 她, he, she) — the person named in the previous quote, else in the
  previous question (jieba's name tagger);
- a demonstrative with a place noun (该村, 这个乡) — the name of the previous quote or question
  that ends in that noun (海雀村).
A question with none of these cues is left alone, so a new topic is never disturbed. Nor is a
question that has a referent of its own: an ellipsis whose X is itself a question ("今天天气怎么样？",
"县长是谁呢？"), a pronoun beside a name the question gives, a demonstrative beside the name it would
point to. A question is never completed from one in another language (no "2018年How many …"). The
engine searches both the question as typed and its completion and keeps the better-supported answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..text.normalise import HAN, has_cjk

# "X呢？" with or without a connective; "X怎么样？" / "X又如何？" only after a connective (那/还有 …):
# "今天天气怎么样？" is a question of its own.
_ELLIPSIS = re.compile(r"^(?:(?:那么|那|还有|另外|而|至于)\s*(?P<slot>[^，,。？?！!]{1,16}?)\s*(?:呢|又如何|又怎样|怎么样)"
                       r"|(?P<bare>[^，,。？?！!]{1,16}?)\s*呢)\s*[？?]*$")
# Words that make X of "X呢" a question of its own (谁, 多少, 是否 …), not a slot of the previous one.
_ASKS = re.compile(r"谁|什么|多少|哪|几|怎|如何|为何|为什么|是否|吗|有没有|是不是|\b(?:who|what|which|how|when|where|why)\b",
                   re.IGNORECASE)
_EN_ELLIPSIS = re.compile(r"^\s*(?:and|what about|how about|and what about)\s+(?P<slot>.+?)\s*\??\s*$", re.IGNORECASE)
_TIME = re.compile(r"(?:19|20)\d\d年(?:底|初|前|后)?|\d{1,2}月(?:份)?|现在|目前|如今|今年|去年|前年|当时|以前|过去|"
                   r"原来|最初|刚开始|\bnow\b|\btoday\b|\bin (?:19|20)\d\d\b|\b(?:19|20)\d\d\b")
_PERSON_PRONOUN = re.compile(r"他们|她们|他|她")
_EN_PERSON_PRONOUN = re.compile(r"\b(?:he|she|him|her|his)\b", re.IGNORECASE)
# A demonstrative before a one-character place noun: 该村, 这个乡, 此县.
_DEMONSTRATIVE = re.compile(r"(?:该|这个|那个|这座|那座|这所|那所|此)(?P<noun>[村乡镇县市省州国岛山河湖寺校厂])")
_QUESTION_WORDS = {"什么", "多少", "哪些", "哪个", "哪里", "哪儿", "怎么", "如何", "为什么", "是否", "几个", "谁",
                   "what", "which", "who", "how", "many", "much", "the", "a", "an", "of", "in", "was", "were", "is",
                   "are", "did", "does", "do", "to", "for", "and", "on", "at", "by"}


@dataclass(frozen=True)
class Turn:
    """One earlier turn: what the user asked and what was quoted ("" when the bot declined)."""

    question: str
    quote: str = ""

    @classmethod
    def coerce(cls, obj) -> "Turn":
        """A Turn from a Turn or a {"question": str, "quote": str} mapping; a clear error otherwise."""
        if isinstance(obj, Turn):
            return obj
        if isinstance(obj, dict) and isinstance(obj.get("question"), str) and isinstance(obj.get("quote", ""), str):
            return cls(obj["question"], obj.get("quote") or "")
        raise ValueError('Each history turn must be {"question": str, "quote": str} (quote may be "").')

    def to_dict(self) -> dict:
        return {"question": self.question, "quote": self.quote}


@dataclass(frozen=True)
class Understood:
    """What a question was taken to mean: itself, or its completion from the conversation."""

    question: str
    completed: bool = False


Similarity = Callable[[str, list[str]], np.ndarray]  # cosine of a phrase to each candidate phrase


class FollowUps:
    """Completes follow-up questions; `similarity` compares phrases (the engine's embedding model)."""

    def __init__(self, similarity: Similarity):
        self.similarity = similarity

    def resolve(self, question: str, history: Sequence[Turn]) -> Understood:
        """`question` completed from `history` (oldest first) when it depends on it."""
        if not history:
            return Understood(question)
        # Earlier turns may themselves be follow-ups: complete them in order.
        previous = history[0].question
        for i in range(1, len(history)):
            previous = self._complete(history[i].question, previous, history[i - 1].quote) or history[i].question
        completed = self._complete(question, previous, history[-1].quote)
        return Understood(completed, True) if completed and completed != question else Understood(question)

    def _complete(self, question: str, previous: str, quote: str) -> str | None:
        q = question.strip()
        if has_cjk(q) != has_cjk(previous):  # never splice one language into a question of another
            return None
        m = _ELLIPSIS.match(q) or _EN_ELLIPSIS.match(q)
        if m:
            slot = (m.group("slot") or m.groupdict().get("bare") or "").strip()
            if slot and not _ASKS.search(slot):
                return self._replace_slot(slot, previous)
            return None
        if (_PERSON_PRONOUN.search(q) or _EN_PERSON_PRONOUN.search(q)) and not _first_person(q):
            name = _first_person(quote) or _first_person(previous)
            if name:
                pattern = _PERSON_PRONOUN if _PERSON_PRONOUN.search(q) else _EN_PERSON_PRONOUN
                return pattern.sub(name, q, count=1)
        m = _DEMONSTRATIVE.search(q)
        if m and not _word_ending_in(m.group("noun"), q):
            word = _word_ending_in(m.group("noun"), quote) or _word_ending_in(m.group("noun"), previous)
            if word:
                return q[: m.start()] + word + q[m.end():]
        return None

    def _replace_slot(self, slot: str, previous: str) -> str:
        """The previous question with its parallel slot replaced by `slot`."""
        if _TIME.fullmatch(slot):
            if _TIME.search(previous):
                return _TIME.sub(slot, previous, count=1)
            return slot + previous
        words = _content_words(previous)
        if not words:
            return slot + previous
        scores = self.similarity(slot, words)
        return previous.replace(words[int(np.argmax(scores))], slot, 1)


def _content_words(text: str) -> list[str]:
    """Words of a question that could be the slot another question replaces (no question words)."""
    if has_cjk(text):
        from .answer_type import jieba_cut

        words = [w for w in jieba_cut(text) if re.fullmatch(f"[{HAN}]{{2,}}", w)]
    else:
        words = re.findall(r"[A-Za-z][A-Za-z-]{2,}", text)
    return list(dict.fromkeys(w for w in words if w.lower() not in _QUESTION_WORDS and not _TIME.fullmatch(w)))


def _first_person(text: str) -> str | None:
    from .answer_type import person_names

    names = person_names(text) if text else []
    return names[0] if names else None


def _word_ending_in(noun: str, text: str) -> str | None:
    """The first name in `text` ending in the place noun: two characters and the noun (该村 → 海雀村)."""
    for m in re.finditer(f"[{HAN}]{{2}}" + re.escape(noun), text or ""):
        if not re.match(r"[该这那此本全每各]", m.group(0)):
            return m.group(0)
    return None
