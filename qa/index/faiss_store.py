"""The index on disk: FAISS vectors of chunks and quote units, their metadata, a manifest.

Layout of `index_dir`:
    CURRENT             name of the live build folder (replaced atomically)
    build-<id>/         manifest.json, chunks.faiss, units.faiss, meta.json
A build is written into a fresh folder and `CURRENT` is switched only when it is
complete, so a crash mid-build leaves the previous index in service. The manifest
records the model, settings, library versions, a sha256 of every source document
and of every index file: anything missing, stale or corrupt is rebuilt. No pickle.
"""
from __future__ import annotations

import bisect
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import faiss
import numpy as np

from ..text import chunking, layout, normalise as text
from ..models import embedding
from ..settings import ChunkVectors, Settings
from ..types import Chunk, Document

log = logging.getLogger(__name__)

FORMAT = 3
FILES = ("chunks.faiss", "units.faiss", "meta.json")


class IndexBuildError(RuntimeError):
    """The index cannot be built or written; the message says why and what to do."""


@dataclass(frozen=True)
class Unit:
    """A quotable unit: a sentence (or a clause run of a sentence too long to quote)."""

    id: int
    source: str
    start: int
    end: int
    role: str = ""  # layout role of a line of its own (title, caption …, see qa.layout); "" = running text

    @property
    def heading(self) -> bool:
        return bool(self.role)


@dataclass
class Index:
    """A loaded index: chunks and quote units with their vectors, and the cleaned documents."""

    path: Path | None  # None: built but not saved (the folder could not be written)
    manifest: dict
    documents: dict[str, str]
    chunks: list[Chunk]
    units: list[Unit]
    chunk_vectors: faiss.Index
    unit_vectors: faiss.Index
    chunk_units: list[list[int]]  # ids of the quote units overlapping each chunk
    source_chunks: dict[str, np.ndarray] = field(default_factory=dict)  # chunk ids of each document
    role_units: dict[str, list[int]] = field(default_factory=dict)  # unit ids of each layout role, in order

    def __post_init__(self):
        # Looked up per question (only=, page questions): computed once here, not by a scan per question.
        if not self.source_chunks:
            by_source: dict[str, list[int]] = {}
            for c in self.chunks:
                by_source.setdefault(c.source, []).append(c.id)
            self.source_chunks = {s: np.asarray(ids, dtype=np.int64) for s, ids in by_source.items()}
        if not self.role_units:
            for u in self.units:
                if u.role:
                    self.role_units.setdefault(u.role, []).append(u.id)

    def chunk_ids(self, source: str) -> np.ndarray:
        """Ids of the chunks of one document (empty when it has none)."""
        return self.source_chunks.get(source, np.zeros(0, dtype=np.int64))

    @property
    def approximate(self) -> bool:
        """True when chunks are searched with an approximate (HNSW) index."""
        return isinstance(self.chunk_vectors, faiss.IndexHNSW)


def versions() -> dict:
    return {name: version(name) for name in ("faiss-cpu", "sentence-transformers", "transformers", "bm25s")}


def source_hashes(docs_dir: Path) -> dict[str, str]:
    """sha256 of each document's bytes, keyed by its path relative to `docs_dir`."""
    return {
        p.relative_to(docs_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in text.document_paths(docs_dir)
    }


def expected_manifest(docs_dir: Path, settings: Settings, model_name: str | None) -> dict:
    """What a fresh index for these documents and settings must say about itself."""
    return {
        "format": FORMAT,
        "model": embedding.model_id(model_name, settings.encoder_runtime),
        "settings": settings.index_key() | {"max_quote_chars": settings.max_quote_chars},
        "search": settings.search_key(),
        "versions": versions(),
        "documents": source_hashes(docs_dir),
    }


def quote_units(doc: Document, max_chars: int) -> list[tuple[int, int]]:
    """Sentence spans of a document; a sentence longer than `max_chars` is cut at clause marks."""
    spans = []
    for s, e in text.sentences(doc.text):
        if e - s <= max_chars:
            spans.append((s, e))
            continue
        piece_start = s
        last_cut = None
        for i in range(s, e):
            if doc.text[i] in "，、：:,":
                last_cut = i + 1
            if i + 1 - piece_start > max_chars and last_cut and last_cut > piece_start:
                spans.append((piece_start, last_cut))
                piece_start = last_cut
        if piece_start < e:
            spans.append((piece_start, e))
    return spans


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _current(index_dir: Path) -> Path | None:
    try:
        name = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not name.startswith("build-") or "/" in name:
        return None
    return index_dir / name


def load(index_dir: Path, expected: dict) -> tuple[Index | None, str]:
    """The index at `index_dir` if it is complete, intact and matches `expected`; else why not."""
    path = _current(index_dir)
    if path is None or not (path / "manifest.json").is_file():
        return None, "no index yet"
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, "manifest unreadable"
    for key in ("format", "model", "settings", "search", "versions", "documents"):
        if manifest.get(key) != expected[key]:
            return None, f"stale ({key} changed)"
    for name in FILES:
        f = path / name
        if not f.is_file() or _sha(f) != manifest.get("files", {}).get(name):
            return None, f"corrupt ({name} missing or damaged)"
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        chunk_vectors = faiss.read_index(str(path / "chunks.faiss"))
        unit_vectors = faiss.read_index(str(path / "units.faiss"))
    except (OSError, ValueError, RuntimeError) as exc:
        return None, f"corrupt ({exc})"
    docs = meta["documents"]
    chunks = [Chunk(i, c["source"], c["start"], c["end"], docs[c["source"]][c["start"] : c["end"]])
              for i, c in enumerate(meta["chunks"])]
    units = [Unit(i, u["source"], u["start"], u["end"], u.get("role", "")) for i, u in enumerate(meta["units"])]
    if chunk_vectors.ntotal != len(chunks) or unit_vectors.ntotal != len(units):
        return None, "corrupt (vector count does not match metadata)"
    return Index(path, manifest, docs, chunks, units, chunk_vectors, unit_vectors, _overlaps(chunks, units)), "ok"


def _overlaps(chunks: list[Chunk], units: list[Unit]) -> list[list[int]]:
    by_source: dict[str, list[Unit]] = {}
    for u in units:
        by_source.setdefault(u.source, []).append(u)
    starts = {src: [u.end for u in us] for src, us in by_source.items()}
    out = []
    for c in chunks:
        us = by_source.get(c.source, [])
        i = bisect.bisect_right(starts.get(c.source, []), c.start)
        ids = []
        while i < len(us) and us[i].start < c.end:
            ids.append(us[i].id)
            i += 1
        out.append(ids)
    return out


def build(index_dir: Path, docs: list[Document], expected: dict, settings: Settings, model,
          progress: bool = False, keep_in_memory: bool = False) -> Index:
    """Embed the documents and write a new index, then switch `CURRENT` to it atomically.

    When the folder cannot be written, raise `IndexBuildError`, or with `keep_in_memory`
    (a server that is already answering) log it and return the fresh index unsaved.
    """
    chunks = chunking.split_documents(docs, settings.chunk_size, settings.chunk_overlap)
    spans = [(d, s, e) for d in docs for s, e in quote_units(d, settings.max_quote_chars)]
    layouts = {d.source: layout.roles(d.text) for d in docs}
    units = [Unit(i, d.source, s, e, layout.role_of(layouts[d.source], s, e)) for i, (d, s, e) in enumerate(spans)]
    documents = {d.source: d.text for d in docs}
    show = progress or len(chunks) > 500
    dim = embedding.dimension(model)
    chunk_matrix, unit_matrix = _document_vectors(index_dir, docs, chunks, units, expected, model, show, dim)
    # Only chunks are searched; unit vectors are read by id (qa.quoting), so they stay a flat store.
    chunk_vectors, unit_vectors = search_index(chunk_matrix, dim, settings), _flat_index(unit_matrix, dim)
    manifest = expected | {"dimension": dim, "chunks": len(chunks), "units": len(units),
                           "built": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        path = _write(index_dir, manifest, documents, chunks, units, chunk_vectors, unit_vectors)
    except IndexBuildError as exc:
        if not keep_in_memory:
            raise
        log.error("%s Answering from an unsaved in-memory index until then.", exc)
        return Index(None, manifest, documents, chunks, units, chunk_vectors, unit_vectors,
                     _overlaps(chunks, units))
    log.info("Index built in %s: %d chunks, %d quote units", path, len(chunks), len(units))
    index, why = load(index_dir, expected)
    if index is None:
        raise IndexBuildError(f"The index just written to {path} does not load back ({why}).")
    return index


VECTOR_CACHE = "vectors"  # per-document vectors, keyed by the document's content, model and settings


def _document_key(doc: Document, expected: dict) -> str:
    """Identifies one document's vectors: its text, the model, the chunking settings, the format."""
    basis = json.dumps([FORMAT, expected["model"], expected["settings"], doc.text], ensure_ascii=False)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def _document_vectors(index_dir: Path, docs: list[Document], chunks: list[Chunk], units: list[Unit],
                      expected: dict, model, progress: bool, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Chunk and unit vectors of every document, in index order. A document whose vectors are in the
    cache (same text, model and settings) is not encoded again: adding, changing or removing one file
    encodes only that file. The cache is pruned to the documents of this build."""
    cache = index_dir / VECTOR_CACHE
    by_doc_chunks: dict[str, list[Chunk]] = {}
    by_doc_units: dict[str, list[Unit]] = {}
    for c in chunks:
        by_doc_chunks.setdefault(c.source, []).append(c)
    for u in units:
        by_doc_units.setdefault(u.source, []).append(u)
    keys = {d.source: _document_key(d, expected) for d in docs}
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    missing = []
    for doc in docs:
        n_chunks, n_units = len(by_doc_chunks.get(doc.source, [])), len(by_doc_units.get(doc.source, []))
        try:
            with np.load(cache / f"{keys[doc.source]}.npz") as f:
                cv, uv = f["chunks"], f["units"]
            if cv.shape == (n_chunks, dim) and uv.shape == (n_units, dim):
                vectors[doc.source] = (cv.astype(np.float32), uv.astype(np.float32))
                continue
        except (OSError, ValueError, KeyError, EOFError):
            pass  # not cached, or a damaged cache file: encode again
        missing.append(doc)
    if missing:
        derive = expected["settings"].get("chunk_vectors") == ChunkVectors.DERIVED.value
        texts_c = [] if derive else [c.text for d in missing for c in by_doc_chunks.get(d.source, [])]
        texts_u = [d.text[u.start : u.end] for d in missing for u in by_doc_units.get(d.source, [])]
        # Chunks and sentences in one call, longest first, so batches pad little.
        encoded = _encode_by_length(model, texts_c + texts_u, progress)
        cv_all, uv_all = encoded[: len(texts_c)], encoded[len(texts_c) :]
        ci = ui = 0
        for d in missing:
            d_chunks, d_units = by_doc_chunks.get(d.source, []), by_doc_units.get(d.source, [])
            uv = uv_all[ui : ui + len(d_units)]
            cv = _derived_chunk_vectors(d_chunks, d_units, uv, dim) if derive else cv_all[ci : ci + len(d_chunks)]
            vectors[d.source] = (cv, uv)
            ci, ui = ci + (0 if derive else len(d_chunks)), ui + len(d_units)
            _save_vectors(cache, keys[d.source], *vectors[d.source])
    _prune_cache(cache, set(keys.values()))
    empty = np.zeros((0, dim), np.float32)
    chunk_matrix = np.vstack([vectors[d.source][0] for d in docs] or [empty])
    unit_matrix = np.vstack([vectors[d.source][1] for d in docs] or [empty])
    return np.ascontiguousarray(chunk_matrix), np.ascontiguousarray(unit_matrix)


def _derived_chunk_vectors(chunks: list[Chunk], units: list[Unit], unit_vectors: np.ndarray,
                           dim: int) -> np.ndarray:
    """Each chunk's vector from the sentences it holds: their vectors weighted by the characters they
    share with the chunk, normalised (Settings.chunk_vectors = derived: one encode per sentence)."""
    out = np.zeros((len(chunks), dim), np.float32)
    position = {u.id: i for i, u in enumerate(units)}
    for ci, ids in enumerate(_overlaps(chunks, units)):
        for uid in ids:
            u = units[position[uid]]
            c = chunks[ci]
            out[ci] += (min(c.end, u.end) - max(c.start, u.start)) * unit_vectors[position[uid]]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def _encode_by_length(model, texts: list[str], progress: bool) -> np.ndarray:
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    encoded = embedding.encode_passages(model, [texts[i] for i in order], progress=progress)
    out = np.empty_like(encoded)
    out[order] = encoded
    return out


def _save_vectors(cache: Path, key: str, chunk_vectors: np.ndarray, unit_vectors: np.ndarray) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".{key}.{uuid.uuid4().hex[:8]}.npz"
        np.savez(tmp, chunks=chunk_vectors, units=unit_vectors)
        os.replace(tmp, cache / f"{key}.npz")
    except OSError:
        pass  # a read-only or full disk: the build reports what matters when it writes the index


def _prune_cache(cache: Path, keep: set[str]) -> None:
    if not cache.is_dir():
        return
    for f in cache.glob("*.npz"):
        if f.stem not in keep:
            f.unlink(missing_ok=True)


def _write(index_dir: Path, manifest: dict, documents: dict, chunks: list[Chunk], units: list[Unit],
           chunk_vectors: faiss.Index, unit_vectors: faiss.Index) -> Path:
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        path = index_dir / f"build-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        faiss.write_index(chunk_vectors, str(path / "chunks.faiss"))
        faiss.write_index(unit_vectors, str(path / "units.faiss"))
        meta = {
            "documents": documents,
            "chunks": [{"source": c.source, "start": c.start, "end": c.end} for c in chunks],
            "units": [{"source": u.source, "start": u.start, "end": u.end, "role": u.role} for u in units],
        }
        (path / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        manifest = manifest | {"files": {name: _sha(path / name) for name in FILES}}
        (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        _fsync_dir(path)
        pointer = index_dir / f".CURRENT.{uuid.uuid4().hex[:8]}"
        pointer.write_text(path.name, encoding="utf-8")
        os.replace(pointer, index_dir / "CURRENT")
    except (OSError, RuntimeError) as exc:  # faiss reports write failures as RuntimeError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        raise IndexBuildError(
            f"Cannot write the index to {index_dir} ({reason}); make the folder writable and free some "
            "disk space, or pass another folder with --index."
        ) from None
    _remove_old_builds(index_dir, keep=path.name)
    return path


def search_index(vectors: np.ndarray, dim: int, settings: Settings) -> faiss.Index:
    """Exact inner-product search up to `settings.ann_threshold` vectors, HNSW above it, where exact
    search costs more than a few ms per question (README, "Many documents"). Vectors are normalized,
    so inner product is cosine either way."""
    if len(vectors) <= settings.ann_threshold:
        return _flat_index(vectors, dim)
    idx = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = settings.hnsw_ef_construction
    idx.hnsw.efSearch = settings.hnsw_ef_search
    idx.add(vectors)
    return idx


def _flat_index(vectors: np.ndarray, dim: int) -> faiss.Index:
    idx = faiss.IndexFlatIP(dim)
    if len(vectors):
        idx.add(vectors)
    return idx


def _fsync_dir(path: Path) -> None:
    for f in path.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    for old in index_dir.glob("build-*"):
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    for stray in index_dir.glob(".CURRENT.*"):
        stray.unlink(missing_ok=True)


class BuildLock:
    """Only one process builds an index folder at a time; others wait, then reuse its build."""

    def __init__(self, index_dir: Path):
        self.path = index_dir / ".lock"
        self._fh = None

    def __enter__(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a")
        except OSError:
            return self  # read-only folder: nothing to coordinate, the build will report it
        fcntl.flock(self._fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self._fh:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
