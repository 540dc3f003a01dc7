"""Speed and memory figures for README: `python -m qa.benchmark` (or `make bench`).

Measures, on this machine: the model (load time, size on disk, single-query
latency, resident memory), warm `qa.answer()` p50/p95, cold start of
`python -m qa ask`, index build time, and indexing throughput against plain
`SentenceTransformer.encode` on the same chunks.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .eval.metrics import percentile
from .settings import PROJECT_DIR


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.benchmark", description=__doc__)
    ap.add_argument("--questions", default=str(PROJECT_DIR / "eval" / "questions.jsonl"))
    ap.add_argument("--rounds", type=int, default=3, help="passes over the question set for warm latency")
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args(argv)
    out: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                 "date": time.strftime("%Y-%m-%d")}

    from sentence_transformers import SentenceTransformer

    from . import chunking, embedding, text
    from .engine import QA

    model_dir = embedding.ensure_default_model()
    t0 = time.perf_counter()
    st = SentenceTransformer(str(model_dir), device="cpu")
    out["model_load_s"] = round(time.perf_counter() - t0, 2)
    out["model_size_mb"] = round(_dir_mb(model_dir))
    st.encode_query(["预热"])
    lat = []
    for q in ["赫章县有多少个贫困村脱贫出列？", "How many poor villages were lifted out of poverty?"] * 10:
        t0 = time.perf_counter()
        st.encode_query([q], normalize_embeddings=True)
        lat.append((time.perf_counter() - t0) * 1000)
    out["model_query_p50_ms"] = round(statistics.median(lat), 1)

    with tempfile.TemporaryDirectory() as tmp:
        engine = QA(index_dir=Path(tmp) / "index")
        out["index_build_s"] = round(engine.build_seconds or 0.0, 2)
        out["chunks"] = len(engine.index.chunks)
        out["rss_mb_after_load"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

        questions = [json.loads(line)["question"] for line in Path(args.questions).read_text("utf-8").splitlines()
                     if line.strip()]
        engine.answer(questions[0])
        # The first English question builds the cross-lingual lexicon (CC-CEDICT + pinyin), once.
        t0 = time.perf_counter()
        engine.answer("Which university was Lou Gang admitted to?")
        out["first_english_question_s"] = round(time.perf_counter() - t0, 2)
        lat = []
        for _ in range(args.rounds):
            for q in questions:
                t0 = time.perf_counter()
                engine.answer(q)
                lat.append((time.perf_counter() - t0) * 1000)
        out["answer_p50_ms"] = round(percentile(lat, 50), 1)
        out["answer_p95_ms"] = round(percentile(lat, 95), 1)
        out["answer_calls"] = len(lat)

        # Indexing throughput: our build's encoding path against plain encode on the same chunks.
        docs = text.load_documents(PROJECT_DIR / "seeds")
        chunks = [c.text for c in chunking.split_documents(docs, engine.settings.chunk_size,
                                                           engine.settings.chunk_overlap)]
        model = embedding.load_model()
        best_ours, best_plain = float("inf"), float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            embedding.encode_passages(model, chunks)
            best_ours = min(best_ours, time.perf_counter() - t0)
            t0 = time.perf_counter()
            st.encode(chunks, prompt="passage: ", normalize_embeddings=True)
            best_plain = min(best_plain, time.perf_counter() - t0)
        out["indexing_chunks_per_s"] = round(len(chunks) / best_ours, 1)
        out["plain_encode_chunks_per_s"] = round(len(chunks) / best_plain, 1)
        out["indexing_vs_plain"] = round(best_plain / best_ours, 2)

        cold = []
        for _ in range(args.cold_runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "qa", "ask", "赫章县共创建达标党支部多少个？", "--index",
                            str(Path(tmp) / "index")], check=True, capture_output=True, cwd=PROJECT_DIR)
            cold.append(time.perf_counter() - t0)
        out["cold_ask_s"] = round(statistics.median(cold), 2)

    width = max(map(len, out))
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
