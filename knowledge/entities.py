"""Which entity a conversation is about, using the `entity` (and `domain`) metadata of the KB.

Customers say "does *the restaurant* serve alcohol?" long after the name was said, often by the agent.
The catalog finds entity names in each turn (fuzzy, weighted by how distinctive each name word is), and
the focus is the most recent entity mentioned, of the domain the query names when it names one.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from knowledge.lexical import _stem, tokenize
from knowledge.types import Doc

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|&")
_NUMBER = re.compile(r"^(\d+|one|two|three|four|five|six|seven|eight|nine|ten)$")
_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|there|that|this|those|these|the place|the same)\b", re.I
)


@dataclass(frozen=True)
class Turn:
    role: str
    """customer | agent (or assistant)"""
    text: str


@dataclass(frozen=True)
class EntityFocus:
    entity: str | None
    domain: str | None
    source: str
    """Where the focus came from: query | history | domain | none."""
    score: float = 0.0


def _name_tokens(name: str) -> list[str]:
    return tokenize(name, keep_stopwords=True)


class EntityCatalog:
    """Entity names from doc metadata. A name word weighs what it tells: its rarity across all KB text
    ("lensfield" names one hotel; "hotel", "the", "two" name nothing)."""

    min_share = 0.4
    """Share of a name's weight that a contiguous run of its words must cover to count as a mention."""
    min_weight = 2.5
    """The run must also carry this much weight on its own (about one rare word)."""

    def __init__(self, docs: Iterable[Doc]) -> None:
        domains: dict[str, Counter[str]] = defaultdict(Counter)
        doc_df: Counter[str] = Counter()
        n_docs = 0
        for doc in docs:
            n_docs += 1
            doc_df.update(set(tokenize(doc.index_text(), keep_stopwords=True)))
            entity = doc.metadata.get("entity")
            if entity:
                domains[str(entity)][str(doc.metadata.get("domain") or "")] += 1
        self.domain_of = {e: c.most_common(1)[0][0] or None for e, c in domains.items()}
        self.names = {e: _name_tokens(e) for e in domains}
        name_df: Counter[str] = Counter(t for toks in self.names.values() for t in set(toks))
        # Rare in the text AND in few names: "city centre" is in many names, so it names none of them.
        self._weight = {
            t: math.log(1 + n_docs / (1 + doc_df[t])) / math.sqrt(name_df[t])
            for toks in self.names.values()
            for t in toks
        }
        # "guesthouse" in a message, "guest house" in a name: split compounds the names spell apart.
        self._split = {a + b: [a, b] for toks in self.names.values() for a, b in itertools.pairwise(toks)}
        self.domains = {d for d in self.domain_of.values() if d}
        self._domain_words = self._learn_domain_words(name_df)

    def __len__(self) -> int:
        return len(self.names)

    def _learn_domain_words(self, df: Counter[str]) -> dict[str, str]:
        """A word names a domain if it is the domain itself, or most entity names holding it are of it."""
        words = {tokenize(d, keep_stopwords=True)[0]: d for d in self.domains if tokenize(d)}
        by_domain: dict[str, Counter[str]] = defaultdict(Counter)
        for entity, toks in self.names.items():
            dom = self.domain_of.get(entity)
            if dom:
                for t in set(toks):
                    by_domain[t][dom] += 1
        for token, counts in by_domain.items():
            dom, c = counts.most_common(1)[0]
            if df[token] >= 3 and c / df[token] >= 0.9 and len(token) > 3 and token not in words:
                words[token] = dom
        return words

    def _tokens(self, text: str) -> tuple[list[str], list[bool]]:
        """Name-comparable tokens and, for each, whether it may stand in a one-word name mention.

        A word right after a number is a quantity ("a 4 star place", "2 nights"), not a name; and in
        text that uses capitals at all, a one-word mention must be capitalised ("worth it" is no Worth House).
        """
        lower = text.lower()
        cased = any(c.isupper() for c in text)  # a capitalised sentence start: names would be too
        toks: list[str] = []
        single_ok: list[bool] = []
        prev = ""
        for m in _WORD.finditer(lower):
            word = "and" if m.group() == "&" else m.group().replace("'", "")
            capital = m.start() < len(text) and text[m.start()].isupper()
            ok = (capital or not cased) and not _NUMBER.match(prev)
            for part in self._split.get(_stem(word), [_stem(word)]):
                toks.append(part)
                single_ok.append(ok)
            prev = word
        return toks, single_ok

    def mentions(self, text: str) -> list[tuple[str, float]]:
        """Entities named in `text`, strongest evidence first (weight of the longest matching run)."""
        toks, single_ok = self._tokens(text)
        if not toks:
            return []
        present = set(toks)
        positions: dict[str, list[int]] = defaultdict(list)
        for i, tok in enumerate(toks):
            positions[tok].append(i)
        found: list[tuple[str, float]] = []
        for entity, name in self.names.items():
            if not present.intersection(name):
                continue
            total = sum(self._weight[t] for t in name)
            best = 0.0
            for start in range(len(name)):
                for pos in positions.get(name[start], ()):
                    run, j = 0.0, 0
                    while start + j < len(name) and pos + j < len(toks) and toks[pos + j] == name[start + j]:
                        run += self._weight[name[start + j]]
                        j += 1
                    if j == 1 and len(name) > 1 and not single_ok[pos]:
                        continue
                    best = max(best, run)
            if total > 0 and best >= self.min_weight and best / total >= self.min_share:
                found.append((entity, best + best / total))
        found.sort(key=lambda x: -x[1])
        return found

    def domain_in(self, text: str) -> str | None:
        for token in tokenize(text, keep_stopwords=True):
            if token in self._domain_words:
                return self._domain_words[token]
        return None

    recency_decay = 0.6
    """Evidence from each earlier turn counts this much less than the turn after it."""

    def focus(self, query: str, history: Sequence[Turn]) -> EntityFocus:
        """The entity the latest query is about.

        Every turn's mentions add evidence, discounted by age, so one weak look-alike in the last turn
        ("a 4 star place" vs. "The Lucky Star") does not outvote a name said clearly twice before.
        The query itself counts most; a domain word in the query ("the restaurant") filters the candidates.
        """
        if not self.names:
            return EntityFocus(None, None, "none")
        domain = self.domain_in(query)
        scores: dict[str, float] = defaultdict(float)
        source: dict[str, str] = {}
        turns = [query, *(t.text for t in reversed(history))]
        for age, text in enumerate(turns):
            factor = 2.0 if age == 0 else self.recency_decay**age
            for entity, evidence in self.mentions(text):
                scores[entity] += evidence * factor
                source.setdefault(entity, "query" if age == 0 else "history")
        if not scores:
            return EntityFocus(None, domain, "domain" if domain else "none")
        candidates = {e: v for e, v in scores.items() if domain is None or self.domain_of.get(e) == domain}
        if not candidates:
            candidates = scores
        entity = max(candidates, key=lambda e: candidates[e])
        return EntityFocus(entity, self.domain_of.get(entity), source[entity], candidates[entity])


def _word_re(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")\b", re.I)


def strip_name(text: str, entity: str) -> str:
    """The query without the entity's name words: once the search is restricted to that entity, its
    name only pulls up sentences that repeat the name ("I stayed at X") instead of the answer."""
    words = {w for w in re.findall(r"[a-z0-9]+", entity.lower().replace("&", " and ")) if len(w) > 1}
    words -= {"and", "the", "of"}
    if not words:
        return text
    stripped = _word_re(words).sub(" ", text)
    stripped = re.sub(r"\s+", " ", stripped).strip()
    return stripped if len(stripped.split()) >= 2 else text


def refers_back(query: str) -> bool:
    """True when the query leans on earlier turns ("is it refundable?", "what about that one")."""
    return bool(_ANAPHORA.search(query)) or len(tokenize(query)) <= 2
