"""Web chat over the documents in `seeds/`: every answer is a verbatim quote.

Run `python app.py` (or `make run`) and open http://127.0.0.1:7860. The page, its API and
its assets live in `qa/web/` (docs/web.md); this file reads the arguments, loads the engine,
warms it up in the background and serves the page.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path

from qa.web import build_app, launch_kwargs

__all__ = ["build_app", "launch_kwargs", "load_engine", "main", "parse_args"]

log = logging.getLogger("app")

HERE = Path(__file__).resolve().parent
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def parse_args(argv: list[str] | None = None, env: dict | None = None) -> argparse.Namespace:
    """--host/--port beat GRADIO_SERVER_NAME/GRADIO_SERVER_PORT, which beat 127.0.0.1:7860."""
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(description="Quote-only QA chat over the articles in a folder.")
    p.add_argument("--host", default=env.get("GRADIO_SERVER_NAME") or DEFAULT_HOST, help="bind address")
    p.add_argument("--port", type=int, default=int(env.get("GRADIO_SERVER_PORT") or DEFAULT_PORT))
    p.add_argument("--docs", default=str(HERE / "seeds"),
                   help="folder of .txt / .md documents to answer from (uploads are saved there)")
    p.add_argument("--index", default=str(HERE / "index"), help="index folder (built if missing)")
    p.add_argument("--model", default=None, help="embedding model (default: the bundled e5-small)")
    p.add_argument("--store", default=env.get("QA_STORE") or None,
                   help="where the index lives: local (default), milvus:FOLDER (Milvus Lite) or "
                        "http://HOST:19530 (a Milvus server); docs/distributed.md")
    p.add_argument("--read-only", action="store_true",
                   help="list the documents but do not let the page or the API add or remove any")
    return p.parse_args(argv)


def load_engine(docs: str, index_dir: str, model: str | None = None, store: str | None = None):
    import qa

    engine = qa.QA(docs=docs, index_dir=index_dir, model=model, store=store)
    info = engine.info()
    log.info(
        "Loaded model %s; %s chunks from %s documents; index at %s",
        info.get("model"), info.get("chunks"), info.get("documents"), info.get("index_dir"),
    )
    return engine


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    engine = load_engine(args.docs, args.index, args.model, args.store)
    threading.Thread(target=engine.warm_up, name="warm-up", daemon=True).start()  # while the page loads
    demo = build_app(engine, editable=not args.read_only)
    log.info("Serving on http://%s:%d", args.host, args.port)
    demo.launch(server_name=args.host, server_port=args.port, share=False, **launch_kwargs())


if __name__ == "__main__":
    main(sys.argv[1:])
