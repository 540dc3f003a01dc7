"""A real chat server for the live tests: the app with the real engine, on a free port.

`live_app()` runs it in this process (the engine loads once per process and is
shared); `app_subprocess()` runs `python app.py --port N` exactly as a user would.
Both wait for readiness with a bounded timeout and always shut the server down.
"""
from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

PROJECT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = float(os.environ.get("QA_LIVE_TIMEOUT", "180"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = READY_TIMEOUT, proc: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers 200; fail after `timeout` s or if `proc` dies."""
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with opener.open(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.25)
    raise TimeoutError(f"{url} not up after {timeout:.0f} s (last error: {last})")


@functools.lru_cache(maxsize=1)
def shared_engine():
    """The real engine over the project's seeds/ and index/, loaded once per process."""
    import qa

    return qa.QA()


@contextlib.contextmanager
def live_app(engine=None) -> Iterator[str]:
    """Serve `build_app(engine)` on 127.0.0.1:<free port> in a background thread; yield its URL."""
    sys.path.insert(0, str(PROJECT))
    import app

    demo = app.build_app(engine if engine is not None else shared_engine())
    port = free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, share=False,
        **app.launch_kwargs(),
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, timeout=60)
        yield url
    finally:
        demo.close()


@dataclass
class Served:
    url: str
    log: Path  # the subprocess's stdout+stderr

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def app_subprocess(*args: str, log_dir: Path) -> Iterator[Served]:
    """Run `python app.py --port N [args]` from the project folder; yield its URL and log."""
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    env.pop("GRADIO_SERVER_NAME", None)
    served = Served(f"http://127.0.0.1:{port}/", Path(log_dir) / f"app-{port}.log")
    with open(served.log, "w") as log:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(
            [sys.executable, str(PROJECT / "app.py"), "--port", str(port), *args],
            cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
    try:
        try:
            wait_until_up(served.url, proc=proc)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n--- app.py output ---\n{served.output()[-4000:]}") from None
        yield served
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
