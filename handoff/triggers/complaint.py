"""The customer wants to file a complaint or a claim against us: "I want to complain", "lodge a complaint".

A complaint here is a new, formal grievance a person must take: filing, lodging or making a complaint (a
"reclamation", a "consumer claim", a claim *against* the company), or saying "I want to complain". It is
not unhappiness alone (the sentiment trigger's job) and not a routine claim ("claim my refund", "a warranty
claim"). A match is dropped when the words before it in its clause negate or report it ("no complaints",
"the complaint I filed was resolved", "my neighbour complained").

The text is read through `handoff.triggers.explicit.normalise` (lower case, typos folded, clauses).
"""

from __future__ import annotations

import re

from handoff.reasons import HandoffReason
from handoff.triggers import Trigger
from handoff.triggers.explicit import normalise

__all__ = ["complaint"]

_GRIEVANCE = r"(?:complaints?|reclamations?|grievances?)"
_FORMAL = r"(?:formal|official|consumer|customer|written|serious|proper|new)"
_FILE = (
    r"(?:file|filing|lodge|lodging|make|making|submit|submitting|register|registering|raise|raising"
    r"|put in|putting in|open|opening|log|logging|send|sending|place|placing|issue|start|report|enter|do"
    r"|write|writing|escalate|bring|have|got)"
)
_AGAINST = (
    r"against (?:you|your|the|this|ur|an?) ?(?:\w+ )?(?:company|business|organi[sz]ations?|firm|brand|bank"
    r"|hotel|store|shop|service|services|team|staff|you)?"
)

_SHAPES = (
    # "lodge a complaint", "file a formal complaint against your company", "where do I make a reclamation"
    re.compile(rf"\b{_FILE} (?:(?:a|an|my|one|another|this|the) )?(?:\w+ )?(?:{_FORMAL} )?{_GRIEVANCE}\b"),
    # the verb written for the noun: "lodge a customer complain"
    re.compile(rf"\b{_FILE} (?:a|an) (?:\w+ )?(?:{_FORMAL} )?complain\b"),
    # "a consumer claim", "customer complaint", "a formal complaint"
    re.compile(rf"\b{_FORMAL} (?:{_GRIEVANCE}|claims?|complain)\b"),
    # "a claim against your business", "complaint against the hotel"
    re.compile(rf"\b(?:{_GRIEVANCE}|claims?) {_AGAINST}"),
    # "file a claim against", "lodge a claim"
    re.compile(
        r"\b(?:lodge|lodging|file|filing|submit|submitting) (?:(?:a|an|my) )?claims?\b(?! for| on| under)"
    ),
    # "I want to complain", "calling to complain", "where can I complain", "I'm complaining about"
    re.compile(
        r"\b(?:to|can i|could i|should i|do i|may i|i'll|i will|i must|i shall|let me|i am|i'm|am|we're)"
        r" (?:(?!not\b|never\b|n't\b)\w+ )?(?:complain|complaining)\b(?! (?:much|a lot))"
    ),
)
_ALONE = re.compile(
    rf"^(?:(?:i|want|to|need|a|an|please|hi|hello|{_FILE}|{_FORMAL}) )*{_GRIEVANCE}(?: please| now)*$"
)
_NOT_NEW = re.compile(
    r"(?:\b(?:no|not|don't|do not|didn't|did not|never|won't|wouldn't|any|without|nor)"
    r"(?: (?:want|need|wish|mean|intend|plan|going|to|be|a|any|really|actually|further|more|have|got))* $"
    r"|\b(?:was|were|been|had|already|previously|last)(?: \w+)? $"
    r"|\b(?:the|my|that|this|your|our) $)"
)
"""Just before a match: negated ("no complaints"), reported ("I had lodged one") or an existing one."""
_ROUTINE = re.compile(r"\b(?:warranty|guarantee|insurance|refund|expense|expenses|tax|mileage)\b")
"""A claim about one of these is routine business, not a grievance."""
_REPORT_AFTER = re.compile(
    r"^(?:i|we|you) (?:filed|made|lodged|submitted|sent|raised|opened)\b"
    r"|^(?:was|is|has been|got|were|have been) (?:\w+ )?(?:resolved|closed|handled|dealt|answered|sorted"
    r"|fixed|rejected|accepted|approved|reviewed|ignored)"
)


def complaint(text: str) -> Trigger | None:
    """A request to file a complaint or claim against us, with the phrase that asked; None otherwise."""
    if not text or not text.strip():
        return None
    for clause in normalise(text).clauses:
        alone = _ALONE.match(clause.text)
        if alone:
            return Trigger(
                HandoffReason.COMPLAINT, clause.original(0, len(clause.text)), detail={"shape": "alone"}
            )
        for shape in _SHAPES:
            for m in shape.finditer(clause.text):
                phrase = m.group()
                after = clause.text[m.end() :].lstrip()
                if _NOT_NEW.search(clause.text[: m.start()]) or _REPORT_AFTER.match(after):
                    continue
                if "claim" in phrase and "complain" not in phrase and _ROUTINE.search(clause.text):
                    continue
                return Trigger(
                    HandoffReason.COMPLAINT, clause.original(m.start(), m.end()), detail={"shape": "file"}
                )
    return None
