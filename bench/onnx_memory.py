"""What onnxruntime's memory settings cost and save (README, "Speed and memory").

For one setting per process: build the article's index in a temporary folder, then answer every
question of eval/questions.jsonl once, and print the resident memory the engine added after the
build and after the answers, the build time and the answers' p50 / p95.

    .venv/bin/python -m bench.onnx_memory shipped        # patterns off, arena freed after encoder batches
    .venv/bin/python -m bench.onnx_memory all-kept       # memory patterns and arena kept (the previous code)
    .venv/bin/python -m bench.onnx_memory patterns-off   # patterns off, arena kept
    .venv/bin/python -m bench.onnx_memory arena-off      # arena off, patterns kept
"""
import json
import os
import sys
import tempfile
import time

from qa.models import onnx_run
from qa.settings import PROJECT_DIR

VARIANTS = {  # name: (memory patterns, arena, arena freed after encoder batches)
    "shipped": (False, True, True),
    "all-kept": (True, True, False),
    "patterns-off": (False, True, False),
    "arena-off": (True, False, False),
}


def rss_mb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20


def main(variant: str) -> None:
    from functools import partial

    patterns, arena, free_after_batches = VARIANTS[variant]
    onnx_run.session = partial(onnx_run.session, patterns=patterns, arena=arena)
    real_options = onnx_run.ort_run_options
    onnx_run.ort_run_options = lambda shrink=True: real_options(shrink=free_after_batches)

    from qa.engine import QA

    questions = [json.loads(line)["question"] for line in open(PROJECT_DIR / "eval" / "questions.jsonl")]
    before = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        engine = QA(index_dir=os.path.join(tmp, "index"))
        build = time.perf_counter() - t0
        built = rss_mb() - before
        engine.answer(questions[0])
        ms = []
        for q in questions:
            t0 = time.perf_counter()
            engine.answer(q)
            ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    print(f"{variant}: build {build:.1f} s; engine added {built} MB after the build, {rss_mb() - before} MB after "
          f"{len(ms)} answers; p50 / p95 {ms[len(ms) // 2]:.0f} / {ms[int(len(ms) * 0.95)]:.0f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "shipped")
