"""How the engine grows with the corpus: `python -m bench.scale` (or `make bench-scale`).

Builds folders of growing size from the paragraphs of `../shared/data/*.json` (SQuAD format,
traditional characters converted to simplified; one paragraph = one document), each from
scratch, and measures per size: build time, characters/s, vectors, index bytes on disk, resident
memory after load, per-question stage costs, query p50/p95 over questions of those paragraphs,
time from adding one document to it being answered (and that a removed one is never quoted),
and recall@10 of the approximate (HNSW) chunk search against exact search. A separate sweep
times exact and HNSW search on real vectors (replicated with small noise) up to 100,000, which
is where `Settings.ann_threshold` comes from.

Each size runs in its own process (clean resident memory) and its result is kept in
`--work` (default artifacts/bench-scale/) keyed by what it measured, so an interrupted run
resumes; `--fresh` measures again. This reads ../shared at bench time only.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from qa.settings import PROJECT_DIR, Settings

DATA = PROJECT_DIR.parent / "shared" / "data"
SIZES = (50_000, "240p", 250_000, 1_000_000)  # characters, or "<n>p" paragraphs (the 240-paragraph case)
FORMAT = 1  # bump when what a size measures changes, so kept results are not reused


@dataclass(frozen=True)
class Paragraph:
    """One benchmark document: a paragraph and its answerable questions."""

    name: str
    text: str
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Stages:
    """Median ms per question of the steps that could grow with the corpus, before and after this
    round's fixes (`old_*`: the code as it was)."""

    folder_check: float  # the engine's check for changed documents (qa/watch.py)
    old_folder_check: float  # stat of every file (the previous engine.docs_signature)
    query_embedding: float
    dense_search: float  # FAISS over all chunks (exact below ann_threshold)
    bm25_scores: float  # bm25s over all chunks: term-at-a-time over the query's postings
    bm25_top: float  # top-n of those scores (argpartition)
    old_bm25_top: float  # full argsort
    only_chunks: float  # a document's chunk ids for only= (precomputed per index)
    old_only_chunks: float  # scan of every chunk
    page_role_units: float  # lines of one layout role (precomputed per index)
    old_page_role_units: float  # scan of every unit

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SizeResult:
    """Everything measured for one corpus size."""

    label: str
    paragraphs: int
    characters: int
    build_s: float
    chars_per_s: float
    chunks: int
    units: int
    index_mb: float  # the live build folder (FAISS files, meta.json, manifest)
    vector_cache_mb: float  # index/vectors/ (per-document .npz, what makes rebuilds incremental)
    rss_mb: float  # resident memory after model, scorer and index are loaded
    questions: int
    retrieve_p50_ms: float
    retrieve_p95_ms: float
    answer_p50_ms: float
    answer_p95_ms: float
    doc_at_1: float  # share of questions whose best quote is from their own paragraph
    add_s: float  # from writing one new document to its question being answered from it
    add_share_of_build: float
    added_answered: bool
    remove_s: float
    removed_never_quoted: bool
    approximate: bool  # the product's chunk index at this size is HNSW
    hnsw_recall_at_10: float  # HNSW (Settings' M, efConstruction, efSearch) against exact, these chunks
    stages: Stages
    runtimes: dict = field(default_factory=dict)  # how the encoder and the answer model ran (Settings)
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d"))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AnnPoint:
    """Exact against HNSW search at one number of vectors."""

    vectors: int
    exact_ms: float
    hnsw_ms: float
    hnsw_build_s: float
    recall_at_10: float

    def to_dict(self) -> dict:
        return asdict(self)


def paragraphs() -> list[Paragraph]:
    """Every paragraph of ../shared/data/*.json in a fixed, mixed order (a stable hash of its id)."""
    from qa.training import squad

    out = []
    for path in sorted(DATA.glob("*.json")):
        for p in squad.load(path):
            qs = tuple(q.question for q in p.questions if q.answers and q.question.strip())
            key = hashlib.sha256(f"{path.name}:{p.id}".encode()).hexdigest()
            out.append((key, Paragraph(f"p-{key[:12]}.txt", p.context, qs)))
    return [p for _, p in sorted(out, key=lambda kv: kv[0])]


def take(paras: list[Paragraph], size) -> list[Paragraph]:
    """The first paragraphs holding `size` characters (an int), or the first n for "<n>p"."""
    if isinstance(size, str) and size.endswith("p"):
        return paras[: int(size[:-1])]
    out, total = [], 0
    for p in paras:
        if total >= size:
            break
        out.append(p)
        total += len(p.text)
    return out


def _label(size) -> str:
    return size if isinstance(size, str) else f"{size // 1000}k"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(float(np.median(times)), 3)


def percentile(values: list[float], q: float) -> float:
    """Linearly interpolated percentile (numpy's default), as the eval reports them."""
    return float(np.percentile(values, q))


def _pick_questions(paras: list[Paragraph], n: int) -> list[tuple[str, str]]:
    """Up to `n` (question, document) pairs, one per paragraph, spread evenly over the corpus."""
    with_q = [p for p in paras if p.questions]
    step = max(1, len(with_q) // n)
    return [(p.questions[0], p.name) for p in with_q[::step][:n]]


def recall_at_10(exact: np.ndarray, approx: np.ndarray) -> float:
    """Share of the exact top 10 that the approximate search also returns (rows: queries)."""
    hits = sum(len(set(a[a >= 0]) & set(e[e >= 0])) for e, a in zip(exact, approx))
    return round(hits / max(1, sum(int((e >= 0).sum()) for e in exact)), 4)


def _hnsw(vectors: np.ndarray, settings: Settings):
    from qa.index.faiss_store import search_index

    return search_index(vectors, vectors.shape[1], settings.with_(ann_threshold=0))


def _search_all(index, queries: np.ndarray, k: int, ef: int | None = None) -> tuple[np.ndarray, float]:
    import faiss

    faiss.omp_set_num_threads(1)  # one query at a time, as the engine searches (qa/retrieval.py)

    params = None
    if ef is not None:
        params = faiss.SearchParametersHNSW()
        params.efSearch = ef
    ids, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, i = index.search(q.reshape(1, -1), k, params=params)
        times.append((time.perf_counter() - t0) * 1000)
        ids.append(i[0])
    return np.array(ids), round(float(np.median(times)), 3)


# -- one size, in its own process -------------------------------------------------------------


def measure_size(size, work: Path, n_questions: int) -> SizeResult:
    """Build `size` from scratch in `work`, then measure it (run in a fresh process: see main)."""
    import faiss

    from qa.text import layout, normalise as text
    from qa.answering import quoting
    from qa.index import retrieval
    from qa.engine import QA

    paras = paragraphs()
    corpus = take(paras, size)
    extra = next(p for p in paras[len(corpus):] if p.questions)  # the document added afterwards
    label = _label(size)
    root = work / label
    shutil.rmtree(root, ignore_errors=True)
    docs, index_dir = root / "docs", root / "index"
    docs.mkdir(parents=True)
    for p in corpus:
        (docs / p.name).write_text(p.text, encoding="utf-8")
    chars = sum(len(p.text) for p in corpus)
    print(f"[{label}] building {len(corpus)} paragraphs, {chars:,} characters …", flush=True)
    settings = Settings()
    engine = QA(docs=docs, index_dir=index_dir, settings=settings)
    build_s = engine.build_seconds or 0.0
    rss = _rss_mb()
    idx = engine.index
    index_mb, cache_mb = _dir_mb(idx.path), _dir_mb(index_dir / "vectors")  # before adding replaces the build
    print(f"[{label}] built in {build_s:.0f} s; {len(idx.chunks)} chunks, {len(idx.units)} units, "
          f"{rss:.0f} MB resident", flush=True)

    questions = _pick_questions(corpus, n_questions)
    engine.candidate(questions[0][0])  # warm-up
    retrieve_ms, answer_ms, hits = [], [], 0
    for i, (q, source) in enumerate(questions):
        t0 = time.perf_counter()
        engine.retrieve(q, k=3)
        retrieve_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        a = engine.candidate(q)
        answer_ms.append((time.perf_counter() - t0) * 1000)
        hits += a.source == source
        if (i + 1) % 20 == 0:
            print(f"[{label}] {i + 1}/{len(questions)} questions", flush=True)

    # Per-question stages, now and as they were.
    qtext = questions[0][0]
    qvec = engine.encode(qtext)
    bm25 = engine.bm25
    scores = bm25.scores(qtext)
    n = settings.candidates
    one = corpus[len(corpus) // 2].name

    def old_signature():
        return tuple((p.as_posix(), st.st_mtime_ns, st.st_size)
                     for p in text.document_paths(docs) for st in (p.stat(),))

    heading = next((u.role for u in idx.units if u.role), "title")
    stages = Stages(
        folder_check=_median_ms(engine.docs_signature, 50),
        old_folder_check=_median_ms(old_signature, 10),
        query_embedding=_median_ms(lambda: engine.encode(qtext), 20),
        dense_search=_median_ms(lambda: retrieval.dense_ranking(idx, qvec, n, None, settings.hnsw_ef_search), 50),
        bm25_scores=_median_ms(lambda: bm25.scores(qtext), 50),
        bm25_top=_median_ms(lambda: retrieval.bm25_ranking(_Fixed(scores), "", n), 50),
        old_bm25_top=_median_ms(lambda: np.argsort(-scores, kind="stable")[:n], 50),
        only_chunks=_median_ms(lambda: idx.chunk_ids(one), 50),
        old_only_chunks=_median_ms(lambda: np.array([c.id for c in idx.chunks if c.source == one], np.int64), 20),
        page_role_units=_median_ms(lambda: quoting.units_of_role(idx, layout.Asked(heading)), 50),
        old_page_role_units=_median_ms(lambda: [u.id for u in idx.units if u.role == heading], 20),
    )

    # Recall of HNSW against exact on these chunk vectors, with the product's HNSW settings.
    chunk_matrix = idx.chunk_vectors.reconstruct_n(0, idx.chunk_vectors.ntotal)
    qmat = np.vstack([engine.encode(q) for q, _ in questions]).astype(np.float32)
    flat = faiss.IndexFlatIP(chunk_matrix.shape[1])
    flat.add(chunk_matrix)
    exact_ids, _ = _search_all(flat, qmat, 10)
    approx_ids, _ = _search_all(_hnsw(chunk_matrix, settings), qmat, 10, settings.hnsw_ef_search)
    recall = recall_at_10(exact_ids, approx_ids)

    # Add one document, ask its question; remove it, ask again.
    print(f"[{label}] adding one document …", flush=True)
    new = docs / extra.name
    new.write_text(extra.text, encoding="utf-8")
    t0 = time.perf_counter()
    added = engine.candidate(extra.questions[0])
    add_s = time.perf_counter() - t0
    new.unlink()
    t0 = time.perf_counter()
    after = [engine.candidate(q) for q in extra.questions[:3]]
    remove_s = (time.perf_counter() - t0) / len(after)
    never = all(a.source != extra.name and all(p.source != extra.name for p in a.passages) for a in after)

    return SizeResult(
        label=label, paragraphs=len(corpus), characters=chars, build_s=round(build_s, 1),
        chars_per_s=round(chars / build_s) if build_s else 0, chunks=len(idx.chunks), units=len(idx.units),
        index_mb=round(index_mb, 1), vector_cache_mb=round(cache_mb, 1),
        rss_mb=round(rss), questions=len(questions),
        retrieve_p50_ms=round(percentile(retrieve_ms, 50), 1), retrieve_p95_ms=round(percentile(retrieve_ms, 95), 1),
        answer_p50_ms=round(percentile(answer_ms, 50), 1), answer_p95_ms=round(percentile(answer_ms, 95), 1),
        doc_at_1=round(hits / len(questions), 3), add_s=round(add_s, 2),
        add_share_of_build=round(add_s / build_s, 3) if build_s else 0.0,
        added_answered=added.source == extra.name, remove_s=round(remove_s, 2), removed_never_quoted=never,
        approximate=idx.approximate, hnsw_recall_at_10=recall, stages=stages,
        runtimes={k: v for k, v in settings.to_dict().items() if k.endswith("runtime") or k == "scorer"})


class _Fixed:
    """A BM25 stand-in returning fixed scores, to time the top-n step alone."""

    def __init__(self, scores: np.ndarray):
        self._scores = scores

    def scores(self, query: str) -> np.ndarray:
        return self._scores


def measure_ann(work: Path, source_label: str, sizes=(10_000, 50_000, 100_000)) -> list[AnnPoint]:
    """Exact against HNSW search time and recall@10 on real vectors: the chunk and sentence vectors
    of the `source_label` corpus, replicated with small noise where more are needed."""
    import faiss

    from qa.engine import QA

    root = work / source_label
    engine = QA(docs=root / "docs", index_dir=root / "index", settings=Settings(scorer="rules"))
    idx = engine.index
    pool = np.vstack([idx.chunk_vectors.reconstruct_n(0, idx.chunk_vectors.ntotal),
                      idx.unit_vectors.reconstruct_n(0, idx.unit_vectors.ntotal)]).astype(np.float32)
    rng = np.random.default_rng(0)
    held = rng.choice(len(pool), 100, replace=False)
    queries = pool[held] + 0.02 * rng.standard_normal((100, pool.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    settings = Settings()
    out = []
    for n in sizes:
        reps = [pool]
        while sum(len(r) for r in reps) < n:
            r = pool + 0.05 * rng.standard_normal(pool.shape).astype(np.float32)  # near-duplicates of real text
            reps.append(r / np.linalg.norm(r, axis=1, keepdims=True))
        x = np.ascontiguousarray(np.vstack(reps)[:n])
        flat = faiss.IndexFlatIP(x.shape[1])
        flat.add(x)
        exact_ids, exact_ms = _search_all(flat, queries, settings.candidates)
        t0 = time.perf_counter()
        hnsw = _hnsw(x, settings)
        build_s = time.perf_counter() - t0
        approx_ids, hnsw_ms = _search_all(hnsw, queries, settings.candidates, settings.hnsw_ef_search)
        point = AnnPoint(n, exact_ms, hnsw_ms, round(build_s, 1), recall_at_10(exact_ids[:, :10], approx_ids[:, :10]))
        print(f"[ann] {point}", flush=True)
        out.append(point)
    return out


# -- the whole benchmark ----------------------------------------------------------------------


def _key(what: str, settings: Settings, n_questions: int) -> str:
    return hashlib.sha256(json.dumps([FORMAT, what, settings.to_dict(), n_questions], default=str).encode()
                          ).hexdigest()[:16]


def _run_child(args: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "bench.scale", *args], check=True, cwd=PROJECT_DIR)


def plot(results: list[dict], ann: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(results, key=lambda r: r["characters"])
    x = [r["characters"] / 1000 for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    ax = axes[0][0]
    ax.plot(x, [r["build_s"] for r in rows], "o-", label="full build")
    ax.plot(x, [r["add_s"] for r in rows], "s-", label="add one document")
    ax.set(title="Indexing (s)", xlabel="corpus (thousand characters)")
    ax.legend()
    ax = axes[0][1]
    for key, name in (("answer_p50_ms", "answer p50"), ("answer_p95_ms", "answer p95"),
                      ("retrieve_p50_ms", "retrieve p50"), ("retrieve_p95_ms", "retrieve p95")):
        ax.plot(x, [r[key] for r in rows], "o-", label=name)
    ax.set(title="Per question (ms)", xlabel="corpus (thousand characters)")
    ax.legend(fontsize=8)
    ax = axes[1][0]
    ax.plot(x, [r["rss_mb"] for r in rows], "o-", label="resident memory")
    ax.plot(x, [r["index_mb"] + r["vector_cache_mb"] for r in rows], "s-", label="index + vector cache on disk")
    ax.set(title="Memory and disk (MB)", xlabel="corpus (thousand characters)")
    ax.legend()
    ax = axes[1][1]
    if ann:
        v = [a["vectors"] / 1000 for a in ann]
        ax.plot(v, [a["exact_ms"] for a in ann], "o-", label="exact (IndexFlatIP)")
        ax.plot(v, [a["hnsw_ms"] for a in ann], "s-", label="HNSW")
        ax.axvline(Settings().ann_threshold / 1000, color="grey", ls="--", label="ann_threshold")
        ax.set(title="Chunk search per question (ms)", xlabel="vectors (thousands)")
        ax.legend(fontsize=8)
    fig.suptitle("Growth with the corpus (python -m bench.scale)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES),
                    help="characters, or <n>p for n paragraphs, comma-separated")
    ap.add_argument("--questions", type=int, default=50, help="questions per size (from its paragraphs)")
    ap.add_argument("--work", default=str(PROJECT_DIR / "artifacts" / "bench-scale"))
    ap.add_argument("--fresh", action="store_true", help="measure again even where a result is kept")
    ap.add_argument("--json", default=None)
    ap.add_argument("--plot", default=None)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: one size, in a child process
    ap.add_argument("--ann-from", default=None, help=argparse.SUPPRESS)  # internal: the search sweep
    args = ap.parse_args(argv)
    if not DATA.is_dir() or not list(DATA.glob("*.json")):
        print(f"The benchmark builds its corpora from SQuAD-format files in {DATA}, which is missing or "
              "empty; put the shared data there (see ../shared/data/SOURCES.md) and run again.", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one:
        size = int(args.one) if args.one.isdigit() else args.one
        result = measure_size(size, work, args.questions)
        (work / f"result-{_label(size)}.json").write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
        return 0
    if args.ann_from:
        points = measure_ann(work, args.ann_from)
        (work / "result-ann.json").write_text(json.dumps([p.to_dict() for p in points], indent=2), encoding="utf-8")
        return 0

    settings = Settings()
    sizes = [int(s) if s.isdigit() else s for s in args.sizes.split(",") if s]
    results = []
    for i, size in enumerate(sizes, 1):
        label = _label(size)
        kept = work / f"result-{label}.json"
        key = _key(label, settings, args.questions)
        if kept.is_file() and not args.fresh:
            data = json.loads(kept.read_text(encoding="utf-8"))
            if data.get("key") == key:
                print(f"[{i}/{len(sizes)}] {label}: kept result ({kept})", flush=True)
                results.append(data)
                continue
        print(f"[{i}/{len(sizes)}] {label}: measuring (a fresh build; the 1M one takes many minutes)", flush=True)
        t0 = time.perf_counter()
        _run_child(["--one", str(size), "--questions", str(args.questions), "--work", str(work)])
        data = json.loads(kept.read_text(encoding="utf-8")) | {"key": key}
        kept.write_text(json.dumps(data, indent=2), encoding="utf-8")
        print(f"[{i}/{len(sizes)}] {label}: done in {time.perf_counter() - t0:.0f} s", flush=True)
        results.append(data)

    largest = max(results, key=lambda r: r["characters"])["label"]
    kept = work / "result-ann.json"
    ann_key = _key(f"ann:{largest}", settings, 0)
    ann = None
    if kept.is_file() and not args.fresh:
        data = json.loads(kept.read_text(encoding="utf-8"))
        ann = data["points"] if isinstance(data, dict) and data.get("key") == ann_key else None
    if ann is None:
        print(f"[ann] exact against HNSW on the vectors of {largest}, replicated up to 100,000", flush=True)
        _run_child(["--ann-from", largest, "--work", str(work)])
        ann = json.loads(kept.read_text(encoding="utf-8"))
        kept.write_text(json.dumps({"key": ann_key, "points": ann}, indent=2), encoding="utf-8")

    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                            cwd=PROJECT_DIR).stdout.strip()
    out = {"machine": f"{os.uname().machine}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
           "commit": commit,
           "settings": {k: settings.to_dict()[k] for k in ("ann_threshold", "hnsw_m", "hnsw_ef_construction",
                                                            "hnsw_ef_search", "scorer", "chunk_size", "chunk_overlap")},
           "sizes": results, "ann": ann}
    head = ("size", "paras", "chars", "build s", "chars/s", "chunks", "units", "index MB", "RSS MB",
            "retr p50/p95", "answer p50/p95", "add s (share)", "recall@10")
    print(" | ".join(head))
    for r in sorted(results, key=lambda r: r["characters"]):
        print(" | ".join(str(v) for v in (
            r["label"], r["paragraphs"], r["characters"], r["build_s"], r["chars_per_s"], r["chunks"], r["units"],
            round(r["index_mb"] + r["vector_cache_mb"], 1), r["rss_mb"],
            f"{r['retrieve_p50_ms']}/{r['retrieve_p95_ms']}", f"{r['answer_p50_ms']}/{r['answer_p95_ms']}",
            f"{r['add_s']} ({r['add_share_of_build']:.1%})", r["hnsw_recall_at_10"])))
    for a in ann:
        print(f"ann {a}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.plot:
        plot(results, ann, Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
