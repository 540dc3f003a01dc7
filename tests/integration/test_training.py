"""Training: a reader trained on a tiny SQuAD file loads, scores and exports to ONNX with the same numbers."""
import shutil

import numpy as np
import pytest

from qa.training import squad

pytestmark = pytest.mark.slow  # loads and trains the model


def test_training_a_reader_on_a_tiny_squad_file_runs_end_to_end_and_exports(tmp_path, monkeypatch):
    from qa.models import embedding, onnx_export
    from qa.models.base import ScorerConfig
    from qa.models.onnx_run import OnnxReader
    from qa.models.torch_run import TorchReader, load_base
    from qa.settings import Runtime
    from qa.training.train import build_read_examples, train

    model_dir, label = embedding.ensure_default_model(), embedding.base_model_id()
    tokenizer, _ = load_base(model_dir)
    examples = build_read_examples(squad.load("tests/data/tiny_squad.json"), tokenizer, 96, seed=0, progress=False)
    answered = [e for e in examples if e.start]
    assert answered and all(0 < e.start <= e.end < len(e.window.ids) for e in answered)
    record = train(examples, tmp_path / "r", model_dir, label, questions_per_batch=4, rank=4,
                   alpha=8, max_length=96, steps=2, seed=0)
    assert record["steps"] == 2
    assert ScorerConfig.read(tmp_path / "r").max_length == 96
    torch_reader = TorchReader(model_dir, label, tmp_path / "r")
    windows = [["全镇共有茶园三千亩。", "年产干茶一百二十吨。"], ["这座大桥全长八百米。"]]
    a = torch_reader.score_windows("云雾镇共有多少亩茶园？", windows)
    assert [len(x) for x in a] == [2, 1] and all(np.isfinite(x).all() for x in a)
    monkeypatch.setattr(onnx_export, "onnx_dir", lambda: tmp_path / "onnx")
    path = onnx_export.ensure_reader(tmp_path / "r", model_dir, Runtime.ONNX_FP32, lambda: torch_reader)
    pieces = onnx_export.ensure_tokenizer(model_dir)
    b = OnnxReader(path, model_dir, torch_reader.config, pieces).score_windows("云雾镇共有多少亩茶园？", windows)
    assert np.abs(np.concatenate(a) - np.concatenate(b)).max() < 1e-3


def test_full_fine_tuning_goes_on_from_a_lora_reader_and_a_smaller_reader_keeps_its_layers(tmp_path):
    """`train --tuning full --resume LORA_FOLDER`: the adapter is merged into the weights and every layer
    trained (word embeddings frozen, not saved); `--layers 2` ships a two-layer reader; a weight file
    that does not fit gives a clear message."""
    from safetensors.torch import load_file

    from qa.models import embedding
    from qa.models.base import FULL, ScorerConfig, ScorerError
    from qa.models.torch_run import TorchReader, load_base
    from qa.training.train import build_passage_examples, train

    model_dir, label = embedding.ensure_default_model(), embedding.base_model_id()
    tokenizer, _ = load_base(model_dir)
    examples = build_passage_examples(squad.load("tests/data/tiny_squad.json"), tokenizer, 96, seed=0,
                                      progress=False)
    assert any(e.start for e in examples) and any(not e.start for e in examples)
    common = dict(questions_per_batch=4, max_length=96, steps=1, seed=0, reads="passage")
    train(examples, tmp_path / "lora", model_dir, label, rank=4, alpha=8, lr=5e-3, **common)
    # a learning rate too small to move anything: the merged full reader reads as the LoRA reader did
    train(examples, tmp_path / "full", model_dir, label, tuning="full", resume=tmp_path / "lora", lr=1e-12, **common)
    saved = load_file(str(tmp_path / "full" / FULL))
    assert "embeddings.word_embeddings.weight" not in saved and not (tmp_path / "full" / "adapter_config.json").exists()
    question, windows = "云雾镇共有多少亩茶园？", [["全镇共有茶园三千亩。", "年产干茶一百二十吨。"]]
    lora = TorchReader(model_dir, label, tmp_path / "lora").score_windows(question, windows)[0]
    full = TorchReader(model_dir, label, tmp_path / "full").score_windows(question, windows)[0]
    assert np.abs(lora - full).max() < 0.05  # fp16 weights

    train(examples, tmp_path / "small", model_dir, label, tuning="full", layers=2, lr=1e-4, **common)
    assert ScorerConfig.read(tmp_path / "small").layers == 2
    small = TorchReader(model_dir, label, tmp_path / "small")
    assert len(small.encoder.encoder.layer) == 2
    assert np.isfinite(small.score_windows(question, windows)[0]).all()
    shutil.copy(tmp_path / "small" / FULL, tmp_path / "full" / FULL)  # two layers' weights for twelve
    with pytest.raises(ScorerError, match="does not fit the base model"):
        TorchReader(model_dir, label, tmp_path / "full")
