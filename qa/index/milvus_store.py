"""The index in Milvus: Milvus Lite embedded (`milvus:FOLDER`) or a Milvus server (`http://HOST:19530`).

Four collections, named after the model and the index settings (a change of either starts new ones):
- `<p>_chunks`: id, source, key (the document's content key), start, end, text, `terms` (the engine's
  BM25 tokens, hashed, for Milvus's BM25 function) or the text itself through Milvus's Chinese analyzer
  (jieba + cnalphanumonly) when `Settings.bm25_tokens` is "jieba", the BM25 sparse vector, the dense
  vector (HNSW, inner product);
- `<p>_units`: the quotable sentences: id, source, key, start, end, layout role, vector (read by id only);
- `<p>_documents`: each document's cleaned text in parts of up to 16,000 characters, with its key and
  the sha256 of its file — quotes are cut from it, so another process answers from the same data;
- `<p>_terms`: how many chunks hold each BM25 token (and the chunk count): the corpus IDF of coverage,
  the same numbers the local store's BM25Index computes.
(Milvus wants a vector field in every collection: documents and terms carry a 2-d placeholder.)

A new or changed document: its rows are inserted under new ids (they follow from its name, content key
and position), then its document rows are switched to the new key, then the old rows are deleted by id.
A question reads a document's chunks and sentences by those ids, from its current key and row counts,
so a write that fails half-way leaves the previous version answering and the next sync finishes it
(rewriting the same ids). A removed document: its document rows go first, then its chunks and
sentences. Nothing is ever rebuilt globally, and nothing per question or per document scans the
collections (a filter on `source` would: Milvus Lite evaluates it row by row). This process is the
store's one writer: it keeps what the store holds per document in memory.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from . import faiss_store as index_mod, retrieval
from ..models import embedding
from ..text import chunking, layout, normalise as text
from .lexical import _share, idf, tokenize
from ..settings import ChunkVectors, RetrievalMode, Settings
from .store_base import Retrieved, StoreError
from ..types import Chunk, Document

log = logging.getLogger(__name__)

SCHEMA = 2
PART_CHARS = 16_000  # characters of document text per row: VARCHAR holds at most 65,535 bytes
LIMIT = 16_384  # Milvus's largest query window
CHUNKS_ROW = "__chunks__"  # the terms row holding the number of chunks (BM25's N)
JIEBA = {"tokenizer": "jieba", "filter": ["cnalphanumonly"]}
FUSIONS = ("engine", "milvus")
ANALYZERS = ("engine", "jieba")


def _hash_token(token: str) -> str:
    """A BM25 token as one plain word for Milvus's standard analyzer (and a bounded key for terms)."""
    return "t" + hashlib.blake2b(token.encode("utf-8"), digest_size=6).hexdigest()


def _row_id(*parts: str) -> int:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def _doc_id(source: str, part: int) -> str:
    return f"{source}\x1f{part}"


@dataclass(frozen=True)
class _Stored:
    """What the store holds of one document: its content key, its file's sha256, and its rows."""

    key: str
    sha256: str
    chunks: int
    units: int
    parts: int


def _quote(value: str) -> str:
    """A string literal of a Milvus filter expression."""
    return json.dumps(value, ensure_ascii=False)


def parse_spec(spec: str) -> tuple[str, bool, dict[str, str]]:
    """(uri for MilvusClient, is Lite, options) of "milvus:FOLDER" or "http(s)://HOST:PORT", each with
    optional "?fusion=engine|milvus" (whose RRF ranks the hybrid results), "&bm25=engine|jieba" (BM25 over
    the engine's own tokens, or over the chunk text through Milvus's jieba analyzer), "&name=NAME" (the
    collections' name prefix, default qa: several corpora in one Milvus) and "&sync=off" (answer from what
    the store holds; never write it from this process's documents folder)."""
    base, _, query = spec.partition("?")
    options = {"fusion": "engine", "bm25": "engine", "name": "qa", "sync": "on"}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        if (key == "fusion" and value in FUSIONS or key == "bm25" and value in ANALYZERS
                or key == "sync" and value in ("on", "off")
                or key == "name" and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,30}", value)):
            options[key] = value
        else:
            raise ValueError(f"Unknown store option {item!r} in {spec!r}; use fusion=engine|milvus, "
                             "bm25=engine|jieba, name=LETTERS_DIGITS_UNDERSCORES, sync=on|off")
    if base.startswith("milvus:"):
        folder = base[len("milvus:"):]
        if not folder:
            raise ValueError("milvus: needs a data folder, e.g. milvus:./index/milvus")
        return str(Path(folder).expanduser().resolve() / "milvus.db"), True, options
    return base, False, options


class _Clients:
    """One MilvusClient per URI in this process (Milvus Lite allows one process per data folder; the
    engines of one process share it), closed when its last store closes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._open: dict[str, list] = {}

    def get(self, uri: str, lite: bool):
        with self._lock:
            if uri in self._open:
                self._open[uri][1] += 1
                return self._open[uri][0]
            client = _connect(uri, lite)
            self._open[uri] = [client, 1, lite]
            return client

    def release(self, uri: str) -> None:
        with self._lock:
            entry = self._open.get(uri)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] <= 0:
                del self._open[uri]
                try:
                    entry[0].close()
                except Exception:  # closing a client whose server went away
                    pass
                if entry[2]:  # Lite runs in this process until released: let go of its folder (and lock)
                    from milvus_lite.server_manager import server_manager_instance

                    server_manager_instance.release_server(uri)


CLIENTS = _Clients()


_LOCKED = ("The Milvus Lite folder {folder} is open in another process: Milvus Lite allows one process per "
           "data folder. Stop that process, give this one another folder, or run a Milvus server "
           "(docs/distributed.md) for several processes.")


def _locked(lock_file: Path) -> bool:
    """True when another process holds Milvus Lite's lock on its data folder (an advisory flock on
    `<data>/LOCK`, taken while a Lite server has the folder open)."""
    import fcntl

    try:
        fd = os.open(lock_file, os.O_RDWR)
    except OSError:
        return False  # no data folder yet: nobody has it open
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _connect(uri: str, lite: bool):
    from pymilvus import MilvusClient

    if lite:
        try:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the Milvus Lite folder {Path(uri).parent} ({exc.strerror}).") from None
        if _locked(Path(uri) / "LOCK"):
            raise StoreError(_LOCKED.format(folder=Path(uri).parent))
    try:
        kwargs = {} if lite else {"token": os.environ.get("MILVUS_TOKEN", ""),
                                  "timeout": float(os.environ.get("QA_MILVUS_TIMEOUT", "10"))}
        return MilvusClient(uri=uri, **kwargs)
    except Exception as exc:
        chain, e = [], exc
        while e is not None and len(chain) < 10:
            chain.append(e)
            e = e.__cause__ or e.__context__
        if lite and (any(type(e).__name__ == "DataDirLockedError" for e in chain) or _locked(Path(uri) / "LOCK")):
            raise StoreError(_LOCKED.format(folder=Path(uri).parent)) from None
        reason = str(chain[-1]).splitlines()[0] if chain else str(exc)
        if lite:
            raise StoreError(f"Cannot open Milvus Lite in {Path(uri).parent} ({reason}).") from None
        raise StoreError(f"Cannot reach the Milvus server at {uri} ({reason}). Start it (docs/distributed.md, "
                         "docs/milvus/docker-compose.yml) or choose another store (--store / QA_STORE).") from None


class _Coverage:
    """`coverage(query, text)` as BM25Index computes it, with document frequencies from the terms table."""

    def __init__(self, store: "MilvusStore", mode: str):
        self.store, self.mode = store, mode
        self._idf: dict[str, float] = {}
        self._n: int | None = None

    def _weights(self, tokens: set[str]) -> dict[str, float]:
        missing = [t for t in tokens if t not in self._idf]
        if missing:
            df, n = self.store._document_frequencies(missing)
            self._n = n
            for t in missing:
                self._idf[t] = idf(max(n, 1), df.get(t, 0))
        return {t: self._idf[t] for t in tokens}

    def coverage(self, query: str, text_: str) -> float:
        q = set(tokenize(query, self.mode))
        if not q:
            return 0.0
        return _share(self._weights(q), set(tokenize(text_, self.mode)))


class _UnitVectors:
    """Sentence vectors of a view's units, fetched from Milvus by id when the quote step asks."""

    def __init__(self, store: "MilvusStore", row_ids: np.ndarray):
        self.store, self.row_ids = store, row_ids

    def __getitem__(self, ids) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        return self.store._unit_vectors(self.row_ids[ids])


class MilvusStore:
    """Chunks, sentences and documents in Milvus; see the module's docstring."""

    kind = "milvus"

    def __init__(self, spec: str, settings: Settings, model, model_name: str | None):
        self.spec, self.settings, self.model = spec, settings, model
        self.uri, self.lite, options = parse_spec(spec)
        self.fusion = options["fusion"]
        self.writes = options["sync"] == "on"
        # Milvus's BM25 reads the chunk text through its jieba analyzer (bm25=jieba, or the engine's own
        # tokens are jieba words), else the engine's tokens (Settings.bm25_tokens), hashed to plain words.
        self.milvus_analyzer = options["bm25"] == "jieba" or settings.bm25_tokens == "jieba"
        if settings.bm25_tokens not in ("bigram", "jieba"):
            raise ValueError(f"unknown BM25 tokenization {settings.bm25_tokens!r} (use 'bigram' or 'jieba')")
        self.dim = embedding.dimension(model)
        model_id = embedding.model_id(model_name, settings.encoder_runtime)
        basis = json.dumps([SCHEMA, index_mod.FORMAT, model_id, settings.index_key(), settings.max_quote_chars,
                            self.dim, self.milvus_analyzer], sort_keys=True)
        self.key_basis = {"model": model_id, "settings": settings.index_key() | {"max_quote_chars": settings.max_quote_chars}}
        prefix = options["name"] + "_" + hashlib.sha256(basis.encode()).hexdigest()[:12]
        self.names = {k: f"{prefix}_{k}" for k in ("chunks", "units", "documents", "terms")}
        self._client = CLIENTS.get(self.uri, self.lite)
        self._closed = False
        self._write_lock = threading.Lock()
        self._files: dict[str, _Stored] = {}  # what the store holds per document (this process writes it)
        self._chunk_count = 0
        self._all: dict[str, str] | None = None  # every document's text, for the English lexicon
        try:
            self._ensure_collections()
        except StoreError:
            raise
        except Exception as exc:
            self.close()
            raise self._error("open", exc) from None

    # -- setup --------------------------------------------------------------------------------------

    def _error(self, doing: str, exc: Exception) -> StoreError:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        where = f"Milvus Lite in {Path(self.uri).parent}" if self.lite else f"the Milvus server at {self.uri}"
        return StoreError(f"Milvus store: cannot {doing} ({where}: {reason}). Documents written before this "
                          "error are complete; the next start or change of the documents folder finishes the rest.")

    def _ensure_collections(self) -> None:
        c = self._client
        # Lite's in-process server logs every create_index as an error: pymilvus waits for the index
        # through AllocTimestamp, which Lite does not implement (the index is built all the same).
        quiet = logging.getLogger("grpc._server")
        level = quiet.level
        if self.lite:
            quiet.setLevel(logging.CRITICAL)
        try:
            self._create_collections()
        finally:
            quiet.setLevel(level)
        for name in self.names.values():
            c.load_collection(name)
        self._files = self._stored_files()
        self._chunk_count = self._document_frequencies([])[1]

    def _create_collections(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self._client
        existing = set(c.list_collections())
        # A server: every write visible to the next question. Lite is (and has no timestamp service).
        self._consistency = {} if self.lite else {"consistency_level": "Strong"}
        jieba = self.milvus_analyzer
        if self.names["chunks"] not in existing:
            s = c.create_schema(auto_id=False)
            s.add_field("id", DataType.INT64, is_primary=True)
            s.add_field("source", DataType.VARCHAR, max_length=2048)
            s.add_field("key", DataType.VARCHAR, max_length=64)
            s.add_field("start", DataType.INT64)
            s.add_field("end", DataType.INT64)
            if jieba:
                s.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=JIEBA)
            else:
                s.add_field("text", DataType.VARCHAR, max_length=65535)
                s.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                            analyzer_params={"tokenizer": "standard"})
            s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
            s.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                    input_field_names=["text" if jieba else "terms"], output_field_names=["sparse"]))
            ip = c.prepare_index_params()
            ip.add_index("vector", index_type="HNSW", metric_type="IP",
                         params={"M": self.settings.hnsw_m, "efConstruction": self.settings.hnsw_ef_construction})
            # bm25s's defaults (the local store's BM25): k1 1.5, b 0.75
            ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": 1.5, "bm25_b": 0.75})
            ip.add_index("source", index_type="INVERTED")
            c.create_collection(self.names["chunks"], schema=s, index_params=ip, **self._consistency)
        if self.names["units"] not in existing:
            s = c.create_schema(auto_id=False)
            s.add_field("id", DataType.INT64, is_primary=True)
            s.add_field("source", DataType.VARCHAR, max_length=2048)
            s.add_field("key", DataType.VARCHAR, max_length=64)
            s.add_field("start", DataType.INT64)
            s.add_field("end", DataType.INT64)
            s.add_field("role", DataType.VARCHAR, max_length=64)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
            ip = c.prepare_index_params()
            ip.add_index("vector", index_type="FLAT", metric_type="IP")  # read by id, never searched
            ip.add_index("source", index_type="INVERTED")
            c.create_collection(self.names["units"], schema=s, index_params=ip, **self._consistency)
        for name, key_field, fields in (("documents", "id", (("source", 2048), ("key", 64), ("sha256", 64))),
                                        ("terms", "token", ())):
            if self.names[name] in existing:
                continue
            s = c.create_schema(auto_id=False)
            s.add_field(key_field, DataType.VARCHAR, max_length=2100, is_primary=True)
            for f, n in fields:
                s.add_field(f, DataType.VARCHAR, max_length=n)
            if name == "documents":
                s.add_field("part", DataType.INT64)
                s.add_field("parts", DataType.INT64)
                s.add_field("chunks", DataType.INT64)  # rows of the document in chunks / units: their ids
                s.add_field("units", DataType.INT64)   # follow from (source, key, position), read by id
                s.add_field("text", DataType.VARCHAR, max_length=65535)
            else:
                s.add_field("df", DataType.INT64)
            s.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
            ip = c.prepare_index_params()
            ip.add_index("placeholder", index_type="FLAT", metric_type="L2")
            c.create_collection(self.names[name], schema=s, index_params=ip, **self._consistency)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            CLIENTS.release(self.uri)

    def location(self) -> str:
        return f"milvus:{Path(self.uri).parent}" if self.lite else self.uri

    # -- reads --------------------------------------------------------------------------------------

    def _query(self, collection: str, filter_: str, fields: list[str]) -> list[dict]:
        """Every row matching `filter_` (iterating past Milvus's query window when needed)."""
        rows = self._client.query(self.names[collection], filter=filter_, output_fields=fields, limit=LIMIT)
        if len(rows) < LIMIT:
            return list(rows)
        out: list[dict] = []
        it = self._client.query_iterator(self.names[collection], batch_size=4096, filter=filter_,
                                         output_fields=fields)
        try:
            while batch := it.next():
                out.extend(batch)
        finally:
            it.close()
        return out

    def _stored_files(self) -> dict[str, "_Stored"]:
        """Every stored document's key, file hash and row counts (a scan: at open and with sync=off)."""
        return {r["source"]: _Stored(r["key"], r["sha256"], r["chunks"], r["units"], r["parts"])
                for r in self._query("documents", "part == 0", ["source", "key", "sha256", "chunks", "units", "parts"])}

    def _fetch_documents(self, sources) -> dict[str, tuple["_Stored", str]]:
        """{source: (what is stored of it, its text)} of the complete documents among `sources`, read by
        primary key (a filter on `source` would scan every row in Milvus Lite)."""
        sources = list(sources)
        if not sources:
            return {}
        fields = ["source", "key", "sha256", "part", "parts", "chunks", "units", "text"]
        first = self._client.query(self.names["documents"], ids=[_doc_id(x, 0) for x in sources],
                                   output_fields=fields)
        rows = {r["source"]: [r] for r in first}
        more = [_doc_id(r["source"], i) for r in first for i in range(1, r["parts"])]
        for i in range(0, len(more), 500):
            for r in self._client.query(self.names["documents"], ids=more[i : i + 500], output_fields=fields):
                rows[r["source"]].append(r)
        out = {}
        for source, parts in rows.items():
            parts.sort(key=lambda r: r["part"])
            head = parts[0]
            if len(parts) != head["parts"] or len({r["key"] for r in parts}) != 1:
                continue  # mid-write: not yet (or no longer) a complete document
            out[source] = (_Stored(head["key"], head["sha256"], head["chunks"], head["units"], head["parts"]),
                           "".join(r["text"] for r in parts))
        return out

    def _rows(self, collection: str, docs: dict[str, "_Stored"], fields: list[str]) -> list[dict]:
        """The chunk or unit rows of `docs` ({source: stored}), by primary key."""
        kind, count = ("c", "chunks") if collection == "chunks" else ("u", "units")
        ids = [_row_id(src, st.key, kind, str(i)) for src, st in docs.items() for i in range(getattr(st, count))]
        out: list[dict] = []
        for i in range(0, len(ids), 2000):
            out.extend(self._client.query(self.names[collection], ids=ids[i : i + 2000], output_fields=fields))
        return out

    def _document_frequencies(self, tokens: list[str]) -> tuple[dict[str, int], int]:
        """{token: number of chunks holding it} for engine tokens, and the number of chunks."""
        hashed = {_hash_token(t): t for t in tokens}
        df: dict[str, int] = {}
        n = 0
        keys = [*hashed, CHUNKS_ROW]
        for i in range(0, len(keys), 1000):
            for r in self._client.query(self.names["terms"], ids=keys[i : i + 1000], output_fields=["token", "df"]):
                if r["token"] == CHUNKS_ROW:
                    n = int(r["df"])
                else:
                    df[hashed[r["token"]]] = int(r["df"])
        return df, n

    def _unit_vectors(self, row_ids: np.ndarray) -> np.ndarray:
        if not len(row_ids):
            return np.zeros((0, self.dim), np.float32)
        got = {r["id"]: r["vector"] for r in self._client.query(self.names["units"], ids=[int(i) for i in row_ids],
                                                                output_fields=["id", "vector"])}
        return np.asarray([got[int(i)] for i in row_ids], dtype=np.float32)

    def sources(self) -> list[str]:
        return sorted(self._files)

    def document(self, source: str) -> str:
        if source not in self._files:
            raise KeyError(source)
        got = self._fetch_documents([source])
        if source not in got:
            raise KeyError(source)
        return got[source][1]

    def documents(self) -> Mapping[str, str]:
        if self._all is None:
            texts: dict[str, list[tuple[int, str]]] = {}
            for r in self._query("documents", "part >= 0", ["source", "part", "text"]):
                texts.setdefault(r["source"], []).append((r["part"], r["text"]))
            self._all = {s: "".join(t for _, t in sorted(p)) for s, p in sorted(texts.items())}
        return self._all

    def counts(self) -> dict[str, int]:
        return {"chunks": self._chunk_count, "documents": len(self._files)}

    # -- search -------------------------------------------------------------------------------------

    def _bm25_query(self, lexical: str) -> str:
        if self.milvus_analyzer:
            return lexical if tokenize(lexical, "jieba") else ""
        return " ".join(_hash_token(t) for t in tokenize(lexical, self.settings.bm25_tokens))

    def _scored(self, hits) -> list[retrieval.Scored]:
        return [retrieval.Scored(int(h["id"]), abs(float(h["distance"]))) for h in hits]

    def search(self, question: str, lexical: str, query_vector: np.ndarray, mode: RetrievalMode,
               only: str | None = None) -> Retrieved:
        if only is not None and only not in self._files:
            raise KeyError(f"No document named {only!r}; known: {', '.join(self.sources())}")
        mode = RetrievalMode.from_str(mode)
        try:
            ranking = self._rank(lexical, query_vector, mode, only)
            return self._view(question, ranking, only)
        except (KeyError, ValueError):
            raise
        except Exception as exc:
            raise self._error("search", exc) from None

    def _rank(self, lexical: str, query_vector: np.ndarray, mode: RetrievalMode,
              only: str | None) -> list[retrieval.Scored]:
        from pymilvus import AnnSearchRequest, RRFRanker

        n, c, s = self.settings.candidates, self._client, self.settings
        flt = f"source == {_quote(only)}" if only is not None else ""
        qv = [np.asarray(query_vector, dtype=np.float32).tolist()]
        dense_params = {"metric_type": "IP", "params": {"ef": max(s.hnsw_ef_search, n)}}
        text_query = self._bm25_query(lexical) if mode is not RetrievalMode.DENSE else ""
        if mode is RetrievalMode.HYBRID and self.fusion == "milvus" and text_query:
            requests = [AnnSearchRequest(qv, "vector", dense_params, limit=n, expr=flt or None),
                        AnnSearchRequest([text_query], "sparse", {"metric_type": "BM25"}, limit=n, expr=flt or None)]
            hits = c.hybrid_search(self.names["chunks"], requests, RRFRanker(s.rrf_k), limit=2 * n,
                                   output_fields=["id"])[0]
            best = 2.0 / (s.rrf_k + 1)  # first in both rankings scores 1, as retrieval.fuse normalizes
            return [retrieval.Scored(int(h["id"]), float(h["distance"]) / best) for h in hits]
        dense = lexical_hits = []
        if mode is not RetrievalMode.BM25:
            dense = self._scored(c.search(self.names["chunks"], data=qv, anns_field="vector", limit=n, filter=flt,
                                          output_fields=["id"], search_params=dense_params)[0])
        if mode is not RetrievalMode.DENSE and text_query:
            lexical_hits = self._scored(c.search(self.names["chunks"], data=[text_query], anns_field="sparse",
                                                 limit=n, filter=flt, output_fields=["id"],
                                                 search_params={"metric_type": "BM25"})[0])
        if mode is RetrievalMode.DENSE:
            return dense
        if mode is RetrievalMode.BM25:
            return lexical_hits
        return retrieval.fuse(dense, lexical_hits, s.fusion_weight, s.rrf_k)

    def _view(self, question: str, ranking: list[retrieval.Scored], only: str | None) -> Retrieved:
        """The documents of the ranked chunks (and of the page lines a question about the page asks for)
        as a small `Index`, the ranking in its ids, sentence vectors fetched by id."""
        c = self._client
        ids = [r.chunk for r in ranking]
        rows = c.query(self.names["chunks"], ids=ids, output_fields=["id", "source", "key"]) if ids else []
        sources = {r["source"] for r in rows}
        asked = layout.asked(question)
        if asked:
            flt = f"role == {_quote(asked.role)}" + (f" and source == {_quote(only)}" if only else "")
            sources |= {r["source"] for r in self._query("units", flt, ["source"])}
        docs = self._fetch_documents(sources)
        stored = {src: st for src, (st, _) in docs.items()}
        chunk_rows = self._rows("chunks", stored, ["id", "source", "key", "start", "end"])
        unit_rows = self._rows("units", stored, ["id", "source", "key", "start", "end", "role"])
        chunk_rows.sort(key=lambda r: (r["source"], r["start"], r["end"]))
        unit_rows.sort(key=lambda r: (r["source"], r["start"]))
        texts = {s: t for s, (_, t) in docs.items()}
        chunks = [Chunk(i, r["source"], r["start"], r["end"], texts[r["source"]][r["start"] : r["end"]])
                  for i, r in enumerate(chunk_rows)]
        units = [index_mod.Unit(i, r["source"], r["start"], r["end"], r["role"]) for i, r in enumerate(unit_rows)]
        local = {r["id"]: i for i, r in enumerate(chunk_rows)}
        view = index_mod.Index(None, {"store": self.location()}, texts, chunks, units, None, None,
                               index_mod._overlaps(chunks, units))
        ranked = [retrieval.Scored(local[r.chunk], r.score) for r in ranking if r.chunk in local]
        unit_ids = np.asarray([r["id"] for r in unit_rows], dtype=np.int64)
        return Retrieved(view, _UnitVectors(self, unit_ids), _Coverage(self, self.settings.bm25_tokens), ranked)

    # -- writes -------------------------------------------------------------------------------------

    def sync(self, docs_dir: Path, keep_in_memory: bool = False) -> tuple[float | None, list[str]]:
        """Upsert the documents of `docs_dir` that are new or changed, delete the ones that are gone.
        What the store holds is known from memory (this process is its one writer), so a sync reads and
        hashes the files but asks Milvus nothing about the documents that did not change."""
        docs_dir = Path(docs_dir)
        skipped: list[str] = []
        if not self.writes:  # sync=off: another process writes; see what it wrote
            try:
                self._files = self._stored_files()
                self._chunk_count = self._document_frequencies([])[1]
            except Exception as exc:
                raise self._error("read", exc) from None
            self._all = None
            return None, skipped
        with self._write_lock:
            try:
                present, changed = set(), []
                for path in text.document_paths(docs_dir):
                    source = path.relative_to(docs_dir).as_posix()
                    try:
                        sha = hashlib.sha256(path.read_bytes()).hexdigest()
                    except OSError as exc:
                        skipped.append(f"{source}: {exc.strerror}")
                        continue
                    if source in self._files and self._files[source].sha256 == sha:
                        present.add(source)
                        continue
                    try:
                        doc = text.read_document(path, docs_dir)
                    except text.DocumentError as exc:
                        skipped.append(str(exc))
                        continue
                    if doc.text:
                        present.add(source)
                        changed.append(doc)
                removed = sorted(set(self._files) - present)
                if not changed and not removed:
                    return None, skipped
                t0 = time.perf_counter()
                self.upsert(changed)
                self.remove(removed)
                return time.perf_counter() - t0, skipped
            except StoreError:
                raise
            except Exception as exc:
                raise self._error("write", exc) from None

    def _document_key(self, doc: Document) -> str:
        return index_mod._document_key(doc, self.key_basis)

    def upsert(self, docs: list[Document], batch_chars: int = 50_000) -> None:
        """Write `docs` (new or changed), a batch of about `batch_chars` characters at a time."""
        batch: list[Document] = []
        size = 0
        for doc in docs:
            batch.append(doc)
            size += len(doc.text)
            if size >= batch_chars:
                self._upsert_batch(batch)
                batch, size = [], 0
        if batch:
            self._upsert_batch(batch)
        self._all = None

    def _delete_rows(self, source: str, st: "_Stored", keep_parts: int = 0) -> None:
        """Delete a stored version's chunk and unit rows, and its text parts from `keep_parts` on, by id."""
        c = self._client
        for collection, kind, count in (("chunks", "c", st.chunks), ("units", "u", st.units)):
            ids = [_row_id(source, st.key, kind, str(i)) for i in range(count)]
            for i in range(0, len(ids), 2000):
                c.delete(self.names[collection], ids=ids[i : i + 2000])
        if st.parts > keep_parts:
            c.delete(self.names["documents"], ids=[_doc_id(source, p) for p in range(keep_parts, st.parts)])

    def _upsert_batch(self, docs: list[Document]) -> None:
        c, s = self._client, self.settings
        keys = {d.source: self._document_key(d) for d in docs}
        stored = self._files
        fresh = [d for d in docs if d.source not in stored or stored[d.source].key != keys[d.source]]
        by_source = {d.source: d.text for d in fresh}
        chunks = chunking.split_documents(fresh, s.chunk_size, s.chunk_overlap)
        units = []
        for d in fresh:
            roles = layout.roles(d.text)
            units += [index_mod.Unit(len(units) + i, d.source, a, b, layout.role_of(roles, a, b))
                      for i, (a, b) in enumerate(index_mod.quote_units(d, s.max_quote_chars))]
        derive = s.chunk_vectors is ChunkVectors.DERIVED
        texts = ([] if derive else [ch.text for ch in chunks]) + [by_source[u.source][u.start : u.end] for u in units]
        vectors = index_mod._encode_by_length(self.model, texts, len(texts) > 2000) if texts else \
            np.zeros((0, self.dim), np.float32)
        unit_vectors = vectors[0 if derive else len(chunks):]
        if derive:
            chunk_vectors = np.vstack([index_mod._derived_chunk_vectors(
                [ch for ch in chunks if ch.source == d.source], [u for u in units if u.source == d.source],
                unit_vectors[[u.id for u in units if u.source == d.source]], self.dim) for d in fresh]
                or [np.zeros((0, self.dim), np.float32)])
        else:
            chunk_vectors = vectors[: len(chunks)]
        # 1. the new rows, under ids of the new content (invisible until the documents' key points at them)
        counts: dict[str, list[int]] = {d.source: [0, 0] for d in docs}
        chunk_rows = []
        delta: Counter = Counter()
        for ch, v in zip(chunks, chunk_vectors):
            i = counts[ch.source][0]
            counts[ch.source][0] += 1
            tokens = tokenize(ch.text, s.bm25_tokens)
            delta.update(set(tokens))
            row = {"id": _row_id(ch.source, keys[ch.source], "c", str(i)), "source": ch.source,
                   "key": keys[ch.source], "start": ch.start, "end": ch.end, "text": ch.text,
                   "vector": v.tolist()}
            if not self.milvus_analyzer:
                row["terms"] = " ".join(_hash_token(t) for t in tokens) or "t0"
            chunk_rows.append(row)
        delta[CHUNKS_ROW] += len(chunks)
        unit_rows = []
        for u, v in zip(units, unit_vectors):
            i = counts[u.source][1]
            counts[u.source][1] += 1
            unit_rows.append({"id": _row_id(u.source, keys[u.source], "u", str(i)), "source": u.source,
                              "key": keys[u.source], "start": u.start, "end": u.end, "role": u.role,
                              "vector": v.tolist()})
        for name, rows in (("chunks", chunk_rows), ("units", unit_rows)):
            for i in range(0, len(rows), 1000):
                c.upsert(self.names[name], rows[i : i + 1000])
        # 2. switch each document to its new key (its text, file hash and row counts)
        old = self._fetch_documents([d.source for d in fresh if d.source in stored])
        doc_rows, new_stored = [], {}
        for d in docs:
            if d.source not in by_source:  # same text, another file hash: keep its rows and counts
                st = stored[d.source]
                n_chunks, n_units = st.chunks, st.units
            else:
                n_chunks, n_units = counts[d.source]
            parts = [d.text[i : i + PART_CHARS] for i in range(0, len(d.text), PART_CHARS)] or [""]
            new_stored[d.source] = _Stored(keys[d.source], d.sha256, n_chunks, n_units, len(parts))
            doc_rows += [{"id": _doc_id(d.source, p), "source": d.source, "key": keys[d.source], "sha256": d.sha256,
                          "part": p, "parts": len(parts), "chunks": n_chunks, "units": n_units, "text": t,
                          "placeholder": [1.0, 0.0]} for p, t in enumerate(parts)]
        for i in range(0, len(doc_rows), 200):
            c.upsert(self.names["documents"], doc_rows[i : i + 200])
        # 3. the previous versions' rows go (by id), and their chunks' tokens leave the document frequencies
        for source, (st, old_text) in old.items():
            self._delete_rows(source, st, keep_parts=new_stored[source].parts)
            for ch in chunking.split_documents([Document(source, old_text, "")], s.chunk_size, s.chunk_overlap):
                delta.subtract(set(tokenize(ch.text, s.bm25_tokens)))
                delta[CHUNKS_ROW] -= 1
        self._apply_terms(delta)
        stored.update(new_stored)

    def remove(self, sources: list[str]) -> None:
        """Delete every row of `sources`: their document rows first, so no question quotes them again."""
        sources = [x for x in sources if x in self._files]
        if not sources:
            return
        s = self.settings
        old = self._fetch_documents(sources)
        delta: Counter = Counter()
        for source in sources:
            st = self._files[source]
            self._client.delete(self.names["documents"], ids=[_doc_id(source, p) for p in range(st.parts)])
            self._delete_rows(source, st, keep_parts=st.parts)
            del self._files[source]
        for source, (_, old_text) in old.items():
            for ch in chunking.split_documents([Document(source, old_text, "")], s.chunk_size, s.chunk_overlap):
                delta.subtract(set(tokenize(ch.text, s.bm25_tokens)))
                delta[CHUNKS_ROW] -= 1
        self._apply_terms(delta)
        self._all = None

    def _apply_terms(self, delta: Counter) -> None:
        """Add `delta` (engine tokens, and CHUNKS_ROW) to the document frequencies of the terms table.
        One writer at a time (this process's write lock; one ingesting process per store)."""
        delta = {t: d for t, d in delta.items() if d}
        if not delta:
            return
        tokens = [t for t in delta if t != CHUNKS_ROW]
        df, n = self._document_frequencies(tokens)
        rows = [{"token": _hash_token(t), "df": max(df.get(t, 0) + d, 0), "placeholder": [1.0, 0.0]}
                for t, d in delta.items() if t != CHUNKS_ROW]
        self._chunk_count = max(n + delta.get(CHUNKS_ROW, 0), 0)
        rows.append({"token": CHUNKS_ROW, "df": self._chunk_count, "placeholder": [1.0, 0.0]})
        for i in range(0, len(rows), 2000):
            self._client.upsert(self.names["terms"], rows[i : i + 2000])
