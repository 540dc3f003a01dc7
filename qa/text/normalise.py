"""Text cleanup: read the documents, repair newspaper line breaks, clean questions.

The seed article is newspaper layout: a paragraph may stop mid-sentence and go on
after a blank line ("第一\n\n书记李绍山"). Such breaks are joined; headlines, the
byline and photo captions stay blocks of their own. Only whitespace is removed,
never a visible character, and the cleaned text is what every offset refers to.
"""
from __future__ import annotations

import functools
import hashlib
import re
import threading
import unicodedata
from pathlib import Path

from ..types import Document

DOC_SUFFIXES = (".txt", ".md")
# A block that ends in one of these ends its sentence; otherwise a body paragraph goes on.
SENTENCE_END = "。！？!?；;…：:」』”’）)】》"
BODY_MARKS = "，。；、"  # a block containing these is running text, not a headline or caption
BLOCK_SPLIT = re.compile(r"\n[ \t\u3000]*\n\s*")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff0-\uffff]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
# Chinese characters (CJK unified ideographs, extension A, compatibility ideographs): the one
# definition every module uses to tell Chinese text from other text.
HAN = "\u3400-\u9fff\uf900-\ufaff"
CJK = re.compile(f"[{HAN}]")
HAN_RUN = re.compile(f"[{HAN}]+")


class DocumentError(ValueError):
    """A document cannot be read as text; the message names the file."""


def clean(raw: str) -> str:
    """Cleaned text of a document: normalized newlines, broken paragraphs rejoined."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    blocks = [
        "\n".join(line.rstrip() for line in block.strip().split("\n"))
        for block in BLOCK_SPLIT.split(raw.strip())
        if block.strip()
    ]
    out: list[str] = []
    for block in blocks:
        if out and _continues(out[-1], block):
            out[-1] += block
        else:
            out.append(block)
    return "\n\n".join(out)


def _continues(previous: str, block: str) -> bool:
    """True when `block` continues the sentence that `previous` broke off."""
    return any(m in previous for m in BODY_MARKS) and previous[-1] not in SENTENCE_END


def read_document(path: Path, root: Path) -> Document:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{path.relative_to(root).as_posix()} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    return Document(
        source=path.relative_to(root).as_posix(), text=clean(text), sha256=hashlib.sha256(raw).hexdigest()
    )


def document_paths(docs_dir: Path) -> list[Path]:
    """Every .txt / .md file under `docs_dir`, in a stable order."""
    return sorted(
        p for p in Path(docs_dir).rglob("*") if p.is_file() and p.suffix.lower() in DOC_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(docs_dir).parts)
    )


def load_documents(docs_dir: Path, skipped: list[str] | None = None) -> list[Document]:
    """Cleaned documents under `docs_dir`; unreadable files are reported in `skipped`, not fatal."""
    docs = []
    for path in document_paths(Path(docs_dir)):
        try:
            doc = read_document(path, Path(docs_dir))
        except DocumentError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))
            continue
        if doc.text:
            docs.append(doc)
    return docs


# A sentence runs to 。！？； (with the closing quotes after it) or to the end of the line.
SENTENCE = re.compile(r"[^。！？!?；;\n]+(?:[。！？!?；;]+[”’」』）)]*)?|[。！？!?；;]+[”’」』）)]*")


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of `text[start:end]`: split after 。！？； (with closing quotes) and at newlines."""
    end = len(text) if end is None else end
    spans = []
    for m in SENTENCE.finditer(text, start, end):
        s, e = m.span()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def clean_question(question: str, max_chars: int) -> str:
    """Question text fit for retrieval: NFKC (full-width digits), simplified characters,
    no control characters or lone surrogates, at most `max_chars` characters."""
    q = SURROGATE.sub("", question)
    q = unicodedata.normalize("NFKC", q)
    q = CONTROL.sub(" ", q)
    q = re.sub(r"\s+", " ", q).strip()[:max_chars]
    return to_simplified(q) if has_cjk(q) else q


_t2s = None
_t2s_lock = threading.Lock()


def to_simplified(s: str) -> str:
    """Traditional -> simplified Chinese (OpenCC), so 赫章縣 finds 赫章县."""
    global _t2s
    import opencc

    with _t2s_lock:
        if _t2s is None:
            _t2s = opencc.OpenCC("t2s")
        return _t2s.convert(s)


def same_length(s: str, convert) -> str:
    """`convert(s)` (an OpenCC conversion), kept to the length of `s` so every offset stays valid:
    character by character where a phrase conversion would change the length."""
    out = convert(s)
    if len(out) == len(s):
        return out
    return "".join(c if len(c2 := convert(c)) != 1 else c2 for c in s)


@functools.lru_cache(maxsize=4096)  # a candidate's paragraph is folded again for each of its sentences
def fold(s: str) -> str:
    """The simplified-character form of `s`, of the same length (so its offsets stay valid): what
    matching reads, so a document in traditional characters matches a question in either script,
    while its quotes stay its own characters."""
    return same_length(s, to_simplified) if has_cjk(s) else s


def has_cjk(text: str) -> bool:
    return bool(CJK.search(text))


def is_english(question: str) -> bool:
    """A question with Latin letters and no Chinese character: answered in English, bridged to Chinese."""
    return not has_cjk(question) and any(ch.isascii() and ch.isalpha() for ch in question)


# jieba (word segmentation, part-of-speech tags) loads its dictionary lazily, and that load is not
# thread-safe: every use in the project goes through these two functions and this one lock.
_jieba_lock = threading.Lock()


def words(text: str, search: bool = False) -> list[str]:
    """jieba's words of `text` (`search`: also the shorter words inside long ones, for indexing)."""
    import jieba

    with _jieba_lock:
        return jieba.lcut_for_search(text) if search else jieba.lcut(text)


def tagged(text: str) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) pairs of `text` by jieba's tagger ("nr" = a personal name)."""
    import jieba.posseg

    with _jieba_lock:
        return [(p.word, p.flag) for p in jieba.posseg.cut(text)]
