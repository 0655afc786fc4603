"""BM25 over the published chunks, in memory, rebuilt from SQL at start-up (a few ms per 1,000 docs)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    """
    a about above after again all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i i'm if in into is it it's its itself just
    let's me more most my myself no nor not of off on once only or other our ours ourselves out over
    own same she should so some such than that that's the their theirs them themselves then there
    there's these they they're this those through to too under until up very was we we're were what
    what's when where which while who whom why will with would you you're your yours yourself
    yourselves also please hi hello thanks thank ok okay
    """.split()
)


def _stem(token: str) -> str:
    """A light suffix stripper: enough to join 'returns'/'returned'/'returning' without a stemmer package."""
    if len(token) <= 4 or token.isdigit():
        return token
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            if suffix == "es" and not token.endswith(("shes", "ches", "xes", "sses", "zes")):
                return token[:-1]
            if suffix == "s" and token.endswith("ss"):
                return token
            return token[: -len(suffix)] + repl
    return token


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    words = _TOKEN.findall(text.lower().replace("&", " and "))
    return [_stem(w.replace("'", "")) for w in words if keep_stopwords or w not in STOPWORDS]


class BM25Index:
    """Okapi BM25 with an inverted index: scoring touches only documents that share a query term."""

    def __init__(self, ids: Sequence[str], texts: Iterable[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = list(ids)
        self._pos = {doc_id: i for i, doc_id in enumerate(self.ids)}
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = []
        for i, text in enumerate(texts):
            counts = Counter(tokenize(text))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                postings[term].append((i, tf))
        n = len(self.ids)
        self._len = np.asarray(lengths, dtype=np.float32)
        avg = float(self._len.mean()) if n else 1.0
        norm = k1 * (1 - b + b * self._len / max(avg, 1e-9))
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, plist in postings.items():
            docs = np.fromiter((d for d, _ in plist), dtype=np.int32, count=len(plist))
            tfs = np.fromiter((t for _, t in plist), dtype=np.float32, count=len(plist))
            idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
            self._postings[term] = (docs, (idf * tfs * (k1 + 1) / (tfs + norm[docs])).astype(np.float32))

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(len(self.ids), dtype=np.float32)
        # In query order, not set order: float32 sums in a hash-seeded order differ in the last bit between
        # processes, and that is enough to swap two tied passages.
        for term in dict.fromkeys(tokenize(query)):
            hit = self._postings.get(term)
            if hit is not None:
                out[hit[0]] += hit[1]
        return out

    def search(
        self, query: str, *, k: int, allowed: set[int] | np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """(id, score) best first; `allowed` restricts to those row positions."""
        scores = self.scores(query)
        if allowed is not None:
            mask = np.full(len(scores), -1.0, dtype=np.float32)
            idx = np.fromiter(allowed, dtype=np.int64) if isinstance(allowed, set) else allowed
            mask[idx] = scores[idx]
            scores = mask
        k = min(k, len(scores))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def position(self, doc_id: str) -> int | None:
        return self._pos.get(doc_id)
