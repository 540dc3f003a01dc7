"""The web chat's documents panel, follow-ups and API handlers, with a fake engine over a real
folder (no model, no server): `app.build_app`'s handlers are called directly.
"""
from __future__ import annotations

import html
import shutil
import uuid
from pathlib import Path

import gradio as gr
import pytest
from gradio.utils import get_upload_folder

import app
from qa.corpus import documents
from qa.text import normalise as text
from qa.web import docs as web_docs
from qa.types import Answer

SEED = "赫章县脱贫攻坚\n\n该县共创建达标党支部828个，共有175名党员获表彰。"
QUOTE = "该县共创建达标党支部828个，共有175名党员获表彰。"
TEA = "云岭县茶产业发展迅速\n\n今年以来，云岭县新建茶园3.2万亩，全县茶园总面积达到15万亩。"


class FolderEngine:
    """Answers like the real engine's API, over the .txt / .md files of a folder."""

    def __init__(self, docs_dir: Path):
        self.docs_dir = docs_dir
        self.calls: list[dict] = []
        self.refreshed = 0
        self.understood = ""  # what the next answer says it understood

    def refresh(self):
        self.refreshed += 1

    @property
    def sources(self):
        return [p.relative_to(self.docs_dir).as_posix() for p in text.document_paths(self.docs_dir)]

    def document(self, source):
        if source not in self.sources:
            raise KeyError(source)
        return text.read_document(self.docs_dir / source, self.docs_dir).text

    def answer(self, question, k=None, mode="hybrid", history=None, only=None):
        if only is not None and only not in self.sources:
            raise KeyError(f"No document named {only!r}")
        self.calls.append({"question": question, "history": history, "only": only})
        understood, self.understood = self.understood, ""
        if "党支部" in question or "党员" in question:
            doc = self.document("hezhang.txt")
            start = doc.index(QUOTE)
            return Answer(True, QUOTE, "hezhang.txt", start, start + len(QUOTE), 0.8, (), understood)
        return Answer.not_found(0.1, understood)


def handlers(demo: gr.Blocks) -> dict:
    fns = {fn.api_name: fn.fn for fn in demo.fns.values() if fn.api_name}
    fns.update({fn.fn.__name__: fn.fn for fn in demo.fns.values() if fn.fn})
    return fns


@pytest.fixture
def folder(tmp_path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hezhang.txt").write_text(SEED, encoding="utf-8")
    return docs


@pytest.fixture
def engine(folder):
    return FolderEngine(folder)


@pytest.fixture
def fns(engine):
    return handlers(app.build_app(engine, limits=documents.Limits(max_file_bytes=100_000, max_chars=5_000)))


@pytest.fixture
def upload_file():
    """A file in Gradio's upload folder, as an upload through the page or gradio_client leaves it."""
    made = []

    def make(name: str, data: bytes) -> Path:
        where = Path(get_upload_folder()) / f"qa-test-{uuid.uuid4().hex}"
        where.mkdir(parents=True)
        made.append(where)
        path = where / name
        path.write_bytes(data)
        return path

    yield make
    for where in made:
        shutil.rmtree(where, ignore_errors=True)


PANEL = ["table", "label", "remove", "scope", "picker", "status", "article"]


def panel(result) -> dict:
    return dict(zip(PANEL, result))


# ------------------------------------------------------------------ the endpoints


def test_endpoints_are_named_and_read_only_servers_have_no_editing_endpoints(engine):
    public = lambda demo: {fn.api_name for fn in demo.fns.values() if fn.api_name and fn.api_visibility == "public"}  # noqa: E731
    assert public(app.build_app(engine)) == {"chat", "answer", "documents", "add_document", "add_text",
                                             "remove_document"}
    assert public(app.build_app(engine, editable=False)) == {"chat", "answer", "documents"}


def test_documents_endpoint_lists_name_title_chars_added(fns):
    (listed,) = fns["documents"]()
    assert listed["name"] == "hezhang.txt" and listed["title"] == "赫章县脱贫攻坚"
    assert listed["chars"] == len(SEED) and listed["added"]


def test_add_document_endpoint_takes_an_uploaded_file_and_returns_the_list(fns, engine, upload_file, folder):
    path = upload_file("tea.txt", TEA.encode())
    listed = fns["add_document"]({"path": str(path), "orig_name": "tea.txt", "meta": {"_type": "gradio.FileData"}})
    assert [d["name"] for d in listed] == ["hezhang.txt", "tea.txt"]
    assert engine.refreshed >= 1  # indexed at once, not on the next question
    assert (folder / "tea.txt").read_text(encoding="utf-8").startswith("云岭县")


def test_add_document_endpoint_refuses_server_paths_and_bad_files(fns, folder, upload_file, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("服务器上的秘密文件，不能被读进来。", encoding="utf-8")
    for bad in ({"path": str(secret)}, {"path": str(Path(get_upload_folder()) / ".." / secret.name)}, {}, "tea.txt", None):
        with pytest.raises(gr.Error, match="上传|handle_file"):
            fns["add_document"](bad)
    with pytest.raises(gr.Error, match="没有文字层"):
        from support.sample_files import blank_pdf

        fns["add_document"]({"path": str(upload_file("scan.pdf", blank_pdf())), "orig_name": "scan.pdf"})
    with pytest.raises(gr.Error, match="超过上限"):
        fns["add_document"]({"path": str(upload_file("big.txt", b"a" * 100_001)), "orig_name": "big.txt"})
    assert [p.name for p in text.document_paths(folder)] == ["hezhang.txt"]


def test_add_text_and_remove_document_endpoints(fns, folder):
    listed = fns["add_text"]("蔬菜简报", "2020年全县种植蔬菜12万亩，产值8亿元。")
    assert {d["name"] for d in listed} == {"hezhang.txt", "蔬菜简报.txt"}
    listed = fns["remove_document"]("蔬菜简报.txt")
    assert [d["name"] for d in listed] == ["hezhang.txt"]
    with pytest.raises(gr.Error, match="没有名为"):
        fns["remove_document"]("../docs/hezhang.txt")
    with pytest.raises(gr.Error, match="最后一篇"):
        fns["remove_document"]("hezhang.txt")


def test_read_only_server_lists_but_offers_no_changes(engine):
    demo = app.build_app(engine, editable=False)
    blocks = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    assert "赫章县脱贫攻坚" in handlers(demo)["load_page"]()[0]  # the list is still shown
    assert not any(blocks[i].visible for i in ("qa-upload", "qa-paste", "qa-remove-row", "qa-limits"))
    names = {fn.fn.__name__ for fn in demo.fns.values() if fn.fn}
    assert not names & {"page_upload", "page_paste", "page_remove", "add_document_api", "remove_document_api"}


# ------------------------------------------------------------------ /answer: history and document


def test_answer_endpoint_passes_history_and_document(fns, engine, folder):
    (folder / "tea.txt").write_text(TEA, encoding="utf-8")
    history = [{"question": "赫章县共创建达标党支部多少个？", "quote": QUOTE}, {"question": "法国首都？", "quote": ""}]
    engine.understood = "该县共有多少名党员获表彰？"
    result = fns["answer"]("那党员呢？", history, "hezhang.txt")
    assert result["understood_as"] == "该县共有多少名党员获表彰？" and result["found"] is True
    assert engine.calls[-1] == {"question": "那党员呢？", "history": history, "only": "hezhang.txt"}
    # Without the optional arguments: as before.
    result = fns["answer"]("赫章县共创建达标党支部多少个？")
    assert result["understood_as"] == "" and engine.calls[-1]["history"] is None and engine.calls[-1]["only"] is None
    fns["answer"]("赫章县党支部？", [], "")
    assert engine.calls[-1]["history"] is None and engine.calls[-1]["only"] is None


@pytest.mark.parametrize("history, words", [
    ("赫章县？", "must be a list"),
    ({"question": "q"}, "must be a list"),
    (["赫章县共创建达标党支部多少个？"], "item 1"),
    ([{"quote": "x"}], "item 1"),
    ([{"question": "q", "quote": "x"}, {"question": 3, "quote": ""}], "item 2"),
    ([{"question": "q", "quote": 5}], "item 1"),
    ([{"question": "问" * 2001, "quote": ""}], "too long"),
])
def test_answer_endpoint_bad_history_is_a_clear_error(fns, history, words):
    with pytest.raises(gr.Error, match=words) as err:
        fns["answer"]("那蔬菜呢？", history)
    assert '"question"' in str(err.value) or "too long" in str(err.value)


def test_answer_endpoint_history_is_lenient_where_harmless(fns, engine):
    history = [{"question": "赫章县？", "quote": None, "answer": "extra keys are ignored"}, {"question": "  ", "quote": ""}]
    fns["answer"]("赫章县党支部？", history)
    assert engine.calls[-1]["history"] == [{"question": "赫章县？", "quote": ""}]


def test_answer_endpoint_unknown_document_is_a_clear_error(fns):
    with pytest.raises(gr.Error, match="没有名为.*nope.txt.*known: hezhang.txt"):
        fns["answer"]("赫章县党支部？", None, "nope.txt")
    with pytest.raises(gr.Error, match="document must be"):
        fns["answer"]("赫章县党支部？", None, 3)


# ------------------------------------------------------------------ the page: follow-ups


def test_page_passes_the_conversation_and_says_what_a_follow_up_was_understood_as(fns, engine):
    turns = [{"question": "赫章县共创建达标党支部多少个？", "quote": QUOTE}]
    asked = [{"role": "user", "content": "那党员呢？"}]
    engine.understood = "该县共有多少名党员获表彰？"
    history, article, source, refs, pending, new_turns = fns["answer_question"](
        "那党员呢？", asked, "hezhang.txt", {}, turns, web_docs.ALL_DOCUMENTS)
    assert engine.calls[-1] == {"question": "那党员呢？", "history": turns, "only": None}
    reply = history[-1]["content"]
    assert reply.startswith('<span class="qa-understood">理解为：该县共有多少名党员获表彰？</span>')
    assert "828" in reply
    assert new_turns == turns + [{"question": "那党员呢？", "quote": QUOTE}]


def test_follow_up_note_in_english_and_escaped(fns, engine):
    engine.understood = "<img src=x onerror=alert(1)> what about *tea*?"
    history, *_ = fns["answer_question"]("and tea?", [], "hezhang.txt", {}, [{"question": "q", "quote": ""}], "*")
    reply = history[-1]["content"]
    assert "Understood as: &lt;img src=x onerror=alert\\(1\\)&gt; what about \\*tea\\*?" in reply
    assert "<img" not in reply and "The article does not say." in reply and "Try rephrasing" in reply


def test_first_question_has_no_history_and_no_note(fns, engine):
    history, *_, turns = fns["answer_question"]("赫章县党支部？", [], "hezhang.txt", {}, [], "*")
    assert engine.calls[-1]["history"] is None and "理解为" not in history[-1]["content"]
    assert turns == [{"question": "赫章县党支部？", "quote": QUOTE}]


def test_unanswered_input_does_not_join_the_conversation(fns):
    turns = [{"question": "赫章县党支部？", "quote": QUOTE}]
    *_, new_turns = fns["answer_question"]("问" * 2001, [], "hezhang.txt", {}, turns, "*")
    assert new_turns == turns


# ------------------------------------------------------------------ the page: one document


def test_asking_one_document_passes_only_and_a_decline_says_so(fns, engine, folder):
    (folder / "tea.txt").write_text(TEA, encoding="utf-8")
    history, *_ = fns["answer_question"]("茶园多少亩？", [], "hezhang.txt", {}, [], "tea.txt")
    assert engine.calls[-1]["only"] == "tea.txt"
    assert "只在「tea.txt」里找过" in history[-1]["content"]


def test_asking_a_removed_document_gets_a_reply_not_a_crash(fns, engine):
    history, *_ = fns["answer_question"]("茶园多少亩？", [], "hezhang.txt", {}, [], "gone.txt")
    assert "已经不在了" in history[-1]["content"]


def test_choosing_a_document_to_ask_shows_it(fns, folder):
    (folder / "tea.txt").write_text(TEA, encoding="utf-8")
    article, picker, *examples = fns["choose_scope"]("tea.txt", "hezhang.txt")
    assert "云岭县" in article and picker["value"] == "tea.txt"
    assert [e["value"] for e in examples if e["visible"]] == ["云岭县新建茶园多少亩？", "全县茶园总面积达到多少亩？"]
    article, picker, *examples = fns["choose_scope"]("*", "hezhang.txt")
    assert (article, picker) == (gr.skip(), gr.skip())
    shown = [e["value"] for e in examples if e["visible"]]  # all documents: questions about each
    assert shown == ["该县共创建达标党支部多少个？", "云岭县新建茶园多少亩？", "全县茶园总面积达到多少亩？"]


# ------------------------------------------------------------------ the page: the documents panel


def test_upload_in_the_page_adds_lists_and_shows_the_document(fns, upload_file, folder):
    out = fns["page_upload"](str(upload_file("tea.txt", TEA.encode())), "*")
    got, cleared = panel(out[:7]), out[-1]
    assert cleared is None  # the file box is emptied for the next upload
    assert "云岭县茶产业发展迅速" in got["table"] and "tea.txt" in got["table"]
    assert got["label"]["label"].startswith("文档 / Documents（2）")
    assert got["status"].startswith("✓") and "tea.txt" in got["status"]
    assert got["scope"]["visible"] is True and ("全部文档 / All documents", "*") in got["scope"]["choices"]
    assert got["picker"]["visible"] is True and got["picker"]["value"] == "tea.txt"
    assert "云岭县" in got["article"] and 'data-scroll="top"' in got["article"]
    assert (folder / "tea.txt").exists()


def test_upload_of_a_taken_name_says_so(fns, upload_file, folder):
    out = panel(fns["page_upload"](str(upload_file("hezhang.txt", TEA.encode())), "*")[:7])
    assert "hezhang-2.txt" in out["status"] and "已有同名文档" in out["status"]
    assert (folder / "hezhang.txt").read_text(encoding="utf-8") == SEED


def test_refused_upload_only_changes_the_status_line(fns, upload_file):
    out = fns["page_upload"](str(upload_file("photo.jpg", b"\xff\xd8\xff")), "*")
    got = panel(out[:7])
    assert got["status"].startswith("⚠") and "不支持" in got["status"]
    assert all(got[k] == gr.skip() for k in PANEL if k != "status")


def test_paste_in_the_page_adds_and_clears_the_boxes(fns, folder):
    out = fns["page_paste"]("蔬菜简报", "2020年全县种植蔬菜12万亩，产值8亿元。", "*")
    got, title_box, body_box = panel(out[:7]), out[-2], out[-1]
    assert "蔬菜简报" in got["table"] and title_box == "" and body_box == ""
    out = fns["page_paste"]("", "短", "*")
    assert "太少" in out[5] and out[-2] == gr.skip()  # refused: what was typed stays


def test_remove_in_the_page_updates_the_panel_and_the_article(fns, folder):
    (folder / "tea.txt").write_text(TEA, encoding="utf-8")
    got = panel(fns["page_remove"]("tea.txt", "tea.txt", "tea.txt"))
    assert "tea.txt" not in got["table"] and got["status"].startswith("✓") and ".removed" in got["status"]
    assert got["scope"]["value"] == "*" and got["scope"]["visible"] is False  # back to all; one left
    assert got["picker"]["value"] == "hezhang.txt" and "赫章县" in got["article"]
    assert "没有名为" in panel(fns["page_remove"]("tea.txt", "hezhang.txt", "*"))["status"]
    assert "请先选择" in panel(fns["page_remove"](None, "hezhang.txt", "*"))["status"]


def test_panel_text_is_escaped(fns, folder):
    (folder / "evil.txt").write_text("<img src=x onerror=alert(1)>标题\n\n正文。", encoding="utf-8")
    table = panel(fns["page_remove"](None, "hezhang.txt", "*"))  # any refresh of the panel
    got = panel(fns["page_paste"]("<b>粗</b>", "<script>alert(1)</script>正文内容足够长了。", "*"))
    assert "<img" not in got["table"] and "&lt;img" in got["table"] and "<b>" not in got["table"]
    assert table["status"].startswith("⚠")


def test_a_quote_of_a_removed_document_is_not_a_crash(fns, folder):
    (folder / "tea.txt").write_text(TEA, encoding="utf-8")
    refs = {1: ["tea.txt", 0, 5, "answered", None]}
    documents.remove(folder, "tea.txt")
    select = gr.SelectData(None, {"index": 1, "value": "x", "selected": True})
    article, source = fns["recall"](refs, [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], select)
    assert "已被删除" in article and source == "tea.txt"


def test_limits_are_shown_in_the_panel(engine):
    demo = app.build_app(engine)
    shown = [b.value for b in demo.blocks.values() if getattr(b, "elem_id", None) == "qa-limits"]
    assert shown and "10 MB" in shown[0] and "30,000" in shown[0] and "scans" in shown[0]


def test_web_docs_formatting():
    info = documents.DocumentInfo("a/b.txt", "<标题>", 1234, "2026-11-30T17:40:12")
    table = web_docs.documents_table([info])
    assert "&lt;标题&gt;" in table and "1,234" in table and "2026-11-30 17:40" in table
    assert web_docs.documents_table([]).startswith('<p class="qa-docs-empty">')
    assert web_docs.document_label(documents.DocumentInfo("tea.txt", "tea", 1, "")) == "tea"
    assert web_docs.document_label(info) == "<标题>（a/b.txt）"  # labels are plain text in a dropdown
    assert web_docs.decorate_reply("R", "问？", "", True, "x.txt") == "R"  # found: no scope note
    assert html.escape("x") == "x"
