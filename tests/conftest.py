"""Shared fixtures: the embedding model loads once per test session.

Tests marked `slow` build models or indexes, start live servers, drive the browser or run
load tests; `pytest -m "not slow"` runs the rest in seconds. Modules that are slow as a
whole say so with `pytestmark`; elsewhere every test that needs the `model` fixture
(directly or through another fixture, such as an engine) is marked here.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tests never reach a model hub
sys.path.insert(0, str(Path(__file__).parent))

PROJECT = Path(__file__).resolve().parent.parent


SLOW_FIXTURES = {"model"}  # loading the embedding model is what makes a test slow


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def model():
    from qa.models.loader import load_encoder
    from qa.settings import Runtime

    return load_encoder(runtime=Runtime.TORCH)  # the rebuilt model itself; the ONNX forms are checked against it


@pytest.fixture(scope="session")
def seed_engine(tmp_path_factory, model):
    """An engine over the seed article with the default settings, its index built once per session and
    shared by every module that only asks it questions (tests that build or damage indexes make their own)."""
    from qa.engine import QA

    return QA(index_dir=tmp_path_factory.mktemp("seed-index"))
