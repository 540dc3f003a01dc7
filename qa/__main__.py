"""Command line: `python -m qa index|ask|eval`.

    python -m qa index [--docs DIR] [--index DIR] [--model NAME]
    python -m qa ask "问题" [--json] [--k 3]
    python -m qa eval [--json FILE] [--plot FILE.png]
    python -m qa train FILE.json ... [--minutes M]
    python -m qa calibrate --squad FILE.json [--questions eval/questions.jsonl]
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

EXIT_BAD_INPUT = 2


def _engine(args):
    from .engine import QA

    return QA(docs=args.docs, index_dir=args.index, model=args.model, store=args.store)


def cmd_index(args) -> int:
    t0 = time.perf_counter()
    engine = _engine(args)
    info = engine.info()
    how = "built" if engine.build_seconds is not None else "up to date"
    print(f"Index {how}: {info['documents']} document(s), {info['chunks']} chunks, model {info['model']}")
    print(f"  in {info['index_dir']} ({time.perf_counter() - t0:.1f} s)")
    for reason in engine.skipped:
        print(f"  skipped: {reason}", file=sys.stderr)
    return 0


def cmd_ask(args) -> int:
    from .text.normalise import is_english
    from .types import AnswerKind

    question = " ".join(args.question)
    if not question.strip():
        print("请输入问题。 / Please enter a question, e.g.: python -m qa ask \"赫章县有多少个贫困村？\"", file=sys.stderr)
        return EXIT_BAD_INPUT
    engine = _engine(args)
    try:
        a = engine.answer(question, k=args.k)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(a.to_dict(), ensure_ascii=False, indent=2))
        return 0
    english = is_english(question)
    where = "characters" if english else "字符"
    if a.kind is AnswerKind.ANSWERED:
        print(f"“{_emphasised(a)}”")
        print(f"  — {a.source}, {where} {a.start}–{a.end}, confidence {a.score:.2f}")
        for i, p in enumerate(a.passages, 1):
            print(f"\n[{i}] {p.source} {p.start}–{p.end} (score {p.score:.2f})")
            print("    " + p.text.replace("\n", "\n    "))
        return 0
    threshold = engine.settings.active_threshold
    if a.kind is AnswerKind.UNSURE:
        print("Possibly relevant, but not sure it answers the question:" if english
              else "可能相关，但不确定是否回答了问题：")
        print(f"“{_emphasised(a)}”")
        print(f"  — {a.source}, {where} {a.start}–{a.end}, confidence {a.score:.2f} (answers need {threshold:.2f})")
    else:
        print("The article does not say." if english else "文章中没有找到答案。")
    others = [p for p in a.closest if (p.source, p.start, p.end) != (a.source, a.start, a.end)]
    if others:
        print("\nClosest passages:" if english else "\n最接近的段落：")
        for i, p in enumerate(others, 1):
            print(f"[{i}] {p.source} {p.start}–{p.end}: {p.text}")
    print("\nTry asking with words the article uses." if english else "\n可以换个说法，用文章里的词再问一次。")
    return 0


def _emphasised(a) -> str:
    """The quote with the reader's answer span in 【】 when there is one."""
    if a.span is None or not a.start <= a.span.start < a.span.end <= a.end:
        return a.quote
    s, e = a.span.start - a.start, a.span.end - a.start
    return f"{a.quote[:s]}【{a.quote[s:e]}】{a.quote[e:]}"


def cmd_eval(args) -> int:
    from .eval import run

    return run(args)


def cmd_train(args) -> int:
    from .training import train

    return train.run(args)


def cmd_calibrate(args) -> int:
    from .training import calibrate

    return calibrate.run(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m qa", description="Answer questions by quoting the articles.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--docs", default=None, help="documents folder (default: the project's seeds/)")
        sp.add_argument("--index", default=None, help="index folder (default: the project's index/)")
        sp.add_argument("--model", default=None, help="sentence-transformers model name or path (default: QA_MODEL "
                        "or the bundled multilingual-e5-small)")
        sp.add_argument("--store", default=None, help="where the index lives: local (default), milvus:FOLDER "
                        "(Milvus Lite) or http://HOST:19530 (a Milvus server); default QA_STORE")

    common(sub.add_parser("index", help="build or check the index"))
    ask = sub.add_parser("ask", help="answer a question")
    common(ask)
    ask.add_argument("question", nargs="*", help="the question, in Chinese or English")
    ask.add_argument("--json", action="store_true", help="print Answer.to_dict() as JSON")
    ask.add_argument("--k", type=int, default=None, help="how many supporting passages to show")
    ev = sub.add_parser("eval", help="evaluate on a question set, with baselines")
    from .eval import add_arguments

    add_arguments(ev)
    tr = sub.add_parser("train", help="train the answer scorer on SQuAD-format files")
    from .training import train

    train.add_arguments(tr)
    cal = sub.add_parser("calibrate", help="fit the learned scorer's combiner and calibration on tuning data")
    from .training import calibrate

    calibrate.add_arguments(cal)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    from .models.embedding import ModelLoadError
    from .index.faiss_store import IndexBuildError
    from .index.store import StoreError
    from .text.normalise import DocumentError

    try:
        return {"index": cmd_index, "ask": cmd_ask, "eval": cmd_eval, "train": cmd_train, "calibrate": cmd_calibrate}[args.command](args)
    except (ModelLoadError, IndexBuildError, StoreError, DocumentError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
