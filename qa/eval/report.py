"""What an eval run hands back: the `EvalReport` record, its terminal tables, its JSON, and the
threshold plot.

The JSON (`EvalReport.to_dict()`, written by `--json`, e.g. docs/eval.json) keeps the metric
names of the tables (`quote_hit@1`, `mrr@10`, ...); README and other code read it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..settings import Settings
from .metrics import json_key
from .questions import Question
from .results import QuestionResult, Summary, SystemReport
from .sweep import SweepRow


@dataclass(frozen=True)
class QuestionRow:
    """One question and what every system did with it."""

    question: Question
    results: Mapping[str, QuestionResult]  # by system name

    def to_dict(self) -> dict:
        return {**self.question.to_dict(), "systems": {n: r.to_dict() for n, r in self.results.items()}}


@dataclass(frozen=True)
class EvalReport:
    """Everything one `python -m qa eval` run measured."""

    questions_file: str
    docs: str
    split: str  # "all", "dev" or "test": the questions evaluated
    holdout: float | None  # share of SQuAD paragraphs withheld (None: not a SQuAD run)
    settings: Settings
    systems: Mapping[str, SystemReport]  # by system name, in the order asked for
    questions: tuple[QuestionRow, ...]
    sweep: tuple[SweepRow, ...] | None = None  # with --sweep

    def to_dict(self) -> dict:
        d = {"questions_file": self.questions_file, "docs": self.docs, "split": self.split,
             "holdout": self.holdout, "settings": self.settings.to_dict(),
             "systems": {n: m.to_dict() for n, m in self.systems.items()},
             "questions": [q.to_dict() for q in self.questions]}
        if self.sweep is not None:
            d["sweep"] = [r.to_dict() for r in self.sweep]
        return d


def write_json(path: Path, data: dict) -> None:
    """`data` as indented UTF-8 JSON (Chinese left readable), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


# -- terminal tables ---------------------------------------------------------------------------

MAIN_COLUMNS = [  # (header, field, format)
    ("quote_hit@1", "quote_hit_at_1", ".3f"), ("answered_hit", "answered_hit", ".3f"),
    ("hasans", "hasans_acc", ".3f"), ("noans", "noans_acc", ".3f"), ("acc", "accuracy", ".3f"),
    ("hit@1", "hit_at_1", ".3f"), ("R@3", "recall_at_3", ".3f"), ("R@5", "recall_at_5", ".3f"),
    ("MRR@10", "mrr_at_10", ".3f"), ("F1", "f1", ".3f"), ("qlen", "mean_quote_len", ".0f"),
    ("p50ms", "p50_ms", ".1f"), ("p95ms", "p95_ms", ".1f"),
    ("prec", "answered_precision", ".3f"), ("unsure_prec", "unsure_precision", ".3f"),
    ("hit_shown|unsure", "shown_or_unsure_hit", ".3f"), ("ECE", "ece", ".3f"),
]
TYPE_COLUMNS = [
    ("n", "n", "d"), ("quote_hit@1", "quote_hit_at_1", ".3f"), ("hasans", "hasans_acc", ".3f"),
    ("noans", "noans_acc", ".3f"), ("hit@1", "hit_at_1", ".3f"), ("R@3", "recall_at_3", ".3f"),
    ("MRR@10", "mrr_at_10", ".3f"), ("F1", "f1", ".3f"), ("qlen", "mean_quote_len", ".0f"),
]
SWEEP_COLUMNS = [
    ("chunk", "chunk_size", "d"), ("overlap", "chunk_overlap", "d"), ("fusion_w", "fusion_weight", ".1f"),
    ("quote_hit@1", "quote_hit_at_1", ".3f"), ("hit@1", "hit_at_1", ".3f"), ("R@3", "recall_at_3", ".3f"),
    ("MRR@10", "mrr_at_10", ".3f"), ("F1", "f1", ".3f"), ("qlen", "mean_quote_len", ".0f"),
    ("acc@thr", "accuracy", ".3f"), ("best_thr", "best_threshold", ".2f"), ("best_bal", "best_balanced", ".3f"),
]


def _fmt(value, fmt: str = ".3f") -> str:
    """A table cell; missing or undefined values print as '-'."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def format_table(row_label: str, rows: Mapping[str, object], columns) -> str:
    """A fixed-width text table, one row per entry of `rows` (records with the columns' fields)."""
    header = [row_label] + [h for h, _, _ in columns]
    body = [[name] + [_fmt(getattr(r, k), f) for _, k, f in columns] for name, r in rows.items()]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
             for line in [header, *body]]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def baseline_verdicts(systems: Mapping[str, Summary]) -> list[str]:
    """One line per metric the product should win: does hybrid beat every baseline?"""
    if "hybrid" not in systems:
        return []
    lines = []
    for metric in ("quote_hit_at_1", "noans_acc"):
        ours = getattr(systems["hybrid"], metric)
        losses = [f"{n} {_fmt(getattr(m, metric))}" for n, m in systems.items()
                  if n != "hybrid" and ours is not None and getattr(m, metric) is not None
                  and getattr(m, metric) >= ours]
        verdict = "beats every baseline" if not losses else "does NOT beat " + ", ".join(losses)
        lines.append(f"hybrid {json_key(metric)} {_fmt(ours)}: {verdict}")
    return lines


def render_report(report: EvalReport) -> str:
    """The terminal tables: every system per view (all, then each split), the thresholds, the
    verdicts, hybrid per question type, build times, errors and the sweep."""
    systems = report.systems
    whole = ("all", report.split)  # views that are the evaluated questions as a whole
    views = ["all"] + list(next(iter(systems.values())).by_split) if report.split == "all" else [report.split]

    def part(m: SystemReport, view: str):
        return m.overall if view in whole else m.by_split[view]

    out = []
    for view in views:
        rows = {name: part(m, view).summary for name, m in systems.items()}
        first = next(iter(rows.values()))
        out.append(f"\n== {view}: {first.n} questions ({first.n_answerable} answerable, "
                   f"{first.n_unanswerable} unanswerable) ==")
        out.append(format_table("system", rows, MAIN_COLUMNS))
    for name, m in systems.items():
        if m.best_threshold is not None:
            b = m.best_threshold
            at = "  ".join(f"{s}: hasans {_fmt(r.hasans_acc)} noans {_fmt(r.noans_acc)} acc {_fmt(r.accuracy)}"
                           for s, r in m.at_best_threshold.items())
            out.append(f"{name}: threshold {m.threshold} -> best balanced on {b.chosen_on} "
                       f"{b.rates.threshold:.2f} | {at}")
    out.extend(baseline_verdicts({n: m.overall.summary for n, m in systems.items()}))
    if "hybrid" in systems:
        for view in views:
            out.append(f"\n== hybrid by question type ({view}) ==")
            out.append(format_table("type", part(systems["hybrid"], view).by_type, TYPE_COLUMNS))
    engine_modes = "/".join(n for n in systems if n != "naive")
    builds = {engine_modes if n != "naive" else n: m.build_seconds for n, m in systems.items()}
    out.append("\nindex build: " + ", ".join(
        f"{n} {'loaded from disk (not measured)' if b is None else f'{b:.2f}s'}" for n, b in builds.items()))
    errors = {n: m.overall.summary.errors for n, m in systems.items() if m.overall.summary.errors}
    if errors:
        out.append(f"ERRORS raised by the engine (counted as misses): {errors}")
    if report.sweep:
        out.extend(_render_sweep(report.sweep, report.settings))
    return "\n".join(out)


def _render_sweep(rows: tuple[SweepRow, ...], current: Settings) -> list[str]:
    n = rows[0].n_answerable
    noise = f"; one question = {1 / n:.3f}" if n else ""
    best = max(range(len(rows)), key=lambda i: (rows[i].quote_hit_at_1 or 0, rows[i].mrr_at_10 or 0))

    def label(i: int, r: SweepRow) -> str:
        same = all(getattr(r, k) == getattr(current, k) for k in ("chunk_size", "chunk_overlap", "fusion_weight"))
        return f"{i + 1}{'*' if i == best else ''}{'=' if same else ''}"

    return [f"\n== settings sweep (hybrid, dev split; * = best quote_hit@1, then MRR@10; "
            f"= = current settings{noise}) ==",
            format_table("#", {label(i, r): r for i, r in enumerate(rows)}, SWEEP_COLUMNS)]


# -- the plots ---------------------------------------------------------------------------------


def plot_reliability(report: EvalReport, path: Path, system: str = "hybrid") -> None:
    """Reliability diagram per split: share of right quotes against the confidence shown (10 bins,
    dot size = questions), with the expected calibration error in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import calibration_bins, expected_calibration_error

    fig, ax = plt.subplots(figsize=(6, 5), dpi=120)
    ax.plot([0, 1], [0, 1], color="gray", linewidth=0.8, label="perfect calibration")
    for split in sorted({row.question.split for row in report.questions}, key=str):
        outs = [row.results[system].outcome(row.question) for row in report.questions
                if row.question.split == split and system in row.results]
        bins = calibration_bins(outs)
        if bins:
            ece = expected_calibration_error(outs)
            name = getattr(split, "value", split)
            ax.plot([p for p, _, _ in bins], [r for _, r, _ in bins], "o-", label=f"{name} (ECE {ece:.3f})")
            for p, r, n in bins:
                ax.annotate(str(n), (p, r), fontsize=6, textcoords="offset points", xytext=(3, -8))
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="share of right quotes",
           title=f"Reliability - {system}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)



def plot_thresholds(report: EvalReport, path: Path, system: str = "hybrid") -> None:
    """HasAns and NoAns accuracy vs threshold (solid: dev, dashed: test; thin
    green: balanced dev accuracy), with the configured and best dev thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = report.systems[system]
    best = m.best_threshold
    fig, ax = plt.subplots(figsize=(10, 5), dpi=120)
    styles = {"dev": "-", "test": "--"}
    for split, rows in m.threshold_sweep.items():
        xs = [r.threshold for r in rows]
        for key, label, color in (("hasans_acc", "HasAns accuracy", "tab:blue"),
                                  ("noans_acc", "NoAns accuracy", "tab:orange")):
            if getattr(rows[0], key) is not None:
                ax.plot(xs, [getattr(r, key) for r in rows], styles.get(split, ":"), color=color,
                        label=f"{label} ({split})")
        if split == best.chosen_on:
            ax.plot(xs, [r.balanced for r in rows], color="tab:green", linewidth=0.9, alpha=0.7,
                    label=f"balanced accuracy ({split})")
    ax.axvline(m.threshold, color="black", linewidth=1.2, label=f"configured threshold {m.threshold:.2f}")
    ax.axvline(best.rates.threshold, color="gray", linestyle=":", linewidth=1.2,
               label=f"best on {best.chosen_on} {best.rates.threshold:.2f} (balanced {best.rates.balanced:.2f})")
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), xlabel="confidence threshold (answer shown when score >= threshold)",
           ylabel="accuracy", title=f"Abstention vs threshold - {system}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
