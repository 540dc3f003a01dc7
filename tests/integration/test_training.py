"""Training: a reader trained on a tiny SQuAD file loads, scores and exports to ONNX with the same numbers."""
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
