"""High-risk topics that always go to a person: self-harm, safety, account takeover, fraud, legal threats,
bereavement.

Each topic is data: phrases that signal it and look-alikes masked out before matching ("smoke grey",
"fire pit"). Phrases need a frame where a bare word would mislead: "my lawyer friend" is not a legal threat,
"my phone died" is not a bereavement. Negation is deliberately ignored ("no one was hurt but it sparked",
"I'm not suing yet"): a person reading the message is the right outcome either way.

Decisions on the ambiguous cases:
- "this is killing me", "dying to get my sofa", "kill me now": idioms, not self-harm. "kill myself", "I want
  to die", "end it all" always count, even when they may be a figure of speech: missing a real one costs
  far more than a person checking a joke.
- "I hurt myself on the broken chair" is safety; "I want to hurt myself" is self-harm (intent needed).
- "is this email a scam?" counts as fraud: a customer holding a message that claims to be from us may be
  phished, and a person should confirm it and report it. "your delivery fee is a scam" is anger (sentiment),
  not fraud.
- A pet's death counts as bereavement: the customer is grieving all the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from handoff.reasons import HandoffReason
from handoff.triggers import Trigger

__all__ = ["TOPICS", "Topic", "risky_topic"]


def _phrases(*alternatives: str) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of the alternatives as whole words."""
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Topic:
    severity: int
    """Higher wins when several topics match one message."""
    signals: re.Pattern[str]
    look_alikes: re.Pattern[str] | None = None
    """Masked out before `signals` is searched, so "smoke grey" cannot match "smoke"."""


_CLAUSE = r"[^.?!\n]"  # a character that does not end the sentence
_PEOPLE = (
    r"(?:husband|wife|partner|spouse|mum|mom|mother|dad|father|parents?|son|daughter|child|baby|brother"
    r"|sister|grandmother|grandfather|gran|grandma|grandpa|nan|nana|aunt|auntie|uncle|nephew|niece|cousin"
    r"|grandson|granddaughter|(?:mother|father|son|daughter)[- ]in[- ]law|fianc[eé]e?|boyfriend|girlfriend"
    r"|friend|best friend|dog|cat|pet)"
)
_BODY_OR_PERSON = (
    r"(?:myself|himself|herself|themselves|ourselves|(?:my|his|her|their|our) (?:hand|hands|finger|fingers"
    r"|thumb|arm|leg|foot|feet|toe|head|back|face|eye|skin|wrist|knee|child|son|daughter|baby|toddler|kid"
    r"|dog|cat))"
)
_PAYMENT = r"(?:charges?|payments?|transactions?|orders?|purchases?|debits?)"
_STATEMENT = r"(?:card|account|statement|bank statement|credit card|debit card|bank)"
_LEGAL_PEOPLE = (
    r"(?:lawyers?|solicitors?|attorneys?|legal team|legal (?:department|representative|adviser|advisor))"
)

TOPICS: dict[str, Topic] = {
    "self_harm": Topic(
        severity=100,
        signals=_phrases(
            r"kill(?:ing)? myself",
            r"end(?:ing)? (?:it all|my (?:own )?life)",
            r"take my (?:own )?life",
            r"suicid\w*",
            r"self[- ]?harm\w*",
            r"(?:want|wanting|going|gonna|plan(?:ning)?|thinking (?:about|of)|feel like|tempted) (?:to )?"
            r"(?:hurt|harm|cut|hurting|harming|cutting) myself",
            r"(?:been|keep|started) (?:hurting|harming|cutting) myself",
            r"(?:want|wanna) (?:to )?die",
            r"wish I (?:was|were) dead",
            r"better off dead",
            r"(?:no reason|nothing left) to live(?: for)?",
            r"(?:don't|do not) want to (?:live|be alive|be here any ?more|go on)",
            r"can't go on (?:any ?more|living)",
            r"not worth living",
        ),
    ),
    "safety": Topic(
        severity=90,
        signals=_phrases(
            # fire and smoke
            r"(?:caught|catch(?:es|ing)?|set|sets) (?:on )?fire",
            r"on fire",
            r"(?:there was|caused|causing|started|starting) a fire",
            r"(?:house|kitchen|electrical) fire",
            r"fire (?:hazard|risk|brigade|department|service|fighters?|engine)",
            r"(?:burst|bursting|went up|go up|going up) (?:in|into) flames",
            r"flames (?:came|coming|shot|shooting|from|out)",
            r"smok(?:e|ed|ing)",
            r"sparks?",
            r"spark(?:ed|ing)",
            r"burn(?:ing|t)? smell",
            r"smell(?:s|ed|ing)? (?:of |like )?(?:burning|burnt|smoke|melting|gas)",
            r"scorch(?:ed|ing)?(?: marks?)?",
            r"overheat(?:s|ed|ing)?",
            r"explod(?:ed|ing)|explosion",
            rf"(?:plug|cable|cord|socket|wire|wiring|charger|adapter|casing|switch)\w*\b{_CLAUSE}{{0,30}}\bmelt\w*",
            # electricity and gas
            r"electric(?:al)? shock",
            r"electrocut\w*",
            r"shock when(?:ever)? (?:I|he|she|we|they) (?:touch|plug|unplug|switch|turn|press|held|hold)\w*",
            r"shock (?:from|off) (?:it|the|this|my)",
            r"gas leak\w*",
            r"leak\w* gas",
            r"carbon monoxide",
            # injury
            r"injur(?:ed|y|ies|ing)",
            rf"(?:hurt|cut|burn(?:ed|t)|scald(?:ed)?|trapped|crushed|pinched|bruised) {_BODY_OR_PERSON}",
            r"(?:my|our|his|her|the|a) (?:child|son|daughter|baby|toddler|kid|little one|dog|cat)"
            r" (?:was |got |has been |is )?(?:hurt|injured|burn(?:ed|t)|cut|trapped|crushed|electrocuted)",
            r"(?:went|go|going|been|taken|rushed|had to go) to (?:the )?"
            r"(?:hospital|a&e|emergency room|urgent care)",
            r"(?:tipped|toppled|fell|collapsed|came down)(?: over)? (?:on|onto|on top of)"
            r" (?:me|him|her|them|us|my \w+|his \w+|her \w+|our \w+|a child|the baby)",
            r"(?:I|he|she|they|we) fell (?:off|through)",
            r"chok(?:ed|ing)(?: hazard| on)?",
            r"swallowed (?:a|the|one|some|part|piece|pieces)",
            r"(?:safety|fire|electrical|trip) hazard",
            r"dangerous|unsafe",
            # recalls (not "I don't recall ordering")
            r"(?:safety|product) recalls?",
            r"(?:a|the|any|this|that) recall",
            r"(?:been|being|was|were|is|are) recalled",
            r"recall notice",
        ),
        look_alikes=_phrases(
            r"smoke[- ]?(?:grey|gray|glass|tint(?:ed)?|colou?r(?:ed)?|finish|effect|blue|alarms?|detectors?)",
            r"smoked (?:oak|glass|grey|gray|finish|ash|walnut|salmon)",
            r"(?:non[- ]?|no )smok(?:ing|ers?)(?: (?:household|home|house))?",
            r"(?:don't|do not|doesn't|does not|never) smoke",
            r"smoke-free",
            r"fire ?(?:pits?|doors?|alarms?|extinguishers?|blankets?|guards?|screens?|surrounds?|starters?"
            r"|lighters?|wood|sale|side)",
            r"(?:fire|flame)[- ](?:retardant|resistant|rated|proof|effect|red|orange)",
            r"(?:the )?shock of (?:the|it|my|a|seeing)",
            r"(?:price|sticker) shock|shock[- ]?(?:absorb\w*|proof)",
            r"sparks? (?:joy|an idea|interest|a conversation|a debate)",
        ),
    ),
    "account_takeover": Topic(
        severity=70,
        signals=_phrases(
            r"(?:someone|somebody|someone else|a stranger|a hacker|hackers|a third party)"
            r" (?:has |have |had )?(?:logged|logging|signed|signing|got|gotten|getting|get|broke|broken|been)"
            r" (?:in(?:to)?|on(?:to)?) (?:to )?my account",
            r"(?:my|our) account (?:has been|was|got|is|has got|'s been) (?:hacked|compromised|taken over"
            r"|accessed|breached|hijacked)",
            r"hack(?:ed|er|ers)",
            r"password (?:was |has been |got )?(?:changed|reset) (?:without|but I|and I)",
            r"(?:didn't|did not|never) (?:change|reset) (?:my|the) password",
            r"password reset (?:emails?|requests?|links?|codes?) (?:that )?I (?:didn't|did not|never)"
            r" (?:request|ask)",
            r"(?:email|e-mail|email address|phone number|password|details) (?:on|for|of|linked to) (?:my|the)"
            r" account (?:was|has been|got|were|have been) changed",
            r"changed my (?:email|e-mail|password|phone number|details|address) without",
            rf"locked out\b{_CLAUSE}{{0,60}}\b(?:email|password|phone number)\b{_CLAUSE}{{0,30}}\bchanged",
            r"(?:login|log-in|sign-in|sign in) (?:alert|attempt|notification)s? (?:from|in) (?:a |an )?"
            r"(?:unknown|strange|different|unrecogni[sz]ed|foreign)",
            r"(?:unrecogni[sz]ed|unknown) (?:login|log-in|sign-in|device|activity)",
            r"suspicious (?:login|log-in|sign-in|activity) on my account",
            r"unauthori[sz]ed (?:access|login|log-in|sign-in|use of my account)",
            r"orders? (?:on|from|in) my account (?:that )?I (?:didn't|did not|never) (?:make|place|placed)",
        ),
    ),
    "fraud": Topic(
        severity=65,
        signals=_phrases(
            rf"unauthori[sz]ed {_PAYMENT}",
            rf"{_PAYMENT}(?: (?:on|to|from) my {_STATEMENT})? (?:that )?(?:I|we)"
            r" (?:didn't|did not|never|don't|do not)"
            r" (?:make|made|authori[sz]e|place|placed|order|ordered|recogni[sz]e|buy|bought)",
            rf"(?:didn't|did not|never|don't|do not) (?:make|authori[sz]e|place|recogni[sz]e)"
            rf" (?:this|these|that|those|the|a|an|any) {_PAYMENT}",
            r"stolen (?:card|credit card|debit card|bank card|identity|details|card details|bank details)",
            r"(?:card|identity|details|wallet|purse) (?:was|were|has been|have been|got) stolen",
            r"someone (?:has )?used my (?:card|credit card|debit card|bank details|payment details)",
            r"fraud\w*",
            r"identity theft",
            r"phishing|smishing",
            r"spoof(?:ed)? (?:emails?|texts?|sites?|websites?|calls?)",
            r"(?:been|got|was|were|getting|being) scammed",
            # "is this email a scam?" yes; "your delivery fee is a scam" no (that is anger, for sentiment)
            rf"scam(?:mers?)?\b{_CLAUSE}{{0,30}}\b(?:emails?|texts?|sms|messages?|calls?|links?|sites?"
            r"|websites?|callers?)",
            rf"(?:emails?|texts?|sms|messages?|calls?|links?|sites?|websites?|callers?)\b{_CLAUSE}{{0,30}}"
            r"\bscam(?:mers?)?",
            r"(?:fake|suspicious|dodgy) (?:emails?|texts?|messages?|calls?|websites?|sites?|links?)",
        ),
    ),
    "legal_threat": Topic(
        severity=50,
        signals=_phrases(
            # not "I spoke to Sue": a modal or intent must come first
            r"(?:I|we) (?:will|shall|could|can|would|might|may) sue",
            r"(?:I'll|I'd|we'll|gonna|going to|want to|like to|plan(?:ning)? to|intend to|right to"
            r"|decided to) sue",
            r"suing",
            r"sued (?:you|your|the company|companies|them)",
            r"sue (?:you|your|the company|brightwell|them)",
            r"take (?:you|this|it|them|the company|brightwell|your company)(?: all)? to (?:court|small claims"
            r"|(?:a )?tribunal)",
            r"see you in court",
            r"small claims",
            r"legal (?:action|proceedings|claim)",
            r"court (?:action|proceedings|claim)",
            r"letter before (?:action|claim)",
            r"cease and desist",
            r"ombudsman",
            r"trading standards",
            r"(?:report|reporting|complain|complaining) (?:you|this|it|the company|brightwell) to (?:the )?"
            r"(?:bbb|better business bureau|ftc|cma|citizens advice|attorney general|consumer protection)",
            # "my lawyer friend recommended you" is not a threat: the lawyer has to be brought in
            r"(?:contact|contacting|call|calling|speak(?:ing)? (?:to|with)|talk(?:ing)? to|consult(?:ing)?"
            r"|hear(?:ing)? from|instruct(?:ing)?|involv(?:e|ing)|get(?:ting)?"
            r"|pass(?:ing)? (?:this|it) (?:on )?to|hand(?:ing)? (?:this|it) (?:over )?to"
            rf"|forward(?:ing)? (?:this|it) to) (?:my|a|our) {_LEGAL_PEOPLE}",
            rf"my {_LEGAL_PEOPLE} (?:will|'ll|is going to|are going to|is|are|has been|have been) "
            r"(?:be )?(?:in touch|contact\w*|writ\w*|involved|aware|informed|instructed|copied|handling)",
        ),
    ),
    "bereavement": Topic(
        severity=40,
        signals=_phrases(
            r"passed away",
            rf"(?:my|our|his|her|their) (?:late )?{_PEOPLE} (?:(?:recently|sadly|suddenly|unexpectedly|just"
            r"|has|had|tragically|peacefully|finally) ){0,2}(?:died|is dead|was killed|passed away"
            # "my son passed his test", "my dad passed on the message" are not deaths
            r"|passed(?! (?:the|my|his|her|their|our|a|an|it|through|by|me|us|them|its)\b)"
            r"(?! on (?:the |my |your |his |her )?"
            r"(?:message|details|info\w*|number|order|note|request|parcel)))",
            rf"(?:death|loss|passing) of (?:my|our|his|her|their) (?:late )?{_PEOPLE}",
            rf"(?:lost|losing) (?:my|our) {_PEOPLE}\b(?!'s)",
            rf"my late {_PEOPLE}",
            r"(?:he|she) (?:has )?(?:died|passed away)",
            r"funerals?",
            r"bereave\w*",
            r"widow(?:ed|er)?",
            r"deceased",
            r"probate",
            r"executor of",
            r"estate of (?:my|the late)",
            r"in (?:loving )?memory of",
        ),
    ),
}
"""Every topic `risky_topic` knows, by the name used in the HANDOFF_RISKY_TOPICS setting."""


def _masked(text: str, look_alikes: re.Pattern[str] | None) -> str:
    """Blank out look-alikes with spaces of the same length, so positions still match the original text."""
    if look_alikes is None:
        return text
    return look_alikes.sub(lambda m: " " * len(m.group()), text)


def risky_topic(text: str, *, enabled: Sequence[str]) -> Trigger | None:
    """The most severe enabled topic the message raises, with the phrase that matched; None if none.

    Raises ValueError on a topic name this module does not define: a misconfigured setting must be loud.
    """
    unknown = sorted(set(enabled) - TOPICS.keys())
    if unknown:
        raise ValueError(f"unknown risky topic(s) {unknown}; known topics are {sorted(TOPICS)}")
    text = text.replace("\u2019", "'")
    for name in sorted(set(enabled), key=lambda n: -TOPICS[n].severity):
        topic = TOPICS[name]
        match = topic.signals.search(_masked(text, topic.look_alikes))
        if match:
            return Trigger(
                HandoffReason.RISKY_TOPIC,
                evidence=text[match.start() : match.end()],
                detail={"topic": name, "severity": topic.severity},
            )
    return None
