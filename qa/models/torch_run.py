"""The torch runtime: the base transformer, the trained reader's weights, and the torch modules.

Only training, exporting and `Runtime.TORCH` need this module's functions; they import torch and
transformers when called, so importing the module costs nothing.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from .base import FULL, HEAD, ScorerConfig, ScorerError
from .reader import SpanReader


def fingerprint(encoder) -> str:
    """sha256 of the word-embedding matrix: identifies the base weights, not just their name."""
    weights = encoder.get_input_embeddings().weight.detach().cpu().numpy()
    return hashlib.sha256(np.ascontiguousarray(weights, dtype=np.float32).tobytes()).hexdigest()[:16]


def mean_pool(hidden, mask):
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def encoder_inputs(tokens) -> dict:
    """The transformer's keyword for `tokens`: ids (torch inference) or word embeddings (what the
    ONNX exports take, so the lookup table can stay outside the graph; `qa.onnx_run`)."""
    return {"inputs_embeds": tokens} if tokens.is_floating_point() else {"input_ids": tokens}


def load_base(model_dir: Path):
    """Tokenizer and bare transformer of the rebuilt e5-small in `model_dir`."""
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir)), AutoModel.from_pretrained(str(model_dir))


def keep_layers(encoder, layers: int) -> None:
    """Keep only the first `layers` transformer layers of `encoder` (a smaller, faster reader)."""
    encoder.encoder.layer = encoder.encoder.layer[:layers]
    encoder.config.num_hidden_layers = layers


def save_full(encoder, folder: Path) -> None:
    """The fine-tuned weights of `encoder` in fp16, without the word-embedding table (never trained)."""
    from safetensors.torch import save_file

    skip = "embeddings.word_embeddings.weight"
    save_file({k: v.detach().half().contiguous() for k, v in encoder.state_dict().items() if k != skip},
              str(folder / FULL))


def load_full(encoder, folder: Path) -> None:
    """Load `save_full`'s weights into `encoder` (already cut to the same number of layers)."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(folder / FULL)).items()}
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"embeddings.word_embeddings.weight"}:
        raise ScorerError(f"{folder / FULL} does not fit the base model (missing {len(missing)}, "
                          f"unexpected {len(unexpected)} weights); restore it from git or retrain it.")


def load_weights(encoder, folder: Path):
    """`encoder` (already cut to the reader's layers) with the trained reader in `folder` in it: its fully
    fine-tuned weights loaded, or its LoRA adapter merged."""
    from peft import PeftModel

    if (folder / FULL).exists():
        load_full(encoder, folder)
        return encoder
    return PeftModel.from_pretrained(encoder, str(folder)).merge_and_unload()


def load_trained(model_dir: Path, base_label: str, folder: Path):
    """(config, tokenizer, encoder with the adapter merged, head tensors) of the trained model in `folder`,
    checked against the base weights in `model_dir`."""
    from safetensors.torch import load_file

    config = ScorerConfig.read(folder).for_base(base_label, folder)
    tokenizer, encoder = load_base(model_dir)
    if fingerprint(encoder) != config.base_fingerprint:
        raise ScorerError(f"The answer scorer in {folder} was trained on other base weights than those in "
                          f"{model_dir}; rebuild the model (make clean) or retrain the scorer.")
    try:
        if config.layers:
            keep_layers(encoder, config.layers)
        encoder = load_weights(encoder, folder)
        head = load_file(str(folder / HEAD))
    except ScorerError:
        raise
    except Exception as exc:
        raise ScorerError(f"The answer scorer in {folder} cannot be loaded ({type(exc).__name__}: {exc}); "
                          "restore it from git or retrain it.") from None
    return config, tokenizer, encoder.eval(), head


def head_module(bert, weight=None, bias=None):
    """The torch module that runs `bert` (inputs: ids or word embeddings, and the attention mask): with a
    head (`weight`, `bias`), its hidden states through the head per token — (batch, tokens, outputs),
    the span reader's start / end logits; without, their mean, L2-normalised — (batch, width), a
    sentence embedding. What TorchReader runs and what the ONNX exports are made from."""
    import torch

    class EncoderHead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert
            self.weight = None if weight is None else torch.nn.Parameter(weight.clone(), requires_grad=False)
            self.bias = None if bias is None else torch.nn.Parameter(bias.clone(), requires_grad=False)

        def forward(self, tokens, attention_mask):
            hidden = self.bert(**encoder_inputs(tokens), attention_mask=attention_mask).last_hidden_state
            if self.weight is None:
                return torch.nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)
            return hidden @ self.weight.T + self.bias

    return EncoderHead()


class TorchReader(SpanReader):
    """The trained reader in `folder` (adapter merged into the base in `model_dir`), run by torch."""

    def __init__(self, model_dir, base_label: str, folder, threads: int = 1):
        import torch

        config, tokenizer, self.encoder, head = load_trained(model_dir, base_label, folder)
        self.weight, self.bias = head["weight"], head["bias"]
        lock = threading.Lock()  # HF fast tokenizers are not safe to share across threads

        def pieces(texts: list[str]) -> list[list[int]]:
            with lock:
                return tokenizer(texts, add_special_tokens=False)["input_ids"]

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return self.module()(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()

        super().__init__(run, pieces, (tokenizer.bos_token_id, tokenizer.eos_token_id), tokenizer.pad_token_id,
                         config.max_length, config, threads, id_to_piece=tokenizer.convert_ids_to_tokens)

    def module(self):
        """A torch module (ids or word embeddings, mask) -> (batch, tokens, 2) start / end logits (also
        what ONNX exports, from embeddings)."""
        return head_module(self.encoder, self.weight, self.bias)
