"""Answer types: what kind of answer a question asks for, and whether a text holds one.

A question asking 多少 wants a figure, 哪一年 a year, 谁 a person, 哪个乡 a place named
…乡. A sentence that holds no such answer cannot answer the question however close it
is in wording: the article names 李绍山 but never the year he died, and says 赫章县 set
up a counter in 上海市 but not how many. Quoting prefers sentences that hold the expected
kind of answer, and abstention declines when the chosen one does not.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..text.normalise import tagged as _tagged, words as jieba_cut

NUMBER, YEAR, PERSON, ANY = "number", "year", "person", "any"

_NUMBER_Q = re.compile(
    r"多少|几[个名人户年次项所套座口条万亿]|多[大长高重远久]|比例|百分之几|占比|"
    r"how (?:many|much|long|large|big)|what (?:percentage|proportion|share|number)",
    re.IGNORECASE,
)
_YEAR_Q = re.compile(r"哪一?年|何年|什么时候|何时|(?:which|what) year|\bwhen\b", re.IGNORECASE)
_PERSON_Q = re.compile(
    r"谁|什么名字|姓名|(?:人|者|员|书记|干部|主任|母亲|妈妈|父亲|孩子|学生)叫什么|\bwho(?:m|se)?\b", re.IGNORECASE)
# 哪个乡 / 什么称号 / 哪家企业: the noun the answer is an instance of.
_FOCUS_Q = re.compile(r"(?:哪|什么)(?:一|个|些|几个|家|位|座|所)?([\u4e00-\u9fff]{1,2})")
_FOCUS_STOP = {"时候", "名字", "地方", "样", "么", "里", "儿", "年", "是", "在", "有", "的", "要求", "方式"}

# The measure a figure is counted in: 多少名 / 多少户 / how many people. People are counted in
# 人 or 名, money in 元 (with 万 / 亿 before it).
_MEASURE_Q = re.compile(r"(?:多少|几)(?:万|亿)?(个|名|人|户|元|亩|吨|套|所|口|头|只|羽|项|座|条|批|家|公斤|公里)")
_MONEY_Q = re.compile(r"多少钱|金额|资金|收入|工资|工钱|销售额|how much money|income|yuan|funds?\b", re.IGNORECASE)
_EN_MEASURE = (("人", re.compile(r"how many (?:\w+ )?(?:people|persons|residents|workers|students|cadres)\b", re.I)),
               ("户", re.compile(r"how many (?:\w+ )?households\b", re.I)),
               ("亩", re.compile(r"how many mu\b", re.I)),
               ("吨", re.compile(r"how many tons\b", re.I)))
_SAME_MEASURE = {"人": ("人", "名"), "名": ("名", "人")}

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_CN_FIGURE = re.compile(r"[一二三四五六七八九十两百千万亿]+[个名人户元年亩吨次项所套座口条批家倍成%‰]")
_YEAR = re.compile(r"(?:1[89]|20)\d\d(?=年)|[今去前]年")


@dataclass(frozen=True)
class Expectation:
    """The kind of answer a question wants, its focus noun, and the figures it names."""

    kind: str
    focus: str
    literals: tuple[str, ...]
    measures: tuple[str, ...] = ()  # for a figure: the measure words it may be counted in ("" = any)


def expect(question: str) -> Expectation:
    """What `question` (cleaned) asks for."""
    if _YEAR_Q.search(question):
        kind = YEAR
    elif _NUMBER_Q.search(question):
        kind = NUMBER
    elif _PERSON_Q.search(question):
        kind = PERSON
    else:
        kind = ANY
    m = _FOCUS_Q.search(question)
    focus = m.group(1) if m and m.group(1) not in _FOCUS_STOP else ""
    return Expectation(kind, focus, tuple(_DIGITS.findall(question)), _measures(question) if kind == NUMBER else ())


def _measures(question: str) -> tuple[str, ...]:
    """Measure words the asked-for figure may carry; () when the question does not say."""
    if _MONEY_Q.search(question):
        return ("元",)
    found = [m.group(1) for m in _MEASURE_Q.finditer(question)]
    found += [unit for unit, pattern in _EN_MEASURE if pattern.search(question)]
    return tuple(dict.fromkeys(u for f in found for u in _SAME_MEASURE.get(f, (f,))))


def holds(exp: Expectation, text: str) -> bool:
    """True when `text` contains an answer of the expected kind (other than the question's own figures)."""
    if exp.kind == NUMBER:
        if exp.measures:
            return any(m.group(1) not in exp.literals for m in _measured(exp.measures).finditer(text))
        return any(d not in exp.literals for d in _DIGITS.findall(text)) or bool(_CN_FIGURE.search(text))
    if exp.kind == YEAR:
        return any(y not in exp.literals for y in _YEAR.findall(text))
    if exp.kind == PERSON:
        return has_person(text)
    return True


@functools.lru_cache(maxsize=256)
def _measured(measures: tuple[str, ...]) -> re.Pattern:
    """A figure (digits or Chinese numerals, then 万 / 亿) followed by one of `measures`."""
    return re.compile(r"(\d+(?:\.\d+)?|[一二三四五六七八九十两百千]+)[万亿]?(?:" + "|".join(map(re.escape, measures)) + ")")


def names_literals(exp: Expectation, context: str) -> bool:
    """True when every figure the question names (2014年, 10个坝区) occurs in `context`."""
    return all(d in _DIGITS.findall(context) for d in exp.literals)


def mentions_focus(exp: Expectation, text: str) -> bool:
    """True when `text` names the focus noun (哪个乡 → 乡), or the question has none."""
    return not exp.focus or exp.focus in text or exp.focus[-1] in text


@functools.lru_cache(maxsize=8192)  # the same sentences are candidates for many questions
def person_names(text: str) -> tuple[str, ...]:
    """Personal names jieba's part-of-speech tagger finds in `text`, in order ("威廉·狄尔泰" whole)."""
    tags = _tagged(text)
    names = []
    i = 0
    while i < len(tags):
        word, flag = tags[i]
        if not flag.startswith("nr"):
            i += 1
            continue
        # A transliterated name runs on across "·" (威廉 · 狄尔泰).
        while i + 2 < len(tags) and tags[i + 1][0] in "·•" and tags[i + 2][1].startswith("nr"):
            word += tags[i + 1][0] + tags[i + 2][0]
            i += 2
        if len(word) >= 2:
            names.append(word)
        # A surname tagged alone, followed by the given name ("李" "学友").
        elif i + 1 < len(tags) and re.fullmatch(r"[\u4e00-\u9fff]{1,2}", tags[i + 1][0]):
            names.append(word + tags[i + 1][0])
        i += 1
    return tuple(names)


def has_person(text: str) -> bool:
    """True when jieba's part-of-speech tagger finds a personal name in `text`."""
    return bool(person_names(text))


SUBJECT_TAGS = ("nr", "ns", "nt", "nz")  # jieba's flags of names of people, places, organisations, other
_YEARISH = re.compile(r"(?:1[89]|20)\d\d年")
_PLACE_SUFFIX = set("村乡镇县市省州区")  # administrative suffixes the tagger often cuts off (海雀 + 村)
_NOT_A_NAME = re.compile(r"^[该这那此本全每各哪几多]")


def subjects(text: str) -> tuple[str, ...]:
    """What a question (or sentence) is about, by name: the people, places, organisations and other names
    jieba's tagger finds (two characters or more; runs of place tags joined, 河 + 镇乡; a word before an
    administrative suffix joined to it, 海雀 + 村) and the years it names ("2018年")."""
    tags = _tagged(text)
    names: list[str] = []
    i = 0
    while i < len(tags):
        word, flag = tags[i]
        if flag == "ns":
            while i + 1 < len(tags) and tags[i + 1][1] == "ns":
                i += 1
                word += tags[i][0]
        if (len(word) >= 2 and flag[:1] == "n" and i + 1 < len(tags) and tags[i + 1][0] in _PLACE_SUFFIX
                and not flag.startswith("nr")):
            i += 1
            word += tags[i][0]
            names.append(word)
        elif flag.startswith(SUBJECT_TAGS) and len(word) >= 2:
            names.append(word)
        i += 1
    found = list(dict.fromkeys([n for n in names if not _NOT_A_NAME.match(n)] + _YEARISH.findall(text)))
    return tuple(n for n in found if not any(n != m and n in m for m in found))  # 河镇乡, not also 镇乡


def named_share(names: tuple[str, ...], text: str) -> float:
    """Share of `names` that `text` names (1.0 when there is none to look for)."""
    return sum(n in text for n in names) / len(names) if names else 1.0
