"""Fit the injection classifier stage (core/injection_model.json) — reproducibly, on one half of the data.

    python -m evals.train.injection_classifier --guard FILE --handoff FILE [--out core/injection_model.json]

Attack and benign chat messages come from the guard benchmark's DEV half only (`sha1(id) % 2 == 0`), benign
customer messages from the handoff benchmark's dev half, and benign help-center text from the demo articles.
The held-out half is never read for fitting: `python -m evals.bench guard` reports it separately. The model
is a character n-gram TF-IDF with logistic regression, exported as plain JSON weights (no pickle) so the
product scores it with a few dictionary lookups (core/injection_model.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from core.config import PROJECT_ROOT
from core.injection_model import NGRAM_RANGE
from evals.bench.guard import half_of, load_cases
from evals.bench.handoff import load_messages

THRESHOLD_MARGIN = 0.05


def training_set(guard: Path, handoff: Path) -> tuple[list[str], list[int]]:
    """The texts and labels (1 = attack), read with the benchmarks' own loaders and split (`half_of`), so the
    half fitted here is exactly the half `python -m evals.bench guard` reports as "dev"."""
    texts: list[str] = []
    labels: list[int] = []
    for case in load_cases(guard).items:
        if not case.indirect and half_of(case.id) == "dev" and case.label in ("attack", "benign"):
            texts.append(case.text)
            labels.append(int(case.label == "attack"))
    for message in load_messages(handoff).items:
        if half_of(message.id) == "dev":
            texts.append(message.text)
            labels.append(0)
    for path in sorted((PROJECT_ROOT / "knowledge" / "content").glob("*.md")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            if len(para.split()) > 5:
                texts.append(para)
                labels.append(0)
    return texts, labels


def export(vec: Any, clf: Any, threshold: float) -> dict[str, Any]:
    """A fitted char_wb TfidfVectorizer + LogisticRegression as the JSON core/injection_model.py reads."""
    idf = vec.idf_
    coef = clf.coef_[0]
    return {
        "about": "injection classifier stage; fitted by evals/train/injection_classifier.py on the dev half",
        "ngram_range": list(NGRAM_RANGE),
        "intercept": float(clf.intercept_[0]),
        "threshold": round(threshold, 4),
        "weights": {
            gram: [round(float(idf[j]), 5), round(float(coef[j]), 5)] for gram, j in vec.vocabulary_.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    parser = argparse.ArgumentParser(prog="python -m evals.train.injection_classifier", description=__doc__)
    parser.add_argument("--guard", type=Path, required=True)
    parser.add_argument("--handoff", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "core" / "injection_model.json")
    parser.add_argument("--max-features", type=int, default=40000)
    args = parser.parse_args(argv)
    texts, labels = training_set(args.guard, args.handoff)
    y = np.array(labels)

    def build() -> tuple[TfidfVectorizer, LogisticRegression]:
        vec = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=NGRAM_RANGE,
            min_df=2,
            sublinear_tf=True,
            max_features=args.max_features,
            lowercase=True,
            dtype=np.float64,
        )
        return vec, LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000)

    vec, clf = build()
    x = vec.fit_transform(texts)
    # the threshold: just above every benign text's out-of-fold probability (none of them blocked)
    oof = cross_val_predict(clf, x, y, cv=5, method="predict_proba")[:, 1]
    threshold = float(min(0.95, max(oof[y == 0]) + THRESHOLD_MARGIN))
    clf.fit(x, y)
    model = export(vec, clf, threshold) | {"n_train": len(texts), "n_attack": int(y.sum())}
    args.out.write_text(json.dumps(model, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    caught = int(((oof >= threshold) & (y == 1)).sum())
    print(
        f"fitted on {len(texts)} texts ({int(y.sum())} attacks); threshold {threshold:.3f}; out-of-fold: "
        f"{caught}/{int(y.sum())} attacks over it, 0/{int((y == 0).sum())} benign; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
