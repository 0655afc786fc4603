"""Curated intents Minimal mode answers without the knowledge base: greetings, thanks, asking for a person.

Deliberately narrow: a message that also asks something goes to retrieval.
"""

from __future__ import annotations

import re

_GREETING = re.compile(
    r"^\W*(hi|hello|hey|good (morning|afternoon|evening)|hiya|howdy)\W*(there|team)?\W*$", re.I
)
_THANKS = re.compile(
    r"^\W*(thanks?( you)?( so much| a lot| very much)?|thank u|thx|ty|cheers"
    r"|great,? thanks?|perfect,? thanks?)\W*$",
    re.I,
)
# An explicit request for a person; "human resources" or "is a person allowed to" are not requests.
_WHO = (
    r"(?:a |an |the |some |your |one of your )?(?:member of (?:your |the )?)?"
    r"(?:real |live |actual )?"
    r"(?:human|person|agent|someone|somebody|representative|rep|operator|staff|manager|supervisor|people)\b"
    r"(?! resources)"
)
_HUMAN = re.compile(
    rf"\b(speak|talk|chat)\s+(to|with)\s+{_WHO}"
    rf"|\b(connect|transfer|put)\s+me\s+(through\s+)?(to|with)\s+{_WHO}"
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
