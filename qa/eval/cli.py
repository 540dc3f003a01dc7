"""The command line of `python -m qa eval`: its arguments, and one run from questions to report.

A run reads the questions (the question file, or a SQuAD file turned into a temporary folder
of documents), builds the systems over one index folder (a fresh temporary one unless
`--index` is given, so the build time is real), asks every question of every system,
summarises, optionally sweeps settings, then prints the tables and writes `--json` and
`--plot`. `--followups` runs the follow-up eval instead.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from ..settings import PROJECT_DIR, Runtime, Settings
from . import followups
from .questions import QuestionFileError, Split, locate_answers, parse_questions, squad_questions
from .report import EvalReport, QuestionRow, plot_reliability, plot_thresholds, render_report, write_json
from .results import run_system, system_report
from .sweep import sweep_settings
from .systems import DEFAULT_SYSTEMS, SQUAD_SYSTEMS, SystemName, build_systems

_SYSTEM_NAMES = ",".join(s.value for s in SystemName)


def _systems_arg(value: str) -> list[SystemName]:
    names = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in names if s not in {m.value for m in SystemName}]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown system(s) {unknown or value!r}; choose from {_SYSTEM_NAMES}")
    return [SystemName(s) for s in dict.fromkeys(names)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--questions", type=Path, default=PROJECT_DIR / "eval" / "questions.jsonl",
                        help="JSON-lines question file (default: eval/questions.jsonl)")
    parser.add_argument("--docs", type=Path, default=PROJECT_DIR / "seeds", help="article folder (default: seeds)")
    parser.add_argument("--index", type=Path, default=None,
                        help="index folder (default: a fresh temporary folder, deleted afterwards, so the "
                             "build time is measured)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all",
                        help="questions to evaluate (default: all, reported per split)")
    parser.add_argument("--systems", type=_systems_arg, default=None,
                        help=f"comma-separated systems to compare, from {_SYSTEM_NAMES} (default: "
                             f"{','.join(s.value for s in DEFAULT_SYSTEMS)}; with --squad: "
                             f"{','.join(s.value for s in SQUAD_SYSTEMS)})")
    parser.add_argument("--squad", type=Path, default=None,
                        help="evaluate on a SQuAD-format file instead: each paragraph becomes a document of a "
                             "temporary folder; --holdout of them are withheld and their questions must be declined")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of paragraphs withheld (with --squad)")
    parser.add_argument("--followups", type=Path, default=None,
                        help="evaluate follow-up questions instead (JSON lines of conversations, e.g. "
                             "eval/followups.jsonl over --docs eval/followup-docs)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate at most this many questions per split")
    parser.add_argument("--json", type=Path, default=None, help="write metrics and per-question results here")
    parser.add_argument("--plot", type=Path, default=None, help="write the hybrid threshold plot (PNG) here")
    parser.add_argument("--reliability", type=Path, default=None,
                        help="write the hybrid system's reliability diagram (PNG) here")
    parser.add_argument("--encoder-runtime", type=Runtime.from_str, default=None,
                        help=f"how the embedding model runs ({', '.join(r.value for r in Runtime)}; default: "
                             f"{Settings().encoder_runtime.value})")
    parser.add_argument("--scorer-runtime", type=Runtime.from_str, default=None,
                        help=f"how the trained answer model runs (default: {Settings().scorer_runtime.value})")
    parser.add_argument("--sweep", action="store_true",
                        help="also sweep chunk_size/chunk_overlap/fusion_weight on the dev split (slower)")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _temporary_index(args: argparse.Namespace) -> Path | None:
    """A fresh index folder to delete afterwards, unless `--index` names one."""
    return None if args.index else Path(tempfile.mkdtemp(prefix="qa-eval-index-"))


class _Refused(Exception):
    """A question file or option the eval cannot run with; the message says which (exit code 2)."""


def run(args: argparse.Namespace) -> int:
    """Evaluate; 0 when it ran (quality is reported, not asserted), 2 on a bad
    question file, 1 when the engine cannot be built."""
    if args.followups:
        return _run_followups(args)
    squad_docs = Path(tempfile.mkdtemp(prefix="qa-eval-squad-")) if args.squad else None
    try:
        questions = _selected(args, _questions(args, squad_docs))
    except _Refused as exc:
        if squad_docs is not None:
            shutil.rmtree(squad_docs, ignore_errors=True)
        _log(f"error: {exc}")
        return 2
    try:
        from ..text.normalise import load_documents
    except ImportError as exc:
        _log(f"error: the answer engine is not usable: {exc}")
        return 1

    settings = Settings(encoder_runtime=args.encoder_runtime or Settings().encoder_runtime,
                        scorer_runtime=args.scorer_runtime or Settings().scorer_runtime)
    documents = {d.source: d.text for d in load_documents(args.docs)}
    gold = locate_answers(questions, documents)
    missing = [q.id for q in questions if q.answerable and not gold[q.id].spans]
    if missing:
        _log(f"warning: expected answer not found in any cleaned document for: {', '.join(missing)}")

    temp_index = _temporary_index(args)
    try:
        results, reports, sweep = _evaluate(args, settings, questions, gold, documents, args.index or temp_index)
    finally:
        if temp_index is not None:
            shutil.rmtree(temp_index, ignore_errors=True)
        if squad_docs is not None:
            shutil.rmtree(squad_docs, ignore_errors=True)

    report = EvalReport(
        questions_file=str(args.squad or args.questions), docs=str(args.squad or args.docs), split=args.split,
        holdout=args.holdout if args.squad else None, settings=settings, systems=reports,
        questions=tuple(QuestionRow(q, {name: res[q.id] for name, res in results.items()}) for q in questions),
        sweep=sweep,
    )
    _write(report, args)
    return 0


def _questions(args: argparse.Namespace, squad_docs: Path | None) -> list:
    """The questions of `--squad` (its paragraphs written to `squad_docs`, which becomes the docs
    folder) or of `--questions`."""
    try:
        if squad_docs is None:
            return parse_questions(args.questions)
        from ..training.squad import SquadFormatError

        args.docs = squad_docs
        try:
            return squad_questions(args.squad, args.holdout, squad_docs)
        except SquadFormatError as exc:
            raise _Refused(f"malformed SQuAD file: {exc}") from None
    except QuestionFileError as exc:
        raise _Refused(f"malformed question file: {exc}") from None
    except OSError as exc:
        raise _Refused(f"cannot read question file {args.questions}: {exc.strerror or exc}") from None


def _selected(args: argparse.Namespace, questions: list) -> list:
    """The questions `--limit` and `--split` keep; the default systems for the question set."""
    if args.systems is None:
        args.systems = list(SQUAD_SYSTEMS if args.squad else DEFAULT_SYSTEMS)
    if args.limit:
        questions = [q for split in Split for q in [q for q in questions if q.split is split][: args.limit]]
    if args.split != "all":
        questions = [q for q in questions if q.split is Split(args.split)]
        if not questions:
            raise _Refused(f"no '{args.split}' questions in {args.questions}")
    if args.plot and SystemName.HYBRID not in args.systems:
        raise _Refused("--plot draws the hybrid system; add hybrid to --systems")
    return questions


def _evaluate(args: argparse.Namespace, settings: Settings, questions: list, gold, documents: dict,
              index_dir: Path) -> tuple[dict, dict, tuple | None]:
    """Each system's results and report, and the settings sweep when asked for."""
    systems = build_systems(args.systems, args.docs, index_dir, settings, documents, _log)
    results, reports = {}, {}
    for system in systems:
        _log(f"evaluating {system.name} on {len(questions)} questions ...")
        results[system.name] = run_system(system, questions, gold, documents)
        reports[system.name] = system_report(system, questions, results[system.name])
    sweep = None
    if args.sweep:
        dev = [q for q in questions if q.split is Split.DEV]
        if dev:
            _log(f"sweeping settings on {len(dev)} dev questions ...")
            sweep = tuple(sweep_settings(settings, args.docs, dev, gold, documents, _log))
        else:
            _log("warning: --sweep needs dev questions; skipped")
    return results, reports, sweep


def _write(report: EvalReport, args: argparse.Namespace) -> None:
    """The report on stdout, and the files asked for."""
    print(render_report(report))
    if args.json:
        write_json(args.json, report.to_dict())
        _log(f"wrote {args.json}")
    if args.plot:
        plot_thresholds(report, args.plot)
        _log(f"wrote {args.plot}")
    if args.reliability and "hybrid" in report.systems:
        plot_reliability(report, args.reliability)
        _log(f"wrote {args.reliability}")


def _run_followups(args: argparse.Namespace) -> int:
    from .. import QA

    temp_index = _temporary_index(args)
    try:
        engine = QA(docs=str(args.docs), index_dir=str(args.index or temp_index))
        report = followups.run(engine, args.followups)
    except ValueError as exc:
        _log(f"error: {exc}")
        return 2
    finally:
        if temp_index is not None:
            shutil.rmtree(temp_index, ignore_errors=True)
    print(followups.render(report))
    if args.json:
        write_json(args.json, report.to_dict())
    return 0
