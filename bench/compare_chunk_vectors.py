"""Encoded vs derived chunk vectors on an open corpus of a SQuAD file's paragraphs (README, "Speed
and memory"): build time, and how often the top passage (and the top 3) come from the question's
paragraph, dense-only and hybrid; the rules scorer's quote in the right paragraph for the first 300.

    .venv/bin/python -m bench.compare_chunk_vectors ../shared/data/cmrc2018_trial.json
"""
import sys
import tempfile
import time
from pathlib import Path

from qa.engine import QA
from qa.eval.questions import squad_questions
from qa.settings import Settings


def main(path: str) -> None:
    docs = Path(tempfile.mkdtemp(prefix="qa-chunk-vectors-"))
    qs = [q for q in squad_questions(Path(path), 0.2, docs) if q.source]
    print(len(qs), "answerable questions,", len(list(docs.iterdir())), "documents", flush=True)
    for kind in ("encoded", "derived"):
        t0 = time.perf_counter()
        engine = QA(docs=docs, index_dir=tempfile.mkdtemp(), settings=Settings(scorer="rules", chunk_vectors=kind))
        build = time.perf_counter() - t0
        for mode in ("dense", "hybrid"):
            hit1 = r3 = 0
            for q in qs:
                sources = [p.source for p in engine.retrieve(q.question, k=3, mode=mode)]
                hit1 += sources[:1] == [q.source]
                r3 += q.source in sources
            print(f"{kind} {mode}: doc hit@1 {hit1 / len(qs):.3f}, R@3 {r3 / len(qs):.3f}, build {build:.1f} s", flush=True)
        right = sum(engine.candidate(q.question).source == q.source for q in qs[:300])
        print(f"{kind}: rules quote from the right paragraph {right / 300:.3f} (first 300)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
