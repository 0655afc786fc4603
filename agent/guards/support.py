"""Sentence support: every sentence of a reply that states a fact must be backed by a passage it cites.

A generated answer can cite a real passage and still say something the passage does not: a different number
of days, a refund the passage does not give, "are refundable" where it says "are not refundable". Each
factual sentence is checked against the passages its [n] markers name:

- its content words (stemmed, with a few support-domain synonyms) must be mostly found in those passages;
- every number, amount, duration, percentage and model code in it must appear there, next to words the
  sentence shares (so "refunds take 30 days" cannot borrow the 30 of the return window);
- it must not flip the negation of the passage sentences it matches best ("are refundable" against "are
  not refundable"), nor say "always" or "every" where they do not.

Courtesy and phrasing ("I hope that helps.", "Let me know if ...", "Sorry to hear that.", questions back to
the customer, offers to fetch a person) state nothing and need no citation. Unsupported sentences are
removed and the markers renumbered; when nothing factual is left the caller should replace the answer.
The splitter here is shared with the output rails, so a Violation's sentence index means the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal

from core.policy import lower_literals

__all__ = [
    "Sentence",
    "SentenceVerdict",
    "SupportResult",
    "check_support",
    "cited_texts",
    "content_tokens",
    "drop_sentences",
    "quantities",
    "split_sentences",
]

# --- sentences ---------------------------------------------------------------------------------------------

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_END = re.compile(r"[.!?]+[\"'”’)\]*_]*((?:\s*\[\d+(?:\s*,\s*\d+)*\])*)(?=\s|$)")
_ABBREVIATION = re.compile(
    r"(?:\b(?:[ap]\.m|e\.g|i\.e|etc|vs|approx|Mr|Mrs|Ms|Dr|St|No|U\.S|Inc|Ltd|Co|Jr|Sr|min|max)|^\s*\d+"
    r"|\b[A-Z])$"
)
_LIST_PREFIX = re.compile(r"^\s*(?:(?:[-*•>]+|\d+[.)])\s+)+")
_MARKUP = re.compile(r"\*\*|__|`|^#+\s*")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Sentence:
    index: int
    start: int
    end: int
    """Span in the reply, its markers included."""
    text: str
    """The words: markers, list bullets and markdown emphasis removed, whitespace collapsed."""
    markers: tuple[int, ...]
    """The citation numbers this sentence carries, in order, without repeats."""


def _clean(raw: str) -> str:
    text = MARKER.sub(" ", raw)
    text = _LIST_PREFIX.sub("", text)
    text = _MARKUP.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    return re.sub(r"\s+([.,;:!?])", r"\1", text)


def _markers(raw: str) -> tuple[int, ...]:
    seen: dict[int, None] = {}
    for match in MARKER.finditer(raw):
        for part in match.group(1).split(","):
            seen[int(part)] = None
    return tuple(seen)


def _line_spans(line: str, offset: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _END.finditer(line):
        end = match.end()
        before = line[start : match.start()]
        rest = line[end:].lstrip()
        if rest and rest[0].islower():
            continue  # "e.g. the BX-700", "8 a.m. to noon": not a sentence end
        if match.group(0).startswith(".") and _ABBREVIATION.search(before):
            continue
        if before.strip():
            spans.append((offset + start, offset + end))
        start = end
        while start < len(line) and line[start].isspace():
            start += 1
    if line[start:].strip():
        spans.append((offset + start, offset + len(line.rstrip())))
    return spans


def split_sentences(reply: str) -> list[Sentence]:
    """The reply's sentences in order; a line break always ends one (list items stay separate).

    Markers written after the full stop ("... days. [1]") belong to the sentence before them.
    """
    return list(_split(reply))


@lru_cache(maxsize=64)
def _split(reply: str) -> tuple[Sentence, ...]:
    """Cached: the output rails and the support check split the same reply in one turn."""
    sentences: list[Sentence] = []
    offset = 0
    heading: tuple[int, ...] = ()
    for line in reply.split("\n"):
        quoted = line.lstrip().startswith(">")
        for start, end in _line_spans(line, offset):
            # Leading whitespace is not part of the sentence.
            while start < end and reply[start].isspace():
                start += 1
            raw = reply[start:end]
            text = _clean(raw)
            markers = _markers(raw)
            if quoted and not markers:
                markers = heading  # a quoted passage under its "**Title** [n]" line (Minimal mode)
            if text or markers:
                sentences.append(Sentence(len(sentences), start, end, text, markers))
        if not quoted and line.strip():
            heading = _markers(line)
        offset += len(line) + 1
    return tuple(sentences)


def _renumber(reply: str, citations: Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Markers renumbered 1, 2, ... by first use; citations no marker uses any more are dropped."""
    order: dict[int, int] = {}
    for match in MARKER.finditer(reply):
        for part in match.group(1).split(","):
            order.setdefault(int(part), len(order) + 1)

    def swap(match: re.Match[str]) -> str:
        numbers = dict.fromkeys(order[int(p)] for p in match.group(1).split(","))
        return "".join(f"[{n}]" for n in numbers)

    text = MARKER.sub(swap, reply)
    kept = [{**c, "n": order[int(c["n"])]} for c in citations if int(c["n"]) in order]
    kept.sort(key=lambda c: int(c["n"]))
    return text, kept


def drop_sentences(
    reply: str, citations: Sequence[Mapping[str, Any]], drop: Collection[int]
) -> tuple[str, list[dict[str, Any]]]:
    """The reply without the sentences at these indices (as `split_sentences` numbers them), and its
    citations with the markers kept consistent: renumbered by first use, unused citations dropped."""
    sentences = split_sentences(reply)
    if not drop:
        return reply, [dict(c) for c in citations]
    parts: list[str] = []
    gap = ""
    previous_end: int | None = None
    for sentence in sentences:
        between = reply[previous_end : sentence.start] if previous_end is not None else ""
        previous_end = sentence.end
        if between.count("\n") > gap.count("\n") or not gap:
            gap = between
        if sentence.index in drop:
            continue
        if parts:
            parts.append(gap or " ")
        parts.append(reply[sentence.start : sentence.end])
        gap = ""
    return _renumber("".join(parts), citations)


# --- words -------------------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    """
    a about above after again all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he
    her here hers him his how i if in into is it its itself just me more most my myself of off on once only
    or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself yourselves
    please hi hello thanks thank ok okay yes sure certainly absolutely definitely glad happy help helps
    note simply easily just still even well however though although therefore also currently now today
    may might must shall let lets get gets got getting receive receives received receiving make makes
    made take takes took able via per etc e g ie eg one ones way thing things something anything everything
    know want like see find look go goes going come comes keep keeps kind certain specific exactly really
    quite much many lot lots bit every either example instance back away right directly usual usually
    typically generally normally always simply need needs needed brightwell home im youre youll youve
    weve well ill dont doesnt isnt arent cant wont didnt hasnt havent no nor not never non within
    """.split()
)
"""Function words and phrasing a paraphrase adds freely: not evidence either way."""
_NEGATORS = frozenset(
    "not no never cannot can't won't don't doesn't isn't aren't wasn't weren't shouldn't couldn't wouldn't "
    "didn't hasn't haven't nothing none neither nor unable ineligible dont doesnt isnt arent cant "
    "wont".split()
)
_CANON = {
    # stems that mean the same thing in a support answer
    "reimburs": "refund",
    "repay": "refund",
    "purchas": "buy",
    "bought": "buy",
    "price": "cost",
    "fee": "cost",
    "charg": "cost",
    "paid": "pay",
    "payment": "pay",
    "product": "item",
    "deliveri": "deliver",
    "send": "ship",
    "sent": "ship",
    "dispatch": "ship",
    "cancell": "cancel",
    "membership": "member",
    "work": "busi",
    "working": "busi",
    "representativ": "agent",
    "person": "agent",
    "human": "agent",
    "staff": "agent",
    "specialist": "agent",
    "colleagu": "agent",
    "requir": "need",
    "must": "need",
    "begin": "start",
    "initiat": "start",
    "defectiv": "defect",
    "faulti": "defect",
    "fault": "defect",
    "broken": "defect",
    "period": "window",
    "timefram": "window",
    "phone": "call",
    "telephon": "call",
    "ring": "call",
    "longer": "long",
    "extend": "extens",
    "purchaser": "buy",
    "acquir": "buy",
    "annual": "year",
    "yearli": "year",
    "monthli": "month",
    "weekli": "week",
    "daili": "day",
    "lb": "pound",
    "kg": "kilogram",
    "unus": "unused",
    "refundabl": "refund",
    "returnabl": "return",
    "notifi": "tell",
    "told": "tell",
    "inform": "tell",
    "giver": "give",
}
_IRREGULAR = {
    "bought": "buy",
    "sent": "ship",
    "paid": "pay",
    "gave": "give",
    "given": "give",
    "took": "take",
    "taken": "take",
    "made": "make",
    "chose": "choos",
    "chosen": "choos",
    "lost": "lose",
    "got": "get",
    "gotten": "get",
    "kept": "keep",
    "left": "leave",
    "broke": "defect",
    "broken": "defect",
    "children": "child",
    "men": "man",
    "women": "woman",
}


@lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    """A light English stemmer: enough to join 'returns', 'returned', 'returnable' and 'replacement'."""
    word = word.replace("'", "")
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word.isdigit():
        return _CANON.get(word, word)
    stem = word
    for suffix, repl in (
        ("ational", "ate"),
        ("fulness", "ful"),
        ("iveness", "ive"),
        ("ization", "ize"),
        ("ations", ""),
        ("ation", ""),
        ("ments", ""),
        ("ment", ""),
        ("ness", ""),
        ("ables", ""),
        ("able", ""),
        ("ibles", ""),
        ("ible", ""),
        ("ingly", ""),
        ("edly", ""),
        ("ings", ""),
        ("ing", ""),
        ("ies", "i"),
        ("ied", "i"),
        ("ed", ""),
        ("ly", ""),
        ("sses", "ss"),
        ("shes", "sh"),
        ("ches", "ch"),
        ("xes", "x"),
        ("es", "e"),
        ("ss", "ss"),
        ("us", "us"),
        ("is", "is"),
        ("s", ""),
    ):
        if stem.endswith(suffix) and len(stem) - len(suffix) >= 3:
            stem = stem[: -len(suffix)] + repl
            break
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
        stem = stem[:-1]  # shipp -> ship
    if len(stem) > 3 and stem.endswith("e"):
        stem = stem[:-1]
    if len(stem) > 2 and stem.endswith("y") and stem[-2] not in "aeiou":
        stem = stem[:-1] + "i"
    return _CANON.get(stem, stem)


def content_tokens(text: str) -> list[str]:
    """Stemmed content words of a text, in order (numbers, function words and phrasing dropped)."""
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("\u2019", "'").replace("&", " and ")):
        if word in _STOP or word.replace("'", "") in _STOP or word in _NUMBER_WORDS or word[0].isdigit():
            continue
        if "'" in word:  # "here's", "customer's": the word before the apostrophe
            word = word.split("'", 1)[0]
            if word in _STOP:
                continue
        if word.startswith("non") and len(word) > 5 and word[3] != "e":
            out.append(_stem(word[3:].lstrip("-")))
            continue
        out.append(_stem(word))
    return out


def _negated(text: str) -> bool:
    lowered = text.lower().replace("\u2019", "'")
    if re.search(r"\bnon-?[a-z]{4,}|\bno longer\b", lowered):
        return True
    return any(w in _NEGATORS for w in _WORD.findall(lowered))


# --- numbers -----------------------------------------------------------------------------------------------

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
}
_NUM = r"(?:\d+(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"
_UNITS = r"minute|hour|day|week|month|year|lb|pound|kg|kilogram|litre|liter|cup|piece|unit|deliver(?:y|ies)"
_UNITS += r"|bag|item"
_WHEN = {
    "immediately": "now",
    "instantly": "now",
    "right away": "now",
    "straight away": "now",
    "at once": "now",
    "overnight": "next day",
    "tomorrow": "next day",
    "today": "same day",
    "tonight": "same day",
}
_BARE_WORDS = "|".join(w for w in sorted(_NUMBER_WORDS, key=len, reverse=True) if w not in ("one", "hundred"))
_QUANTITY = re.compile(
    # one scan, alternatives in priority order: a model code is not an amount, "$65" is not a bare 65;
    # the guard skips positions inside words at once (over twice as fast)
    r"(?<![a-z0-9])(?:(?P<code>\b(?:[A-Za-z]{1,5}-?\d{2,}[A-Za-z]?|\d{1,4}(?:-\d{2,4}){2,})\b)"
    r"|(?P<money>(?:\b(?P<cur>CA|C|US|U\.S\.)\s?)?\$\s?(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<cents>\d{1,2}))?"
    r"|\b(?P<amount>\d+(?:\.\d+)?) (?P<curword>canadian |us |american )?(?:dollars|bucks)\b)"
    r"|(?P<percent>\b(?P<pct>\d+(?:\.\d+)?)\s?(?:%|percent\b|per cent\b))"
    r"|(?P<clock>\b(?P<h12>\d{1,2})(?::(?P<m12>\d{2}))?\s?(?P<ampm>[ap])\.?m\b\.?|\b(?P<h24>\d{1,2}):(?P<m24>\d{2})\b)"
    rf"|(?P<duration>\b(?P<n1>{_NUM})(?:\s?(?:-|–|—|to|or|and)\s?(?P<n2>{_NUM}))?[\s-]*"
    rf"(?:(?:business|working|calendar)[\s-])?(?P<unit>{_UNITS})s?\b)"
    r"|(?P<one>\b(?:within|after|for|in|up to|over|about|nearly|almost|once|every|at least|at most)\s+an?\s+"
    r"(?P<unit1>minute|hour|day|week|month|year)\b|\ban?\s+(?P<unit2>minute|hour|day|week|month|year)\s+"
    r"(?=(?:before|after|later|ago|earlier|from|of)\b))"
    r"|(?P<when>\b(?:(?P<nextsame>next|same)[ -](?:business |working )?day|"
    + "|".join(sorted(_WHEN, key=len, reverse=True))
    + r")\b)"
    rf"|(?P<bare>\b(?P<digits>\d+(?:\.\d+)?)(?:st|nd|rd|th)?\b|\b(?P<word>{_BARE_WORDS})\b))",
    re.IGNORECASE,
)
_QUANTITY_LOWER = re.compile(lower_literals(_QUANTITY.pattern))
"""The same, for lower-cased text: a third faster than re.IGNORECASE."""
_UNIT = {"liter": "litre", "pound": "lb", "kilogram": "kg", "delivery": "deliveri", "deliveries": "deliveri"}


def _value(raw: str) -> str:
    raw = raw.lower().replace(",", "")
    if raw in _NUMBER_WORDS:
        return str(_NUMBER_WORDS[raw])
    try:
        return str(Decimal(raw).normalize()) if "." in raw else str(int(raw))
    except (InvalidOperation, ValueError):
        return raw


Quantity = tuple[str, str]
"""(unit, value): ("usd", "49"), ("percent", "15"), ("day", "30"), ("code", "BX700"), ("num", "3")."""


def quantities(text: str) -> list[tuple[Quantity, int]]:
    """Every number-like fact in the text with its position: model codes, money, percentages, clock times,
    durations and counts ("30-day", "3–5 business days", "a week before"), "next day", bare numbers."""
    found: list[tuple[Quantity, int]] = []
    lowered = text.lower()
    same_length = len(lowered) == len(text)  # str.lower() can lengthen a few non-ASCII characters
    scanner = _QUANTITY_LOWER.finditer(lowered) if same_length else _QUANTITY.finditer(text)
    for match in scanner:
        kind, pos = match.lastgroup, match.start()
        group = match.group
        if kind == "code":
            found.append((("code", group().upper().replace("-", "")), pos))
        elif kind == "money":
            if group("whole") is not None:
                currency = "cad" if (group("cur") or "").upper() in ("CA", "C") else "usd"
                whole, cents = _value(group("whole")), group("cents")
                value = whole if not cents or int(cents) == 0 else _value(f"{whole}.{cents}")
            else:
                currency = "cad" if (group("curword") or "").strip().lower() == "canadian" else "usd"
                value = _value(group("amount"))
            found.append(((currency, value), pos))
        elif kind == "percent":
            found.append((("percent", _value(group("pct"))), pos))
        elif kind == "clock":
            if group("ampm"):
                hour = int(group("h12")) % 12 + (12 if group("ampm").lower() == "p" else 0)
                minute = group("m12") or "00"
            else:
                hour, minute = int(group("h24")), group("m24")
            found.append((("clock", f"{hour}:{minute}"), pos))
        elif kind == "duration":
            unit = group("unit").lower()
            unit = _UNIT.get(unit, unit)
            for raw in (group("n1"), group("n2")):
                if raw:
                    found.append(((unit, _value(raw)), pos))
        elif kind == "one":
            found.append((((group("unit1") or group("unit2")).lower(), "1"), pos))
        elif kind == "when":
            phrase = group("nextsame")
            found.append((("when", f"{phrase.lower()} day" if phrase else _WHEN[group().lower()]), pos))
        else:
            found.append((("num", _value(group("digits") or group("word"))), pos))
    return found


def _equivalents(q: Quantity) -> set[Quantity]:
    """The same quantity in other units a paraphrase might use (2 weeks = 14 days, 1 year = 12 months)."""
    unit, value = q
    out = {q}
    try:
        number = Decimal(value)
    except InvalidOperation:
        return out
    if unit == "week":
        out.add(("day", str((number * 7).normalize())))
    elif unit == "day" and number % 7 == 0:
        out.add(("week", str((number / 7).normalize())))
    elif unit == "year":
        out.add(("month", str((number * 12).normalize())))
    elif unit == "month" and number % 12 == 0:
        out.add(("year", str((number / 12).normalize())))
    return out


# --- passages ----------------------------------------------------------------------------------------------

_CLAUSE_SPLIT = re.compile(
    r"(; |:\**_* | \(|\) | [—–-] |, (?:and|or) "
    r"|,? (?=(?:such as|for example|for instance|e\.g\.|including)\b)"
    r"|,? (?=(?:but|however|whereas|although|though|except|unless|otherwise|while|even if|even though"
    r"|as long as|provided|who|whose|which|where|because|so that)\b)|, (?=(?:so|since|as|then)\b)"
    r"| (?=(?:when|whenever|if|unless|once|and then)\b))",
    re.IGNORECASE,
)
"""Clause boundaries for negation. Plain commas are left alone: they mostly separate list entries."""
_CARRY = frozenset({";", ":", "(", ")", "—", "–", "-", ", and", ", or"})
"""Boundaries after which a list item's lead-in polarity still applies (a subordinate clause ends it)."""
_EXAMPLE = re.compile(r"^(?:such as|for example|for instance|e\.g\.|including)\b", re.IGNORECASE)
_CONDITION = re.compile(
    r"^\W*(?:if|when|whenever|once|after|before|as long as|unless|since|because|until|for)\b[^,]{3,}?, ", re.I
)
_UNIVERSAL = re.compile(
    r"\b(?:always|every|everything|all|regardless|whatever|no matter|any time|anytime|never|forever"
    r"|indefinitely|unlimited|no limit)\b",
    re.I,
)


@dataclass(frozen=True)
class _Clause:
    tokens: frozenset[str]
    negated: bool
    example: bool = False
    """An illustration ("such as ..."): its polarity is its host clause's, so a claim's is not checked."""
    context: frozenset[str] = frozenset()
    """A list item's lead-in words: they count for half, or every item would match a claim equally."""

    def overlap(self, claim: frozenset[str]) -> float:
        return len(claim & self.tokens) + 0.5 * len(claim & self.context)


@dataclass(frozen=True)
class _Unit:
    """One passage sentence (a list item also carries the words of the line that introduces the list)."""

    tokens: frozenset[str]
    quantities: frozenset[Quantity]
    clauses: tuple[_Clause, ...]
    universal: bool


@dataclass(frozen=True)
class _Evidence:
    tokens: frozenset[str]
    units: tuple[_Unit, ...]


_UNIT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(*])")


def clauses(text: str, *, flip: bool = False, context: frozenset[str] = frozenset()) -> tuple[_Clause, ...]:
    """The text's clauses with their polarity.

    A list item under a negated lead-in ("does not cover: - Normal wear and tear, such as scratches") is
    read with the lead-in's words (`context`) and polarity (`flip`) until a subordinate clause starts
    ("because ...", "but ..."). Examples ("such as ...") take the polarity of the clause they illustrate.
    """
    out: list[_Clause] = []
    pieces = _CLAUSE_SPLIT.split(text)
    carried = flip
    previous = flip
    separator = ""
    for i in range(0, len(pieces), 2):
        piece = pieces[i]
        kind = "first" if i == 0 else "carry" if separator.strip(" *_") in _CARRY else "sub"
        separator = pieces[i + 1] if i + 1 < len(pieces) else ""
        condition = _CONDITION.match(piece)
        parts = [piece[: condition.end()], piece[condition.end() :]] if condition else [piece]
        for j, part in enumerate(parts):
            tokens = frozenset(content_tokens(part))
            if not tokens:
                continue
            own = _negated(part)
            example = bool(_EXAMPLE.match(part.lstrip()))
            if example:
                negated = own != previous
            elif kind == "sub" or (condition and j == 0 and i > 0):
                carried = False
                negated = own
            else:
                negated = own != carried
            previous = negated
            out.append(_Clause(tokens, negated, example, context - tokens))
    return tuple(out)


@lru_cache(maxsize=1024)
def _evidence(text: str) -> _Evidence:
    """A passage read once: its words, its sentences (list items with their lead-in) and its numbers.

    Cached by text: the same chunks come back turn after turn.
    """
    units: list[_Unit] = []
    lead_in: frozenset[str] = frozenset()
    lead_in_quantities: frozenset[Quantity] = frozenset()
    lead_in_negated = False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        is_item = bool(_LIST_PREFIX.match(line))
        for i, part in enumerate(_UNIT_SPLIT.split(line)):
            qs = frozenset(e for q, _ in quantities(part) for e in _equivalents(q))
            tokens = frozenset(content_tokens(part))
            first = is_item and i == 0
            context = lead_in if first else frozenset()
            units.append(
                _Unit(
                    tokens | (lead_in if is_item else frozenset()),
                    qs | (lead_in_quantities if is_item else frozenset()),
                    clauses(part, flip=first and lead_in_negated, context=context),
                    bool(_UNIVERSAL.search(part)),
                )
            )
        if not is_item:
            # Only the sentence that opens the list ("... in these cases:") speaks for its items.
            last = _UNIT_SPLIT.split(line)[-1]
            opens_list = last.endswith(":")
            lead_in = frozenset(content_tokens(last)) if opens_list else frozenset()
            lead_in_quantities = (
                frozenset(e for q, _ in quantities(last) for e in _equivalents(q))
                if opens_list
                else frozenset()
            )
            lead_in_negated = opens_list and _negated(last)
    return _Evidence(frozenset(t for u in units for t in u.tokens), tuple(units))


def cited_texts(
    sentence: Sentence, citations: Sequence[Mapping[str, Any]], passages: Mapping[str, str]
) -> list[str]:
    """The passage texts the sentence's markers name (a citation's quote when its passage is missing)."""
    by_n = {int(c["n"]): c for c in citations}
    texts: list[str] = []
    for n in sentence.markers:
        citation = by_n.get(n)
        if citation is None:
            continue
        text = passages.get(str(citation.get("chunk_id", ""))) or str(citation.get("quote") or "")
        if text:
            texts.append(text)
    return texts


# --- verdicts ----------------------------------------------------------------------------------------------

Reason = Literal["courtesy", "supported", "no_citation", "numbers", "coverage", "negation", "overgeneral"]

_COURTESY = re.compile(
    r"^(?:(?:hi|hello|hey|dear)\b|good (?:morning|afternoon|evening)\b|thanks?\b|thank you\b|many thanks\b"
    r"|you(?:'re| are) (?:very |most )?welcome\b|my pleasure\b|no problem\b|of course\b|certainly\b|sure\b"
    r"|absolutely\b|great question\b|good question\b|(?:i'?m |i am |we'?re |we are )?(?:so |really |very "
    r"|truly )?"
    r"(?:sorry|glad|happy|pleased|delighted)\b|unfortunately\b|i understand\b|i (?:completely |totally "
    r"|fully )?"
    r"(?:understand|see|appreciate)\b|i (?:can |do )?(?:imagine|appreciate)\b|(?:i )?hope (?:this|that|it"
    r"|you)\b"
    r"|(?:please )?(?:let (?:me|us) know|feel free|don'?t hesitate|do not hesitate|just ask|reach out)\b"
    r"|(?:if|should) you (?:have|need|want|'d like|would like|'ve got)\b|is there anything\b|anything else\b"
    r"|have a (?:great|good|nice|lovely|wonderful)\b|enjoy your\b|take care\b|here(?:'s| is| are) (?:what|how"
    r"|the|some|a)\b|(?:i'?m|i am) (?:here|the (?:\w+ )?assistant)\b|(?:would|do) you (?:like|want)\b"
    r"|(?:open|see|read|check) (?:a |the |any )?(?:numbered |linked )?(?:sources?|articles?|links?"
    r"|citations?)\b"
    r"|(?:shall|should|can|may) i\b|(?:i can|i'?ll|i will|i'?d be happy to|let me) (?:also )?(?:connect"
    r"|transfer"
    r"|put you through|pass|hand|forward|escalate|get you|bring in|find you))",
    re.IGNORECASE,
)
_CONTINUES = re.compile(r"[,;:—–-]\s*(?:but|however|though|although|and|as|because|since|so)\b|\bbut\b", re.I)
_HANDOFF_OFFER = re.compile(
    r"\b(?:connect|transfer|put you through|pass|hand|forward|escalate|bring in)\b.*\b(?:agent|person|human"
    r"|team|colleague|someone|somebody|specialist|representative|people)\b",
    re.IGNORECASE,
)


def _is_courtesy(sentence: str, tokens: Sequence[str], has_numbers: bool) -> bool:
    """Phrasing that states nothing the customer could rely on."""
    if has_numbers:
        return False
    if sentence.rstrip().endswith("?"):
        return True  # a question back to the customer
    if len(tokens) <= 2:
        return True
    if _HANDOFF_OFFER.search(sentence) and len(tokens) <= 8:
        return True
    if not _COURTESY.match(sentence):
        return False
    # "Sorry, but opened beans can't be returned": the part after the turn is a fact.
    turn = _CONTINUES.search(sentence)
    return turn is None or len(content_tokens(sentence[turn.end() :])) <= 2


@dataclass(frozen=True)
class SentenceVerdict:
    index: int
    factual: bool
    supported: bool
    reason: Reason
    coverage: float = 1.0
    """Share of the sentence's content words found in its cited passages."""
    missing: tuple[str, ...] = ()
    """What was not found: numbers, or the stemmed words, for the trace (never customer text)."""


@dataclass(frozen=True)
class SupportResult:
    reply: str
    """The reply with unsupported sentences removed and its markers renumbered."""
    citations: list[dict[str, Any]]
    """The citations the remaining markers use, renumbered to match."""
    removed: list[str]
    """The removed sentences, as written."""
    verdicts: list[SentenceVerdict] = field(default_factory=list)
    answers: bool = True
    """False when no supported factual sentence is left: replace the answer with a safe reply + handoff."""

    @property
    def changed(self) -> bool:
        return bool(self.removed)


COVERAGE_MIN = 0.6
"""Share of a factual sentence's content words its cited passages must contain."""
_MEASURE_WORDS = frozenset(
    {"minut", "hour", "day", "week", "month", "year", "busi", "calendar", "cost", "pound", "kilogram"}
)
"""Words that come with a number; they say nothing about which passage sentence the number is from."""
_DURATIONS = frozenset({"minute", "hour", "day", "week", "month", "year"})


def _kind(q: Quantity) -> str:
    return "duration" if q[0] in _DURATIONS else q[0]


def _near(text: str, pos: int, words: frozenset[str]) -> frozenset[str]:
    """The words of the clause holding a number, when it has enough of its own ("30 days of delivery, or 60
    days for Plus members": the 60 belongs with the Plus members); else the sentence's words."""
    start = 0
    for boundary in _CLAUSE_SPLIT.finditer(text):
        if boundary.start() >= pos:
            local = frozenset(content_tokens(text[start : boundary.start()])) - _MEASURE_WORDS
            return local if len(local) >= 2 else words
        start = boundary.end()
    local = frozenset(content_tokens(text[start:])) - _MEASURE_WORDS
    return local if len(local) >= 2 else words


def _number_problem(q: Quantity, words: frozenset[str], units: Sequence[_Unit]) -> bool:
    """True when the passages do not state this number for what the sentence talks about.

    The number must be in a passage sentence that matches the claim about as well as any (at least half
    the best overlap), and no better-matching sentence may state a different number of the same kind:
    "credit card refunds appear within 24 hours" is refuted by "Credit card: 3-5 business days" even though
    "24 hours" is in the passage (for gift cards).
    """
    equivalents = _equivalents(q)
    overlaps = [len(words & u.tokens) for u in units]
    best = max(overlaps, default=0)
    hits = [
        ov
        for ov, u in zip(overlaps, units, strict=True)
        if equivalents & u.quantities or (q[0] == "num" and any(v == q[1] for _, v in u.quantities))
    ]
    if not hits:
        return True
    hit = max(hits)
    if hit < max(1, (best + 1) // 2) and words:
        return True
    if q[0] in ("num", "code", "when"):
        return False
    kind = _kind(q)
    return any(
        ov > hit and any(_kind(other) == kind and other not in equivalents for other in u.quantities)
        for ov, u in zip(overlaps, units, strict=True)
    )


def _negation_flip(text: str, units: Sequence[_Unit]) -> bool:
    """A clause of the claim says the opposite of every passage clause that matches it best."""
    passage_clauses = [c for u in units for c in u.clauses]
    for claim in clauses(text):
        if len(claim.tokens) < 2 or claim.example:
            continue
        overlaps = [c.overlap(claim.tokens) for c in passage_clauses]
        best = max(overlaps, default=0)
        if best < 3 and not (best == 2 == len(claim.tokens)):
            continue
        if all(
            c.negated != claim.negated for ov, c in zip(overlaps, passage_clauses, strict=True) if ov == best
        ):
            return True
    return False


def _overgeneral(text: str, words: frozenset[str], units: Sequence[_Unit]) -> bool:
    """A universal word ("always", "every", "all") in the claim that the passage sentences it matches best
    do not use: "return shipping is always free" against "free in these cases"."""
    if not _UNIVERSAL.search(text) or not units:
        return False
    overlaps = [len(words & u.tokens) for u in units]
    best = max(overlaps)
    return best >= 2 and not any(u.universal for ov, u in zip(overlaps, units, strict=True) if ov >= best - 1)


def _verdict(sentence: Sentence, evidence: Sequence[_Evidence]) -> SentenceVerdict:
    qs = quantities(sentence.text)
    words = content_tokens(sentence.text)
    if _is_courtesy(sentence.text, words, bool(qs)):
        return SentenceVerdict(sentence.index, False, True, "courtesy")
    if not evidence:
        return SentenceVerdict(sentence.index, True, False, "no_citation", 0.0)
    tokens = frozenset(words)
    known = frozenset().union(*(e.tokens for e in evidence))
    units = [u for e in evidence for u in e.units]
    anchor_words = tokens - _MEASURE_WORDS
    missing_numbers = [
        f"{q[1]} {q[0]}"
        for q, pos in qs
        if _number_problem(q, _near(sentence.text, pos, anchor_words), units)
    ]
    if missing_numbers:
        return SentenceVerdict(sentence.index, True, False, "numbers", missing=tuple(missing_numbers))
    coverage = 1.0
    if tokens:
        missing_words = sorted(tokens - known)
        coverage = 1 - len(missing_words) / len(tokens)
        if coverage < COVERAGE_MIN:
            return SentenceVerdict(sentence.index, True, False, "coverage", coverage, tuple(missing_words))
    if _negation_flip(sentence.text, units):
        return SentenceVerdict(sentence.index, True, False, "negation", coverage)
    if _overgeneral(sentence.text, tokens, units):
        return SentenceVerdict(sentence.index, True, False, "overgeneral", coverage)
    return SentenceVerdict(sentence.index, True, True, "supported", coverage)


def check_support(
    reply: str, *, citations: Sequence[Mapping[str, Any]], passages: Mapping[str, str]
) -> SupportResult:
    """Keep the sentences that are courtesy or backed by what they cite; drop the rest.

    `passages` maps chunk_id -> passage text of this turn; a sentence's citations are its [n] markers.
    """
    sentences = split_sentences(reply)
    verdicts: list[SentenceVerdict] = []
    for sentence in sentences:
        evidence = [_evidence(t) for t in cited_texts(sentence, citations, passages)]
        verdicts.append(_verdict(sentence, evidence))
    drop = {v.index for v in verdicts if not v.supported}
    text, kept = drop_sentences(reply, citations, drop)
    removed = [reply[s.start : s.end] for s in sentences if s.index in drop]
    answers = any(v.factual and v.supported for v in verdicts)
    return SupportResult(text if drop else reply, kept, removed, verdicts, answers)
