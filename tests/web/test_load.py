"""Load: 20 simultaneous gradio_client users x 10 questions on one live server, via `/answer`.

Every request must succeed and return exactly the answer a lone client gets for the
same question. p50/p95 latency is printed and, when QA_LOAD_REPORT=path is set,
written there as JSON. Bounded: a thread pool, one overall deadline.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import statistics
import threading
import time

import pytest

from support.live_server import live_app

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

pytestmark = [
    pytest.mark.slow,  # a live server with the real engine
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
]

CLIENTS = 20
OVERALL_TIMEOUT = 300.0  # seconds, for the whole concurrent phase
QUESTIONS = [
    "赫章县共创建达标党支部多少个？",
    "赫章县是哪个省的深度贫困县？",
    "选派了多少名干部担任驻村第一书记？",
    "2020年全县种植马铃薯多少万亩？",
    "海雀村人均粮食有多少？",
    "赫章縣易地扶貧搬遷了多少人？",  # traditional characters
    "本文作者是谁？",
    "How many cadres were sent to villages?",
    "How many standard Party branches were established in Hezhang?",
    "量子计算机的工作原理是什么？",  # not in the article
]
UNANSWERABLE = QUESTIONS[-1]
COMPARED = ("found", "kind", "quote", "source", "start", "end")


def new_client(url: str) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": 120})


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


@pytest.fixture(scope="module")
def server():
    with live_app() as url:
        yield url


def test_twenty_clients_ten_questions_each(server, capsys):
    solo = new_client(server)
    expected = {q: solo.predict(q, api_name="/answer") for q in QUESTIONS}
    assert expected[QUESTIONS[0]]["kind"] != "not_found" and "828" in expected[QUESTIONS[0]]["quote"]
    assert expected[UNANSWERABLE]["found"] is False

    latencies: list[float] = []
    errors: list[str] = []
    mismatches: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + OVERALL_TIMEOUT
    start_gate = threading.Barrier(CLIENTS, timeout=120)

    def user(i: int) -> None:
        try:
            client = new_client(server)  # each user its own Client (own session)
        except Exception as exc:
            with lock:
                errors.append(f"client {i}: connect: {exc!r}")
            start_gate.abort()
            return
        try:
            start_gate.wait()  # all users start asking together
        except threading.BrokenBarrierError:
            pass
        order = QUESTIONS[i % len(QUESTIONS):] + QUESTIONS[: i % len(QUESTIONS)]  # different mixes at once
        for q in order:
            if time.monotonic() > deadline:
                with lock:
                    errors.append(f"client {i}: deadline passed before {q!r}")
                return
            t0 = time.perf_counter()
            try:
                got = client.predict(q, api_name="/answer")
            except Exception as exc:
                with lock:
                    errors.append(f"client {i}: {q!r}: {exc!r}")
                continue
            elapsed = time.perf_counter() - t0
            diff = [k for k in COMPARED if got.get(k) != expected[q][k]]
            with lock:
                latencies.append(elapsed)
                if diff:
                    mismatches.append(f"client {i}: {q!r}: {diff}")

    wall0 = time.monotonic()
    with cf.ThreadPoolExecutor(max_workers=CLIENTS, thread_name_prefix="load-user") as pool:
        futures = [pool.submit(user, i) for i in range(CLIENTS)]
        done, not_done = cf.wait(futures, timeout=OVERALL_TIMEOUT + 30)
        for f in not_done:
            f.cancel()
    wall = time.monotonic() - wall0
    assert not not_done, f"{len(not_done)} users still running after {OVERALL_TIMEOUT + 30:.0f} s"
    for f in done:
        f.result()  # a bug in `user` itself surfaces here

    requests = CLIENTS * len(QUESTIONS)
    report = {
        "clients": CLIENTS,
        "requests": requests,
        "completed": len(latencies),
        "errors": len(errors),
        "mismatches": len(mismatches),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95) * 1000, 1) if latencies else None,
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "wall_s": round(wall, 1),
        "throughput_rps": round(len(latencies) / wall, 2) if wall else None,
    }
    with capsys.disabled():
        print(f"\nload: {json.dumps(report)}")
    if os.environ.get("QA_LOAD_REPORT"):
        with open(os.environ["QA_LOAD_REPORT"], "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)

    assert not errors, errors[:10]
    assert not mismatches, mismatches[:10]
    assert len(latencies) == requests
