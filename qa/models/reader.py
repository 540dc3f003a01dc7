"""Span reader: reads the question with a stretch of sentences and scores each sentence by the best
answer span inside it.

A sentence-pair cross-encoder sees one sentence at a time, so it cannot tell that "他" in a
sentence is the person asked about, or that the sentence before sets the scene. The reader
sees a window of consecutive sentences of one paragraph after the question and, like an
extractive QA model, gives every token a start and an end logit (e5-small + LoRA + a
two-output head, trained by `python -m qa train --kind span`). A sentence's score is its best
span (start + end logit, start <= end, at most `MAX_ANSWER_TOKENS` apart) minus the window's
no-answer score (the logits of the first token, trained on windows that hold no answer).

The passage is tokenized sentence by sentence and the pieces are joined, so which tokens
belong to which sentence is known without character offsets: the same code serves the
`tokenizers` form (training, torch) and the sentencepiece form (ONNX, no torch).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .base import PASSAGE_PREFIX, QUERY_PREFIX

MAX_ANSWER_TOKENS = 40  # longest answer span considered (tokens); DRCD/CMRC answers are shorter
NO_ANSWER = 0  # token position whose start/end logits say "no answer in this window" (<s>)

Pieces = Callable[[list[str]], list[list[int]]]  # texts -> token ids each, no special tokens


@dataclass(frozen=True)
class EncodedWindow:
    """Token ids of <s> query </s></s> passage-sentences </s>, and each sentence's token range."""

    ids: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]  # [start, end) per sentence; (0, 0) when cut off by max_length


def encode_window(pieces: Pieces, special: tuple[int, int], question: str, sentences: Sequence[str],
                  max_length: int, question_tokens: int = 64) -> EncodedWindow:
    """The reader's input for one window; sentences that do not fit in `max_length` get an empty range."""
    bos, eos = special
    encoded = pieces([QUERY_PREFIX + question, PASSAGE_PREFIX] + list(sentences))
    q = encoded[0][:question_tokens]
    ids = [bos, *q, eos, eos, *encoded[1]]
    spans = []
    for sent in encoded[2:]:
        room = max_length - 1 - len(ids)
        if room <= 0 or not sent:
            spans.append((0, 0))
            continue
        sent = sent[:room]
        spans.append((len(ids), len(ids) + len(sent)))
        ids += sent
    ids.append(eos)
    return EncodedWindow(tuple(ids), tuple(spans))


def passage_windows(lengths: Sequence[int], room: int) -> list[tuple[int, int]]:
    """Sentence ranges [lo, hi) that cover a passage whose sentences have `lengths` tokens, each range
    holding at most `room` tokens (a longer sentence alone); the next range starts at the middle
    sentence of the previous one, so a sentence near a window's edge is read with context in the next
    (a stride of about half a window, in whole sentences)."""
    n = len(lengths)
    windows: list[tuple[int, int]] = []
    lo = 0
    while lo < n:
        hi, used = lo, 0
        while hi < n and (hi == lo or used + lengths[hi] <= room):
            used += lengths[hi]
            hi += 1
        windows.append((lo, hi))
        if hi >= n:
            break
        lo = max(lo + 1, (lo + hi) // 2 if hi - lo > 1 else hi)
    return windows


def window_room(max_length: int, question_tokens: int, prefix_tokens: int) -> int:
    """Passage tokens that fit in one reader input after the question and the special tokens."""
    return max(1, max_length - 4 - question_tokens - prefix_tokens)


def pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and attention mask of token-id rows (windows' `ids`, tokenized texts), padded to the longest."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)], mask[i, : len(r)] = r, 1
    return ids, mask


def best_span(start: np.ndarray, end: np.ndarray, lo: int, hi: int, longest: int = MAX_ANSWER_TOKENS) -> float:
    """max over lo <= s <= e < min(hi, s + longest) of start[s] + end[e]."""
    if hi <= lo:
        return -np.inf
    n = hi - lo
    # best end within `longest` tokens of each start: a sliding-window max over the end logits
    ends = np.concatenate([end[lo:hi], np.full(longest - 1, -np.inf, dtype=end.dtype)])
    reach = np.lib.stride_tricks.sliding_window_view(ends, longest)[:n].max(axis=1)
    return float((start[lo:hi] + reach).max())


def best_span_at(start: np.ndarray, end: np.ndarray, lo: int, hi: int,
                 longest: int = MAX_ANSWER_TOKENS) -> tuple[int, int] | None:
    """The (first, last) token of `best_span`'s span, or None for an empty range."""
    if hi <= lo:
        return None
    n = hi - lo
    ends = np.concatenate([end[lo:hi], np.full(longest - 1, -np.inf, dtype=end.dtype)])
    windows = np.lib.stride_tricks.sliding_window_view(ends, longest)[:n]
    s = int(np.argmax(start[lo:hi] + windows.max(axis=1)))
    return lo + s, lo + s + int(np.argmax(windows[s]))


def piece_offsets(text: str, pieces: Sequence[str]) -> list[tuple[int, int]] | None:
    """Character range of each sentencepiece piece in `text` ("▁" marks a space or a word start), or
    None when the pieces do not spell `text`. The tokenizer reads NFKC-normalised text ("，" as ","),
    so the pieces are matched against each character's NFKC form and mapped back."""
    import unicodedata

    norm, owner = [], []  # the NFKC text, and which character of `text` each of its characters came from
    for i, ch in enumerate(text):
        for n in unicodedata.normalize("NFKC", ch):
            norm.append(n)
            owner.append(i)
    norm_text = "".join(norm)
    out, pos = [], 0
    for piece in pieces:
        bare = piece.replace("\u2581", " ").strip()
        while pos < len(norm_text) and norm_text[pos].isspace():
            pos += 1
        if not bare:
            at = owner[pos] if pos < len(owner) else len(text)
            out.append((at, at))
            continue
        if not norm_text.startswith(bare, pos):
            return None
        out.append((owner[pos], owner[pos + len(bare) - 1] + 1))
        pos += len(bare)
    return out


def sentence_scores(logits: np.ndarray, window: EncodedWindow) -> np.ndarray:
    """Per sentence of `window`: best span score minus the no-answer score (logits: (tokens, 2))."""
    start, end = logits[:, 0], logits[:, 1]
    null = float(start[NO_ANSWER] + end[NO_ANSWER])
    return np.array([best_span(start, end, lo, hi) - null for lo, hi in window.spans], dtype=np.float32)


class SpanReader:
    """Scores windows of sentences with a token-logit model (`run(ids, mask) -> (batch, tokens, 2)`)."""

    def __init__(self, run, pieces: Pieces, special: tuple[int, int], pad_id: int, max_length: int, config=None,
                 threads: int = 1, id_to_piece: Callable[[list[int]], list[str]] | None = None):
        self._run, self._pieces, self._special, self._pad = run, pieces, special, pad_id
        self._id_to_piece = id_to_piece
        self.max_length = max_length
        self.config = config
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="reader") if threads > 1 else None
        self._reading = 0  # questions being read now: with more than one, the cores are busy already
        self._reading_lock = threading.Lock()

    def read_passage(self, question: str, sentences: Sequence[str]) -> tuple[np.ndarray, list]:
        """One score per sentence of a whole passage, read in windows of `max_length` tokens with a
        stride (`passage_windows`): each sentence gets its best score over the windows that hold it;
        and each sentence's best answer span as a character range of the sentence (None when unknown)."""
        if not sentences:
            return np.zeros(0, dtype=np.float32), []
        pieces = self._pieces([QUERY_PREFIX + question, PASSAGE_PREFIX] + list(sentences))
        room = window_room(self.max_length, min(len(pieces[0]), 64), len(pieces[1]))
        ranges = passage_windows([len(p) for p in pieces[2:]], room)
        scores = np.full(len(sentences), -np.inf, dtype=np.float32)
        spans: list = [None] * len(sentences)
        read = self._read([encode_window(self._pieces, self._special, question, sentences[lo:hi], self.max_length)
                           for lo, hi in ranges])
        for (lo, hi), (window, logits) in zip(ranges, read):
            got = sentence_scores(logits, window)
            for i, x in enumerate(got):
                if x > scores[lo + i]:
                    scores[lo + i] = x
                    spans[lo + i] = self._char_span(sentences[lo + i], window, logits, i)
        return scores, spans

    def _char_span(self, sentence: str, window: EncodedWindow, logits: np.ndarray, i: int) -> tuple[int, int] | None:
        """The best span inside sentence `i` of `window` as characters of `sentence`."""
        lo, hi = window.spans[i]
        at = best_span_at(logits[:, 0], logits[:, 1], lo, hi)
        if at is None or self._id_to_piece is None:
            return None
        offsets = piece_offsets(sentence, self._id_to_piece(list(window.ids[lo:hi])))
        if offsets is None:
            return None
        start, end = offsets[at[0] - lo][0], offsets[at[1] - lo][1]
        return (start, end) if end > start else None

    def read_windows(self, question: str, windows: Sequence[Sequence[str]]) -> list[tuple[np.ndarray, list]]:
        """`score_windows` with each sentence's best answer span (characters of the sentence, or None)."""
        encoded = [encode_window(self._pieces, self._special, question, w, self.max_length) for w in windows]
        out = []
        for sentences, (window, logits) in zip(windows, self._read(encoded)):
            scores = sentence_scores(logits, window)
            spans = [self._char_span(t, window, logits, i) if np.isfinite(x) else None
                     for i, (t, x) in enumerate(zip(sentences, scores))]
            out.append((scores, spans))
        return out

    def score_windows(self, question: str, windows: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """For each window (consecutive sentences), one score per sentence: how likely it holds the answer."""
        if not windows:
            return []
        encoded = [encode_window(self._pieces, self._special, question, w, self.max_length) for w in windows]
        return [sentence_scores(logits, w) for w, logits in self._read(encoded)]

    def _read(self, encoded: list[EncodedWindow]) -> list[tuple[EncodedWindow, np.ndarray]]:
        """Each window with its (tokens, 2) start / end logits."""
        if not encoded:
            return []

        # One window per run: on CPU, padding windows of uneven length to a batch costs more than
        # batching saves; `threads` windows run at the same time (Settings.reader_threads).
        def score(w: EncodedWindow) -> tuple[EncodedWindow, np.ndarray]:
            ids, mask = pad([w.ids], self._pad)
            return w, self._run(ids, mask)[0]

        with self._reading_lock:
            self._reading += 1
            alone = self._reading == 1
        try:
            # Threads only for a question read alone: under load the other requests keep the cores busy
            # anyway (tests/test_load.py, 20 web users: 5.3-6.8 requests/s over four runs this way, 6.0
            # in one run always threaded: within this machine's run-to-run spread).
            if self._pool is None or len(encoded) == 1 or not alone:
                return [score(w) for w in encoded]
            return list(self._pool.map(score, encoded))
        finally:
            with self._reading_lock:
                self._reading -= 1
