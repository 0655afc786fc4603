"""The customer explicitly asks for a person: "let me talk to a human", "agent please", "spa team please".

A message is read in four steps:

1. `normalise` lower-cases it, expands chat spellings ("wanna", "ur", "dont") and folds one-edit typos of
   the words the rules look for onto the word ("asn operator" stays, "livbe agent" becomes "live agent",
   "custmer suport" becomes "customer support"), keeping a map back to the original text for the evidence.
2. It is cut into clauses at punctuation and at "but": a negation or a report in one clause does not
   reach the next ("no, I don't want a transfer, let me speak with someone else").
3. Each clause is searched for the shapes of a request:
   - a verb of talking or reaching + a person: "speak to someone", "contact an operator", "chat with the spa";
   - a verb of routing + a person: "transfer me to a supervisor", "put me through to reception";
   - a verb of wanting + someone who can only be a person: "I want a real person", "get me an agent";
   - wanting something *from* a person: "I'd like that refund from an agent";
   - the clause is a person and little else: "human please", "Representative!", "spa team please";
   - distrust of a machine: "I don't feel comfortable sharing my details with a machine".
4. A match is dropped when the words just before it say it is not a request now: a negated will ("I don't
   want to talk to a human"), a report ("I was talking to an agent"), an identity question ("am I talking
   to a real person?"), or when the "person" is not ours ("my travel agent", "user agent", "human
   resources", "the agent's name").

Asking for the customer service *channel* (its hours, e-mail, phone) is not a request for a person here:
`contact_channel_request` recognises it so the caller can quote the contact article.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from handoff.reasons import HandoffReason
from handoff.triggers import Trigger

__all__ = ["Clause", "Normalised", "contact_channel_request", "explicit_request", "normalise"]

# ---------------------------------------------------------------------------------------------------------
# Normalisation: tokens, chat spellings, typos, clauses.

_TOKEN = re.compile(r"\bw/(?!\w)|\w+(?:'\w+)*|[^\w\s]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_CLAUSE_PUNCTUATION = frozenset('.,!?;:()[]"…|')
_CLAUSE_WORDS = frozenset({"but", "however", "although", "though", "anyway", "otherwise"})

_CHAT_SPELLINGS = {
    "wanna": "want to",
    "wana": "want to",
    "gonna": "going to",
    "gotta": "got to",
    "lemme": "let me",
    "gimme": "give me",
    "u": "you",
    "ya": "you",
    "ur": "your",
    "yr": "your",
    "pls": "please",
    "plz": "please",
    "plse": "please",
    "pleas": "please",
    "pleasee": "please",
    "im": "i'm",
    "ive": "i've",
    "dont": "don't",
    "donot": "do not",
    "cant": "can't",
    "wont": "won't",
    "doesnt": "doesn't",
    "didnt": "didn't",
    "isnt": "isn't",
    "wouldnt": "wouldn't",
    "ppl": "people",
    "hooman": "human",
    "costumer": "customer",
    "realy": "really",
    "w": "with",
    "w/": "with",
    "wih": "with",
    "wiht": "with",
    "whit": "with",
    "witn": "with",
    "woth": "with",
}
_JOINED = {  # word pairs written apart that the rules read as one word
    ("some", "one"): "someone",
    ("some", "body"): "somebody",
    ("any", "one"): "anyone",
    ("any", "body"): "anybody",
    ("can", "not"): "cannot",
    ("e", "-", "mail"): "email",
    ("help", "desk"): "helpdesk",
}

# The words the rules look for. A token one edit away from one of them (and not a word in its own right)
# is read as that word.
_LEXICON = frozenset(
    """
    human humans person people someone somebody anyone anybody agent agents operator operators
    representative representatives assistant advisor adviser consultant specialist employee manager
    supervisor receptionist reception concierge housekeeping department team
    speak speaking talk talking chat chatting contact contacting connect transfer reach
    live real actual please someone else
    customer support service assistance care
    complaint complaints complain reclamation claim consumer lodge lodging submit filing against
    company business organization organisation
    """.split()
)
_LEXICON_ORDER = tuple(sorted(_LEXICON))
"""A fixed order, so a token one edit from two words folds the same way on every run."""
_REAL_WORDS = frozenset(  # real words one edit from a lexicon word: never "corrected"
    """
    contract alive olive liver lived lives realm ream read reel rear seal deal meal heal teal
    humane managed manages manage speck steak sneak spear speaks talks chats teams steam tea
    consume consumed consumes claims clam clams lodges lodged lodger lodging agents agency urgent
    persons prison parson peoples supports services server serve serves cares cared scare
    complains complained compliance cheat chart teach peach beach contacts connects transfers reaches
    dead term someones anyones pleased lease
    """.split()
)


@lru_cache(maxsize=8192)
def _fold(token: str) -> str:
    """The word a token stands for: a chat spelling expanded, a one-edit typo of a lexicon word folded."""
    if token in _CHAT_SPELLINGS:
        return _CHAT_SPELLINGS[token]
    if token in _LEXICON or token in _REAL_WORDS or not token.isalpha() or len(token) < 4:
        return token
    for word in _LEXICON_ORDER:
        if abs(len(word) - len(token)) > 1:
            continue
        if len(token) == len(word) + 1 and token.startswith(word) and token[-1] in "sd":
            continue  # an inflection, not a typo ("agents", "lived")
        edit = _one_edit(token, word)
        # Short words are only folded on a swap of two letters ("tlak"); any other single edit of a
        # four-letter word too often lands on another real word ("walk", "tall").
        if edit == "swap" or (edit and max(len(word), len(token)) >= 5):
            return word
    return token


def _one_edit(a: str, b: str) -> str | None:
    """The kind of single edit turning a into b (substitute, insert/delete, swap), or None."""
    if a == b:
        return None
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return "substitute"
        if (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        ):
            return "swap"
        return None
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if len(long_) - len(short) != 1:
        return None
    i = next((i for i, (x, y) in enumerate(zip(short, long_, strict=False)) if x != y), len(short))
    return "indel" if short[i:] == long_[i + 1 :] else None


@dataclass(frozen=True)
class Clause:
    """One clause of the normalised message: words separated by single spaces, mapped to the original."""

    text: str
    source: str
    spans: tuple[tuple[int, int, int, int], ...]
    """(start, end) of each word in `text`, then (start, end) of what it came from in `source`."""

    def original(self, start: int, end: int) -> str:
        """The original text behind `text[start:end]`, for evidence a person can read."""
        inside = [s for s in self.spans if s[1] > start and s[0] < end]
        if not inside:
            return self.text[start:end]
        return self.source[inside[0][2] : inside[-1][3]]


@dataclass(frozen=True)
class Normalised:
    """A message as the triggers read it."""

    source: str
    """The text as the customer typed it."""
    clauses: tuple[Clause, ...]


@lru_cache(maxsize=256)
def normalise(text: str) -> Normalised:
    """Lower-case, chat spellings expanded, typos folded, cut into clauses; see the module docstring.

    Remembered for recent texts: each turn's triggers (a person asked for, a contact channel, a complaint)
    read the same message."""
    source = text.translate(_APOSTROPHES)
    words: list[tuple[str, int, int]] = [
        (m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(source)
    ]
    words = _join_split_words(words)
    clauses: list[Clause] = []
    current: list[tuple[str, int, int]] = []
    for word in [*words, (".", len(source), len(source))]:
        if word[0] in _CLAUSE_PUNCTUATION or word[0] in _CLAUSE_WORDS:
            if current:
                clauses.append(_clause(current, text))
            current = []
        else:
            current.append((_fold(word[0]), word[1], word[2]))
    return Normalised(source=text, clauses=tuple(clauses))


def _join_split_words(words: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    i = 0
    while i < len(words):
        for size in (3, 2):
            key = tuple(w[0] for w in words[i : i + size])
            if len(key) == size and key in _JOINED:
                out.append((_JOINED[key], words[i][1], words[i + size - 1][2]))
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _clause(words: list[tuple[str, int, int]], source: str) -> Clause:
    parts: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    at = 0
    for word, start, end in words:
        spans.append((at, at + len(word), start, end))
        parts.append(word)
        at += len(word) + 1
    return Clause(text=" ".join(parts), source=source, spans=tuple(spans))


# ---------------------------------------------------------------------------------------------------------
# Who counts as a person.

_STRONG = frozenset(
    """
    human humans agent agents operator operators representative representatives rep reps advisor advisors
    adviser advisers manager managers supervisor supervisors boss superior superiors receptionist
    """.split()
) | {"human being", "human beings", "team leader", "team leaders"}
"""Nouns that can only mean a person of ours when someone asks for them."""

_DEPARTMENTS = frozenset(
    """
    team teams department departments dept desk office division reception concierge housekeeping spa gym
    restaurant billing
    """.split()
) | {"front desk", "room service"}
"""A team or place that a call can be put through to."""

_HUMAN_ADJECTIVES = frozenset(
    """
    human real live actual normal physical proper breathing living competent qualified knowledgeable
    senior different another other
    """.split()
)
"""A weak noun ("person", "someone") with one of these is clearly a person ("a real person")."""

_NOT_OURS = frozenset(
    """
    travel estate secret free user double tour network mobile insurance talent sports literary
    password download task package cleaning ai virtual digital automated automatic bot chatbot robot
    robotic smart voice google artificial
    """.split()
)
"""Modifiers that make the noun someone (or something) that is not a person we can hand over to."""

_CHANNEL_MODIFIERS = frozenset({"customer", "support", "service", "services", "care", "assistance", "help"})
"""'the customer service team' is the channel (answered with the contact article), not a named team."""

_NOT_HUMAN_AFTER = re.compile(
    r"^(?:'s\b|resources?\b|rights?\b|error\b|nature\b|capital\b|trafficking\b|race\b|body\b|remains\b"
    r"|touch\b|interest\b)"
)
"""'human resources', 'the agent's name': the noun is not the thing asked for."""

_HELPS_AFTER = re.compile(
    r"^(?:(?:(?:to|who|that)\s+(?:can\s+|could\s+|will\s+|would\s+|actually\s+|really\s+)?"
    r"(?:help|assist|deal|handle|sort|look|fix|explain|answer|understand|knows?|talk|speak)))"
)
"""What makes 'someone' a request for a person: 'someone who can help', 'someone to talk to'."""
_ELSE_THEN = frozenset(
    {"please", "now", "instead", "here", "there", "about", "who", "that", "in", "from", "on"}
)

_TARGET = (
    r"(?:human beings?|human (?:help|support|assistance|interaction|contact|service)|humans?"
    r"|people|persons?|someone|somebody|anyone|anybody"
    r"|agents?|operators?|representatives?|reps?|advis[oe]rs?|consultants?|specialists?|experts?"
    r"|staff members?|staff|employees?|colleagues?|assistants?|managers?|supervisors?|boss|superiors?"
    r"|team leaders?|teams?|departments?|dept|desk|office|division"
    r"|receptionist|reception|front desk|concierge|housekeeping|room service|spa|gym|restaurant|billing"
    r"|live (?:chat|support|help|assistance))"
)
_STOP = (
    r"to|with|from|about|for|on|in|at|of|by|and|or|if|that|who|which|what|when|where|how|why|is|are|was"
    r"|were|be|been|am|can|could|will|would|should|do|does|did|have|has|had|i|i'm|i'd|you|me|we|us|he|she"
    r"|it|they|them|my|your|our|their|his|her|its|this|these|those|a|an|the|some|any|not|no|please|so"
    r"|than|then|there|here|one|else|just|now"
)
_DET = (
    r"(?:(?:a|an|the|some|any|your|this|that|another|other|one of (?:your|the|those|these)"
    r"|(?:a )?members? of(?: your| the)?|my|his|her|their|our) )"
)
_MOD = rf"(?:(?!(?:{_STOP})\b)[a-z][a-z'-]* )"
_PERSON = rf"(?P<det>{_DET})?(?P<mods>{_MOD}{{0,3}})(?P<target>{_TARGET})\b"

_MACHINE = r"(?:machines?|bots?|chat ?bots?|robots?|computers?|ai|automated \w+)"

# ---------------------------------------------------------------------------------------------------------
# The shapes of a request. Each pattern names its verb; `_accepts` decides which persons each verb takes.

_TALK = re.compile(
    r"\b(?P<verb>speak|speaking|talk|talking|chat|chatting|converse|conversing|communicate|communicating"
    r"|deal|dealing|a word)"
    r"(?: (?:directly|again|just|now|properly|quickly|please|live|face to face|in person))*"
    rf" (?:to|with) {_PERSON}"
)
_REACH = re.compile(
    r"\b(?P<verb>contact|contacting|reach|reaching|get in touch with|getting in touch with|get hold of"
    r"|get ahold of|get through to|be put through to|be connected (?:to|with)|be transferred to"
    r"|get connected (?:to|with)|get transferred to|call|calling|phone|phoning|ring|email|message|see|meet)"
    rf"(?: (?:directly|again|just|now|please))* {_PERSON}"
)
_ROUTE = re.compile(
    r"\b(?P<verb>connect|connecting|transfer|transferring|redirect|direct|forward|escalate|escalating|put"
    r"|pass|hand|send|switch|route|refer|patch)"
    r"(?P<fillers>(?: (?:me|us|this|it|the call|my call|this call|the chat|this chat|my case|this case"
    r"|this conversation|the conversation|back|over|through|directly|straight|right|now|please|on|to|with"
    rf"|onto)){{1,5}}) {_PERSON}"
)
_WANT = re.compile(
    r"\b(?P<verb>want|need|'d like|would like|prefer|request|requesting|demand|demanding|ask for|asking for"
    r"|get|give|bring|find|send|have|rather have|rather)(?P<fillers>(?: (?:me|us|to have|to get|to see"
    rf"|to request))?) {_PERSON}"
)
_FROM = re.compile(
    r"\b(?P<verb>want|need|'d like|would like|prefer|rather|wish|request)(?: \S+){0,6}? (?:from|by) "
    rf"{_PERSON}"
)
_THERE_IS = re.compile(
    rf"\b(?P<verb>is there|are there|do you have|have you got|got)(?: (?:a|an|any|some))? {_PERSON}"
)
_ELLIPSIS_FILLER = (
    r"(?:please|else|now|right now|asap|immediately|urgently|quickly|just|only|hi|hello|hey|ok|okay|yes"
    r"|yeah|so|then|thanks|thank you|again|instead|directly|here|for me|already|oh|o|straight away"
    rf"|right away|not (?:a|an|the|some|your)? ?{_MACHINE})"
)
_ELLIPSIS = re.compile(  # the empty verb group keeps the groups of every shape alike
    rf"^(?:{_ELLIPSIS_FILLER} )*(?P<verb>){_PERSON}(?P<tail>(?: {_ELLIPSIS_FILLER})*)$"
)
_DISTRUST = re.compile(
    r"\b(?:\w+n't|not|never|no longer|nor)(?: \S+){0,3}? (?:comfortable|happy|safe|confident|trust|like"
    r"|keen|want|wish|talk|talking|deal|dealing|speak|speaking|chat|chatting)\b"
    rf"(?: \S+){{0,8}}? (?:a|an|the|this|your|some|to)? ?{_MACHINE}\b"
    r"|\b(?:tired|sick|fed up|done|enough)(?: of| with)?(?: (?:talking|chatting|speaking|dealing|arguing)"
    rf" (?:to|with))? (?:a |this |the |your |some |these )?(?:\w+ )?{_MACHINE}\b"
)

# What, just before a match in its clause, says it is not a request now.
_NEGATED_WILL = re.compile(
    r"(?:\b(?:don't|do not|doesn't|does not|didn't|did not|won't|will not|wouldn't|would not|never|nor"
    r"|neither|(?<!can )not|no)(?: (?:really|actually|even|ever|necessarily|particularly|need|want|wish"
    r"|like|care|intend|plan|mean|have|got|feel like|going|ask|asked|asking|trying|try|looking|to|be|for"
    r"|a|an|any|more|further|reason to|point|in|i|we))* )$"
)
_REPORT = re.compile(r"\b(?:was|were|been|had|already|previously)(?: \w+)? $|\b(?:thanks|thank you) for $")
_IDENTITY = re.compile(
    r"\b(?:am i|are we|was i|is this|is that|is it)(?: still| actually| really| even| now)? $"
)
_DID = re.compile(r"\bdid (?:i|you|he|she|they|we|someone|somebody|anyone|my \w+)(?: \w+)? $")
_HAVE_ASKED = re.compile(r"(?:^|\b(?:can|could|may) (?:i|we) |^please )$")
"""'have' asks for someone only as 'can I have ...' or an imperative 'have a manager call me'."""


_STRONG_ONLY_REACH = frozenset(
    {"call", "calling", "phone", "phoning", "ring", "email", "message", "see", "meet"}
)
"""'call someone to fix the shower' is a task, 'call a manager' a request: strong nouns only."""
_ROUTE_ME = frozenset({"me", "us", "this", "call", "chat", "case", "conversation", "through"})
_ROUTE_NEEDS_ME = frozenset({"put", "pass", "hand", "send", "switch", "route", "refer", "patch"})
_WANT_NEEDS_ME = frozenset({"give", "bring", "find", "send"})
_POSSESSIVE = frozenset({"my", "his", "her", "their", "our"})
_OWN_CONTACT = frozenset({"account", "relationship", "personal", "case"})


@dataclass(frozen=True)
class _Match:
    kind: str
    clause: Clause
    m: re.Match[str]


def _candidates(clause: Clause) -> Iterator[_Match]:
    for kind, pattern in (
        ("talk", _TALK),
        ("reach", _REACH),
        ("route", _ROUTE),
        ("want", _WANT),
        ("from", _FROM),
        ("there", _THERE_IS),
        ("ellipsis", _ELLIPSIS),
    ):
        for m in pattern.finditer(clause.text):
            yield _Match(kind, clause, m)


def _else_asks(after: str) -> bool:
    """'someone else' asks for a person unless another task follows ('someone else to pick it up')."""
    if not re.match(r"else\b", after):
        return False
    rest = after[4:].split(maxsplit=1)
    return not rest or rest[0] in _ELSE_THEN or bool(_HELPS_AFTER.match(after[4:].lstrip()))


def _accepts(match: _Match) -> bool:
    """Whether this verb shape asks for this person, and nothing around it says otherwise."""
    m, text = match.m, match.clause.text
    target = m.group("target")
    mods = m.group("mods").split()
    det = (m.group("det") or "").strip()
    verb = m.group("verb")
    after = text[m.end("target") :].lstrip()[:80]
    before = text[: m.start()]

    if _NOT_HUMAN_AFTER.match(after) and (target.startswith("human") or after.startswith("'s")):
        return False
    if any(w in _NOT_OURS for w in mods):
        return False
    if det in _POSSESSIVE and not _OWN_CONTACT & set(mods):
        return False  # "my travel agent", "her manager"; "my account manager" is ours
    if (
        _NEGATED_WILL.search(before)
        or _REPORT.search(before)
        or _IDENTITY.search(before)
        or _DID.search(before)
    ):
        return False

    department = target in _DEPARTMENTS
    if department and _CHANNEL_MODIFIERS & set(mods):
        return False  # "the customer support team": the channel, not a person
    strong = (
        target in _STRONG
        or target.startswith(("live ", "human "))
        or bool(_HUMAN_ADJECTIVES & set(mods))
        or _else_asks(after)
        or after.startswith("in person")
    )
    helps = bool(_HELPS_AFTER.match(after))

    if match.kind == "talk":
        return True
    if match.kind == "reach":
        return strong or verb not in _STRONG_ONLY_REACH
    if match.kind == "route":
        fillers = set(m.group("fillers").split())
        asks_for_me = bool(fillers & _ROUTE_ME)
        if verb in _ROUTE_NEEDS_ME and not asks_for_me:
            return False  # "put it to the team", "hand in"
        return strong or department or asks_for_me  # "transfer to someone" is money without "me"
    if match.kind == "want":
        if verb == "have" and not _HAVE_ASKED.search(before):
            return False
        if verb in _WANT_NEEDS_ME and m.group("fillers").strip() not in {"me", "us"}:
            return False  # "give someone access" is not "give me someone"
        return strong or helps
    if match.kind == "from":
        return strong
    if match.kind == "there":
        return strong or helps or bool(re.match(r"(?:i|we) (?:can|could|may) (?:talk|speak|chat)", after))
    # ellipsis: the clause is a person and fillers
    if strong:
        return True
    if department:
        named_team = target in {"team", "teams", "department", "departments", "dept", "desk"} and bool(mods)
        return named_team or "please" in m.group("tail") or "please" in text[: m.start()]
    return False


def explicit_request(text: str) -> Trigger | None:
    """A request to be handed to a person, with the phrase that asked; None for look-alikes."""
    if not text or not text.strip():
        return None
    for clause in normalise(text).clauses:
        for match in _candidates(clause):
            if _accepts(match):
                m = match.m
                start = m.start("verb") if m.group("verb") else m.start("det" if m.group("det") else "mods")
                evidence = clause.original(start, m.end())
                return Trigger(HandoffReason.EXPLICIT_REQUEST, evidence, detail={"shape": match.kind})
        distrust = _DISTRUST.search(clause.text)
        if distrust:
            return Trigger(
                HandoffReason.EXPLICIT_REQUEST,
                clause.original(distrust.start(), distrust.end()),
                detail={"shape": "distrust"},
            )
    return None


# ---------------------------------------------------------------------------------------------------------
# The customer service channel.

_CHANNEL = re.compile(
    r"\b(?:customer (?:service|services|support|care|assistance|helpline|hotline|line|desk|relations"
    r"|cent(?:er|re))|(?:support|help|service) (?:desk|line|team|cent(?:er|re))|helpdesk|helpline|hotline"
    r"|call cent(?:er|re)|contact cent(?:er|re)|tech(?:nical)? support)\b"
)
_CHANNEL_CUE = re.compile(
    r"\b(?:contact|contacting|reach|call|calling|phone|ring|talk|speak|chat|email|mail|write|number|hours?"
    r"|time|open|opening|available|availability|when|touch|hold|address|toll|free|through|connect"
    r"|transfer|whatsapp|live|get to|how)\b"
)


def contact_channel_request(text: str) -> bool:
    """A question about reaching customer service (hours, e-mail, phone), not a request for a person."""
    if not text or not text.strip() or explicit_request(text) is not None:
        return False
    for clause in normalise(text).clauses:
        found = _CHANNEL.search(clause.text)
        if not found:
            continue
        rest = (clause.text[: found.start()] + clause.text[found.end() :]).strip()
        if not rest or _CHANNEL_CUE.search(rest):
            return True
    return False
