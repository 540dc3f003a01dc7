"""`qa.documents`: uploads turned into documents, names made safe, limits, listing, removal.

Fast: plain files in a temporary folder, no model, no index, no server.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from qa.corpus import documents as d
from qa.text import normalise as text_mod
from support.sample_files import NEWS_HTML, blank_pdf, pdf_with_text

ARTICLE = "云岭县茶产业发展迅速\n\n今年以来，云岭县新建茶园3.2万亩，全县茶园总面积达到15万亩，带动2万余户农户增收。"


@pytest.fixture
def folder(tmp_path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hezhang.txt").write_text("赫章县脱贫攻坚\n\n该县共创建达标党支部828个。\n", encoding="utf-8")
    return docs


# ------------------------------------------------------------------ names


@pytest.mark.parametrize("raw, stem", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\win.ini", "win.ini"),
    ("/abs/path/report.txt", "report"),
    (".bashrc", "bashrc"),
    ("  .hidden.md", "hidden"),
    ("...", "document"),
    ("", "document"),
    ("CON.txt", "_CON"),
    ("nul", "_nul"),
    ("x<y>:z|?*.html", "x_y__z"),
    ("bad\x00name\n.txt", "bad_name"),
    ("报告 2024 年.pdf", "报告 2024 年"),
    ("ａｂｃ.txt", "abc"),  # NFKC
])
def test_safe_stem(raw, stem):
    assert d.safe_stem(raw) == stem


def test_safe_stem_is_short_and_never_a_path():
    for raw in ["a" * 500 + ".txt", "长" * 300, "a/" * 100 + "b", "\u202egnp.txt"]:
        stem = d.safe_stem(raw)
        assert stem and "/" not in stem and "\\" not in stem and not stem.startswith(".")
        assert len(stem) <= d.MAX_STEM_CHARS and len(stem.encode()) <= 180
        assert "\u202e" not in stem


def test_upload_name_with_traversal_lands_inside_the_folder(folder):
    added = d.add_file(folder, "../../../outside.txt", ARTICLE.encode())
    assert added.info.name == "outside.txt"
    assert (folder / "outside.txt").is_file()
    assert not (folder.parent / "outside.txt").exists()
    hidden = d.add_file(folder, ".secret.txt", "另一篇文章，讲的是别的事情，足够长。".encode())
    assert hidden.info.name == "secret.txt" and (folder / "secret.txt").is_file()


# ------------------------------------------------------------------ text files


def test_txt_upload_is_saved_and_listed_with_title_chars_and_time(folder):
    added = d.add_file(folder, "tea.txt", ARTICLE.encode("utf-8"))
    assert added.note == ""
    info = added.info
    assert info.name == "tea.txt" and info.title == "云岭县茶产业发展迅速"
    assert info.chars == len(text_mod.clean(ARTICLE))
    assert len(info.added) == 19 and info.added[4] == "-" and info.added[10] == "T"
    assert info.to_dict() == {"name": "tea.txt", "title": info.title, "chars": info.chars, "added": info.added}
    # The engine reads it: a .txt in the folder, UTF-8.
    assert [p.name for p in text_mod.document_paths(folder)] == ["hezhang.txt", "tea.txt"]
    assert [i.name for i in d.list_documents(folder)] == ["hezhang.txt", "tea.txt"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030"])
def test_text_in_common_chinese_encodings_is_saved_as_utf8(folder, encoding):
    added = d.add_file(folder, "tea.txt", ARTICLE.replace("\n", "\r\n").encode(encoding))
    saved = (folder / added.info.name).read_bytes()
    assert saved.decode("utf-8") == ARTICLE + "\n"  # UTF-8, no BOM, \n line ends


def test_markdown_stays_markdown(folder):
    added = d.add_file(folder, "notes.md", "# 云岭县茶产业\n\n新建茶园3.2万亩，总面积15万亩。".encode())
    assert added.info.name == "notes.md" and added.info.title == "云岭县茶产业"


@pytest.mark.parametrize("name, data, words", [
    ("empty.txt", b"", "空文件"),
    ("blank.txt", b"   \n\n  ", "空文件"),
    ("dots.txt", "。。。，，！".encode(), "没有文字"),
    ("binary.txt", b"\x00\x01\x02PK\x03\x04" * 50, "不是文本文件"),
    ("photo.jpg", b"\xff\xd8\xff\xe0JFIF", "不支持"),
    ("noext", b"hello world text", "不支持"),
    ("script.html.exe", b"MZ", "不支持"),
])
def test_unusable_files_get_a_clear_message(folder, name, data, words):
    with pytest.raises(d.DocumentRejected, match=words) as err:
        d.add_file(folder, name, data)
    assert " / " in str(err.value)  # Chinese, then English
    assert [i.name for i in d.list_documents(folder)] == ["hezhang.txt"]  # nothing saved
    assert not any(p.name.startswith(".upload-") for p in folder.iterdir())


def test_oversized_file_and_text_are_refused_with_the_limit(folder, tmp_path):
    limits = d.Limits(max_file_bytes=1000, max_chars=100)
    with pytest.raises(d.DocumentRejected, match=r"超过上限.*MB.*limit") as err:
        d.add_file(folder, "big.txt", "字".encode() * 400, limits)
    assert "big.txt" in str(err.value)
    with pytest.raises(d.DocumentRejected, match=r"正文有 .*超过上限 100 字"):
        d.add_file(folder, "long.txt", ("长文章。" * 40).encode(), limits)
    # add_path says the size without reading the file
    big = tmp_path / "huge.pdf"
    big.write_bytes(b"%PDF" + b"0" * 2000)
    with pytest.raises(d.DocumentRejected, match="huge.pdf.*MB"):
        d.add_path(folder, big, "huge.pdf", limits)


def test_limits_are_said_in_both_languages():
    zh, en = d.Limits().describe(), d.Limits().describe(english=True)
    assert "10 MB" in zh and "30,000" in zh and ".pdf" in zh and "扫描件" in zh
    assert "10 MB" in en and "30,000" in en and "scans" in en


def test_folder_full_is_refused(folder):
    limits = d.Limits(max_documents=2)
    d.add_file(folder, "a.txt", "第一篇文章，讲茶园的事情。".encode(), limits)
    with pytest.raises(d.DocumentRejected, match="达到上限 2 篇"):
        d.add_file(folder, "b.txt", "第二篇文章，讲蔬菜的事情。".encode(), limits)


# ------------------------------------------------------------------ names already taken


def test_a_taken_name_gets_a_suffix_and_says_so_and_nothing_is_overwritten(folder):
    before = (folder / "hezhang.txt").read_bytes()
    added = d.add_file(folder, "hezhang.txt", ARTICLE.encode())
    assert added.info.name == "hezhang-2.txt"
    assert "hezhang.txt" in added.note and "hezhang-2.txt" in added.note and "already exists" in added.note
    assert (folder / "hezhang.txt").read_bytes() == before
    third = d.add_file(folder, "HEZHANG.TXT", "又一篇不同的文章，讲的是另外的事情。".encode())
    assert third.info.name == "HEZHANG-3.txt"  # case-insensitive clash counts too


def test_the_same_text_twice_is_refused(folder):
    d.add_file(folder, "tea.txt", ARTICLE.encode())
    with pytest.raises(d.DocumentRejected, match="已经在了.*tea.txt"):
        d.add_file(folder, "tea-copy.txt", (ARTICLE + "\n\n").encode())


def test_concurrent_uploads_with_one_name_never_overwrite(folder):
    errors = []

    def add(i):
        try:
            d.add_file(folder, "same.txt", f"第 {i} 篇，不同的内容，编号{i}。".encode())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    names = sorted(p.name for p in folder.glob("same*.txt"))
    assert len(names) == 8
    bodies = {(folder / n).read_text(encoding="utf-8") for n in names}
    assert len(bodies) == 8  # every upload kept, none replaced another


# ------------------------------------------------------------------ pasted text


def test_pasted_text_is_saved_under_its_title(folder):
    added = d.add_text(folder, "蔬菜产业简报", "2020年全县种植蔬菜12万亩，产值8亿元。")
    assert added.info.name == "蔬菜产业简报.txt" and added.info.title == "蔬菜产业简报"
    saved = (folder / "蔬菜产业简报.txt").read_text(encoding="utf-8")
    assert saved.startswith("蔬菜产业简报\n\n2020年")


def test_pasted_text_without_title_uses_its_first_line_and_a_hostile_title_is_a_plain_name(folder):
    added = d.add_text(folder, "", "第一行是标题\n\n正文在这里，讲一件事情。")
    assert added.info.name == "第一行是标题.txt"
    evil = d.add_text(folder, "../../<script>x</script>", "正文在这里，讲另一件事情，足够长。")
    assert "/" not in evil.info.name and "<" not in evil.info.name and (folder / evil.info.name).is_file()
    assert evil.info.name == "script_x__script.txt"  # a title's slashes are characters, not a path
    dated = d.add_text(folder, "2024/2025 年度报告", "年度报告的正文，讲的是第三件事情。")
    assert dated.info.name == "2024_2025 年度报告.txt"


def test_pasted_text_too_short_is_refused(folder):
    with pytest.raises(d.DocumentRejected, match="太少"):
        d.add_text(folder, "标题", "短")


# ------------------------------------------------------------------ html


def test_html_keeps_the_article_and_drops_the_boilerplate():
    doc = d.extract("news.html", NEWS_HTML.encode("utf-8"))
    assert doc.suffix == ".txt" and doc.title == "云岭县茶产业发展迅速"
    assert doc.text.startswith("云岭县茶产业发展迅速\n\n")
    assert "新建茶园3.2万亩" in doc.text and "龙头企业带动" in doc.text and "产业链增值收益" in doc.text
    for junk in ("首页", "关于我们", "京ICP备", "tracker", "color: red", "<", ">"):
        assert junk not in doc.text, junk
    # one block per paragraph, as the engine's layout reads them
    assert "\n\n龙头企业带动\n\n" in doc.text


def test_html_in_another_encoding_is_read():
    page = NEWS_HTML.replace('charset="utf-8"', 'charset="gbk"')
    doc = d.extract("news.htm", page.encode("gbk"))
    assert "新建茶园3.2万亩" in doc.text


def test_html_without_article_text_is_refused():
    with pytest.raises(d.DocumentRejected, match="没有找到正文"):
        d.extract("menu.html", b"<html><body><nav><a href='/'>home</a></nav><script>x=1</script></body></html>")


# ------------------------------------------------------------------ pdf


def test_pdf_text_layer_is_read_and_wrapped_lines_rejoined():
    lines = [
        "The county planted 32,000 mu of new tea gardens this year, bringing",
        "the total to 150,000 mu and raising the income of 20,000 households.",
        "Leading firms followed.",
        "A second paragraph starts here and runs on for a while, long enough",
        "to wrap onto a second line.",
    ]
    doc = d.extract("tea.pdf", pdf_with_text(lines, title="Tea report"))
    assert doc.title == "Tea report" and doc.suffix == ".txt"
    assert doc.text.startswith("Tea report\n\n")
    assert "bringing the total to 150,000 mu" in doc.text  # a wrapped line joined with a space
    assert "\n\nA second paragraph" in doc.text  # a short line ended its paragraph


def test_pdf_without_title_is_named_by_its_first_line(folder):
    lines = ["Annual tea report of the county",
             "The county planted 32,000 mu of new tea gardens this year, bringing",
             "the total to 150,000 mu and raising the income of 20,000 households."]
    added = d.add_file(folder, "scan-0001.pdf", pdf_with_text(lines))
    assert added.info.name == "scan-0001.txt" and added.info.title == "Annual tea report of the county"


def test_scanned_pdf_without_text_layer_gets_a_clear_message(folder):
    with pytest.raises(d.DocumentRejected, match="没有文字层.*扫描件") as err:
        d.add_file(folder, "scan.pdf", blank_pdf())
    assert "no text layer" in str(err.value)


@pytest.mark.parametrize("data, words", [
    (b"%PDF-1.4\nthis is not really a pdf\n%%EOF", "读不出来"),
    (b"hello, I am text", "不是 PDF"),
])
def test_damaged_pdf_gets_a_clear_message(data, words):
    with pytest.raises(d.DocumentRejected, match=words):
        d.extract("report.pdf", data)


def test_password_protected_pdf_gets_a_clear_message():
    with pytest.raises(d.DocumentRejected, match="密码"):
        d.extract("locked.pdf", blank_pdf(password="secret"))


def test_cjk_spacing_from_pdf_extraction_is_removed():
    page = "赫 章 县 共 创 建 达 标 党 支\n部 828 个 ， 共 有 175 名 党\n员 获 表 彰 。"
    assert d._unwrap_page(page) == "赫章县共创建达标党支部828个，共有175名党员获表彰。"


# ------------------------------------------------------------------ listing and removal


def test_removal_moves_the_file_aside_and_only_listed_names_are_accepted(folder):
    d.add_file(folder, "tea.txt", ARTICLE.encode())
    info = d.remove(folder, "tea.txt")
    assert info.name == "tea.txt" and not (folder / "tea.txt").exists()
    kept = list((folder / d.REMOVED_DIR).iterdir())
    assert len(kept) == 1 and kept[0].name.endswith("tea.txt")
    assert [p.name for p in text_mod.document_paths(folder)] == ["hezhang.txt"]  # the engine skips .removed/
    outside = folder.parent / "victim.txt"
    outside.write_text("不能删", encoding="utf-8")
    for name in ("../victim.txt", str(outside), "tea.txt", ".removed/" + kept[0].name, ""):
        with pytest.raises(d.DocumentRejected, match="没有名为"):
            d.remove(folder, name)
    assert outside.exists()


def test_the_last_document_is_kept(folder):
    with pytest.raises(d.DocumentRejected, match="最后一篇"):
        d.remove(folder, "hezhang.txt")
    assert (folder / "hezhang.txt").exists()


def test_listing_survives_a_restart_and_names_an_unreadable_file(folder):
    d.add_text(folder, "蔬菜产业简报", "2020年全县种植蔬菜12万亩，产值8亿元。")
    (folder / "legacy.txt").write_bytes("旧文件".encode("gbk") + b"\xff")
    listed = {i.name: i for i in d.list_documents(folder)}  # a fresh listing, as after a restart
    assert set(listed) == {"hezhang.txt", "legacy.txt", "蔬菜产业简报.txt"}
    assert listed["legacy.txt"].chars == 0 and "UTF-8" in listed["legacy.txt"].title
    assert listed["hezhang.txt"].title == "赫章县脱贫攻坚"


def test_long_titles_are_shortened_in_the_listing(folder):
    d.add_text(folder, "标" * 150, "正文在这里，讲一件事情，足够长了。")
    info = next(i for i in d.list_documents(folder) if i.name != "hezhang.txt")
    assert len(info.title) == d.MAX_TITLE_CHARS and info.title.endswith("…")


def test_no_temporary_file_is_left_when_writing_fails(folder, monkeypatch):
    def broken_link(src, dst):
        raise PermissionError("no links here")

    monkeypatch.setattr(os, "link", broken_link)  # falls back to an exclusive create
    added = d.add_file(folder, "tea.txt", ARTICLE.encode())
    assert (folder / added.info.name).read_text(encoding="utf-8").startswith("云岭县")
    assert not any(p.name.startswith(".upload-") for p in folder.iterdir())
