"""The documents of a docs folder, as the web chat manages them: add, list, remove.

The engine reads only UTF-8 `.txt` / `.md` files from its docs folder (`qa.text`). An upload
is turned into such a file here: `.txt` / `.md` are decoded (UTF-8, UTF-16 with a BOM, or
GB18030) and kept as they are; `.html` is reduced to its article text by trafilatura (menus,
ads, footers and scripts dropped; headings and paragraphs kept as blocks); `.pdf` gives its
text layer (pypdf), hard-wrapped lines rejoined. Pasted text comes with a title. Each saved
document starts with its title line, so the article panel and the listing can name it.

Names are made safe: only the last path component of an upload's name is used, control
characters and characters that are special in file names are replaced, leading dots are
dropped (no hidden files), and the name is cut to a sane length. A name that is already
taken gets a suffix ("report-2.txt") and the caller is told so; the same text twice is
refused. Files are written to a hidden temporary file and linked into place without
replacing anything, so the engine never sees half a file and nothing is overwritten.
Removed documents are moved to the hidden `.removed/` folder of the docs folder (the
engine skips hidden folders), so a slip can be undone by moving the file back.

Everything here is plain Python (no Gradio, no model): `app.py` wires it to the page and
the web API. Messages are Chinese first, then English, like the rest of the chat.
"""
from __future__ import annotations

import io
import logging
import os
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from ..text import normalise as text_mod

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md")  # kept as they are (decoded to UTF-8)
HTML_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
ACCEPTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES
REMOVED_DIR = ".removed"  # hidden: the engine does not read it
_TEMP_PREFIX = ".upload-"  # hidden too, while a file is written

_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_UNSAFE_NAME_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufff9-\ufffb]")
_CJK_MARKS = f"{text_mod.HAN}，。、；：！？（）“”《》"
# Spaces that PDF text extraction puts between Chinese characters (and between them and digits).
_CJK_GAP = re.compile(f"(?<=[{_CJK_MARKS}])[ \t]+(?=[{_CJK_MARKS}0-9])|(?<=[0-9])[ \t]+(?=[{_CJK_MARKS}])")
_SENTENCE_END = tuple("。！？!?；;…：:」』”’）)】》")
MAX_STEM_CHARS = 60
MAX_TITLE_CHARS = 60  # titles in the listing are cut to this, with "…"


@dataclass(frozen=True)
class Limits:
    """What an upload may be. Said in the page (`describe`) and checked by `prepare`."""

    max_file_bytes: int = 10 * 1024 * 1024  # an upload, before extraction
    max_chars: int = 30_000  # the text after extraction: indexing takes ~1 s per 1,000 characters here
    max_documents: int = 50  # documents in the folder
    min_chars: int = 10  # fewer letters, digits or Chinese characters than this is "empty"
    max_pdf_pages: int = 500

    def describe(self, english: bool = False) -> str:
        mb = self.max_file_bytes / (1024 * 1024)
        if english:
            return (f".txt, .md, .html or .pdf (with a text layer; scans cannot be read); a file up to {mb:g} MB, "
                    f"text up to {self.max_chars:,} characters; at most {self.max_documents} documents.")
        return (f"支持 .txt、.md、.html 和 .pdf（需有文字层，扫描件读不出）；文件不超过 {mb:g} MB，"
                f"正文不超过 {self.max_chars:,} 字；最多 {self.max_documents} 篇。")


class DocumentRejected(ValueError):
    """An upload, pasted text or removal that cannot be done; the message says why (zh / en)."""


@dataclass(frozen=True)
class DocumentInfo:
    """One document of the docs folder, as listed in the page and by the web API."""

    name: str  # the engine's source name: path relative to the docs folder
    title: str  # its first line, shortened
    chars: int  # characters of the cleaned text (what the engine answers from)
    added: str  # when the file was saved (its modification time), "YYYY-MM-DDTHH:MM:SS", local time

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "chars": self.chars, "added": self.added}


@dataclass(frozen=True)
class Extracted:
    """The text of an upload, ready to be saved."""

    title: str
    text: str  # the body, blocks separated by blank lines, title line first
    suffix: str  # ".txt" or ".md": what it is saved as


@dataclass(frozen=True)
class Added:
    """A saved document and what to tell the user about it ("" when nothing unusual happened)."""

    info: DocumentInfo
    note: str = ""


# ---------------------------------------------------------------- names


def safe_stem(name: str, path: bool = True) -> str:
    """A file-name stem from an untrusted file name (`path`: only its last component counts,
    and a known suffix is dropped) or a title (a slash is just a character, replaced): no
    control or file-system-special characters, no leading dots (hidden files), no reserved
    device names, at most MAX_STEM_CHARS characters; "document" when nothing is left."""
    name = unicodedata.normalize("NFKC", name or "")
    if path:
        name = name.replace("\\", "/").split("/")[-1]
        suffix = PurePosixPath(name).suffix
        if suffix.lower() in ACCEPTED_SUFFIXES:
            name = name[: -len(suffix)]
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    name = re.sub(r"\s+", " ", name)
    name = name.strip(" ._-")
    name = re.sub(r"\.{2,}", ".", name)
    name = name[:MAX_STEM_CHARS].rstrip(" ._-")
    while len(name.encode("utf-8")) > 180:  # file systems count bytes (255); leave room for a suffix
        name = name[:-1]
    if name.split(".")[0].lower() in _RESERVED:
        name = f"_{name}"
    return name or "document"


def _taken(docs_dir: Path) -> set[str]:
    """Names in the top of the folder, case-folded (a case-insensitive disk must not clash either)."""
    try:
        return {p.name.casefold() for p in docs_dir.iterdir()}
    except OSError:
        return set()


def _free_name(docs_dir: Path, stem: str, suffix: str) -> str:
    taken = _taken(docs_dir)
    name = f"{stem}{suffix}"
    n = 2
    while name.casefold() in taken:
        name = f"{stem}-{n}{suffix}"
        n += 1
    return name


# ---------------------------------------------------------------- extraction


def _decode(data: bytes, filename: str) -> str:
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentRejected(f"「{filename}」不是文本文件（含二进制内容）。 / {filename} is not a text file (binary content).")
    for encoding in ("utf-8-sig", "utf-16") if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentRejected(
        f"「{filename}」的编码无法识别，请存为 UTF-8 后再上传。 / {filename}: unknown text encoding; save it as UTF-8."
    )


def _tidy(raw: str) -> str:
    """Newlines normalized, control characters and trailing spaces removed, blank-line runs kept as one."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    raw = _CONTROL.sub("", raw).replace("\t", " ")
    lines = [line.rstrip() for line in raw.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _first_line(body: str) -> str:
    for line in body.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line
    return ""


def _with_title(title: str, body: str) -> str:
    """`body` with `title` as its first block, unless it already starts with it."""
    title = " ".join(title.split())
    if not title or _first_line(body) == title:
        return body
    return f"{title}\n\n{body}"


def _html_text(data: bytes, filename: str) -> tuple[str, str]:
    """(title, body) of an HTML page: trafilatura's article text, one block per paragraph."""
    import trafilatura
    from trafilatura.settings import use_config

    config = use_config()
    # Chinese is dense: trafilatura's defaults (250 / 1 characters) are tuned for English and would
    # fall back to a whole-page dump for a short article.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "20")
    config.set("DEFAULT", "MIN_OUTPUT_SIZE", "10")
    try:
        doc = trafilatura.bare_extraction(
            data, with_metadata=True, include_comments=False, include_tables=True, include_images=False,
            include_links=False, include_formatting=False, config=config,
        )
    except Exception as exc:  # a parser error on a damaged page
        log.info("html extraction failed for %s: %s", filename, exc)
        doc = None
    body = (getattr(doc, "text", None) or "") if doc is not None else ""
    title = (getattr(doc, "title", None) or "") if doc is not None else ""
    blocks = [line.strip() for line in body.split("\n") if line.strip()]
    return title.strip(), "\n\n".join(blocks)


def _width(line: str) -> float:
    """How wide a line prints, in Chinese characters: a Latin letter or digit is about half of one."""
    return sum(1.0 if ord(ch) > 0x2E7F else 0.55 for ch in line)


def _unwrap_page(page: str) -> str:
    """A PDF page's text with hard-wrapped lines rejoined into paragraphs.

    A line that ends well short of the page's full line length, or a blank line, ends a
    paragraph; other lines run on (Chinese lines join directly, Latin ones with a space)."""
    lines = [_CJK_GAP.sub("", ln.strip()) for ln in page.split("\n")]
    full = sorted((_width(ln) for ln in lines if ln), reverse=True)
    width = full[len(full) // 4] if full else 0  # a long line of this page (robust to one odd line)
    paras: list[str] = []
    current = ""
    for ln in lines:
        if not ln:
            if current:
                paras.append(current)
                current = ""
            continue
        # Latin words across a line break need a space; Chinese characters do not.
        gap = " " if current and current[-1].isascii() and ln[0].isascii() and current[-1] != "-" else ""
        current = f"{current}{gap}{ln}" if current else ln
        if _width(ln) < 0.8 * width or (ln.endswith(_SENTENCE_END) and _width(ln) < 0.95 * width):
            paras.append(current)
            current = ""
    if current:
        paras.append(current)
    return "\n\n".join(paras)


def _pdf_text(data: bytes, filename: str, limits: Limits) -> tuple[str, str]:
    """(title, body) of a PDF's text layer; a clear refusal for a damaged, locked or scanned PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise DocumentRejected(f"「{filename}」不是 PDF 文件。 / {filename} is not a PDF file.")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentRejected(
                f"「{filename}」有密码保护，读不出文字。 / {filename} is password-protected; its text cannot be read."
            )
        pages = reader.pages
        n = len(pages)
    except DocumentRejected:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        log.info("pdf read failed for %s: %s", filename, exc)
        raise DocumentRejected(
            f"「{filename}」读不出来（文件损坏或格式不支持）。 / {filename} cannot be read (damaged or unsupported PDF)."
        ) from None
    except Exception as exc:  # pypdf raises a variety of errors on damaged files
        log.info("pdf read failed for %s: %r", filename, exc)
        raise DocumentRejected(
            f"「{filename}」读不出来（文件损坏或格式不支持）。 / {filename} cannot be read (damaged or unsupported PDF)."
        ) from None
    if n > limits.max_pdf_pages:
        raise DocumentRejected(
            f"「{filename}」有 {n} 页，超过上限 {limits.max_pdf_pages} 页。 / {filename} has {n} pages; "
            f"the limit is {limits.max_pdf_pages}."
        )
    parts: list[str] = []
    total = 0
    for page in pages:
        try:
            page_text = page.extract_text() or ""
        except Exception as exc:  # one bad page should not lose the others
            log.info("pdf page extraction failed in %s: %r", filename, exc)
            continue
        page_text = _unwrap_page(_tidy(page_text))
        if page_text:
            parts.append(page_text)
            total += len(page_text)
            if total > 2 * limits.max_chars:  # far over the limit: no need to read the rest
                break
    body = "\n\n".join(parts)
    if not _meaningful(body, limits):
        raise DocumentRejected(
            f"「{filename}」没有文字层（可能是扫描件或图片），读不出文字。请上传有文字的 PDF，或把文字粘贴进来。 / "
            f"{filename} has no text layer (a scan or images?), so no text can be read. "
            "Upload a PDF with text, or paste the text."
        )
    title = ""
    try:
        title = str((reader.metadata or {}).get("/Title") or "").strip()
    except Exception:
        title = ""
    return title, body


def _meaningful(body: str, limits: Limits) -> bool:
    return sum(ch.isalnum() for ch in body) >= limits.min_chars


def _too_big(shown: str, size: int, limits: Limits) -> DocumentRejected:
    mb, limit = size / 1048576, limits.max_file_bytes / 1048576
    return DocumentRejected(f"「{shown}」有 {mb:.1f} MB，超过上限 {limit:g} MB。 / {shown} is {mb:.1f} MB; the limit is {limit:g} MB.")


def extract(filename: str, data: bytes, limits: Limits = Limits()) -> Extracted:
    """The text an upload is saved as, or DocumentRejected saying why it cannot be."""
    shown = PurePosixPath((filename or "").replace("\\", "/")).name or "?"
    suffix = PurePosixPath(shown).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise DocumentRejected(
            f"不支持「{suffix or shown}」文件，请上传 .txt、.md、.html 或 .pdf。 / "
            f"{suffix or shown} files are not supported; upload .txt, .md, .html or .pdf."
        )
    if len(data) > limits.max_file_bytes:
        raise _too_big(shown, len(data), limits)
    if not data.strip():
        raise DocumentRejected(f"「{shown}」是空文件。 / {shown} is empty.")
    stem_title = safe_stem(shown)
    if suffix in PDF_SUFFIXES:
        title, body = _pdf_text(data, shown, limits)
        save_as = ".txt"
    elif suffix in HTML_SUFFIXES:
        title, body = _html_text(data, shown)
        save_as = ".txt"
        if not _meaningful(body, limits):
            raise DocumentRejected(
                f"「{shown}」里没有找到正文。 / No article text was found in {shown}."
            )
    else:
        body = _tidy(_decode(data, shown))
        title, save_as = _first_line(body), suffix
    body = _tidy(body)
    if not _meaningful(body, limits):
        raise DocumentRejected(f"「{shown}」里没有文字。 / {shown} has no text.")
    title = " ".join((title or _first_line(body) or stem_title).split())
    text = body if save_as == ".md" else _with_title(title, body)
    _check_length(text, shown, limits)
    return Extracted(title=title, text=text, suffix=save_as)


def from_paste(title: str, body: str, limits: Limits = Limits()) -> Extracted:
    """Pasted text with its title (the title may be empty: then the text's first line)."""
    title = " ".join(_CONTROL.sub("", unicodedata.normalize("NFKC", title or "")).split())[:200]
    body = _tidy(body or "")
    if not _meaningful(body, limits):
        raise DocumentRejected(
            f"粘贴的文字太少（至少 {limits.min_chars} 个字）。 / The pasted text is too short "
            f"(at least {limits.min_chars} letters or characters)."
        )
    title = title or _first_line(body)[:MAX_STEM_CHARS]
    text = _with_title(title, body)
    _check_length(text, title, limits)
    return Extracted(title=title, text=text, suffix=".txt")


def _check_length(text: str, shown: str, limits: Limits) -> None:
    n = len(text_mod.clean(text))
    if n > limits.max_chars:
        raise DocumentRejected(
            f"「{shown}」的正文有 {n:,} 字，超过上限 {limits.max_chars:,} 字，请分成几篇再上传。 / "
            f"{shown} has {n:,} characters of text; the limit is {limits.max_chars:,}. Split it into parts."
        )


# ---------------------------------------------------------------- the folder


def _info(docs_dir: Path, path: Path) -> DocumentInfo:
    name = path.relative_to(docs_dir).as_posix()
    st = path.stat()
    added = datetime.fromtimestamp(st.st_mtime).strftime("%Y-%m-%dT%H:%M:%S")
    try:
        cleaned = text_mod.read_document(path, docs_dir).text
    except text_mod.DocumentError:
        return DocumentInfo(name, "（不是 UTF-8，未收录 / not UTF-8: not read）", 0, added)
    title = _first_line(cleaned) or name
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1] + "…"
    return DocumentInfo(name, title, len(cleaned), added)


def list_documents(docs_dir: str | Path) -> list[DocumentInfo]:
    """Every document the engine reads from `docs_dir` (its .txt / .md files), by name."""
    docs_dir = Path(docs_dir)
    out = []
    for path in text_mod.document_paths(docs_dir):
        try:
            out.append(_info(docs_dir, path))
        except OSError:  # removed meanwhile
            continue
    return out


def _write_new(docs_dir: Path, stem: str, suffix: str, data: bytes) -> str:
    """Write `data` under a free name (stem[-n]suffix) without ever replacing a file; the name used."""
    tmp = docs_dir / f"{_TEMP_PREFIX}{uuid.uuid4().hex}.tmp"
    with open(tmp, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        for _ in range(1000):
            name = _free_name(docs_dir, stem, suffix)
            try:
                os.link(tmp, docs_dir / name)  # fails if the name was taken meanwhile: never overwrites
                return name
            except FileExistsError:
                continue
            except OSError:  # no hard links on this file system: exclusive create instead
                try:
                    with open(docs_dir / name, "xb") as f:
                        f.write(data)
                    return name
                except FileExistsError:
                    continue
        raise DocumentRejected("找不到可用的文件名。 / No free file name.")
    finally:
        tmp.unlink(missing_ok=True)


def save(docs_dir: str | Path, doc: Extracted, wanted_name: str = "", limits: Limits = Limits()) -> Added:
    """Save `doc` in `docs_dir` as a new document named after `wanted_name` (or its title).

    Refuses the same text twice and a folder that is full; a name already taken gets a
    suffix, which `Added.note` says."""
    docs_dir = Path(docs_dir)
    existing = list_documents(docs_dir)
    if len(existing) >= limits.max_documents:
        raise DocumentRejected(
            f"已有 {len(existing)} 篇文档，达到上限 {limits.max_documents} 篇；请先删除一些。 / "
            f"There are {len(existing)} documents, the limit is {limits.max_documents}; remove some first."
        )
    cleaned = text_mod.clean(doc.text)
    for info in existing:
        try:
            same = text_mod.read_document(docs_dir / info.name, docs_dir).text == cleaned
        except (OSError, text_mod.DocumentError):
            same = False
        if same:
            raise DocumentRejected(
                f"这篇文档已经在了：「{info.name}」。 / This document is already there: {info.name}."
            )
    stem = safe_stem(wanted_name) if wanted_name else safe_stem(doc.title, path=False)
    wanted = f"{stem}{doc.suffix}"
    name = _write_new(docs_dir, stem, doc.suffix, (doc.text.rstrip("\n") + "\n").encode("utf-8"))
    info = _info(docs_dir, docs_dir / name)
    note = ""
    if name != wanted:
        note = (f"已有同名文档「{wanted}」，新文档保存为「{name}」。 / "
                f"A document named {wanted} already exists; this one is saved as {name}.")
    log.info("Document added: %s (%d characters)", name, info.chars)
    return Added(info, note)


def add_file(docs_dir: str | Path, filename: str, data: bytes, limits: Limits = Limits()) -> Added:
    """Extract an uploaded file and save it (named after the upload)."""
    return save(docs_dir, extract(filename, data, limits), filename, limits)


def add_path(docs_dir: str | Path, path: str | Path, filename: str | None = None, limits: Limits = Limits()) -> Added:
    """`add_file` for a file on disk (an upload in Gradio's cache); an oversized one is not read."""
    path = Path(path)
    shown = filename or path.name
    try:
        size = path.stat().st_size
        data = b"" if size > limits.max_file_bytes else path.read_bytes()
    except OSError:
        raise DocumentRejected(f"「{shown}」读不出来。 / {shown} cannot be read.") from None
    if size > limits.max_file_bytes:  # said without reading it
        raise _too_big(PurePosixPath(shown.replace("\\", "/")).name, size, limits)
    return add_file(docs_dir, shown, data, limits)


def add_text(docs_dir: str | Path, title: str, body: str, limits: Limits = Limits()) -> Added:
    """Save pasted text under its title."""
    return save(docs_dir, from_paste(title, body, limits), "", limits)


def remove(docs_dir: str | Path, name: str) -> DocumentInfo:
    """Take the document `name` (as listed) out of the folder: moved to `.removed/`, not deleted.
    The last document is kept: the chat needs one to answer from."""
    docs_dir = Path(docs_dir)
    existing = {info.name: info for info in list_documents(docs_dir)}
    if name not in existing:  # only listed names: no path is ever built from user input
        raise DocumentRejected(f"没有名为「{name}」的文档。 / There is no document named {name}.")
    if len(existing) == 1:
        raise DocumentRejected(
            "这是最后一篇文档，不能删除（至少要有一篇文章）。 / This is the last document; it cannot be removed."
        )
    removed = docs_dir / REMOVED_DIR
    removed.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = removed / f"{stamp}-{uuid.uuid4().hex[:6]}-{PurePosixPath(name).name}"  # never replaces an earlier one
    try:
        os.replace(docs_dir / name, target)
    except FileNotFoundError:
        raise DocumentRejected(f"没有名为「{name}」的文档。 / There is no document named {name}.") from None
    log.info("Document removed: %s (moved to %s)", name, target)
    return existing[name]
