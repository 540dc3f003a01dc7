"""Shared fixtures: the embedding model loads once per test session."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tests never reach a model hub
sys.path.insert(0, str(Path(__file__).parent))

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model():
    from qa.embedding import load_model

    return load_model()
