"""Curated intents answered without searching for an answer: greetings, thanks, how to reach support.

An explicit request for a person is a handoff trigger (handoff/triggers/explicit.py), not an intent.

Deliberately narrow: a message that also asks something goes to retrieval.
"""

from __future__ import annotations

import re

from handoff.triggers.explicit import contact_channel_request

_GREETING = re.compile(
    r"^\W*(hi|hello|hey|good (morning|afternoon|evening)|hiya|howdy)\W*(there|team)?\W*$", re.I
)
_THANKS = re.compile(
    r"^\W*(thanks?( you)?( so much| a lot| very much)?|thank u|thx|ty|cheers"
    r"|great,? thanks?|perfect,? thanks?)\W*$",
    re.I,
)


def curated_intent(text: str) -> str | None:
    if _GREETING.match(text):
        return "greeting"
    if _THANKS.match(text):
        return "thanks"
    if contact_channel_request(text):
        return "contact"
    return None
