"""The real chat server with the real engine, driven through gradio_client."""
from __future__ import annotations

import re
import time

import pytest

from qa.settings import Settings
from support.live_server import app_subprocess, live_app

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

QUESTION = "获得“时代楷模”称号的海雀村原党支部书记是谁？"  # answered with confidence (0.94)
ANSWER_KEYS = {"found", "kind", "quote", "source", "start", "end", "score", "span", "passages", "closest",
               "understood_as"}
PASSAGE_KEYS = {"text", "source", "start", "end", "score"}


# Gradio's queue monitoring uses pandas APIs that pandas 3 deprecates; not ours.
pytestmark = [
    pytest.mark.slow,  # a live server with the real engine
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]


def text_of(message: dict) -> str:
    """A chat message's text: Gradio 6 returns content as a list of parts ({"type": "text", "text": ...})."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def client_for(url: str) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": 60})


@pytest.fixture(scope="module")
def server():
    with live_app() as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    return client_for(server)


def test_endpoints_are_named(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/chat", "/answer"} <= set(endpoints)
    # /answer publishes its result schema (from the AnswerDict type hint), not just "Any".
    returned = str(endpoints["/answer"]["returns"])
    assert all(key in returned for key in ANSWER_KEYS)


def test_chat_endpoint_answers_with_the_quote(client):
    history, box, article, source = client.predict(QUESTION, [], None, api_name="/chat")
    assert box == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    reply = text_of(history[-1])
    assert "光荣称号" in reply and reply.lstrip().startswith(">")
    assert "来源：" in reply and "置信度" in reply and "<mark>" in reply
    assert source.endswith(".txt")
    hit = re.search(r'<mark id="qa-hit"[^>]*>(.*?)</mark>', article)
    assert hit and "光荣称号" in hit.group(1)


def test_answer_endpoint_returns_the_documented_dict(client):
    result = client.predict(QUESTION, api_name="/answer")
    assert set(result) == ANSWER_KEYS
    assert result["found"] is True and result["kind"] == "answered" and "光荣称号" in result["quote"]
    assert result["span"] is None or result["span"]["text"] in result["quote"]
    assert isinstance(result["start"], int) and result["end"] - result["start"] == len(result["quote"])
    assert result["passages"] and all(set(p) == PASSAGE_KEYS for p in result["passages"])


def test_answer_endpoint_not_found_has_the_same_keys(client):
    result = client.predict("What is the capital of France?", api_name="/answer")
    assert set(result) == ANSWER_KEYS
    if result["kind"] == "not_found":
        assert result["quote"] == ""


def test_answer_endpoint_rejects_empty_question(client):
    with pytest.raises(AppError, match="empty"):
        client.predict("   ", api_name="/answer")


def test_chat_endpoint_replies_to_empty_and_long_input(client):
    history, *_ = client.predict("", [], None, api_name="/chat")
    assert "请输入一个问题" in text_of(history[-1])
    history, *_ = client.predict("党支部" * 800, [], None, api_name="/chat")
    assert "2400" in text_of(history[-1]) and str(Settings().max_question_chars) in text_of(history[-1])


def test_twenty_simultaneous_users_all_get_answers(server):
    questions = [QUESTION, "赫章县是哪个省的深度贫困县？"] * 10
    clients = [client_for(server) for _ in range(4)]
    started = time.monotonic()
    jobs = [clients[i % 4].submit(q, [], None, api_name="/chat") for i, q in enumerate(questions)]
    results = [job.result(timeout=120) for job in jobs]
    elapsed = time.monotonic() - started
    assert len(results) == 20
    for q, (history, *_rest) in zip(questions, results):
        assert history[-1]["role"] == "assistant" and text_of(history[-1]).strip()
        if q == QUESTION:
            assert "光荣称号" in text_of(history[-1])
    assert elapsed < 90


def test_python_app_py_serves_and_logs_model_and_index(tmp_path):
    """`python app.py --port N`: starts, logs what it loaded, answers, shuts down."""
    with app_subprocess(log_dir=tmp_path) as served:
        result = client_for(served.url).predict(QUESTION, api_name="/answer")
        assert "光荣称号" in result["quote"]
        log = served.output()
    assert "Loaded model" in log and "chunks" in log and "index at" in log
    assert "127.0.0.1" in log
