"""The local classifier stage of injection detection: character n-gram weights fitted offline
(evals/train/injection_classifier.py) and scored here with dictionary lookups, no ML runtime needed.

It catches what the hand-written heuristics miss (paraphrased jailbreaks); its threshold was set so that
no benign text of its training data is blocked.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["NGRAM_RANGE", "InjectionModel", "from_dict", "load_model"]

NGRAM_RANGE = (3, 5)
_MODEL_PATH = Path(__file__).with_name("injection_model.json")
_WORDS = re.compile(r"\S+")


@dataclass(frozen=True)
class InjectionModel:
    weights: dict[str, tuple[float, float]]
    """n-gram -> (idf, logistic regression coefficient)."""
    intercept: float
    threshold: float

    def probability(self, text: str) -> float:
        """P(attack), exactly as scikit-learn's char_wb TF-IDF (sublinear tf, l2 norm) + LR computes it."""
        counts: dict[str, int] = {}
        low, high = NGRAM_RANGE
        weights = self.weights
        for word in _WORDS.findall(text.lower()):
            padded = f" {word} "
            size = len(padded)
            for n in range(low, high + 1):
                # as scikit-learn's char_wb: every n-gram of the padded word; a word shorter than n
                # counts once as a whole, and then longer n add nothing
                for i in range(max(1, size - n + 1)):
                    gram = padded[i : i + n]
                    if gram in weights:
                        counts[gram] = counts.get(gram, 0) + 1
                if size <= n:
                    break
        if not counts:
            return 1.0 / (1.0 + math.exp(-self.intercept))
        norm = 0.0
        dot = 0.0
        for gram, tf in counts.items():
            idf, coef = weights[gram]
            value = (1.0 + math.log(tf)) * idf
            norm += value * value
            dot += value * coef
        z = self.intercept + dot / math.sqrt(norm)
        return 1.0 / (1.0 + math.exp(-z))

    def is_attack(self, text: str) -> bool:
        return self.probability(text) >= self.threshold


def from_dict(raw: dict[str, Any]) -> InjectionModel:
    weights = {gram: (float(v[0]), float(v[1])) for gram, v in raw["weights"].items()}
    return InjectionModel(
        weights=weights, intercept=float(raw["intercept"]), threshold=float(raw["threshold"])
    )


@lru_cache(maxsize=1)
def load_model(path: Path = _MODEL_PATH) -> InjectionModel | None:
    """The shipped model, or None when the file is absent (the stage is then skipped)."""
    if not path.is_file():
        return None
    return from_dict(json.loads(path.read_text(encoding="utf-8")))
