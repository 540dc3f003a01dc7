"""How the Milvus store grows with the corpus: `python bench/milvus_scale.py` (part of `make bench-scale`).

For each size, a folder of paragraphs of `../shared/data/*.json` (one paragraph = one document, as
qa.bench_scale builds them) goes into a fresh Milvus Lite folder through the engine
(`QA(store="milvus:…")`), then: build time (encoding and Milvus writes apart), rows, the Lite folder's
size on disk, resident memory, per-question p50/p95 (retrieval alone and the whole answer), the
corpus-dependent steps alone (Milvus's dense + BM25 searches with the engine's fusion; fetching the
ranked documents' rows), adding one document (the engine's refresh: folder check, encoding, upsert)
and removing it (never quoted again).

Encoding is the same code and cost as the local store's (~1,070 characters/s on 2 idle cores,
docs/bench-scale.json); to fit a shared 2-core machine, passage vectors are cached by text in
`--work` and sizes above `--real` characters are the `--real` corpus repeated under new names
(copies of real text, so the rows, postings and vectors Milvus holds grow as they would; their answers
are not comparable, as each paragraph is there several times: doc@1 is reported for real sizes only).

Each size runs in its own process. This reads ../shared at bench time only.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

DATA = PROJECT_DIR.parent / "shared" / "data"

SIZES = (50_000, 250_000, 1_000_000)
REAL = 250_000  # characters of distinct paragraphs; larger sizes repeat them


def paragraphs():
    """Every paragraph of ../shared/data/*.json as (name, text, questions), in the fixed mixed order
    qa.bench_scale uses (a stable hash of file and paragraph id)."""
    from types import SimpleNamespace

    from qa.training import squad

    out = []
    for path in sorted(DATA.glob("*.json")):
        for p in squad.load(path):
            qs = tuple(q.question for q in p.questions if q.answers and q.question.strip())
            key = hashlib.sha256(f"{path.name}:{p.id}".encode()).hexdigest()
            out.append((key, SimpleNamespace(name=f"p-{key[:12]}.txt", text=p.context, questions=qs)))
    return [p for _, p in sorted(out, key=lambda kv: kv[0])]


def take(paras, size: int):
    """The first paragraphs holding `size` characters."""
    out, total = [], 0
    for p in paras:
        if total >= size:
            break
        out.append(p)
        total += len(p.text)
    return out


def _pick_questions(paras, n: int) -> list[tuple[str, str]]:
    """Up to `n` (question, document) pairs, one per paragraph, spread evenly over the corpus."""
    with_q = [p for p in paras if p.questions]
    step = max(1, len(with_q) // n)
    return [(p.questions[0], p.name) for p in with_q[::step][:n]]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


class VectorCache:
    """Passage vectors by text, kept in `path` between sizes: each distinct text is encoded once."""

    def __init__(self, path: Path):
        self.path, self.vectors, self.encode_s, self.encoded = path, {}, 0.0, 0
        if path.is_file():
            with np.load(path) as f:
                self.vectors = dict(zip(f["keys"].tolist(), f["vectors"]))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def install(self) -> None:
        from qa.models import embedding

        original = embedding.encode_passages

        def encode(model, texts, *args, **kwargs):
            keys = [self.key(t) for t in texts]
            todo = sorted({k: t for k, t in zip(keys, texts) if k not in self.vectors}.items())
            if todo:
                t0 = time.perf_counter()
                fresh = original(model, [t for _, t in todo], *args, **kwargs)
                self.encode_s += time.perf_counter() - t0
                self.encoded += sum(len(t) for _, t in todo)
                self.vectors.update({k: v for (k, _), v in zip(todo, fresh)})
            return np.asarray([self.vectors[k] for k in keys], dtype=np.float32).reshape(len(texts), -1)

        embedding.encode_passages = encode

    def save(self) -> None:
        keys = sorted(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.asarray(keys), vectors=np.asarray([self.vectors[k] for k in keys], np.float32))
        os.replace(tmp, self.path)


def corpus_for(size: int, real: int):
    """(documents as (name, text), their questions as (question, name), the document added later)."""
    paras = paragraphs()
    base = take(paras, min(size, real))
    extra = next(p for p in paras[len(base):] if p.questions)
    docs, total, copy = [], 0, 0
    while total < size:
        for p in base:
            if total >= size:
                break
            docs.append((p.name if copy == 0 else f"c{copy}-{p.name}", p.text))
            total += len(p.text)
        copy += 1
    return docs, _pick_questions(base, 30), extra, copy > 1


def measure(size: int, work: Path, real: int, n_questions: int, fusion: str) -> dict:
    from qa import QA
    from qa.settings import Settings

    cache = VectorCache(work / "vectors.npz")
    cache.install()
    docs_list, questions, extra, repeated = corpus_for(size, real)
    questions = questions[:n_questions]
    label = f"{size // 1000}k"
    root = work / label
    shutil.rmtree(root, ignore_errors=True)
    docs = root / "docs"
    docs.mkdir(parents=True)
    for name, body in docs_list:
        (docs / name).write_text(body, encoding="utf-8")
    chars = sum(len(t) for _, t in docs_list)
    spec = f"milvus:{root / 'lite'}?fusion={fusion}"
    print(f"[{label}] {len(docs_list)} documents, {chars:,} characters into {spec}", flush=True)
    settings = Settings()
    engine = QA(docs=docs, index_dir=root / "unused", settings=settings, store=spec)
    build_s, encode_s, encoded = engine.build_seconds or 0.0, cache.encode_s, cache.encoded
    cache.save()
    store = engine.store
    counts = store.counts()
    units = store._client.query(store.names["units"], filter="", output_fields=["count(*)"])[0]["count(*)"]
    rss = _rss_mb()
    print(f"[{label}] built in {build_s:.0f} s (encoding {encode_s:.0f} s of it); {counts['chunks']} chunks, "
          f"{units} units, {rss:.0f} MB resident", flush=True)

    engine.candidate(questions[0][0])  # warm-up
    retrieve_ms, answer_ms, hits = [], [], 0
    for q, source in questions:
        t0 = time.perf_counter()
        engine.retrieve(q, k=3)
        retrieve_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        a = engine.candidate(q)
        answer_ms.append((time.perf_counter() - t0) * 1000)
        hits += a.source == source
    # the steps that could grow with the corpus, alone
    from qa.settings import RetrievalMode

    rank_ms, view_ms = [], []
    for q, _ in questions:
        qvec = engine.encode(q)
        t0 = time.perf_counter()
        ranking = store._rank(q, qvec, RetrievalMode.HYBRID, None)
        rank_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        store._view(q, ranking, None)
        view_ms.append((time.perf_counter() - t0) * 1000)

    print(f"[{label}] adding one document …", flush=True)
    (docs / extra.name).write_text(extra.text, encoding="utf-8")
    before_encode = cache.encode_s
    t0 = time.perf_counter()
    engine.refresh()
    add_s = time.perf_counter() - t0
    add_encode_s = cache.encode_s - before_encode
    added = engine.candidate(extra.questions[0])
    (docs / extra.name).unlink()
    t0 = time.perf_counter()
    engine.refresh()
    remove_s = time.perf_counter() - t0
    after = [engine.candidate(q) for q in extra.questions[:3]]
    never = all(a.source != extra.name and all(p.source != extra.name for p in a.passages) for a in after)
    engine.close()
    return {
        "label": label, "documents": len(docs_list), "characters": chars, "repeated": repeated,
        "fusion": fusion, "build_s": round(build_s, 1), "encode_s": round(encode_s, 1),
        "encoded_characters": encoded, "write_s": round(build_s - encode_s, 1),
        "write_chars_per_s": round(chars / (build_s - encode_s)) if build_s > encode_s else None,
        "chunks": counts["chunks"], "units": int(units), "lite_mb": round(_dir_mb(root / "lite"), 1),
        "rss_mb": round(rss), "questions": len(questions),
        "retrieve_p50_ms": round(percentile(retrieve_ms, 50), 1),
        "retrieve_p95_ms": round(percentile(retrieve_ms, 95), 1),
        "answer_p50_ms": round(percentile(answer_ms, 50), 1), "answer_p95_ms": round(percentile(answer_ms, 95), 1),
        "milvus_rank_p50_ms": round(percentile(rank_ms, 50), 1),
        "milvus_rank_p95_ms": round(percentile(rank_ms, 95), 1),
        "fetch_view_p50_ms": round(percentile(view_ms, 50), 1),
        "fetch_view_p95_ms": round(percentile(view_ms, 95), 1),
        "doc_at_1": None if repeated else round(hits / len(questions), 3),
        "add_s": round(add_s, 2), "add_encode_s": round(add_encode_s, 2),
        "add_write_s": round(add_s - add_encode_s, 2), "added_answered": added.source == extra.name,
        "remove_s": round(remove_s, 2), "removed_never_quoted": never,
        "date": time.strftime("%Y-%m-%d"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python bench/milvus_scale.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="characters, comma-separated")
    ap.add_argument("--real", type=int, default=REAL, help="distinct characters; larger sizes repeat them")
    ap.add_argument("--questions", type=int, default=30, help="questions per size (from its paragraphs)")
    ap.add_argument("--fusion", choices=("engine", "milvus"), default="engine")
    ap.add_argument("--work", default=str(PROJECT_DIR / "artifacts" / "bench-milvus"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # internal: one size, in a child
    args = ap.parse_args(argv)
    if not DATA.is_dir() or not list(DATA.glob("*.json")):
        print(f"The benchmark builds its corpora from SQuAD-format files in {DATA}, which is missing or empty.",
              file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one:
        result = measure(args.one, work, args.real, args.questions, args.fusion)
        (work / f"result-{args.one}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        return 0
    results = []
    for size in (int(s) for s in args.sizes.split(",") if s):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--one", str(size), "--real", str(args.real), "--questions",
                        str(args.questions), "--fusion", args.fusion, "--work", str(work)], check=True,
                       cwd=PROJECT_DIR)
        results.append(json.loads((work / f"result-{size}.json").read_text(encoding="utf-8")))
        print(f"[{size // 1000}k] done in {time.perf_counter() - t0:.0f} s", flush=True)
    head = ("size", "docs", "build s (encode)", "write chars/s", "chunks", "units", "Lite MB", "RSS MB",
            "retrieve p50/p95", "answer p50/p95", "milvus rank p50/p95", "fetch p50/p95", "add s (encode)",
            "remove s", "doc@1")
    print(" | ".join(head))
    for r in results:
        print(" | ".join(str(v) for v in (
            r["label"] + (" (repeated)" if r["repeated"] else ""), r["documents"],
            f"{r['build_s']} ({r['encode_s']})", r["write_chars_per_s"], r["chunks"], r["units"], r["lite_mb"],
            r["rss_mb"], f"{r['retrieve_p50_ms']}/{r['retrieve_p95_ms']}", f"{r['answer_p50_ms']}/{r['answer_p95_ms']}",
            f"{r['milvus_rank_p50_ms']}/{r['milvus_rank_p95_ms']}", f"{r['fetch_view_p50_ms']}/{r['fetch_view_p95_ms']}",
            f"{r['add_s']} ({r['add_encode_s']})", r["remove_s"], r["doc_at_1"])))
    if args.json:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                cwd=PROJECT_DIR).stdout.strip()
        out = {"machine": f"{os.uname().machine}, {os.cpu_count()} cores (shared)", "date": time.strftime("%Y-%m-%d"),
               "commit": commit, "command": "python bench/milvus_scale.py " + " ".join(argv or sys.argv[1:]),
               "real_characters": args.real, "sizes": results}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
