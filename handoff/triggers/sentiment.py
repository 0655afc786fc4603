"""How upset the customer is: VADER plus the support-language cues it misses, and the sentiment trigger.

VADER alone reads "worst support ever… refund NOW!!!" as only mildly negative and "great, just great" as
praise. `score` starts from VADER and moves the result towards -1 by the strength of the cues below
(frustration, shouting, demands, sarcasm), softens calm requests about bad luck ("the storm damaged my
fence, can you help?") and averages mixed messages ("love the sofa but the delivery was late").
Every cue is data in the lists below; the arithmetic lives in `analyse` alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from handoff.reasons import HandoffReason
from handoff.triggers import Trigger

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

__all__ = ["Sentiment", "analyse", "score", "sentiment_trigger", "trend"]

Trend = Literal["falling", "rising", "steady", "n/a"]

_I = re.IGNORECASE

# VADER's cost grows faster than linearly with length (50,000 characters take seconds). Longer messages
# are scored on their head and tail, where the complaint and the demand usually are.
_MAX_CHARS = 4000
_HEAD_TAIL_CHARS = 2000

# A cue is (name, pattern, weight). A weight is the fraction of the remaining distance to -1 that the cue
# moves the score; several cues combine like independent chances, so the score never passes -1.
_Cue = tuple[str, re.Pattern[str], float]


def _phrases(*alternatives: str, flags: int = _I) -> re.Pattern[str]:
    """One pattern matching any of the alternatives as whole words (each may itself be a regex)."""
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", flags)


# Building blocks shared by several cues.
_CONTACT = (  # contacting us: "asked", "called", "emailed", "chasing" ...
    r"(?:ask|call|phon|ring|rang|rung|email|e-mail|contact|chas|explain|writ|wrote|tell|told|messag"
    r"|tried|try|complain|report|sent|send)\w*"
)
_ORDINAL_TIME = r"(?:third|fourth|fifth|sixth|seventh|\d+(?:rd|th)|umpteenth|hundredth|millionth) time"
_COUNT_TIMES = r"(?:three|four|five|six|seven|eight|nine|ten|several|multiple|many|countless|\d+) times"
_SPAN = r"(?:\d+|two|three|four|five|six|several|a few|many)\s+(?:hours?|days?|weeks?|months?)"
_BAD = (
    r"(?:terrible|awful|horrible|appalling|abysmal|atrocious|shocking|poor|bad|disgraceful|pathetic"
    r"|dreadful|rubbish|crap|shoddy|useless|hopeless|a joke|a disgrace|a shambles|a nightmare)"
)
_US = r"(?:service|support|customer service|company|website|site|app|bot|chat|team|staff|communication)"
_CLAUSE = r"[^.?!\n]"  # any character that does not end the sentence
_AND_NOTHING = rf"{_CLAUSE}{{0,25}}?\b(?:and|but|yet)\s+(?:still\s+)?(?:no|nothing|not|never)"

FRUSTRATION: list[_Cue] = [
    ("useless", _phrases("useless"), 0.4),
    ("waste of time", _phrases(r"wast(?:e|ed|ing) (?:of )?(?:my |our )?(?:time|money|day|morning)"), 0.4),
    ("fed up", _phrases("fed up", r"sick (?:and tired )?of", "tired of", "had it with"), 0.4),
    ("worst ever", _phrases(rf"worst{_CLAUSE}{{0,40}}\bever", rf"worst {_US}"), 0.4),
    # Verdicts on us that VADER scores weakly or not at all.
    (
        "damning",
        _phrases(
            "unacceptable",
            "disgraceful",
            "disgusting",
            "appalling",
            "outrageous",
            "pathetic",
            "incompetent",
            "shambolic",
            "shambles",
            "hopeless",
            "pointless",
            r"rip[- ]?off",
            "cowboys",
            r"scam(?:mers?)?",
            r"con artists?",
            "daylight robbery",
        ),
        0.35,
    ),
    ("ridiculous", _phrases("ridiculous", "absurd", "farcical", "a farce", "beyond a joke"), 0.3),
    (
        "angry",
        _phrases("furious", "livid", "fuming", "seething", "raging", r"(?:so|really|very|beyond) angry"),
        0.35,
    ),
    # "terrible service", "your support is a joke".
    (
        "bad service",
        _phrases(
            rf"{_BAD} (?:customer )?{_US}",
            rf"(?:your|the|this) {_US}\b{_CLAUSE}{{0,15}}"
            rf"\b(?:is|are|was|were|has been|have been) (?:\w+ )?{_BAD}",
        ),
        0.3,
    ),
    (
        "still waiting",
        _phrases(
            r"still (?:waiting|no (?:sign|word|reply|response|refund|update|parcel|delivery|news|answer))",
            r"still (?:hasn't|haven't|has not|have not|not) (?:arrived|come|been|heard|received|refunded"
            r"|replied|turned up)",
        ),
        0.25,
    ),
    # "3 weeks and no parcel", "two days later and still nothing".
    (
        "time and nothing",
        _phrases(rf"{_SPAN}\b{_AND_NOTHING}"),
        0.3,
    ),
    (
        "nobody answers",
        _phrases(
            rf"(?:nobody|no one|no-one|noone)\b{_CLAUSE}{{0,20}}?\b(?:answers?|replies|replied|responds?"
            r"|responded|(?:gets?|got|calls?|called|rings?|rang) (?:me |us )?back|cares?|helps?|helped"
            r"|listens?)",
        ),
        0.3,
    ),
    # "the third time I've asked", "emailed you five times"; not "my third time buying this lamp".
    (
        "repeated contact",
        _phrases(
            rf"{_ORDINAL_TIME}\b{_CLAUSE}{{0,40}}?\b{_CONTACT}",
            rf"{_CONTACT}\b{_CLAUSE}{{0,40}}?\b{_ORDINAL_TIME}",
            rf"{_CONTACT}\b{_CLAUSE}{{0,40}}?\b{_COUNT_TIMES}",
            r"how many (?:more )?times",
        ),
        0.3,
    ),
    (
        "exasperation",
        _phrases(
            r"are you (?:kidding|joking|serious)",
            r"you(?:'ve| have) got to be kidding",
            r"how hard (?:can|is) it",
            "what is wrong with you",
            "had enough",
            "enough is enough",
            "never again",
            r"never (?:ordering|buying|shopping|using) (?:from|with|here)",
            "fobbed off",
            r"(?:going|go) round in circles",
            "lied to",
        ),
        0.3,
    ),
    ("ignored", _phrases("ignored", "ignoring me", "passed around", r"run(?:ning)? around", "rude"), 0.25),
    (
        "profanity",
        _phrases(
            r"f+u+c+k\w*",
            "wtf",
            "bloody",
            r"damn(?:ed)?",
            r"shit\w*",
            "bullshit",
            "crap",
            r"piss(?:ed)? off",
            r"screw (?:you|this)",
        ),
        0.3,
    ),
]
"""Frustration words and phrases. Skipped when negated just before ("not useless", "isn't ridiculous")."""

DEMANDS: list[_Cue] = [
    ("NOW", _phrases("NOW", flags=0), 0.25),  # capitals only: "I'd like to order now" is calm
    (
        "immediately",
        _phrases(
            "right now",
            "immediately",
            "asap",
            "at once",
            "this instant",
            "straight away",
            r"without (?:further )?delay",
        ),
        0.15,
    ),
    ("I demand", _phrases(r"I (?:demand|insist)", r"I want (?:my money back|a full refund)"), 0.2),
]

SHOUTING: list[_Cue] = [
    ("!!", re.compile(r"!\s*!"), 0.15),
    ("?!", re.compile(r"\?\s*!|!\s*\?|\?\s*\?"), 0.1),
]
"""Punctuation shouting. Capitals are counted separately (see `_caps_cue`)."""

ACRONYMS = frozenset(
    "UK USA EU ID PDF FAQ SKU TV DVD USB LED LCD DHL UPS DPD USPS GPS VAT TNT FYI ETA RRP PIN OTP UTC GMT"
    " BST EST PST API URL CEO AM PM DIY XL XXL".split()
)
"""Upper-case words that are names, not shouting."""
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
_WORD = re.compile(r"\b[A-Za-z]{3,}\b")

_PRAISE = (
    r"(?:great|wonderful|brilliant|fantastic|lovely|perfect|amazing|marvell?ous|super|terrific|nice|good"
    r"|excellent)"
)
# Bad news after praise: "another delay", "still nothing", "no reply"; not "no problem", "not a scratch".
_LETDOWN = (
    r"(?:another|again|yet more|still (?:no|nothing|not|waiting)|nothing|never (?:arrived|came|turned up)"
    r"|no (?:sign|word|reply|response|refund|update|parcel|delivery|news|answer|one))"
)
SARCASM: list[_Cue] = [
    # "great, just great", "perfect. just perfect."
    (
        "just great",
        _phrases(
            r"(great|perfect|wonderful|brilliant|fantastic|lovely|marvell?ous|super|terrific)\W{1,4}just \1"
        ),
        0.35,
    ),
    # "oh wonderful, another delay", "wow great, still nothing": a praise interjection, then bad news.
    (
        "oh wonderful",
        _phrases(rf"(?:oh|wow|ah|gee|ooh)\W{{0,4}}{_PRAISE}\b{_CLAUSE}{{0,60}}?\b{_LETDOWN}"),
        0.35,
    ),
    # "what a joke", "is this a joke?" (VADER reads "joke" as positive); not "tell me a joke".
    (
        "joke",
        _phrases(
            r"(?:what|such|this is|it's|it is|that's|that is|you're|you are|is this|absolute|complete|total"
            r"|bloody|sick) (?:an? )?(?:absolute |complete |total |bloody |sick )?joke",
            r"joke of an?",
        ),
        0.3,
    ),
    ("thanks for nothing", _phrases(r"thanks? (?:you )?for nothing", "thanks a bunch", "big help"), 0.35),
    ("yeah right", _phrases(r"yeah,? right", r"as if(?! I)"), 0.3),
    # "so helpful... not"
    (
        "... not",
        _phrases(r"(?:helpful|useful|great|good|amazing|brilliant|fast|quick)\W*(?:\.{2,}|…)\s*not"),
        0.35,
    ),
    ("NOT!", re.compile(r"\bNOT\s*[.!]"), 0.3),  # capitals only: "great service. NOT."
    # "love waiting on hold for hours", "enjoying being ignored"
    (
        "love waiting",
        _phrases(
            r"(?:love|loving|enjoy|enjoying|adore|nothing (?:I )?like)\s+(?:waiting|being (?:put )?on hold"
            r"|being ignored|being passed|chasing|repeating myself|explaining (?:it|this) again)"
        ),
        0.35,
    ),
    # "wow, amazing service, 3 weeks and no parcel": praise of us, then (with no "but") time and nothing.
    (
        "praise then bad news",
        _phrases(
            r"(?:amazing|great|excellent|fantastic|brilliant|wonderful|stellar|top[- ]notch|outstanding"
            rf"|superb|impressive)\s+(?:customer )?{_US}\b"
            rf"(?:(?!\b(?:but|although|though|however)\b){_CLAUSE}){{0,40}}?\b{_SPAN}\b{_AND_NOTHING}"
        ),
        0.35,
    ),
]
"""Positive words in a negative frame. When one matches, VADER's positive reading is turned around."""

# A frustration cue directly after one of these is negated: "not useless", "never rude".
_NEGATED = re.compile(r"\b(?:not|no|never|hardly|isn't|wasn't|aren't|weren't|ain't)\s+(?:\w+\s+)?$", _I)

# Contrast markers for mixed messages: each side is scored on its own.
_CONTRAST = re.compile(r"\b(?:but|however|although|though|except that)\b", _I)
_MIXED_WEIGHTS = (0.4, 0.6)
"""(before, after) the contrast: what comes after weighs a little more, as people put the point last."""

# A calm request for help with bad luck ("the storm damaged my fence, can you help?") is not anger.
_HELP_FRAME = re.compile(
    r"\b(?:can|could|would|will) you\b|\bplease\b|\bhelp\b|\bhow (?:do|can|should) I\b"
    r"|\bI(?:'d| would) like\b|\bI need to\b|\?",
    _I,
)
_BLAME = re.compile(
    rf"\b(?:your|you're|you are|you guys|you people|this company|brightwell|(?:the|your) {_US})\b", _I
)
_CALM_DAMPING = 0.5
"""Negative VADER scores of calm help requests, with no cue and no blame, are multiplied by this."""


@dataclass(frozen=True)
class Sentiment:
    score: float
    """-1 (furious) .. 1 (delighted)."""
    vader: float
    """VADER's compound score, for comparison."""
    cues: tuple[str, ...]
    """Names of the cues that moved the score, e.g. ("worst ever", "NOW", "!!")."""


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    """Built on first use: importing and loading the lexicon costs ~0.1 s nobody should pay at import time."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _bounded(text: str) -> str:
    if len(text) <= _MAX_CHARS:
        return text
    return f"{text[:_HEAD_TAIL_CHARS]}\n{text[-_HEAD_TAIL_CHARS:]}"


def _vader(text: str) -> float:
    compound: float = _analyzer().polarity_scores(text)["compound"]
    return compound


def _base(text: str) -> float:
    """VADER's compound, except that a mixed message ("love X but Y was late") lands between its parts."""
    whole = _vader(text)
    split = _CONTRAST.search(text)
    if split is None:
        return whole
    before, after = _vader(text[: split.start()]), _vader(text[split.end() :])
    if (before > 0.05 and after < -0.05) or (before < -0.05 and after > 0.05):
        return _MIXED_WEIGHTS[0] * before + _MIXED_WEIGHTS[1] * after
    return whole


def _matches(text: str, cues: Sequence[_Cue], *, negatable: bool) -> list[tuple[str, float]]:
    found = []
    for name, pattern, weight in cues:
        for m in pattern.finditer(text):
            if negatable and _NEGATED.search(text[max(0, m.start() - 30) : m.start()]):
                continue
            found.append((name, weight))
            break
    return found


def _caps_cue(text: str) -> list[tuple[str, float]]:
    """Shouting in capitals: one word is emphasis, two are raised voice, most of the message is shouting."""
    caps = [w for w in _CAPS_WORD.findall(text) if w not in ACRONYMS]
    if not caps:
        return []
    words = len(_WORD.findall(text))
    if words >= 3 and len(caps) >= 0.6 * words:
        return [("ALL CAPS", 0.35)]
    if len(caps) >= 2:
        return [("CAPS", 0.2)]
    return [("CAPS", 0.1)]


def analyse(text: str) -> Sentiment:
    """Score one customer message and name the cues that moved it."""
    text = _bounded(text.replace("\u2019", "'").strip())
    if not text:
        return Sentiment(score=0.0, vader=0.0, cues=())
    vader = _vader(text)
    base = _base(text)
    sarcasm = _matches(text, SARCASM, negatable=False)
    cues = (
        sarcasm
        + _matches(text, FRUSTRATION, negatable=True)
        + _matches(text, DEMANDS, negatable=False)
        + _matches(text, SHOUTING, negatable=False)
        + _caps_cue(text)
    )
    if sarcasm and base > 0:
        base = -0.5 * base
    if not cues and base < 0 and _HELP_FRAME.search(text) and not _BLAME.search(text):
        base *= _CALM_DAMPING
    remaining = 1.0
    for _, weight in cues:
        remaining *= 1.0 - weight
    strength = 1.0 - remaining
    value = base - strength * (1.0 + base)
    return Sentiment(score=max(-1.0, min(1.0, value)), vader=vader, cues=tuple(name for name, _ in cues))


def score(text: str) -> float:
    """How the customer feels in this message, -1 (furious) .. 1 (delighted); 0 for empty text."""
    return analyse(text).score


_TREND_TOLERANCE = 0.2
"""How far the latest score must move from the average of the window before it counts as a change."""


def trend(scores: Sequence[float], window: int = 4) -> Trend:
    """Direction of the latest message against the ones before it in the window, for the handoff packet."""
    recent = list(scores)[-max(window, 2) :]
    if len(recent) < 2:
        return "n/a"
    earlier = recent[:-1]
    change = recent[-1] - sum(earlier) / len(earlier)
    if change <= -_TREND_TOLERANCE:
        return "falling"
    if change >= _TREND_TOLERANCE:
        return "rising"
    return "steady"


def sentiment_trigger(
    scores: Sequence[float], *, threshold: float, floor: float, drop: float, window: int
) -> Trigger | None:
    """Hand off when the current message is very negative, or the mood has fallen far and is now negative.

    `scores` are the customer's messages oldest to newest; the last is the current one.
    """
    if not scores:
        return None
    recent = list(scores)[-max(window, 1) :]
    last = recent[-1]
    peak = max(recent)
    detail = {
        "scores": [round(s, 3) for s in recent],
        "last": round(last, 3),
        "trend": trend(scores, window),
    }
    if last <= threshold:
        evidence = f"message sentiment {last:.2f} ≤ {threshold:.2f}"
        return Trigger(HandoffReason.SENTIMENT, evidence, detail={**detail, "rule": "very_negative"})
    if last <= floor and peak - last >= drop:
        # Counted from the best recent message to the current one, both included.
        span = len(recent) - max(i for i, s in enumerate(recent) if s == peak)
        evidence = f"sentiment fell from {peak:.2f} to {last:.2f} over {span} messages"
        return Trigger(
            HandoffReason.SENTIMENT, evidence, detail={**detail, "rule": "falling", "peak": round(peak, 3)}
        )
    return None
