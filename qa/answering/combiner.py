"""The learned answer model over candidate features, and its confidence.

A logistic regression over each candidate sentence's features (the trained model's score and
its margin to the best, cosine, coverage, passage score, answer-type match …) scores every
candidate; the best one is quoted. A second logistic regression, the *verifier*, fitted on the
quoted candidates of the tuning questions — unanswerable ones included — gives the probability
that the *shown quote* is right from features of the choice as a whole: its score and its margin
over the runner-up, the reader's score and margin, the question's language, the passage score
(docs/trust.md: it separates right quotes from wrong ones better than a scaling of the score alone).
That probability is what the thresholds compare. Coefficients live in
`qa/models/answer-combiner.json`, applied with numpy (no scikit-learn at run time); `fit`
(scikit-learn) writes them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..models.base import SCORER_DIR, ScorerError

COMBINER_FILE = SCORER_DIR.parent / "answer-combiner.json"
FEATURES = ("cross", "cross_margin", "dense", "coverage", "prior", "typed", "focus", "consistent",
            "rule_margin", "english", "english_cross", "lexical", "paragraph_coverage", "named", "named_before")


def feature_matrix(cands: Sequence, features: Sequence[str] = FEATURES) -> np.ndarray:
    """One row of `features` per candidate (candidates of one question: margins are to their best)."""
    reader = np.array([c.reader for c in cands], dtype=np.float64)  # the features keep their fitted names
    rule = np.array([c.rule for c in cands], dtype=np.float64)
    english = np.array([c.english for c in cands], dtype=np.float64)
    cols = {
        "cross": reader, "cross_margin": reader - reader.max(), "dense": [c.dense for c in cands],
        "coverage": [c.coverage for c in cands], "prior": [c.prior for c in cands],
        "typed": [c.typed for c in cands], "focus": [c.focus for c in cands],
        "consistent": [c.consistent for c in cands], "rule_margin": rule - rule.max(), "english": english,
        "english_cross": english * reader, "lexical": [c.lexical for c in cands],
        "paragraph_coverage": [c.paragraph_coverage for c in cands],
        "named": [c.named for c in cands], "named_before": [c.named_before for c in cands],
    }
    return np.column_stack([np.asarray(cols[f], dtype=np.float64) for f in features])


VERIFIER_FEATURES = ("logit", "logit_margin", "reader", "reader_margin", "english", "english_logit",
                     "english_margin", "prior", "dense", "paragraph_coverage", "named", "candidates")


def _margins(x: np.ndarray) -> np.ndarray:
    """Each value minus the largest of the others (10 when there is no other)."""
    if len(x) < 2:
        return np.full(len(x), 10.0)
    order = np.argsort(-x, kind="stable")
    other = np.where(np.arange(len(x)) == order[0], x[order[1]], x[order[0]])
    return x - other


def verifier_matrix(cands: Sequence, z: np.ndarray) -> np.ndarray:
    """One row of VERIFIER_FEATURES per candidate: the choice it would make if it were quoted — its
    combiner score `z` and margin over the best other candidate, the same for the reader's score, the
    question's language (alone and with the two scores), its passage score, cosine, paragraph
    coverage, share of the question's subjects it names, and how many candidates there were."""
    z = np.asarray(z, dtype=np.float64)
    reader = np.array([c.reader for c in cands], dtype=np.float64)
    english = np.array([c.english for c in cands], dtype=np.float64)
    margin = _margins(z)
    return np.column_stack([z, margin, reader, _margins(reader), english, english * z, english * margin,
                            [c.prior for c in cands], [c.dense for c in cands],
                            [c.paragraph_coverage for c in cands], [c.named for c in cands],
                            np.full(len(z), float(len(z)))])


def scorer_fingerprint(folder: Path = SCORER_DIR) -> str:
    """sha256 of the trained adapter and head: the combiner is only valid with the scorer it was fit on."""
    h = hashlib.sha256()
    weights = "encoder.safetensors" if (folder / "encoder.safetensors").exists() else "adapter_model.safetensors"
    for name in (weights, "head.safetensors"):
        try:
            h.update((folder / name).read_bytes())
        except FileNotFoundError:
            raise ScorerError(f"The answer scorer in {folder} has no {name}; restore it from git or retrain "
                              "it with `python -m qa train`.") from None
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Combiner:
    """Logistic weights over `features` (some of FEATURES) that choose the quote, and the verifier's
    over VERIFIER_FEATURES that give the probability that it is right."""

    coef: tuple[float, ...]
    intercept: float
    verifier: tuple[float, ...]  # p = sigmoid(verifier_matrix @ verifier + verifier_intercept)
    verifier_intercept: float
    scorer: str  # scorer_fingerprint() it was fitted with
    fitted: dict  # what it was fitted on (for the README)
    features: tuple[str, ...] = FEATURES

    def logits(self, cands: Sequence) -> np.ndarray:
        """Uncalibrated per-candidate scores (higher = more likely the answer): used to choose."""
        return feature_matrix(cands, self.features) @ np.asarray(self.coef) + self.intercept

    def probabilities(self, cands: Sequence, z: np.ndarray | None = None) -> np.ndarray:
        """For each candidate, the probability that it is a right answer if it is the one quoted."""
        z = self.logits(cands) if z is None else z
        v = verifier_matrix(cands, z) @ np.asarray(self.verifier) + self.verifier_intercept
        return 1.0 / (1.0 + np.exp(-v))

    def choose(self, cands: Sequence) -> tuple[int, float]:
        """The candidate to quote (its index) and the probability that it is a right answer."""
        z = self.logits(cands)
        j = int(np.argmax(z))
        return j, float(self.probabilities(cands, z)[j])

    def to_dict(self) -> dict:
        return {"features": list(self.features), "coef": list(self.coef), "intercept": self.intercept,
                "verifier_features": list(VERIFIER_FEATURES), "verifier": list(self.verifier),
                "verifier_intercept": self.verifier_intercept, "scorer": self.scorer, "fitted": self.fitted}

    def save(self, path: Path = COMBINER_FILE) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path = COMBINER_FILE, scorer_dir: Path = SCORER_DIR) -> "Combiner":
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            unknown = [f for f in raw["features"] if f not in FEATURES]
            if unknown or len(raw["features"]) != len(raw["coef"]):
                raise ValueError(f"features {unknown or raw['features']} do not match this code's {list(FEATURES)}"
                                 " or the coefficients")
            if tuple(raw["verifier_features"]) != VERIFIER_FEATURES or len(raw["verifier"]) != len(VERIFIER_FEATURES):
                raise ValueError(f"verifier features {raw['verifier_features']} are not this code's "
                                 f"{list(VERIFIER_FEATURES)}")
            combiner = cls(tuple(map(float, raw["coef"])), float(raw["intercept"]),
                           tuple(map(float, raw["verifier"])), float(raw["verifier_intercept"]), str(raw["scorer"]),
                           dict(raw.get("fitted", {})), tuple(raw["features"]))
        except FileNotFoundError:
            raise ScorerError(f"No answer combiner at {path}; restore it from git or refit it with "
                              "`python -m qa calibrate`.") from None
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ScorerError(f"{path} is damaged ({exc}); restore it from git or refit it.") from None
        if combiner.scorer != scorer_fingerprint(scorer_dir):
            raise ScorerError(f"{path} was fitted with another answer scorer than the one in {scorer_dir}; "
                              "refit it with `python -m qa calibrate`.")
        return combiner


def fit(groups: Sequence[tuple[Sequence, Sequence[bool]]], scorer: str, fitted: dict, c: float = 1.0,
        features: Sequence[str] = FEATURES) -> Combiner:
    """Fit on `groups`: per question, its scored candidates and which of them are right answers
    (all False for an unanswerable question)."""
    from sklearn.linear_model import LogisticRegression

    features = tuple(features)
    X = np.vstack([feature_matrix(cands, features) for cands, _ in groups])
    y = np.concatenate([np.asarray(labels, dtype=int) for _, labels in groups])
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(X, y)
    coef, intercept = tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0])
    # The verifier: is the quote the engine would show right?
    rows, right = [], []
    for cands, labels in groups:
        z = feature_matrix(cands, features) @ np.asarray(coef) + intercept  # what `Combiner.logits` gives
        j = int(np.argmax(z))
        rows.append(verifier_matrix(cands, z)[j])
        right.append(bool(labels[j]))
    verifier = LogisticRegression(C=1.0, max_iter=5000).fit(np.vstack(rows), np.asarray(right, int))
    return Combiner(coef, intercept, tuple(float(v) for v in verifier.coef_[0]), float(verifier.intercept_[0]),
                    scorer, fitted | {"questions": len(groups), "candidates": int(len(y)), "positives": int(y.sum())},
                    features)
