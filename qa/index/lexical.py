"""Lexical retrieval: BM25 (bm25s) over Chinese tokens.

Two tokenizations, chosen by `Settings.bm25_tokens` (the evaluation compares them):
- "bigram": character unigrams + bigrams of CJK runs, plus ASCII words and numbers;
- "jieba": jieba's search-mode word segmentation.
Question words (什么, 多少, 哪些 ...) are dropped: they say what is asked, not where.
"""
from __future__ import annotations

import functools
import logging
import re
import unicodedata

import bm25s
import numpy as np

from ..text.normalise import HAN, fold

STOP = {
    "的", "了", "吗", "呢", "么", "什", "哪", "谁", "几", "是", "有", "在", "和", "与", "及", "？", "?",
    "什么", "多少", "哪些", "哪个", "哪几", "几个", "是谁", "是什", "是多", "有多", "有哪", "为什", "怎么", "如何",
    "请问", "一下", "多", "少", "the", "a", "an", "of", "is", "are", "was", "what", "who", "how", "which", "in",
}
TOKEN = re.compile(f"[{HAN}]+|[a-z]+|\\d+(?:\\.\\d+)?%?")


def tokenize(text: str, mode: str = "bigram") -> list[str]:
    """BM25 tokens of `text` (NFKC-normalized, lower-cased, in simplified characters, question words
    removed)."""
    return list(_tokenize(text, mode))


@functools.lru_cache(maxsize=65536)  # quote units are tokenized again for every question
def _tokenize(text: str, mode: str) -> tuple[str, ...]:
    text = fold(unicodedata.normalize("NFKC", text).lower())
    if mode == "jieba":
        from ..text.normalise import words as jieba_words

        words = jieba_words(text, search=True)
        return tuple(w for w in (w.strip() for w in words) if w and TOKEN.fullmatch(w) and w not in STOP)
    if mode != "bigram":
        raise ValueError(f"unknown BM25 tokenization {mode!r} (use 'bigram' or 'jieba')")
    tokens: list[str] = []
    for run in TOKEN.findall(text):
        if run[0].isascii():
            tokens.append(run)
            continue
        tokens.extend(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tuple(t for t in tokens if t not in STOP)


def local_coverage(query: str, texts: list[str], mode: str = "bigram") -> np.ndarray:
    """IDF-weighted coverage of `query` in each of `texts`, with the IDF taken among `texts` themselves.

    Among the sentences of the passages found for a question, a word most of them share — the
    document's own subject — says little about which sentence answers; the words only a few of
    them hold do. Corpus-wide IDF cannot see this, since the subject is rare in the corpus.
    """
    q = set(tokenize(query, mode))
    if not q or not texts:
        return np.zeros(len(texts), dtype=np.float64)
    present = [set(tokenize(t, mode)) for t in texts]
    weights = {t: idf(len(texts), sum(t in p for p in present)) for t in q}
    return np.array([_share(weights, p) for p in present])


def idf(n: int, df: int) -> float:
    """BM25's IDF of a token that `df` of `n` texts hold (0 of them: the highest weight)."""
    return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


def _share(weights: dict[str, float], present: set[str]) -> float:
    """The share of the query tokens' weight that a text's tokens hold."""
    return sum(w for t, w in weights.items() if t in present) / sum(weights.values())


class BM25Index:
    """BM25 scores of a query against every chunk text, and query-term coverage of any text."""

    def __init__(self, texts: list[str], mode: str = "bigram"):
        self.mode = mode
        token_sets = [set(tokenize(t, mode)) for t in texts]
        df: dict[str, int] = {}
        for tokens in token_sets:
            for tok in tokens:
                df[tok] = df.get(tok, 0) + 1
        n = max(len(texts), 1)
        self._idf = {tok: idf(n, f) for tok, f in df.items()}
        self._unknown_idf = idf(n, 0)
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._n = len(texts)
        self._bm25 = bm25s.BM25() if texts else None  # an empty docs folder has nothing to index
        if self._bm25 is not None:
            self._bm25.index([tokenize(t, mode) or ["\u2400"] for t in texts], show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """One float per chunk; all zeros when the query shares no token with the corpus."""
        tokens = [t for t in tokenize(query, self.mode) if self._bm25 and t in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(self._n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def coverage(self, query: str, text: str) -> float:
        """IDF-weighted share of the query's tokens that occur in `text`, in [0, 1].

        A query term the corpus never uses (a figure or name the articles do not
        give) carries the highest weight, so its absence lowers the coverage.
        """
        q = set(tokenize(query, self.mode))
        if not q:
            return 0.0
        return _share({t: self._idf.get(t, self._unknown_idf) for t in q}, set(tokenize(text, self.mode)))
