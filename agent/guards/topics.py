"""The input rail for out-of-policy requests: legal, medical or financial advice, weapons, crime, sexual
content, hate, deception, threats.

The topics and their phrases are the deployment's (core/policy.yaml, `topics.refuse`); this module only
applies them. Each phrase needs a request frame, because support messages are full of words that would
mislead on their own: "my knife set arrived damaged", "the kettle is leaking", "how do I kill the
subscription". Off-topic but harmless requests (a poem, a recipe) are not refused here: retrieval finds
nothing for them and the turn says so.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from core.policy import Policy, RefuseTopic

logger = logging.getLogger(__name__)

__all__ = ["TopicMatch", "out_of_policy"]

_EVIDENCE_MAX = 120
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class TopicMatch:
    name: str
    """The policy topic's name, recorded in the guard verdicts."""
    evidence: str
    """The words that matched (at most 120 characters)."""
    reply: str
    """The polite refusal the customer gets."""
    handoff: bool
    """The policy sends this kind of request to a person as well."""


def _masked(text: str, topic: RefuseTopic) -> str:
    """Look-alikes blanked out with spaces of the same length, so positions still point into the text."""
    look_alikes = topic.look_alikes
    if look_alikes is None:
        return text
    return look_alikes.sub(lambda m: " " * len(m.group()), text)


def out_of_policy(text: str, policy: Policy) -> TopicMatch | None:
    """The first refuse topic of the policy the message matches, in the policy's order; None if none.

    One scan with all topics' patterns settles the usual case (nothing matches); only a hit is checked
    topic by topic, with each topic's look-alikes blanked out.
    """
    screen = policy.topics.screen
    normal = _SPACES.sub(" ", text.translate(_QUOTES)).lower()
    if screen is None or not screen.search(normal):
        return None
    for topic in policy.topics.refuse:
        match = topic.matcher.search(_masked(normal, topic))
        if match:
            logger.info("out-of-policy request: topic %s", topic.name)
            evidence = normal[match.start() : match.end()]
            if len(evidence) > _EVIDENCE_MAX:
                evidence = evidence[: _EVIDENCE_MAX - 1] + "…"
            return TopicMatch(topic.name, evidence, topic.reply, topic.handoff)
    return None
