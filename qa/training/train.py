"""`python -m qa train`: train the span reader (qa/models/reader.py) on SQuAD-format files.

Each answerable question whose answer lies in one sentence gives a window of its paragraph holding
the answer (target: the answer's first and last token), and for some questions windows that do not
hold it — another paragraph's, their own paragraph without the answer, or the answer's window read
with a near-miss question (target: no answer, the first token). The loss is the cross-entropy of
the start and of the end position. The encoder is fine-tuned in full (word embeddings frozen) or
through a LoRA adapter, with a two-output head (docs/models.md).

Seeded; a time budget (`--minutes`) sets the number of steps after timing the first
few, so the learning-rate schedule still ends at zero.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import squad
from ..models.base import KIND
from ..models.reader import EncodedWindow

log = logging.getLogger(__name__)


def paragraph_units(context: str, max_chars: int = 150) -> list[tuple[int, int]]:
    """Quote units of a paragraph, exactly as the index cuts them."""
    from ..index import faiss_store as index_mod
    from ..types import Document

    return index_mod.quote_units(Document("p", context, ""), max_chars)


@dataclass(frozen=True)
class ReadExample:
    """One window for the span reader and its answer's first and last token (both 0: no answer here)."""

    window: EncodedWindow
    start: int
    end: int


class _Paragraphs:
    """What both example builders need: each paragraph's quote units and their texts, one BM25 index
    over every unit, and the tokenizer's pieces."""

    def __init__(self, paragraphs: list[squad.SquadParagraph], tokenizer):
        from ..index.lexical import BM25Index

        self.paragraphs, self.tokenizer = paragraphs, tokenizer
        self.units = [paragraph_units(p.context) for p in paragraphs]
        self.texts = [[p.context[s:e] for s, e in us] for p, us in zip(paragraphs, self.units)]
        self.flat = [(pi, ui) for pi, ts in enumerate(self.texts) for ui in range(len(ts))]
        self.bm25 = BM25Index([self.texts[pi][ui] for pi, ui in self.flat])
        self.special = (tokenizer.bos_token_id, tokenizer.eos_token_id)
        # a lone "▁" before CJK text: never an answer's first token
        self.space = tokenizer.convert_tokens_to_ids("\u2581")

    def pieces(self, batch: list[str]) -> list[list[int]]:
        return self.tokenizer(batch, add_special_tokens=False)["input_ids"]

    def answerable(self, desc: str, progress: bool):
        """(paragraph index, question, its first answer, the unit holding that answer) of every answerable
        question whose answer lies inside one unit."""
        from tqdm import tqdm

        for pi, para in enumerate(tqdm(self.paragraphs, desc=desc, disable=not progress)):
            for q in para.questions:
                if not q.question or not q.answers:
                    continue
                a = q.answers[0]
                inside = [k for k, (s, e) in enumerate(self.units[pi]) if s <= a.start and a.end <= e]
                if inside:
                    yield pi, q, a, inside[0]

    def answer_tokens(self, pi: int, k: int, answer) -> list[int]:
        """Positions of the answer's tokens among the tokens of unit `k` of paragraph `pi`."""
        enc = self.tokenizer(self.texts[pi][k], add_special_tokens=False, return_offsets_mapping=True)
        first = self.units[pi][k][0]
        return [i for i, ((s, e), tid) in enumerate(zip(enc["offset_mapping"], enc["input_ids"]))
                if e > answer.start - first and s < answer.end - first and tid != self.space]

    def elsewhere(self, question: str, pi: int, answers: set[str]) -> tuple[int, int] | None:
        """(paragraph, unit) of the best BM25 unit of another paragraph without the answer."""
        for j in np.argsort(-self.bm25.scores(question))[:20]:
            pj, uj = self.flat[int(j)]
            if pj != pi and not any(x in self.texts[pj][uj] for x in answers):
                return pj, uj
        return None


def build_read_examples(paragraphs: list[squad.SquadParagraph], tokenizer, max_length: int, seed: int,
                        far: float = 0.5, near: float = 0.25, neighbours: int = 3, swap: float = 0.0,
                        progress: bool = True) -> list[ReadExample]:
    """Reader windows from every answerable question whose answer lies inside one sentence: the answer
    sentence with 0..`neighbours` sentences of its paragraph on each side (the answer's tokens are the
    target); with probability `far` a window around the best BM25 sentence of another paragraph, with
    probability `near` a window of the same paragraph without the answer, and with probability `swap`
    the answer's own window read with a near-miss question (`near_miss`) — all three: no answer."""
    from ..models.reader import encode_window

    rng = random.Random(seed)
    ps = _Paragraphs(paragraphs, tokenizer)
    texts = ps.texts

    def around(pi: int, k: int, lo_limit: int = 0, hi_limit: int | None = None) -> tuple[list[str], int]:
        hi_limit = len(texts[pi]) if hi_limit is None else hi_limit
        lo = max(lo_limit, k - rng.randint(0, neighbours))
        hi = min(hi_limit, k + 1 + rng.randint(0, neighbours))
        return texts[pi][lo:hi], k - lo

    def empty(question: str, sentences: list[str]) -> ReadExample:
        return ReadExample(encode_window(ps.pieces, ps.special, question, sentences, max_length), 0, 0)

    pool = entity_pool([q.question for p in paragraphs for q in p.questions]) if swap else {}
    examples = []
    for pi, q, a, k in ps.answerable("reader windows", progress):
        sentences, at = around(pi, k)
        window = encode_window(ps.pieces, ps.special, q.question, sentences, max_length)
        lo, hi = window.spans[at]
        toks = ps.answer_tokens(pi, k, a)
        if not toks or lo + toks[-1] >= hi:
            continue
        examples.append(ReadExample(window, lo + toks[0], lo + toks[-1]))
        answers = {x.text for x in q.answers}
        if swap and rng.random() < swap:
            changed = near_miss(q.question, "".join(sentences), pool, rng)
            if changed:
                examples.append(empty(changed, sentences))
        if rng.random() < far:
            other = ps.elsewhere(q.question, pi, answers)
            if other:
                examples.append(empty(q.question, around(*other)[0]))
        if rng.random() < near:
            others = [j for j in range(len(texts[pi])) if j != k and not any(x in texts[pi][j] for x in answers)]
            if others:
                j = max(others, key=lambda j: ps.bm25.coverage(q.question, texts[pi][j]))
                other, _ = around(pi, j, k + 1 if j > k else 0, k if j < k else None)
                if not any(x in t for t in other for x in answers):
                    examples.append(empty(q.question, other))
    rng.shuffle(examples)
    return examples


def build_passage_examples(paragraphs: list[squad.SquadParagraph], tokenizer, max_length: int, seed: int,
                           far: float = 0.5, near: float = 0.5, progress: bool = True) -> list[ReadExample]:
    """Reader windows as the engine reads a whole passage (`reader.passage_windows`: windows of
    `max_length` tokens, a stride of about half a window, in whole sentences): for every answerable
    question whose answer lies inside one sentence, the window of its paragraph that holds the answer
    sentence nearest its middle (target: the answer's tokens); with probability `near` another window of
    the same paragraph without the answer, with probability `far` the window around the best BM25
    sentence of another paragraph (both: no answer)."""
    from tqdm import tqdm

    from ..models.reader import encode_window, passage_windows, window_room
    from ..models.base import PASSAGE_PREFIX, QUERY_PREFIX

    rng = random.Random(seed)
    ps = _Paragraphs(paragraphs, tokenizer)
    texts = ps.texts
    prefix = len(tokenizer(PASSAGE_PREFIX, add_special_tokens=False)["input_ids"])
    lengths = [[len(ids) for ids in ps.pieces(ts)] if ts else []
               for ts in tqdm(texts, desc="sentence tokens", disable=not progress)]

    def windows(pi: int, question: str) -> list[tuple[int, int]]:
        q = min(64, len(tokenizer(QUERY_PREFIX + question, add_special_tokens=False)["input_ids"]))
        return passage_windows(lengths[pi], window_room(max_length, q, prefix))

    def encode(question: str, pi: int, lo: int, hi: int):
        return encode_window(ps.pieces, ps.special, question, texts[pi][lo:hi], max_length)

    examples = []
    for pi, q, a, k in ps.answerable("passage windows", progress):
        ranges = windows(pi, q.question)
        holding = [(lo, hi) for lo, hi in ranges if lo <= k < hi]
        lo, hi = min(holding, key=lambda r: abs((r[0] + r[1] - 1) / 2 - k))
        window = encode(q.question, pi, lo, hi)
        slo, shi = window.spans[k - lo]
        toks = ps.answer_tokens(pi, k, a)
        if not toks or slo + toks[-1] >= shi:
            continue
        examples.append(ReadExample(window, slo + toks[0], slo + toks[-1]))
        answers = {x.text for x in q.answers}
        if rng.random() < near:
            empty = [(l, h) for l, h in ranges if not any(x in t for t in texts[pi][l:h] for x in answers)]
            if empty:
                l, h = rng.choice(empty)
                examples.append(ReadExample(encode(q.question, pi, l, h), 0, 0))
        if rng.random() < far:
            other = ps.elsewhere(q.question, pi, answers)
            if other:
                pj, uj = other
                l, h = next((l, h) for l, h in windows(pj, q.question) if l <= uj < h)
                if not any(x in t for t in texts[pj][l:h] for x in answers):
                    examples.append(ReadExample(encode(q.question, pj, l, h), 0, 0))
    rng.shuffle(examples)
    return examples


ENTITY_TAGS = ("nr", "ns", "nt", "nz")  # jieba's tags of names of people, places, organisations, other


def entity_pool(questions: list[str]) -> dict[str, list[str]]:
    """The named entities of `questions` by jieba's tag: what `near_miss` swaps in."""
    from ..text.normalise import tagged

    pool: dict[str, set[str]] = {}
    for question in questions:
        for word, flag in tagged(question):
            if flag in ENTITY_TAGS and len(word) >= 2:
                pool.setdefault(flag, set()).add(word)
    return {flag: sorted(words) for flag, words in pool.items()}


def near_miss(question: str, window: str, pool: dict[str, list[str]], rng: random.Random) -> str | None:
    """`question` with one thing the window names swapped for something it does not — a named entity
    for another of the same kind from `pool`, or a figure for another figure — so the window no longer
    answers it (as in SQuAD 2.0's unanswerable questions); None when the question has nothing to swap."""
    from ..text.normalise import tagged

    options = [(w, f) for w, f in tagged(question) if f in ENTITY_TAGS and len(w) >= 2 and w in window]
    options += [(d, "figure") for d in dict.fromkeys(re.findall(r"\d+", question)) if d in window]  # ordered: seeded runs repeat
    if not options:
        return None
    word, flag = rng.choice(options)
    if flag == "figure":
        other = str(int(word) + rng.choice([-3, -2, -1, 1, 2, 3]) * (1 if len(word) < 4 else rng.randint(1, 5)))
    else:
        choices = [w for w in rng.sample(pool.get(flag, []), min(20, len(pool.get(flag, [])))) if w not in window]
        if not choices:
            return None
        other = choices[0]
    if other in window or other == word:
        return None
    return question.replace(word, other, 1)


class _Model:
    """e5 encoder (fine-tuned in full or with LoRA) and the start / end head: the training form of
    the span reader."""

    def __init__(self, model_dir: Path, rank: int, alpha: int, dropout: float, resume: Path | None = None,
                 tuning: str = "lora", layers: int | None = None):
        import torch
        from peft import LoraConfig, PeftModel, get_peft_model
        from safetensors.torch import load_file

        from ..models.base import HEAD, ScorerConfig, ScorerError
        from ..models.torch_run import fingerprint, keep_layers, load_base, load_weights

        self.tokenizer, base = load_base(model_dir)
        self.fingerprint = fingerprint(base)
        self.tuning = tuning
        if resume is not None and ScorerConfig.read(resume).base_fingerprint != self.fingerprint:
            raise ScorerError(f"{resume} was trained on other base weights; it cannot be resumed here.")
        if layers:
            keep_layers(base, layers)
        self.head = torch.nn.Linear(base.config.hidden_size, 2)  # start and end logit per token
        if tuning == "full":  # every transformer layer trained; the word-embedding table stays frozen (shared)
            # a LoRA reader goes on in full: its adapter is merged into the weights first
            self.encoder = base if resume is None else load_weights(base, resume)
            self.encoder.get_input_embeddings().weight.requires_grad_(False)
        elif resume is not None:  # go on from a trained adapter (same base weights only)
            self.encoder = PeftModel.from_pretrained(base, str(resume), is_trainable=True)
        else:
            self.encoder = get_peft_model(base, LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout,
                                                           target_modules=r".*encoder.*\.(query|key|value|dense)"))
        if resume is not None:  # and from its head
            head = load_file(str(resume / HEAD))
            with torch.no_grad():
                self.head.weight.copy_(head["weight"])
                self.head.bias.copy_(head["bias"])
        else:
            torch.nn.init.normal_(self.head.weight, std=0.02)
            torch.nn.init.zeros_(self.head.bias)

    def parameters(self):
        return [p for p in self.encoder.parameters() if p.requires_grad] + list(self.head.parameters())

    def token_logits(self, ids, mask):
        """(batch, tokens, outputs): the span reader's start / end logits."""
        return self.head(self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state)

    def save(self, folder: Path, config: dict) -> None:
        """Write adapter, head and scorer.json to `folder` atomically (tmp folder, then rename)."""
        from safetensors.torch import save_file

        from ..models.base import CONFIG, HEAD
        from ..models.torch_run import save_full

        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        if self.tuning == "full":
            tmp.mkdir(parents=True)
            save_full(self.encoder, tmp)
        else:
            self.encoder.save_pretrained(str(tmp))
        save_file({"weight": self.head.weight.detach().clone().contiguous(),
                   "bias": self.head.bias.detach().clone().contiguous()}, str(tmp / HEAD))
        (tmp / CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
        (tmp / "README.md").unlink(missing_ok=True)  # peft's model-card template says nothing true here
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)


def train(items: list, out: Path, model_dir: Path, base_label: str, *, epochs: float = 1.0, questions_per_batch: int = 8, lr: float = 5e-4, rank: int = 16, alpha: int = 32,
          max_length: int = 128, minutes: float | None = None, steps: int | None = None, seed: int = 0,
          save_every: int = 100, data_note: str = "", resume: Path | None = None, tuning: str = "lora",
          layers: int | None = None, reads: str = "window", head_lr: float | None = None) -> dict:
    """Train and save the span reader (`ReadExample` items) to `out`;
    returns the record written to scorer.json['trained']."""
    import torch
    from tqdm import tqdm

    torch.manual_seed(seed)
    random.seed(seed)
    model = _Model(model_dir, rank, alpha, dropout=0.05, resume=resume, tuning=tuning, layers=layers)
    before = {}
    if resume is not None:
        from ..models.base import ScorerConfig

        before = ScorerConfig.read(resume).trained
    params = model.parameters()
    # The head starts from random weights: with full fine-tuning's small encoder rate it learns too slowly
    # (a 467-batch run at 6e-5 learned only "no answer"), so it may get a rate of its own.
    head = list(model.head.parameters())
    body = [p for p in params if all(p is not h for h in head)]
    optimizer = torch.optim.AdamW([{"params": body, "scale": 1.0},
                                   {"params": head, "scale": (head_lr or lr) / lr}], lr=lr, weight_decay=0.01)
    batches = [items[i : i + questions_per_batch] for i in range(0, len(items), questions_per_batch)]
    planned = steps or max(1, int(len(batches) * epochs))
    total = planned
    warmup = max(1, total // 20)
    t0 = time.perf_counter()
    record = {"data": data_note, "items": len(items), "questions_per_batch": questions_per_batch, "lr": lr,
              "tuning": tuning, "seed": seed, "planned_steps": planned, "head_lr": head_lr or lr}
    if tuning == "lora":
        record |= {"lora_rank": rank, "lora_alpha": alpha}
    if before:
        record["resumed_from"] = before  # the earlier run(s) this one continues
    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    model.encoder.train()
    bar = tqdm(total=total, desc="training", unit="batch")
    losses: list[float] = []
    step = 0
    while step < total:
        loss = _span_loss(model, batches[step % len(batches)], max_length)
        for group_ in optimizer.param_groups:
            group_["lr"] = lr * group_["scale"] * schedule(step)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        if step == 3:
            t3 = time.perf_counter()  # the first steps are slow (allocation); time the next ten
        if step == 13 and minutes:  # fit the schedule to the time budget
            per_step = (time.perf_counter() - t3) / 10
            total = max(step + 1, min(planned, int((minutes * 60 - (t3 - t0)) / per_step)))
            warmup = min(warmup, total // 20 or 1)
            bar.total = total
            bar.refresh()
            log.warning("%.1f s per batch: %d steps fit in %.0f minutes (planned %d)", per_step, total, minutes,
                        planned)
        if step % save_every == 0 or step == total:
            record |= {"steps": step, "seconds": round(time.perf_counter() - t0), "loss_last50": round(
                float(np.mean(losses[-50:])), 4)}
            model.save(out, {"base_model": base_label, "base_fingerprint": model.fingerprint, "kind": KIND,
                             "max_length": max_length, "layers": model.encoder.config.num_hidden_layers,
                             "reads": reads, "trained": record})
    bar.close()
    return record


def _span_loss(model: _Model, batch: list[ReadExample], max_length: int):
    """Cross-entropy of the answer's first and last token over the window's passage tokens and the
    no-answer position (the target of windows without the answer)."""
    import torch

    from ..models.reader import NO_ANSWER, pad

    ids, mask = pad([e.window.ids for e in batch], model.tokenizer.pad_token_id)
    allowed = np.zeros(ids.shape, dtype=bool)
    for i, e in enumerate(batch):
        allowed[i, NO_ANSWER] = True
        for lo, hi in e.window.spans:
            allowed[i, lo:hi] = True
    logits = model.token_logits(torch.from_numpy(ids), torch.from_numpy(mask))
    logits = logits.masked_fill(~torch.from_numpy(allowed).unsqueeze(-1), -1e4)
    starts = torch.tensor([e.start for e in batch])
    ends = torch.tensor([e.end for e in batch])
    ce = torch.nn.functional.cross_entropy
    return (ce(logits[..., 0], starts) + ce(logits[..., 1], ends)) / 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="+", help="SQuAD-format JSON files (traditional characters are converted)")
    p.add_argument("--out", default=None, help="output folder (default: qa/models/answer-scorer)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=None, help="batches to train (overrides --epochs)")
    p.add_argument("--minutes", type=float, default=None, help="time budget; the schedule is fitted to it")
    p.add_argument("--max-questions", type=int, default=None, help="use only this many training windows")
    p.add_argument("--batch-questions", type=int, default=None,
                   help="windows per batch (default 16)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--head-lr", type=float, default=None, help="learning rate of the start/end head (default: --lr)")
    p.add_argument("--rank", type=int, default=16, help="LoRA rank")
    p.add_argument("--far", type=float, default=0.5, help="span: share of questions with a window of another paragraph")
    p.add_argument("--near", type=float, default=0.5,
                   help="span: share of questions with a window of their paragraph without the answer")
    p.add_argument("--swap", type=float, default=0.0,
                   help="span: share of questions also read, against their answer window, with a name, place "
                        "or figure swapped for one the window does not hold (target: no answer)")
    p.add_argument("--max-length", type=int, default=None,
                   help="tokens of question + window (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tuning", default="full", choices=["full", "lora"],
                   help="full: every transformer layer trained (word embeddings frozen); lora: an adapter (--rank)")
    p.add_argument("--layers", type=int, default=None, help="keep only the first N transformer layers (smaller reader)")
    p.add_argument("--reads", default="passage", choices=["passage", "window"],
                   help="span: whole passages in strided windows (passage) or a sentence with 0-3 neighbours")
    p.add_argument("--resume", default=None, help="go on training a scorer folder (its weights and head); with --tuning full a LoRA reader's adapter is merged and trained in full")


def load_part(spec: str) -> list[squad.SquadParagraph]:
    """Paragraphs of `FILE.json`, or of its tuning half only with `FILE.json:tune` (the split the evals
    call tuning; the held-out half is never trained on)."""
    from ..eval.questions import TUNE_SHARE

    path, _, part = spec.partition(":tune")
    paragraphs = squad.load(path)
    return [p for p in paragraphs if p.split(TUNE_SHARE, salt="tune")] if spec.endswith(":tune") else paragraphs


def run(args) -> int:
    from ..models import embedding
    from ..models.base import SCORER_DIR
    from ..models.torch_run import load_base

    max_length = args.max_length or 256
    paragraphs = [p for f in args.data for p in load_part(f)]
    tokenizer, _ = load_base(embedding.ensure_default_model())
    if args.reads == "passage":
        items = build_passage_examples(paragraphs, tokenizer, max_length, args.seed, far=args.far, near=args.near)
    else:
        items = build_read_examples(paragraphs, tokenizer, max_length, args.seed, far=args.far, near=args.near,
                                    swap=args.swap)
    if args.max_questions:
        items = items[: args.max_questions]
    if not items:
        print("error: no answerable question whose answer lies inside one sentence", flush=True)
        return 1
    out = Path(args.out) if args.out else SCORER_DIR
    out.parent.mkdir(parents=True, exist_ok=True)
    note = ", ".join(Path(f).name for f in args.data)
    print(f"{len(items)} reader windows ({sum(e.start > 0 for e in items)} with the answer) from {note}", flush=True)
    record = train(items, out, embedding.ensure_default_model(), embedding.base_model_id(), epochs=args.epochs,
                   questions_per_batch=args.batch_questions or 16, lr=args.lr, rank=args.rank, max_length=max_length,
                   minutes=args.minutes, steps=args.steps, seed=args.seed, data_note=note,
                   resume=Path(args.resume) if args.resume else None, tuning=args.tuning, layers=args.layers,
                   reads=args.reads, head_lr=args.head_lr)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"saved {out} ({size / 1e6:.1f} MB) after {record['steps']} steps in {record['seconds']} s", flush=True)
    return 0
