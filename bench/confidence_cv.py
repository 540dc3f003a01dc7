"""How well the confidence separates right quotes from wrong ones, cross-validated on the tuning
candidates that `python -m qa calibrate --candidates FILE` kept: the combiner chooses the quote as
shipped (logistic over candidate features, `qa.answering.combiner.fit`), and the confidence of the
chosen quote comes from
  platt     the previous form: a Platt scaling of the chosen candidate's logit;
  verifier  the shipped form: a logistic regression over features of the choice as a whole (its logit,
            its margin to the runner-up, the reader's score and margin, the question's language …;
            `qa.answering.combiner.verifier_matrix`), as `fit` fits it;
  boosted   gradient-boosted trees over the same features.
Five folds over the questions of every tuning set together; each fold's thresholds are chosen on the
other folds' out-of-fold confidences. Reports per set: quote right (chosen), AUC, and the share of
answerable questions answered right, with the precision, at the lowest threshold whose precision on the
training folds is >= P.

    .venv/bin/python bench/confidence_cv.py /work/runs/cands-lora.pkl [--precision 0.95]
"""
import argparse
import pickle

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from qa.answering.combiner import fit, verifier_matrix


def chosen_row(combiner, cands) -> tuple[int, np.ndarray]:
    """The quoted candidate and its row of the verifier's features (qa.answering.combiner)."""
    z = combiner.logits(cands)
    j = int(np.argmax(z))
    return j, verifier_matrix(cands, z)[j]


def lowest_threshold(conf, right, precision):
    """The lowest confidence at which the quotes at or above it are right `precision` of the time (over the
    exact confidences, not `qa.eval.metrics.precision_threshold`'s 0.01 grid: few questions per fold)."""
    order = np.argsort(-conf)
    hits = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    ok = np.where(hits >= precision)[0]
    return conf[order[ok[-1]]] if len(ok) else np.inf


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("candidates")
    p.add_argument("--precision", type=float, default=0.95)
    p.add_argument("--folds", type=int, default=5)
    args = p.parse_args()
    sets = pickle.load(open(args.candidates, "rb"))["sets"]
    rows = []  # (set, cands, labels, answerable)
    for name, (groups, answerable) in sets.items():
        rows += [(name.split(" ")[0], c, l, a) for (c, l), a in zip(groups, answerable)]
    rng = np.random.default_rng(0)
    fold = rng.integers(0, args.folds, len(rows))
    kinds = ("platt", "verifier", "boosted")
    conf = {k: np.full(len(rows), np.nan) for k in kinds}
    chosen_right = np.zeros(len(rows), bool)
    for f in range(args.folds):
        train = [i for i in range(len(rows)) if fold[i] != f and rows[i][1]]
        test = [i for i in range(len(rows)) if fold[i] == f]
        comb = fit([(rows[i][1], rows[i][2]) for i in train], "cv", {})
        X, y = [], []
        for i in train:
            j, x = chosen_row(comb, rows[i][1])
            X.append(x)
            y.append(bool(rows[i][2][j]))
        X, y = np.array(X), np.array(y)
        platt = LogisticRegression(C=1e6, max_iter=2000).fit(X[:, :1], y)
        boosted = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200,
                                                 random_state=0).fit(X, y)
        for i in test:
            if not rows[i][1]:
                conf["platt"][i] = conf["verifier"][i] = conf["boosted"][i] = 0.0
                continue
            j, x = chosen_row(comb, rows[i][1])
            chosen_right[i] = bool(rows[i][2][j])
            conf["platt"][i] = platt.predict_proba(x[None, :1])[0, 1]
            conf["verifier"][i] = comb.choose(rows[i][1])[1]
            conf["boosted"][i] = boosted.predict_proba(x[None])[0, 1]
    names = sorted({r[0] for r in rows})
    answerable = np.array([r[3] for r in rows])
    print(f"{len(rows)} tuning questions, {args.folds} folds; threshold: precision >= {args.precision} on the other folds")
    for k in kinds:
        print(f"== {k}")
        for name in names + ["all"]:
            idx = np.array([i for i, r in enumerate(rows) if name in ("all", r[0])])
            shown, right_all = 0, 0
            for f in range(args.folds):
                tr = np.array([i for i in range(len(rows)) if fold[i] != f])
                t = lowest_threshold(conf[k][tr], chosen_right[tr], args.precision)
                te = np.array([i for i in idx if fold[i] == f])
                if len(te) == 0:
                    continue
                s = te[conf[k][te] >= t]
                shown += len(s)
                right_all += int(chosen_right[s].sum())
            has = idx[answerable[idx]]
            auc = roc_auc_score(chosen_right[idx], conf[k][idx]) if chosen_right[idx].any() else float("nan")
            print(f"  {name:22} n={len(idx):4}  quote right {chosen_right[has].mean():.3f}  AUC {auc:.3f}  "
                  f"answered right {right_all / len(has):.3f}  precision {right_all / max(1, shown):.3f}")


if __name__ == "__main__":
    main()
