"""Documents and follow-ups through gradio_client, against the real engine on a live server.

The server answers from a temporary copy of `seeds/` (uploads must never touch the project's
own folder): `/documents`, `/add_document`, `/add_text`, `/remove_document`, and `/answer`
with a conversation and with one document. The last test runs `python app.py --docs DIR
--index DIR` twice over one folder: an upload is still there after the restart.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.live_server import PROJECT, app_subprocess, live_app
from support.sample_files import NEWS_HTML, blank_pdf

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

SEED = "hezhang-poverty-alleviation.txt"
POTATO = "2020年全县种了多少亩马铃薯？"
TEA_QUESTION = "云岭县新建茶园多少亩？"
DOC_KEYS = {"name", "title", "chars", "added"}

pytestmark = [
    pytest.mark.slow,  # a live server with the real engine
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]


def client_for(url: str) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": 120})


def seeded_folder(root: Path) -> Path:
    docs = root / "docs"
    docs.mkdir(parents=True)
    shutil.copyfile(PROJECT / "seeds" / SEED, docs / SEED)
    return docs


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return seeded_folder(tmp_path_factory.mktemp("live-docs"))


@pytest.fixture(scope="module")
def client(folder, model):
    import qa

    engine = qa.QA(docs=folder, index_dir=folder.parent / "index")
    with live_app(engine) as url:
        yield client_for(url)


@pytest.fixture
def news_file(tmp_path) -> Path:
    path = tmp_path / "news.html"
    path.write_text(NEWS_HTML, encoding="utf-8")
    return path


def names(listed: list[dict]) -> list[str]:
    return [d["name"] for d in listed]


def test_endpoints_are_published(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/answer", "/chat", "/documents", "/add_document", "/add_text", "/remove_document"} <= set(endpoints)
    params = [p["parameter_name"] for p in endpoints["/answer"]["parameters"]]
    assert params == ["question", "history", "document"]


def test_documents_lists_the_folder(client):
    listed = client.predict(api_name="/documents")
    assert names(listed) == [SEED] and set(listed[0]) == DOC_KEYS and listed[0]["chars"] > 3000


def test_add_ask_in_one_document_and_remove(client, folder, news_file):
    listed = client.predict(handle_file(str(news_file)), api_name="/add_document")
    assert names(listed) == [SEED, "news.txt"]
    added = next(d for d in listed if d["name"] == "news.txt")
    assert added["title"] == "云岭县茶产业发展迅速" and set(added) == DOC_KEYS
    saved = (folder / "news.txt").read_text(encoding="utf-8")
    assert "京ICP备" not in saved and "首页" not in saved  # the page's boilerplate is gone

    # Asked in the new document alone, and in all of them.
    only = client.predict(TEA_QUESTION, None, "news.txt", api_name="/answer")
    assert only["kind"] != "not_found" and only["source"] == "news.txt" and "3.2万亩" in only["quote"]
    everywhere = client.predict(TEA_QUESTION, api_name="/answer")
    assert everywhere["kind"] != "not_found" and everywhere["source"] == "news.txt"
    elsewhere = client.predict(TEA_QUESTION, None, SEED, api_name="/answer")
    assert elsewhere["source"] in ("", SEED)  # never a quote from another document

    # The same file again: refused; the same name with other text: a suffix.
    with pytest.raises(AppError, match="已经在了"):
        client.predict(handle_file(str(news_file)), api_name="/add_document")

    listed = client.predict("news.txt", api_name="/remove_document")
    assert names(listed) == [SEED] and not (folder / "news.txt").exists()
    with pytest.raises(AppError, match="没有名为"):
        client.predict(TEA_QUESTION, None, "news.txt", api_name="/answer")


def test_pasted_text_and_a_taken_name(client):
    listed = client.predict("news", "2021年全县新建蔬菜大棚1200个，带动农户800户。", api_name="/add_text")
    assert "news.txt" in names(listed)
    listed = client.predict("news", "另一篇：2022年全县新修产业路40公里。", api_name="/add_text")
    assert "news-2.txt" in names(listed)
    got = client.predict("全县新建蔬菜大棚多少个？", None, "news.txt", api_name="/answer")
    assert got["kind"] != "not_found" and "1200" in got["quote"]
    for name in ("news.txt", "news-2.txt"):
        listed = client.predict(name, api_name="/remove_document")
    assert names(listed) == [SEED]


def test_unusable_uploads_are_refused_with_the_reason(client, tmp_path):
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(blank_pdf())
    with pytest.raises(AppError, match="没有文字层"):
        client.predict(handle_file(str(scan)), api_name="/add_document")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 100)
    with pytest.raises(AppError, match="不支持"):
        client.predict(handle_file(str(photo)), api_name="/add_document")
    with pytest.raises(AppError, match="handle_file|上传"):
        client.predict({"path": "/etc/passwd"}, api_name="/add_document")
    with pytest.raises(AppError, match="最后一篇"):
        client.predict(SEED, api_name="/remove_document")
    assert names(client.predict(api_name="/documents")) == [SEED]


def test_follow_up_with_history(client):
    first = client.predict(POTATO, api_name="/answer")
    assert first["kind"] != "not_found" and "65万亩" in first["quote"] and first["understood_as"] == ""
    history = [{"question": POTATO, "quote": first["quote"]}]
    follow = client.predict("那蔬菜呢？", history, api_name="/answer")
    assert follow["understood_as"] and "蔬菜" in follow["understood_as"] and "马铃薯" not in follow["understood_as"]
    assert follow["kind"] != "not_found" and "30万亩" in follow["quote"]
    # The same words without the conversation are taken as they are.
    alone = client.predict("那蔬菜呢？", api_name="/answer")
    assert alone["understood_as"] == ""


def test_bad_history_is_a_clear_error(client):
    with pytest.raises(AppError, match="history"):
        client.predict("那蔬菜呢？", "not a list", api_name="/answer")
    with pytest.raises(AppError, match="item 1"):
        client.predict("那蔬菜呢？", [{"q": POTATO}], api_name="/answer")


def test_app_py_serves_any_folder_and_uploads_survive_a_restart(tmp_path, news_file):
    docs = seeded_folder(tmp_path)
    args = ("--docs", str(docs), "--index", str(tmp_path / "index"))
    with app_subprocess(*args, log_dir=tmp_path) as served:
        client = client_for(served.url)
        assert "news.txt" in names(client.predict(handle_file(str(news_file)), api_name="/add_document"))
    with app_subprocess(*args, log_dir=tmp_path) as served:
        client = client_for(served.url)
        assert names(client.predict(api_name="/documents")) == [SEED, "news.txt"]
        got = client.predict(TEA_QUESTION, None, "news.txt", api_name="/answer")
        assert got["kind"] != "not_found" and "3.2万亩" in got["quote"]
    with app_subprocess(*args, "--read-only", log_dir=tmp_path) as served:
        endpoints = client_for(served.url).view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert "/documents" in endpoints and "/add_document" not in endpoints
