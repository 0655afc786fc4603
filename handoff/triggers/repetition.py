"""The bot is not helping: the customer says so, asks the same thing again, or gets no answer turn after turn.

Three signals, any of which fires (the evidence names each one that did):
- the customer says the answer did not help ("that's not what I asked", "I already told you");
- the message rephrases an earlier one (Dice overlap of stemmed content words, no models). Answered or
  not: a customer who asks again did not get what they needed. A repeat of an unresolved question
  escalates; a repeat of an answered one only offers a person (escalate=False), as the rephrased question
  may well get a better answer;
- the last `unresolved_turns` earlier turns all ended unknown, failed or clarify.

Decisions on the ambiguous cases:
- A goodbye ("didn't help much but fine, thanks, bye", "never mind, bye") fires nothing, even after failures:
  the customer is leaving and handing the chat to a person helps no one. Its sentiment is scored elsewhere.
- "it's still not working", "I tried that" may describe the product, not our answer: they count only right
  after an answered turn. Every "didn't help" phrase needs an earlier turn in this conversation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from handoff.reasons import HandoffReason
from handoff.triggers import EarlierTurn, Trigger
from knowledge.lexical import STOPWORDS

__all__ = ["UNRESOLVED_OUTCOMES", "content_words", "question_similarity", "repeated_failure"]

UNRESOLVED_OUTCOMES = frozenset({"unknown", "failed", "clarify"})


def _phrases(*alternatives: str) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of the alternatives as whole words."""
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


_NEG = r"(?:didn't|did not|doesn't|does not|won't|will not|isn't going to|hasn't|has not)"

DID_NOT_HELP = _phrases(
    # "if that doesn't help I'll call" is not a verdict
    rf"(?<!if )(?:that|this|your (?:answer|reply|response|suggestion|advice|link|article))"
    rf" {_NEG} (?:help|work)",
    r"not what I (?:asked|meant|was asking|wanted(?: to know)?|said|need(?:ed)?)",
    r"you(?:'re| are) (?:still )?not (?:understanding|getting it|listening|reading|answering)",
    r"you (?:don't|do not|didn't|did not) (?:understand|get it|listen|read)",
    rf"{_NEG} answer (?:my|the) question",
    r"you (?:haven't|have not|still haven't|never) answered",
    r"I (?:already|just) (?:told|said|explained|asked|gave) (?:you|that|it)",
    r"I(?:'ve| have) already (?:told|said|explained|asked|given)",
    r"as I (?:said|told you|mentioned|explained)",
    r"wrong answer",
    r"(?:useless|pointless|irrelevant|generic|canned|unhelpful) (?:answer|reply|response)",
    r"(?:that's|that is|this is) not (?:helpful|relevant|what I need)",
    r"not helpful at all",
    r"you keep (?:saying|repeating|sending|giving me) the same",
    r"same (?:answer|reply|response|thing) again",
    r"read my (?:question|message)",
)
"""The customer says the bot's answer missed. Needs an earlier turn in the conversation."""

STILL_FAILING = _phrases(
    rf"it {_NEG} (?:help|work)",
    r"still (?:not working|doesn't work|does not work|won't work|broken|the same|having the same)",
    r"(?:already )?tried that",
    r"same (?:problem|issue|error)",
    r"no (?:change|difference)",
)
"""Could describe the product, not our answer: counts only right after an answered turn."""

CLOSING = _phrases(
    r"bye",
    r"good ?bye",
    r"that's all",
    r"that is all",
    r"never ?mind",
    r"nvm",
    r"I'll (?:manage|sort it out myself|figure it out)",
    r"fine,? thanks?",
)
"""A goodbye: when the message has one and asks nothing, no signal fires. Kept to clear goodbyes:
"that's fine but it still doesn't work" is not one."""

# Words that carry no topic in a support question, on top of the general stop words: asking again
# ("I asked already, where is it") must not make two questions look different.
FILLER = frozenset(
    """
    ask asked asking again still already question know tell want need get got can could would please
    help just really actually like yes ok okay hey hi hello thanks thank sorry said say told mean meant
    answer reply understand wrong right think try tried trying one thing something anything way bit lot
    much many also even going gonna wanna let make see look find anyone someone anybody somebody
    """.split()
)

# Light stemming as data: suffixes stripped repeatedly (longest first) while three letters remain,
# then a doubled final consonant is undoubled. Joins deliver/delivery/delivered/deliveries,
# cancel/cancelled/cancellation, arrive/arrival/arriving; no stemmer package.
_SUFFIXES = (
    "ations", "ation", "ments", "ment", "ness", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly",
    "al", "s", "y", "e",
)  # fmt: skip
_MIN_STEM = 3
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_MIN_SHARED = 2
"""Partly overlapping questions must share at least this many content words: "return the sofa?" and
"return the lamp?" share one and are different questions. The same words in full ("where's my order??"
after "Where is my order?") are a repeat however few."""
_EVIDENCE_CHARS = 200


def _stem(word: str) -> str:
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
                if suffix == "s" and word.endswith("ss"):
                    continue
                word = word[: -len(suffix)]
                changed = True
                break
    if len(word) > _MIN_STEM and word[-1] == word[-2] and word[-1] not in "aeious":
        word = word[:-1]
    return word


def content_words(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(stemmed content words, identifiers such as order numbers) of one message.

    Identifiers are kept apart: two questions about order 1234 share the number but not the question.
    """
    words, ids = set(), set()
    for token in _TOKEN.findall(text.lower().replace("\u2019", "'")):
        token = token.removesuffix("'s")
        if "'" in token or token in STOPWORDS or token in FILLER:
            continue  # contractions ("didn't", "where's") carry no topic either
        if any(c.isdigit() for c in token):
            ids.add(token)
        else:
            words.add(_stem(token))
    return frozenset(words), frozenset(ids)


def question_similarity(a: str, b: str) -> float:
    """Dice overlap of two messages' content words, 0..1; 0 when they name different identifiers."""
    return _overlap(content_words(a), content_words(b))


def _overlap(a: tuple[frozenset[str], frozenset[str]], b: tuple[frozenset[str], frozenset[str]]) -> float:
    (words_a, ids_a), (words_b, ids_b) = a, b
    if ids_a and ids_b and not ids_a & ids_b:
        return 0.0  # the same question about a different order is a new question
    if words_a and words_a == words_b:
        return 1.0
    shared = len(words_a & words_b)
    if shared < _MIN_SHARED:
        return 0.0
    return 2 * shared / (len(words_a) + len(words_b))


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EVIDENCE_CHARS else text[: _EVIDENCE_CHARS - 1] + "…"


def repeated_failure(
    text: str, earlier: Sequence[EarlierTurn], *, unresolved_turns: int, similarity: float
) -> Trigger | None:
    """Hand off (or offer a person) when the bot is visibly not helping; None otherwise.

    `earlier` are this conversation's earlier customer turns, oldest first, with the bot's outcome for each.
    """
    text = text.replace("\u2019", "'")
    if not text.strip() or (CLOSING.search(text) and "?" not in text):
        return None  # nothing asked, or a goodbye: there is no new attempt to fail
    evidence: list[str] = []
    signals: list[str] = []
    detail: dict[str, object] = {"signals": signals}
    escalate = False

    said = DID_NOT_HELP.search(text) if earlier else None
    if said is None and earlier and earlier[-1].outcome == "answered":
        said = STILL_FAILING.search(text)
    if said:
        evidence.append(f'says the answer did not help: "{said.group(0)}"')
        detail["phrase"] = said.group(0)
        signals.append("said")
        escalate = True

    best: tuple[float, EarlierTurn] | None = None
    current = content_words(text)
    for turn in earlier:
        score = _overlap(current, content_words(turn.text))
        if score >= similarity and (best is None or score >= best[0]):
            best = (score, turn)  # ties go to the most recent
    if best:
        score, turn = best
        evidence.append(
            f'asks again what they asked before: "{_quote(turn.text)}" '
            f"(similarity {score:.2f}, that turn was {turn.outcome})"
        )
        detail.update(earlier_question=turn.text, earlier_outcome=turn.outcome, similarity=round(score, 3))
        signals.append("rephrased")
        escalate = escalate or turn.outcome != "answered"

    recent = list(earlier)[-unresolved_turns:] if unresolved_turns >= 1 else []
    if recent and len(recent) == unresolved_turns and all(t.outcome in UNRESOLVED_OUTCOMES for t in recent):
        outcomes = [t.outcome for t in recent]
        evidence.append(f"the last {unresolved_turns} turns went unresolved ({', '.join(outcomes)})")
        detail["unresolved_outcomes"] = outcomes
        signals.append("unresolved")
        escalate = True

    if not evidence:
        return None
    return Trigger(HandoffReason.REPEATED_FAILURE, "; ".join(evidence), escalate=escalate, detail=detail)
