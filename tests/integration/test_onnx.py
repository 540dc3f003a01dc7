"""The ONNX forms of both models: they agree with torch, a half-written export is never loaded,
and answering with them imports no torch."""
import json
import subprocess
import sys

import numpy as np
import pytest

from qa.models import embedding, loader, onnx_export
from qa.models.base import SCORER_DIR
from qa.settings import PROJECT_DIR, Runtime
from support.scoring import sentence_scores
from support.varied_texts import varied_texts

pytestmark = pytest.mark.slow

QUESTION = "云雾镇共有多少亩茶园？"
SENTENCES = ["全镇共有茶园三千亩，年产干茶一百二十吨。", "镇上的茶叶合作社成立于2015年。", "这座大桥全长八百米。",
             "云雾镇位于山区北部。"]


def test_int8_encoder_embeds_like_the_fp32_model(model):
    texts = varied_texts()
    int8 = loader.load_encoder(runtime=Runtime.ONNX_INT8)
    cos = (int8.passages(texts) * embedding.encode_passages(model, texts)).sum(axis=1)
    assert cos.mean() >= 0.99, cos.mean()
    q_cos = (int8.queries(texts[:50]) * embedding.encode_queries(model, texts[:50])).sum(axis=1)
    assert q_cos.mean() >= 0.99, q_cos.mean()


def test_quantized_vectors_get_an_index_of_their_own():
    """Quantized and fp32 vectors are never mixed in one index: the manifest's model label differs."""
    labels = {embedding.model_id(None, r) for r in (Runtime.ONNX_INT8, Runtime.TORCH)}
    assert len(labels) == 2
    assert embedding.model_id(None, Runtime.ONNX_FP32) == embedding.model_id(None, Runtime.TORCH)


def test_onnx_reader_scores_like_torch():
    torch_logits = sentence_scores(loader.load_reader(SCORER_DIR, runtime=Runtime.TORCH), QUESTION, SENTENCES)
    fp32 = sentence_scores(loader.load_reader(SCORER_DIR, runtime=Runtime.ONNX_FP32), QUESTION, SENTENCES)
    assert fp32.shape == (4,) and fp32.argmax() == torch_logits.argmax() == 0
    assert np.abs(fp32 - torch_logits).max() < 1e-3, "fp32 ONNX gives torch's numbers"
    # the shipped reader in int8: the same sentence first, scores in the same order
    int8 = sentence_scores(loader.load_reader(SCORER_DIR, runtime=Runtime.ONNX_INT8), QUESTION, SENTENCES)
    assert list(np.argsort(int8)) == list(np.argsort(torch_logits)), (int8, torch_logits)


def test_every_graph_reads_one_exact_memory_mapped_word_embedding_table(model):
    """The 250k-row lookup table is not inside the exported files: it is the base model's own fp32
    weights, read from disk row by row as tokens need them and shared, so an ONNX model costs a
    quarter of its fp32 size."""
    from qa.models.onnx_run import word_embeddings

    model_dir = embedding.ensure_default_model()
    table = word_embeddings(model_dir)
    assert table is word_embeddings(model_dir)
    torch_table = model.model[0].auto_model.get_input_embeddings().weight.detach().numpy()
    ids = np.array([[0, 6, 250000], [6, 6, 17]])
    assert table.shape == torch_table.shape and np.array_equal(table[ids], torch_table[ids])
    path = onnx_export.ensure_encoder(model_dir, Runtime.ONNX_FP32)
    assert path.stat().st_size < table.shape[0] * table.shape[1] * 4 / 2, "the table must not be inside the graph"


def test_a_model_file_without_word_embeddings_gives_a_clear_message(tmp_path):
    from qa.models.onnx_run import word_embeddings

    (tmp_path / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(RuntimeError, match="Cannot read the word embeddings.*rebuild the model"):
        word_embeddings(tmp_path)


def test_a_half_written_or_unverified_export_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "onnx_dir", lambda: tmp_path / "onnx")
    path = onnx_export.model_file("encoder", "k", Runtime.ONNX_INT8)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x08\x01 truncated")  # a crash mid-copy: no marker
    assert not onnx_export.is_verified(path)
    record = onnx_export.ExportRecord("encoder", "onnx-int8", "k", 0.997, 0.0, 1.0)
    path.with_suffix(".json").write_text(json.dumps(record.to_dict() | {"bytes": 999}))
    assert not onnx_export.is_verified(path), "a size other than the recorded one means a damaged file"
    path.with_suffix(".json").write_text(json.dumps(record.to_dict() | {"bytes": path.stat().st_size}))
    assert onnx_export.is_verified(path)


def test_a_disagreeing_export_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    """An int8 export that disagrees with torch is refused: asking for it says so and what to use."""
    monkeypatch.setattr(onnx_export, "MIN_INT8_LOGIT_CORRELATION", 1.01)  # no export can pass
    monkeypatch.setattr(onnx_export, "onnx_dir", lambda: tmp_path / "onnx")
    monkeypatch.setattr(loader, "_shared", {})  # not the int8 reader other tests loaded
    with pytest.raises(onnx_export.ExportError, match="disagrees with torch.*'torch'"):
        loader.load_reader(runtime=Runtime.ONNX_INT8)
    assert not list((tmp_path / "onnx").glob("reader-*.json")), "nothing is marked verified"
    assert not list((tmp_path / "onnx").glob("reader-*.onnx*")), "no unverified model file is left behind"


def test_answering_imports_no_torch():
    code = ("import sys, qa; a = qa.answer('十三五期间赫章县累计搬迁安置多少户？'); "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'sklearn', 'gradio', "
            "'matplotlib', 'peft', 'langchain_text_splitters') if m in sys.modules]; "
            "print(a.found, heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True []", out.stdout


def test_sentencepiece_tokenizer_gives_the_ids_of_tokenizer_json():
    """The light tokenizer (sentencepiece) must feed the models exactly what tokenizer.json would:
    texts cut at 512 tokens and question-sentence pairs cut longest-first at 128."""
    from qa.models.onnx_export import ensure_tokenizer
    from qa.models.onnx_run import JsonTokenizer, PieceTokenizer

    model_dir = embedding.ensure_default_model()
    path = ensure_tokenizer(model_dir)
    assert path is not None, "the sentencepiece form failed its check"
    ours, theirs = PieceTokenizer(path), JsonTokenizer(model_dir / "tokenizer.json")
    texts = ["passage: " + t for t in varied_texts()] + ["passage: " + "很长的一段话，" * 400]
    for i in range(0, len(texts), 16):
        for a, b in zip(ours.encode_batch(texts[i : i + 16], 512), theirs.encode_batch(texts[i : i + 16], 512)):
            assert np.array_equal(a, b), texts[i : i + 16]
    pairs = [("query: " + QUESTION * k, "passage: " + t) for k, t in zip((1, 2, 30, 1), texts[:3] + texts[-1:])]
    for a, b in zip(ours.encode_batch(pairs, 128), theirs.encode_batch(pairs, 128)):
        assert np.array_equal(a, b)


def test_the_tokenizer_builds_while_a_model_export_holds_its_lock(tmp_path, monkeypatch):
    """A model export verifies itself with the tokenizer: building that must not wait for the lock
    the export holds (on a fresh machine it did, forever)."""
    import fcntl
    import threading

    monkeypatch.setattr(onnx_export, "onnx_dir", lambda: tmp_path)
    built = []
    with open(tmp_path / ".export.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        worker = threading.Thread(target=lambda: built.append(
            onnx_export.ensure_tokenizer(embedding.ensure_default_model())), daemon=True)
        worker.start()
        worker.join(timeout=120)
    assert built and built[0] is not None and onnx_export.is_verified(built[0])
