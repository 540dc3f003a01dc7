"""Hardening: every kind of bad input, through the Python API, the CLI and the web `answer` endpoint.

One table (`CASES`) lists each input and what must happen to it. Every case runs
through the API and the web endpoint; a representative subset also runs through
`python -m qa ask --json` (each CLI call pays several seconds of start-up). In
every case: no crash, any quote is a verbatim slice of its document, and nothing
is written to the index folder, the documents, the project tree or /etc.

Also here: a folder with undecodable files, and the security defaults (loopback
bind, no pickle in the index, manifest hashes that match the files).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from qa.engine import QA
from qa.types import AnswerKind
from qa.types import Answer
from support.live_server import live_app

PROJECT = Path(__file__).resolve().parents[2]
SEEDS = PROJECT / "seeds"
SEED = SEEDS / "hezhang-poverty-alleviation.txt"
sys.path.insert(0, str(PROJECT))  # `import app`

pytestmark = pytest.mark.slow  # builds an index, starts a live server, runs the CLI

EMPTY_API = "请输入问题"  # qa.engine.EMPTY_QUESTION
WEB_EMPTY = "empty"  # app.answer_api: "问题为空，请输入一个问题。 / The question is empty."
WEB_TOO_LONG = r"too long .*limit 500"  # qa.web.service: the one question limit, Settings.max_question_chars
ANSWER_KEYS = ["found", "kind", "quote", "source", "start", "end", "score", "span", "passages", "closest", "understood_as"]

# A question without a single letter, digit or CJK character ("。。。", "😀😀😀") has nothing
# to match. The engine declines it before any retrieval (`QA.candidate`: no `isalnum()`
# character -> `Answer.not_found()`), so no threshold can let e5's nearest sentence through;
# `test_wordless_question_is_declined` checks the candidate as well as the answer.


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    api: str = "answer"  # "answer" (an Answer) or "error" (ValueError with the clear message)
    found: bool | None = None  # expected Answer.found; None: either is fine
    quote_has: str | None = None  # the quote must contain this
    same_as: str | None = None  # must give the same answer as this case
    web: str | None = "answer"  # "answer", a regex the web AppError must match, or None (not sent)
    cli: bool = False  # also run `python -m qa ask --json` (expected: exit 2 when api == "error")
    wordless: bool = False  # no letter, digit or CJK: must be declined whatever the threshold


LONG_ZH = ("赫章县共创建达标党支部多少个" * 8000)[:100_000]
LONG_EN = ("how many party branches were built in hezhang " * 3000)[:100_000]  # ASCII: fits one argv string

CASES = [
    Case("empty", "", api="error", web=WEB_EMPTY, cli=True),
    Case("whitespace", " \t\n\u3000 ", api="error", web=WEB_EMPTY, cli=True),
    Case("control_only", "\x00\x07\u200b\x1f", api="error", web=EMPTY_API),
    Case("one_char", "县"),
    Case("long_100k_zh", LONG_ZH, web=WEB_TOO_LONG),
    Case("long_100k_en", LONG_EN, web=WEB_TOO_LONG, cli=True),
    Case("web_limit_500", LONG_ZH[:500]),
    Case("web_limit_501", LONG_ZH[:501], web=WEB_TOO_LONG),
    Case("punctuation", "？？！！。。", found=False, wordless=True),
    Case("cjk_full_stops", "。。。", found=False, wordless=True),
    Case("brackets_dashes", "「」《》——", found=False, wordless=True),
    Case("symbols", "+-*/=", found=False, wordless=True),
    Case("emoji", "😀😀😀", found=False, wordless=True),
    Case("control_and_nul", "赫章\x00县\x07达标党支部"),
    Case("lone_surrogate", "\ud800赫章县"),  # web: raw HTTP with JSON "\ud800" (not UTF-8 encodable)
    Case("lone_low_surrogate", "赫章县\udcff达标党支部"),
    Case("mixed_zh_en_ja", "赫章县の党支部 how many?"),
    Case("simplified", "赫章县共创建达标党支部多少个？", found=True, quote_has="828个"),
    Case("traditional", "赫章縣共創建達標黨支部多少個？", found=True, quote_has="828个", same_as="simplified",
         cli=True),
    # A question, not a bare phrase: the learned scorer is rightly unsure what "６５万亩" asks.
    Case("fullwidth_digits", "２０２０年全县种了多少亩马铃薯？", found=True, quote_has="65万亩", cli=True),
    Case("halfwidth_digits", "2020年全县种了多少亩马铃薯？", found=True, quote_has="65万亩",
         same_as="fullwidth_digits"),
    Case("html", "<b>赫章县</b>"),
    Case("script", "<script>alert(1)</script>", found=False),
    Case("markdown", "**赫章县** [x](javascript:alert(1))"),
    Case("template", "{{7*7}} ${7*7}", found=False),
    Case("sql", "'; DROP TABLE answers; --", found=False),
    Case("path_relative", "../../etc/passwd", found=False, cli=True),
    Case("path_absolute", "/etc/passwd", found=False),
]
BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES)


def cases(predicate=lambda c: True):
    return [pytest.param(c, id=c.id) for c in CASES if predicate(c)]


# ------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def engine(seed_engine):
    return seed_engine  # shared with the other modules (tests/conftest.py): built once per session


_api_answers: dict[str, Answer] = {}


def api_answer(engine: QA, case: Case) -> Answer:
    if case.id not in _api_answers:
        _api_answers[case.id] = engine.answer(case.question)
    return _api_answers[case.id]


VOLATILE = {".venv", ".git", ".pytest_cache", "__pycache__"}


def _tree(root: Path, skip: set[str] = frozenset()) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            try:
                st = p.lstat()
            except OSError:
                continue
            out[p.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def _etc() -> tuple:
    st = os.stat("/etc/passwd")
    return tuple(sorted(os.listdir("/etc"))), st.st_size, st.st_mtime_ns


@pytest.fixture
def no_writes(engine):
    """Nothing may be written by a question: not the index, the documents, the project, /etc."""
    index_before, seeds_before = _tree(engine.index_dir), _tree(SEEDS)
    project_before, etc_before = set(_tree(PROJECT, VOLATILE)), _etc()
    yield
    assert _tree(engine.index_dir) == index_before, "the index folder changed"
    assert _tree(SEEDS) == seeds_before, "the documents changed"
    assert set(_tree(PROJECT, VOLATILE)) - project_before == set(), "a file appeared in the project"
    assert _etc() == etc_before, "/etc changed"


def check_answer(engine: QA, a: Answer) -> None:
    """The invariants of every Answer, whatever the question."""
    assert isinstance(a, Answer) and isinstance(a.found, bool)
    assert 0.0 <= a.score <= 1.0
    assert a.found is (a.kind is AnswerKind.ANSWERED)
    if a.kind is not AnswerKind.NOT_FOUND:  # answered or unsure: a verbatim quote
        doc = engine.document(a.source)
        assert doc[a.start:a.end] == a.quote, "the quote is not a verbatim slice of its document"
        assert 0 < len(a.quote) <= engine.settings.max_quote_chars
        assert a.passages and all(engine.document(p.source)[p.start:p.end] == p.text for p in a.passages)
    else:
        assert a.quote == "" and a.source == "" and a.passages == ()
    assert all(engine.document(p.source)[p.start:p.end] == p.text for p in a.closest)


# ------------------------------------------------------------------------------ the table, API

@pytest.mark.parametrize("case", cases())
def test_api(engine, case, no_writes):
    if case.api == "error":
        with pytest.raises(ValueError, match=EMPTY_API):
            engine.answer(case.question)
        return
    a = api_answer(engine, case)
    check_answer(engine, a)
    if case.quote_has:  # quoted: as the answer, or as unsure below the answer threshold (docs/trust.md)
        assert a.kind is not AnswerKind.NOT_FOUND and case.quote_has in a.quote
    # wordless: see test_wordless_question_is_declined; quote_has: quoted, answered or unsure (above)
    if case.found is not None and not case.wordless and not case.quote_has:
        assert a.found is case.found, f"found={a.found} score={a.score} quote={a.quote!r}"
    if case.same_as:
        assert a == api_answer(engine, BY_ID[case.same_as])


@pytest.mark.parametrize("case", cases(lambda c: c.wordless))
def test_wordless_question_is_declined(engine, case):
    """No letter, digit or CJK character: nothing to match, so no quote at any threshold."""
    best = engine.candidate(case.question)  # the best quote before the abstention threshold
    assert best.found is False, f"quoted {best.quote!r} with confidence {best.score}"
    assert api_answer(engine, case).found is False


def test_overlong_question_is_cut_to_max_question_chars(engine):
    limit = engine.settings.max_question_chars
    assert len(LONG_ZH) > limit
    assert api_answer(engine, BY_ID["long_100k_zh"]) == engine.answer(LONG_ZH[:limit])


# ------------------------------------------------------------------------------ the table, web

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402


@dataclass
class Web:
    url: str
    client: Client

    def answer(self, question: str) -> dict:
        """`/answer` through gradio_client; a question that UTF-8 cannot carry (a lone
        surrogate) goes as ASCII-escaped JSON over raw HTTP, which is valid JSON."""
        try:
            question.encode("utf-8")
        except UnicodeEncodeError:
            return self._raw(question)
        return self.client.predict(question, api_name="/answer")

    def _raw(self, question: str) -> dict:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        body = json.dumps({"data": [question, None, None]}, ensure_ascii=True).encode("ascii")  # history, document
        req = urllib.request.Request(f"{self.url}gradio_api/call/answer", data=body,
                                     headers={"Content-Type": "application/json"})
        with opener.open(req, timeout=60) as resp:
            event_id = json.loads(resp.read())["event_id"]
        with opener.open(f"{self.url}gradio_api/call/answer/{event_id}", timeout=60) as resp:
            stream = resp.read().decode("utf-8")
        event = data = None
        for line in stream.splitlines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1])
        if event != "complete":
            raise AppError((data or {}).get("error") or f"event {event}: {data}")
        return data[0]


@pytest.fixture(scope="module")
def web(engine):
    with live_app(engine) as url:
        yield Web(url, Client(url, verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": 60}))


def assert_same_answer(got: dict, a, score_tol: float) -> None:
    """A JSON answer (web or CLI) says what the Python API said."""
    assert list(got) == ANSWER_KEYS
    for key in ("found", "quote", "source", "start", "end"):
        assert got[key] == getattr(a, key), key
    assert got["score"] == pytest.approx(a.score, abs=score_tol)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")
@pytest.mark.parametrize("case", cases(lambda c: c.web is not None))
def test_web(engine, web, case, no_writes):
    if case.web != "answer":
        with pytest.raises(AppError, match=case.web):
            web.answer(case.question)
        return
    got = web.answer(case.question)
    a = api_answer(engine, case)
    assert_same_answer(got, a, score_tol=1e-6)
    assert [(p["source"], p["start"], p["end"], p["text"]) for p in got["passages"]] == \
        [(p.source, p.start, p.end, p.text) for p in a.passages]
    if got["kind"] != "not_found":
        assert engine.document(got["source"])[got["start"]:got["end"]] == got["quote"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")
def test_web_still_answers_after_the_bad_input(web):
    got = web.answer(BY_ID["simplified"].question)
    assert got["kind"] != "not_found" and "828个" in got["quote"]


# ------------------------------------------------------------------------------ the table, CLI

def run_cli(question: str, index_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "qa", "ask", question, "--json", "--index", str(index_dir)],
        cwd=PROJECT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=180,
    )


@pytest.mark.parametrize("case", cases(lambda c: c.cli))
def test_cli(engine, case, no_writes):
    r = run_cli(case.question, engine.index_dir)
    if case.api == "error":
        assert r.returncode == 2, r.stderr
        assert EMPTY_API in r.stderr and r.stdout == ""
        return
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout)
    a = api_answer(engine, case)
    assert_same_answer(got, a, score_tol=1e-3)
    if case.quote_has:
        assert case.quote_has in got["quote"]
    assert "Traceback" not in r.stderr


# ------------------------------------------------------------------------------ undecodable documents

def test_undecodable_files_are_skipped_with_reasons_and_the_rest_is_answered(tmp_path, model):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_bytes(SEED.read_bytes())
    (docs / "gbk.txt").write_bytes("云岭县今年新建茶园三万亩，茶农人均增收四千二百元。".encode("gbk"))
    (docs / "latin1.md").write_bytes("Caf\xe9 na\xefve r\xe9sum\xe9".encode("latin-1"))
    (docs / "binary.txt").write_bytes(bytes(range(256)))
    engine = QA(docs=docs, index_dir=tmp_path / "idx")
    assert engine.sources == ["good.txt"]
    assert len(engine.skipped) == 3
    for name in ("gbk.txt", "latin1.md", "binary.txt"):
        assert any(name in reason and "UTF-8" in reason for reason in engine.skipped), engine.skipped
    a = engine.answer("赫章县共创建达标党支部多少个？")
    assert a.kind is not AnswerKind.NOT_FOUND and a.source == "good.txt" and "828个" in a.quote
    check_answer(engine, a)
    tea = engine.answer("云岭县今年新建茶园多少亩？")
    assert tea.source in ("", "good.txt")  # never the skipped file


# ------------------------------------------------------------------------------ security

def test_app_binds_loopback_by_default():
    import app

    args = app.parse_args([], env={})
    assert args.host == "127.0.0.1" and args.port == 7860
    assert app.parse_args(["--port", "8000"], env={}).host == "127.0.0.1"


def test_app_main_launches_on_loopback_without_share(monkeypatch):
    import gradio as gr

    import app

    class Engine:
        sources = ["a.txt"]

        def document(self, source):
            return "文本。"

        def warm_up(self):  # the real one loads jieba and the models in the background
            pass

    launched = {}
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    monkeypatch.setattr(app, "load_engine", lambda *a, **k: Engine())
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: launched.update(kw))
    app.main([])
    assert launched["server_name"] == "127.0.0.1"
    assert launched["share"] is False


def test_index_has_no_pickle_and_only_known_files(engine):
    files = {p.relative_to(engine.index_dir).as_posix() for p in engine.index_dir.rglob("*") if p.is_file()}
    assert not [f for f in files if f.endswith((".pkl", ".pickle"))]
    build = (engine.index_dir / "CURRENT").read_text().strip()
    vectors = {f for f in files if f.startswith("vectors/")}  # the per-document vector cache
    assert vectors and all(re.fullmatch(r"vectors/[0-9a-f]{64}\.npz", f) for f in vectors)
    assert files - vectors == {"CURRENT", ".lock"} | {f"{build}/{n}" for n in ("manifest.json", "chunks.faiss",
                                                                               "units.faiss", "meta.json")}
    for f in vectors:  # numpy arrays only: loading them never needs pickle
        with np.load(engine.index_dir / f, allow_pickle=False) as arrays:
            assert set(arrays.files) == {"chunks", "units"}
    for name in ("chunks.faiss", "units.faiss", "meta.json", "manifest.json"):
        head = (engine.index_dir / build / name).read_bytes()[:2]
        assert not head.startswith(b"\x80"), f"{name} looks like a pickle"


def test_manifest_hashes_match_the_files(engine):
    build = engine.index_dir / (engine.index_dir / "CURRENT").read_text().strip()
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    seeds = sorted(p for p in SEEDS.rglob("*") if p.is_file() and p.suffix in (".txt", ".md"))
    assert manifest["documents"] == {
        p.relative_to(SEEDS).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in seeds
    }
    assert set(manifest["files"]) == {"chunks.faiss", "units.faiss", "meta.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((build / name).read_bytes()).hexdigest() == digest
    assert re.fullmatch(r"[0-9a-f]{64}", next(iter(manifest["documents"].values())))
