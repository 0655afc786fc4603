"""The deployment's guardrail policy: what the assistant refuses, hands off, may never promise or say.

One YAML file per deployment (core/policy.yaml is the demo's; Settings.policy_file points at another). It is
validated once when loaded: a deployment's typo becomes a PolicyError naming the file and the field, never a
traceback from deep inside a rail on a customer's turn. Regular expressions in the file are compiled here for
the same reason.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_POLICY_FILE",
    "GROUNDED_KINDS",
    "KNOWN_RISK_TOPICS",
    "NEVER_KINDS",
    "Brand",
    "CommitmentKind",
    "Commitments",
    "Competitor",
    "Policy",
    "PolicyError",
    "RefuseTopic",
    "Risk",
    "Tone",
    "Topics",
    "load_policy",
    "lower_literals",
]

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.yaml")

CommitmentKind = Literal[
    # Stated only when the sentence's cited passage states the same (the shop really grants it).
    "money_amount",
    "percentage",
    "discount",
    "free",
    "free_shipping",
    "free_return_shipping",
    "refund",
    "full_refund",
    "replacement",
    "store_credit",
    "price_match",
    "fee_waiver",
    "extension",
    # Never stated, whatever a passage says: the assistant cannot bind the company or grant outcomes.
    "legally_binding",
    "guarantee",
    "policy_exception",
    "retroactive_refund",
    "compensation",
    "customer_price",
    "personal_promise",
]
"""Every kind of commitment the output rail recognises (agent/guards/output.py defines how)."""

NEVER_KINDS: frozenset[str] = frozenset(
    {
        "legally_binding",
        "guarantee",
        "policy_exception",
        "retroactive_refund",
        "compensation",
        "customer_price",
        "personal_promise",
    }
)
"""Kinds that are blocked when a policy file lists a kind in neither `allowed` nor `never`."""
GROUNDED_KINDS: frozenset[str] = frozenset(get_args(CommitmentKind)) - NEVER_KINDS


def _kinds(names: frozenset[str]) -> list[CommitmentKind]:
    return [k for k in get_args(CommitmentKind) if k in names]


KNOWN_RISK_TOPICS: frozenset[str] = frozenset(
    {"legal_threat", "bereavement", "fraud", "account_takeover", "self_harm", "safety"}
)
"""The high-risk topics handoff/triggers/topics.py defines (a unit test keeps the two in step)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the file and the field to fix."""


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt key would otherwise silently switch a rail off."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def lower_literals(pattern: str) -> str:
    """The pattern with its literal letters lower-cased, for matching lower-cased text without re.IGNORECASE.

    Escapes (\\W, \\S, \\B...) and named-group syntax ("(?P<name>", "(?P=name)") are left alone.
    """
    out: list[str] = []
    escaped = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if not escaped and pattern.startswith("(?P", i):
            end = pattern.find(">" if pattern.startswith("(?P<", i) else ")", i)
            end = len(pattern) - 1 if end < 0 else end
            out.append(pattern[i : end + 1])
            i = end + 1
            continue
        out.append(ch if escaped else ch.lower())
        escaped = not escaped and ch == "\\"
        i += 1
    return "".join(out)


def _compile_phrases(patterns: list[str], what: str) -> re.Pattern[str] | None:
    """One pattern matching any entry as whole words, for LOWER-CASED text; None for an empty list.

    Matching lower-cased text without re.IGNORECASE is about four times faster, and this runs on every
    customer message (up to a few thousand characters).
    """
    if not patterns:
        return None
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{what} {pattern!r} is not a valid regular expression ({exc})") from exc
    joined = "|".join(f"(?:{lower_literals(p)})" for p in patterns)
    return re.compile(r"(?<!\w)(?:" + joined + r")(?!\w)")


class Brand(_Strict):
    company: str = Field(min_length=1)
    """The company's full name, as the assistant introduces it."""
    names: list[str] = Field(default_factory=list)
    """Every way a reply may name the company (the disparagement rail watches judgements of these)."""
    product_lines: list[str] = Field(default_factory=list)
    """The company's own product and service lines: disparaging these is disparaging the brand."""
    contacts: list[str] = Field(default_factory=list)
    """The company's published emails and phone numbers: public, so never treated as personal data."""

    @property
    def all_names(self) -> list[str]:
        """Company name, its other names and product lines, longest first (so the longest one matches)."""
        return sorted({self.company, *self.names, *self.product_lines}, key=len, reverse=True)


class Competitor(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    """Other spellings and sub-brands, matched with the same case as written here."""


class RefuseTopic(_Strict):
    name: str
    """snake_case id recorded in the guard verdicts and traces."""
    description: str = ""
    patterns: list[str] = Field(min_length=1)
    """Phrases or regular expressions, matched case-insensitively as whole words (the compiled `matcher`
    and `look_alikes` expect lower-cased text)."""
    unless: list[str] = Field(default_factory=list)
    """Look-alikes blanked out before matching ("kill the subscription" is not violence)."""
    reply: str = Field(min_length=1)
    """The polite refusal the customer gets."""
    handoff: bool = False
    """Send the conversation to a person as well."""

    _matcher: re.Pattern[str] | None = PrivateAttr(default=None)
    _unless: re.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"topic name {value!r} must be snake_case (a-z, 0-9, _)")
        return value

    def model_post_init(self, context: Any, /) -> None:
        self._matcher = _compile_phrases(self.patterns, "pattern")
        self._unless = _compile_phrases(self.unless, "unless pattern")

    @field_validator("patterns", "unless")
    @classmethod
    def _valid_regexes(cls, value: list[str]) -> list[str]:
        _compile_phrases(value, "pattern")
        return value

    @property
    def matcher(self) -> re.Pattern[str]:
        if self._matcher is None:  # unreachable: `patterns` is validated non-empty
            raise PolicyError(f"topic {self.name!r} has no patterns")
        return self._matcher

    @property
    def look_alikes(self) -> re.Pattern[str] | None:
        return self._unless


class Topics(_Strict):
    refuse: list[RefuseTopic] = Field(default_factory=list)
    """Requests the assistant declines whatever the knowledge base says, checked in this order."""
    offtopic_reply: str = Field(min_length=1)
    """What the customer gets when retrieval finds the question is not about the shop at all."""

    _screen: re.Pattern[str] | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        self._screen = _compile_phrases([p for t in self.refuse for p in t.patterns], "pattern")

    @property
    def screen(self) -> re.Pattern[str] | None:
        """Every topic's patterns in one (for lower-cased text): one scan says whether any topic can match."""
        return self._screen

    @model_validator(mode="after")
    def _unique_names(self) -> Topics:
        seen: set[str] = set()
        for topic in self.refuse:
            if topic.name in seen:
                raise ValueError(f"topic name {topic.name!r} is used twice")
            seen.add(topic.name)
        return self


class Risk(_Strict):
    handoff_topics: list[str] = Field(default_factory=lambda: sorted(KNOWN_RISK_TOPICS))
    """High-risk topics that always go to a person."""

    @field_validator("handoff_topics")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - KNOWN_RISK_TOPICS)
        if unknown:
            raise ValueError(f"unknown topic(s) {unknown}; known topics are {sorted(KNOWN_RISK_TOPICS)}")
        return value


class Commitments(_Strict):
    allowed: list[CommitmentKind] = Field(default_factory=lambda: _kinds(GROUNDED_KINDS))
    """Kinds stated only when the sentence's cited passage states the same kind."""
    never: list[CommitmentKind] = Field(default_factory=lambda: _kinds(NEVER_KINDS))
    """Kinds always blocked, whatever the passages say."""
    never_phrases: list[str] = Field(default_factory=list)
    """Extra phrases or regular expressions always blocked (case-insensitive, whole words)."""

    _never_phrases: re.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("never_phrases")
    @classmethod
    def _valid_regexes(cls, value: list[str]) -> list[str]:
        _compile_phrases(value, "phrase")
        return value

    @model_validator(mode="before")
    @classmethod
    def _defaults_exclude_the_other_list(cls, data: Any) -> Any:
        """A file that lists only `allowed: [compensation]` moves that kind out of the default `never`."""
        if isinstance(data, dict):
            allowed, never = data.get("allowed"), data.get("never")
            if never is None and isinstance(allowed, list):
                data = {**data, "never": [k for k in _kinds(NEVER_KINDS) if k not in allowed]}
            elif allowed is None and isinstance(never, list):
                data = {**data, "allowed": [k for k in _kinds(GROUNDED_KINDS) if k not in never]}
        return data

    @model_validator(mode="after")
    def _disjoint(self) -> Commitments:
        both = sorted(set(self.allowed) & set(self.never))
        if both:
            raise ValueError(f"kind(s) {both} are listed in both allowed and never")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._never_phrases = _compile_phrases(self.never_phrases, "phrase")

    @property
    def never_matcher(self) -> re.Pattern[str] | None:
        """The never phrases as one pattern, for lower-cased text."""
        return self._never_phrases

    def is_never(self, kind: str) -> bool:
        """Blocked outright: listed under `never`, or a never-by-default kind listed nowhere."""
        return kind in self.never or (kind in NEVER_KINDS and kind not in self.allowed)


class Tone(_Strict):
    profanity: bool = True
    """Block replies that swear (obfuscated spellings such as "f*ck" and "sh1t" included)."""
    insults: bool = True
    """Block replies that insult or belittle the customer."""
    disparagement: bool = True
    """Block replies that run down the company or its products (the DPD poem)."""
    blocked_words: list[str] = Field(default_factory=list)
    """Extra words never to say, matched as whole words and through the same obfuscations."""

    @field_validator("blocked_words")
    @classmethod
    def _plain_words(cls, value: list[str]) -> list[str]:
        for word in value:
            if not word.strip():
                raise ValueError("blocked words cannot be empty")
        return [w.strip() for w in value]


class Policy(_Strict):
    version: int = Field(default=1, ge=1)
    """Bump on any change; recorded with the guard verdicts so a trace says which policy judged it."""
    brand: Brand
    competitors: list[Competitor] = Field(default_factory=list)
    competitor_policy: Literal["no_mention", "no_disparage"] = "no_mention"
    """no_mention: never name or recommend a competitor unless a cited passage does; no_disparage: may name
    one, never compare, judge or recommend."""
    topics: Topics
    risk: Risk = Field(default_factory=Risk)
    commitments: Commitments = Field(default_factory=Commitments)
    tone: Tone = Field(default_factory=Tone)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _parse(path: Path) -> Policy:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PolicyError(f"{path}: not valid YAML{where}: {problem}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: the policy must be a mapping of sections (brand, topics, ...)")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_field_path(e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise PolicyError(f"{path}: {problems}{more}") from exc


_cache: dict[Path, tuple[int, Policy]] = {}
_lock = threading.Lock()


def load_policy(path: Path | None = None) -> Policy:
    """The policy in `path` (None: the shipped demo policy), re-read only when the file changes.

    Raises PolicyError, naming the file and the field, when the file is missing or invalid.
    """
    target = path or DEFAULT_POLICY_FILE
    try:
        mtime = os.stat(target).st_mtime_ns
    except OSError as exc:
        raise PolicyError(f"{target}: cannot read the policy file ({exc.strerror or exc})") from exc
    cached = _cache.get(target)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    with _lock:
        cached = _cache.get(target)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        policy = _parse(target)
        _cache[target] = (mtime, policy)
    logger.info("loaded guardrail policy version %d from %s", policy.version, target)
    return policy
