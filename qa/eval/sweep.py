"""The optional settings sweep (`--sweep`): hybrid quality on the dev split for every
chunk_size x chunk_overlap x fusion_weight of a small grid, one index build per chunking."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ..settings import RetrievalMode, Settings
from .metrics import best_threshold, json_fields, sweep_thresholds
from .questions import Gold, Question
from .results import outcomes, run_system, summarize
from .systems import EngineSystem

SWEEP_CHUNK_SIZES = (100, 150, 200, 300, 400)
SWEEP_OVERLAPS = (0, 40, 80)
SWEEP_FUSION_WEIGHTS = (0.3, 0.5, 0.7)


@dataclass(frozen=True)
class SweepRow:
    """Hybrid figures at one point of the grid."""

    chunk_size: int
    chunk_overlap: int
    fusion_weight: float
    n_answerable: int
    quote_hit_at_1: float | None
    hit_at_1: float | None
    recall_at_3: float | None
    mrr_at_10: float | None
    f1: float | None
    mean_quote_len: float | None
    accuracy: float | None  # at the configured threshold
    best_threshold: float | None  # best balanced accuracy on these questions
    best_balanced: float | None
    build_seconds: float | None

    def to_dict(self) -> dict:
        return json_fields(self)


def sweep_settings(base: Settings, docs: Path, questions: Sequence[Question], gold: Mapping[str, Gold],
                   documents: Mapping[str, str], log: Callable[[str], None]) -> list[SweepRow]:
    """One row per grid point (chunkings whose overlap is half the size or more are skipped)."""
    from .. import QA

    rows = []
    for size in SWEEP_CHUNK_SIZES:
        for overlap in SWEEP_OVERLAPS:
            if overlap * 2 >= size:
                continue
            index_dir = Path(tempfile.mkdtemp(prefix="qa-eval-sweep-"))
            try:
                build = None
                for weight in SWEEP_FUSION_WEIGHTS:
                    settings = base.with_(chunk_size=size, chunk_overlap=overlap, fusion_weight=weight)
                    engine = QA(docs=str(docs), index_dir=str(index_dir), settings=settings)
                    build = build if build is not None else engine.build_seconds
                    system = EngineSystem(engine, RetrievalMode.HYBRID)
                    results = run_system(system, questions, gold, documents, timed=False)
                    m = summarize(questions, results, system.threshold)
                    best = best_threshold(sweep_thresholds(outcomes(questions, results)))
                    rows.append(SweepRow(
                        chunk_size=size, chunk_overlap=overlap, fusion_weight=weight, n_answerable=m.n_answerable,
                        quote_hit_at_1=m.quote_hit_at_1, hit_at_1=m.hit_at_1, recall_at_3=m.recall_at_3,
                        mrr_at_10=m.mrr_at_10, f1=m.f1, mean_quote_len=m.mean_quote_len, accuracy=m.accuracy,
                        best_threshold=best.threshold, best_balanced=best.balanced, build_seconds=build,
                    ))
                    log(f"  sweep chunk_size={size} overlap={overlap} fusion_weight={weight}: "
                        f"quote_hit@1={m.quote_hit_at_1:.3f} mrr@10={m.mrr_at_10:.3f}")
            finally:
                shutil.rmtree(index_dir, ignore_errors=True)
    return rows
