"""Curated intents Minimal mode answers without the knowledge base: greetings, thanks, asking for a person.

Deliberately narrow: a message that also asks something goes to retrieval.
"""

from __future__ import annotations

import re

_GREETING = re.compile(
    r"^\W*(hi|hello|hey|good (morning|afternoon|evening)|hiya|howdy)\W*(there|team)?\W*$", re.I
)
_THANKS = re.compile(
    r"^\W*(thanks?( you)?( so much| a lot| very much)?|thank u|thx|ty|cheers|great,? thanks?|perfect,? thanks?)"
    r"\W*$",
    re.I,
)
# An explicit request for a person; "human resources" or "is a person allowed to" are not requests.
_HUMAN = re.compile(
    r"\b(speak|talk|chat|connect|transfer|put)\b[^.?!]{0,30}\b(human|person|agent|someone|somebody|representative|"
    r"rep|operator|staff|manager|supervisor|real (?:person|human|people))\b(?! resources)"
    r"|\b(human|live|real) (agent|person|support|operator|representative)\b"
    r"|^\W*(agent|human|representative|operator)\W*(please|pls|now)?\W*$",
    re.I,
)


def curated_intent(text: str) -> str | None:
    if _GREETING.match(text):
        return "greeting"
    if _THANKS.match(text):
        return "thanks"
    if _HUMAN.search(text):
        return "human"
    return None
