"""Fixtures of the browser tests: one Chromium and one live chat server per test session.

Skipped when /usr/bin/chromium or playwright is missing, unless QA_REQUIRE_BROWSER=1.
Uploads go to a temporary copy of seeds/ (`docs_server`), never to the project's own folder.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from support.browser import CHROMIUM, CHROMIUM_ARGS, open_page
from support.live_server import PROJECT, live_app, shared_engine


def _unavailable(reason: str):
    if os.environ.get("QA_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (QA_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Scripted:
    """The real engine, answering `delay` seconds late (the waiting state becomes observable), and
    giving a hand-made `Answer` for the questions in `scripted` (question -> function of the engine),
    for the kinds of answer the live engine does not give on demand."""

    def __init__(self, engine):
        self._engine = engine
        self.delay = 0.0
        self.scripted: dict = {}

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def answer(self, question, k=None, **kwargs):
        time.sleep(self.delay)
        if question in self.scripted:
            return self.scripted[question](self._engine)
        return self._engine.answer(question, k, **kwargs)


@pytest.fixture(scope="session")
def engine():
    return Scripted(shared_engine())


@pytest.fixture(scope="session")
def server(engine):
    with live_app(engine) as url:
        yield url


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server)
    try:
        yield page
    finally:
        page.context.close()


@pytest.fixture(scope="session")
def docs_server(tmp_path_factory):
    """A server over a temporary copy of seeds/, so uploads and removals touch nothing of the project."""
    import qa

    root = tmp_path_factory.mktemp("browser-docs")
    docs = root / "docs"
    docs.mkdir()
    shutil.copyfile(PROJECT / "seeds" / "hezhang-poverty-alleviation.txt", docs / "hezhang-poverty-alleviation.txt")
    engine = qa.QA(docs=docs, index_dir=root / "index")
    with live_app(engine) as url:
        yield url, docs, engine
