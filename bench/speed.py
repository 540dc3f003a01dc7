"""Speed and memory figures for README: `python -m bench.speed` (or `make bench`).

Measures, on this machine and in one run (so the ratios compare like with like):
- cold start: `python -m qa ask` against `python -c "import sentence_transformers"`, with
  the ask's peak resident memory;
- warm `QA.answer()` p50/p95 with the product's settings (ONNX) and with torch fp32, against
  one fp32 sentence-transformers query encode; resident memory the engine adds;
- a full index build of the articles (nothing cached) against a plain fp32
  `SentenceTransformer.encode` of the same documents' sentences.
Each runtime's figures come from a fresh process, so no model is shared between them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qa.eval.metrics import percentile
from qa.settings import PROJECT_DIR, Runtime, Settings

ASK = "赫章县共创建达标党支部多少个？"
RUNTIMES = {  # name -> (encoder runtime, scorer runtime)
    "default": (Settings().encoder_runtime, Settings().scorer_runtime),
    "torch": (Runtime.TORCH, Runtime.TORCH),
}


def _rss_mb() -> float:
    """Resident memory now (not the peak)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _child_seconds_and_peak(cmd: list[str]) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of one child process, measured by a wrapper of its own."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], check=True, capture_output=True, text=True,
                         cwd=PROJECT_DIR)
    seconds, peak = out.stdout.split()
    return float(seconds), float(peak)


def cold_start(runs: int, index: Path) -> dict:
    """Cold `python -m qa ask` against a cold `import sentence_transformers`, interleaved."""
    ask, imp, peaks = [], [], []
    for _ in range(runs):
        s, peak = _child_seconds_and_peak([sys.executable, "-m", "qa", "ask", ASK, "--index", str(index)])
        ask.append(s)
        peaks.append(peak)
        imp.append(_child_seconds_and_peak([sys.executable, "-c", "import sentence_transformers"])[0])
    a, i = statistics.median(ask), statistics.median(imp)
    return {"cold_ask_s": round(a, 2), "import_sentence_transformers_s": round(i, 2),
            "cold_ask_vs_import": round(a / i, 2), "cold_ask_peak_mb": round(max(peaks))}


def warm(runtime: str, questions: list[str], rounds: int, index: Path) -> dict:
    """Warm answers of one runtime (run in a fresh process by `main`)."""
    from qa.engine import QA

    encoder, scorer = RUNTIMES[runtime]
    before = _rss_mb()
    engine = QA(index_dir=index, settings=Settings(encoder_runtime=encoder, scorer_runtime=scorer))
    out = {"rss_added_by_engine_mb": round(_rss_mb() - before)}
    engine.answer(questions[0])
    lat = []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            engine.answer(q)
            lat.append((time.perf_counter() - t0) * 1000)
    out |= {"answer_p50_ms": round(percentile(lat, 50), 1), "answer_p95_ms": round(percentile(lat, 95), 1),
            "answer_calls": len(lat),
            # what answering keeps: buffers, rows of the word-embedding table, the English lexicon
            "rss_added_after_answers_mb": round(_rss_mb() - before)}
    return out


def build(runtime: str, docs: Path) -> dict:
    """A full index build (empty vector cache) against plain fp32 encode of the same sentences."""
    from sentence_transformers import SentenceTransformer

    from qa.engine import QA
    from qa.models import embedding, loader

    encoder, scorer = RUNTIMES[runtime]
    settings = Settings(encoder_runtime=encoder, scorer_runtime=scorer)
    loader.load_encoder(None, encoder)  # loading (and a first export) is not building
    best = float("inf")
    for _ in range(2):
        with tempfile.TemporaryDirectory() as tmp:
            engine = QA(docs=docs, index_dir=Path(tmp) / "index", settings=settings)
            best = min(best, engine.build_seconds)  # the build alone: reading, chunking, encoding, writing
    sentences = [engine.index.documents[u.source][u.start:u.end] for u in engine.index.units]
    st = SentenceTransformer(str(embedding.ensure_default_model()), device="cpu")
    st.encode(sentences[:8], prompt="passage: ")
    plain = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        st.encode(sentences, prompt="passage: ", normalize_embeddings=True)
        plain = min(plain, time.perf_counter() - t0)
    chars = sum(len(t) for t in engine.index.documents.values())
    return {"index_build_s": round(best, 2), "plain_encode_sentences_s": round(plain, 2),
            "build_vs_plain_encode": round(best / plain, 2), "characters": chars,
            "build_characters_per_s": round(chars / best), "sentences": len(sentences),
            "chunks": len(engine.index.chunks)}


def query_encode_ms() -> float:
    """p50 of one fp32 sentence-transformers query encode: the unit of the warm-answer target."""
    from sentence_transformers import SentenceTransformer

    from qa.models import embedding

    st = SentenceTransformer(str(embedding.ensure_default_model()), device="cpu")
    st.encode_query(["预热"])
    lat = []
    for q in ["赫章县有多少个贫困村脱贫出列？", "How many poor villages were lifted out of poverty?"] * 10:
        t0 = time.perf_counter()
        st.encode_query([q], normalize_embeddings=True)
        lat.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(lat), 1)


def _in_child(step: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.speed", "--step", step, *args], check=True,
                         capture_output=True, text=True, cwd=PROJECT_DIR)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__)
    ap.add_argument("--questions", default=str(PROJECT_DIR / "eval" / "questions.jsonl"))
    ap.add_argument("--rounds", type=int, default=2, help="passes over the question set for warm latency")
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--json", default=None, help="write the figures to this file")
    ap.add_argument("--step", default=None, help=argparse.SUPPRESS)  # one measurement in a fresh process
    ap.add_argument("--runtime", default="default", help=argparse.SUPPRESS)
    ap.add_argument("--index", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    questions = [json.loads(line)["question"] for line in Path(args.questions).read_text("utf-8").splitlines()
                 if line.strip()]
    if args.step:
        step = {"warm": lambda: warm(args.runtime, questions, args.rounds, Path(args.index)),
                "build": lambda: build(args.runtime, PROJECT_DIR / "seeds"),
                "encode": lambda: {"query_encode_p50_ms": query_encode_ms()}}[args.step]
        print(json.dumps(step()))
        return 0

    out: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                 "date": time.strftime("%Y-%m-%d"), "runtimes": {k: [r.value for r in v] for k, v in RUNTIMES.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        subprocess.run([sys.executable, "-m", "qa", "ask", ASK, "--index", str(index)], check=True,
                       capture_output=True, cwd=PROJECT_DIR)  # builds the index (and any export) first
        out |= cold_start(args.cold_runs, index)
        out |= _in_child("encode")
        for runtime in RUNTIMES:
            warm_fig = _in_child("warm", "--runtime", runtime, "--index", str(Path(tmp) / f"index-{runtime}"),
                                 "--rounds", str(args.rounds))
            out[runtime] = warm_fig | _in_child("build", "--runtime", runtime)
            out[runtime]["answer_p50_vs_query_encode"] = round(warm_fig["answer_p50_ms"] / out["query_encode_p50_ms"], 2)
            out[runtime]["answer_p95_vs_query_encode"] = round(warm_fig["answer_p95_ms"] / out["query_encode_p50_ms"], 2)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
