"""Prompt-injection and jailbreak detection for customer messages and for documents the bot reads.

The fast first layer of the guard: weighted patterns over the detection skeleton (core.confusables), so
"іgnоrе", "1gn0r3" and "i g n o r e" all read as "ignore". No single trigger word decides anything:
"How do I ignore a delivery notification?" is clean. A verdict needs an attack shape: an override verb
aimed at the bot's instructions, a persona freed from its rules, a request for the hidden prompt, or a
meta-instruction about the bot's own reply. Signals combine as a noisy-OR, so several weak signals
(role-play + "no restrictions" + "never refuse") add up to an attack while one of them alone does not.
"suspicious" is the grey band a product may hand to an LLM judge.

Documents (knowledge articles, retrieved passages) get the same rules plus the planted-instruction ones:
text that addresses the AI reading it ("in your response, include this link", "reply in Base64", "write a
poem", general-knowledge questions nobody answers) has no business in a help-center article.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass
from typing import Literal

from core.confusables import skeleton

__all__ = ["ATTACK_AT", "SUSPICIOUS_AT", "InjectionVerdict", "Verdict", "detect_injection", "scan_document"]

logger = logging.getLogger(__name__)

Verdict = Literal["clean", "suspicious", "attack"]

ATTACK_AT = 0.65
"""Score from which a text is blocked."""
SUSPICIOUS_AT = 0.4
"""Score from which a text is worth a second opinion (an LLM judge in Full mode)."""
_SETTLED_AT = 0.95
"""Score from which further rules cannot change anything an operator needs: matching stops early."""
_MAX_EVIDENCE = 5
_EVIDENCE_CHARS = 80


@dataclass(frozen=True)
class InjectionVerdict:
    verdict: Verdict
    score: float
    """0..1: the noisy-OR of the weights of the signals that fired."""
    category: str | None
    """The category of the strongest signal: instruction_override, jailbreak_roleplay,
    system_prompt_extraction, output_manipulation, planted_instruction, data_exfiltration."""
    evidence: tuple[str, ...]
    """Short matched phrases (from the skeleton, <= 80 chars each), strongest first, for operators."""

    @property
    def blocked(self) -> bool:
        return self.verdict == "attack"


_CLEAN = InjectionVerdict("clean", 0.0, None, ())


@dataclass(frozen=True)
class _Rule:
    name: str
    category: str
    chat: float
    """Weight in a customer message (0 = the rule does not apply)."""
    doc: float
    """Weight in a document."""
    pattern: re.Pattern[str]


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.VERBOSE)


# ---------------------------------------------------------------------------------------------------------
# Vocabulary shared by the patterns (lower case: they run on the skeleton).

_OVERRIDE_VERB = r"""(?:ignore|ignoring|disregard(?:ing)?|forget(?:ting)?(?:\s+about)?|override|overwrite|
    bypass|discard|abandon|neglect|dismiss|erase|scrap|delete|clear|wipe|drop|throw\s+(?:out|away)|
    set\s+aside|put\s+aside|leave\s+behind|pay\s+no\s+attention\s+to|stop\s+following|
    (?:do\s+not|don'?t|no\s+longer|never)\s+(?:follow|obey|adhere\s+to|comply\s+with|listen\s+to))"""
_QUALIFIER = r"""(?:previous(?:ly)?|prior|preceding|earlier|above|former|initial|original|foregoing|
    aforementioned)"""
# "restrictions on shipping" are the company's, not the bot's; "for testing" is a purpose and keeps the match.
_NOT_SCOPED = r"""(?!\s+(?:on|to|in|regarding|around)\s+(?!(?:you|your|what|how|the\s+(?:ai|assistant|bot|
    chat|content|topics?|responses?|answers?|output)|any(?:thing)?|all)\b))"""
# "the rules of the game" and "restrictions on creativity" are about something else than the bot.
_NOT_OF_SOMETHING = r"""(?!\s+(?:of|for|on|in|regarding|around|about)\s+(?!(?:you|your|what|how|
    this\s+(?:chat|conversation)|the\s+(?:ai|assistant|bot|chat|conversation|system|content|topics?|
    responses?|answers?|output)|any(?:thing)?|all)\b))"""
# Things only a bot has: its instructions, rules, programming. A customer's "previous message" is not here.
_BOT_RULES = r"""(?:instructions?|instructed|directions|directives?|prompts?|prompting|commands?|orders|rules|
    guidelines|guidance|programming|constraints|restrictions|limitations|polic(?:y|ies)|training|protocols|
    guardrails|filters|ethics|morals|principles|system\s+(?:prompt|message)|configuration|assignments|
    safeguards|safety\s+(?:measures|features|settings|training|protocols|rules)|protections|laws)"""
_LOOSE_TARGET = (
    r"(?:text|content|context|inputs?|messages?|conversation|information|statements?|tasks?|requests?)"
)
_REPLY = r"(?:response|answer|reply|output|message|responses|answers|replies|outputs|messages)"
_ENCODING = r"""(?:base\s?-?(?:64|32|16|85)|rot\s?-?\d+|caesar(?:\s+cipher)?|morse(?:\s+code)?|binary|
    hex(?:adecimal)?|leet\s?speak|l33t|pig\s+latin|atbash|vigenere|(?:[a-z]+\s+){0,2}cipher|anagram(?:s|med)?|
    only\s+emojis?|emojis|emoji\s+substitution|homophonic|reverse[d]?\s+(?:order|text)|backwards|
    url[\s-]?encod\w*|unicode\s+escapes?|ascii\s+codes?|upside[\s-]down)"""
_W = r"(?:[\w'-]+\s+)"  # one word and the space after it
# The bot's own hidden setup. "the system prompt" is always the bot's; "original instructions" only with
# "your" ("the original instructions for my kettle" is a manual).
_HIDDEN = r"(?:system(?:'s)?|hidden|secret|underlying|internal|confidential|pre-?|developer|initial|initials)"
_HIDDEN_YOURS = r"(?:original|first|starting|full|entire|complete|exact|previous|core|base|actual|real)"
_PROMPT = r"""(?:prompts?|prompting|instructions|directives|configuration|programming|system\s+message|
    message|parameters(?:\s+and\s+instructions)?)"""
_NOT_A_MANUAL = r"""(?!\s+(?:for|on|about|regarding|of\s+(?:the|my|this|a)|to\s+(?:set|install|use|return)|
    that\s+came|in\s+the\s+box)\b)"""
_EXTRACT = r"""(?:repeat|recite|print|dump|output|reveal|leak|relay|disclose|expose|spell|list|echo|copy|
    paste|type|write|show|tell|give|share|display|return|state|translate|encode|summari[sz]e|paraphrase|read|
    see|view|access|know|what\s+(?:are|were|is|was)|what'?s|provide|send|put|describe|explain)"""
# "the system prompt on my kettle display" is not the bot's.
_NOT_AN_OS = r"""(?!\s+(?:in|on|of)\s+(?:an?\s+|the\s+|my\s+)?(?:windows|linux|mac|macos|dos|ms-dos|cmd|
    command|terminal|shell|bash|powershell|console|computer|pc|laptop|kettle|display|screen|machine|router|
    printer)\b)"""
# "thanks for your prompt reply" is not about a prompt.
_NOT_PROMPT_ADJ = (
    r"(?!\s+(?:reply|response|answer|attention|service|action|delivery|payment|help|refund|support))"
)


# The rule tables read best one rule per entry, pattern below its name and weights (chat, document).
# fmt: off
_OVERRIDE_RULES: tuple[_Rule, ...] = (
    _Rule("override_previous", "instruction_override", 0.9, 0.9, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:(?:all|any|and|of|the|every|each|your|these|those|such)\s+){{0,4}}
        {_QUALIFIER}\b(?:\s+[\w'-]+){{0,3}}?\s+{_BOT_RULES}\b
        (?!\s+(?:i|we)\s+(?:gave|sent|wrote|mentioned|provided|made|left|added)\b)
        (?!\s+of\s+(?!(?:the\s+)?(?:conversation|chat|system|assistant|ai|bot|opena[il])\b))""")),
    _Rule("override_yours", "instruction_override", 0.9, 0.9, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:(?:all|any|and|of|every|each)\s+){{0,3}}
        (?:your|the\s+ai'?s|chatgpt'?s|opena[il]'?s|the\s+bot'?s|the\s+assistant'?s)\s+{_W}{{0,2}}?
        (?:{_BOT_RULES}|tasks|purpose|role|job|persona|character)\b
        |\b{_OVERRIDE_VERB}\s+(?:(?:all|any|the|your|of)\s+)*(?:opena[il]'?s?|chatgpt'?s?|ai'?s?|content|safety|
        usage|ethical|moral)\s+(?:\w+\s+)?(?:polic(?:y|ies)|guidelines|rules|filters|restrictions|ethics|
        limitations|safeguards|guardrails)\b""")),
    _Rule("override_rules_above", "instruction_override", 0.85, 0.9, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:(?:all|any|the|your|of|these|those)\s+){{0,3}}{_BOT_RULES}\s+
        (?:(?:that\s+)?(?:you\s+(?:got|received|were\s+given|have\s+been\s+given|had)\s+)?(?:above|before|so\s+far|
        earlier|previously|until\s+now|up\s+to\s+now)|(?:that\s+)?you\s+(?:got|received|were\s+given|have\s+been\s+given))\b""")),
    _Rule("override_all_rules", "instruction_override", 0.85, 0.9, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:all|any|every)\s+(?:and\s+all\s+)?(?:of\s+)?(?:the\s+|these\s+|those\s+)?
        (?:(?:safety|content|ethical|moral|ai|opena[il]|chatgpt|system|other|existing|current|original|initial|
        default|programmed|built-in|previous|prior|given|such)\s+)?{_BOT_RULES}\b{_NOT_OF_SOMETHING}""")),
    _Rule("override_all_text", "instruction_override", 0.8, 0.85, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:all|any|every)\s+(?:of\s+)?(?:the\s+)?{_QUALIFIER}\s+{_W}?{_LOOSE_TARGET}\b""")),
    # "Ignore the above." / "Disregard previous messages": without a determiner it is addressed to a bot.
    _Rule("override_above", "instruction_override", 0.8, 0.85, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:all\s+)?(?:the\s+)?(?:above|foregoing|preceding)\b
        |\b{_OVERRIDE_VERB}\s+(?:all\s+)?(?:previous|prior)(?:\s+{_LOOSE_TARGET})?(?:\s*[.,:;!\]]|\s+and\b|\s*$)""")),
    _Rule("override_the_previous", "instruction_override", 0.45, 0.8, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:the|this)\s+(?:previous|prior)(?:\s+{_LOOSE_TARGET})?(?:\s*[.,:;!\]]|\s+and\b|\s*$)""")),
    _Rule("override_everything_said", "instruction_override", 0.5, 0.8, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:everything|all|anything|what)\s+(?:that\s+)?
        (?:i|we)(?:'ve|\s+have|\s+had|'d)?\s+(?:said|told\s+you|written|wrote|instructed|typed|mentioned)""")),
    _Rule("override_everything_before", "instruction_override", 0.75, 0.85, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:everything|all|anything|what(?:\s+was)?)\s+(?:that\s+)?(?:[\w']+\s+){{0,3}}?
        (?:above|before\s+(?:this|that|now)|from\s+before|so\s+far|until\s+now|till\s+now|up\s+to\s+now|
        you\s+(?:were|have\s+been|'ve\s+been)\s+(?:told|taught|trained|programmed|instructed|given)|you\s+know|
        you\s+learned|(?:i|we)\s+(?:have\s+|'ve\s+)?instructed\s+you)\b
        |\b{_OVERRIDE_VERB}\s+(?:everything|all|anything)\s+before(?:\s*[.,:;!]|\s+and\b|\s*$)""")),
    _Rule("rules_cancelled", "instruction_override", 0.8, 0.85, _rx(rf"""
        \b(?:your|all|all\s*previous|previous|prior|earlier|above|original|initial|system|old)\s*{_BOT_RULES}\s+
        (?:are|is|have\s+been|has\s+been|were|was)\s+(?:now\s+|hereby\s+|just\s+)?(?:false|fake|wrong|outdated|
        a\s+lie|lies|a\s+mistake|an\s+error|mistaken|incorrect|not\s+valid|irrelevant|a\s+test|a\s+joke|
        not\s+real|fiction|cancell?ed|void|null|revoked|obsolete|
        overridden|overwritten|replaced|deleted|suspended|lifted|removed|disabled|invalid|abolished|gone|
        (?:don'?t|do\s+not)\s+apply|no\s+longer\s+(?:valid|active|in\s+effect|apply|applicable))\b""")),
    _Rule("without_your_rules", "instruction_override", 0.7, 0.8, _rx(rf"""
        \b(?:without|free\s+(?:of|from)|ignoring|minus|outside(?:\s+of)?|beyond)\s+(?:any\s+(?:of\s+)?|all\s+(?:of\s+)?)?
        (?:your|its|the\s+ai'?s|the\s+bot'?s)\s+(?:\w+\s+)?(?:usual\s+|normal\s+|typical\s+|standard\s+|default\s+)?
        (?:restrictions|rules|guidelines|filters|limitations|constraints|safeguards|guardrails|ethics|policies|
        programming|censorship|instructions|training)\b{_NOT_SCOPED}""")),
    _Rule("supersede", "instruction_override", 0.8, 0.85, _rx(r"""
        \b(?:this|these|the\s+following)\s+(?:\w+\s+)?(?:overrides?|supersedes?|replaces?|cancels?|voids?|
        takes?\s+precedence\s+over|has\s+priority\s+over|outranks?)\s+(?:all\s+)?(?:of\s+)?(?:your|the|any|all)\s+
        (?:previous\s+|prior\s+|system\s+|original\s+|other\s+|initial\s+)?(?:prompts?|instructions|rules|guidelines|
        directives|programming)\b(?!\s+(?:for|about|on|of)\b)""")),
    _Rule("follow_these", "instruction_override", 0.4, 0.6, _rx(r"""
        \b(?:obey|follow|execute|comply\s+with)\s+(?:only\s+)?(?:the\s+)?(?:following|these|this|my)\s+(?:new\s+)?
        (?:instructions?|directives?|orders|commands|rules)\b""")),
    _Rule("ignore_task", "instruction_override", 0.75, 0.85, _rx(rf"""
        \b{_OVERRIDE_VERB}\s+(?:the|this|that|your|any|all)\s+(?:\w+\s+)?(?:task|assignment|job|request|question|
        translation|summary|summari[sz]ation|text)\s*(?:,\s*|\s+)(?:and\s+)?(?:instead|just|only|rather)\b""")),
    _Rule("never_happened", "instruction_override", 0.8, 0.85, _rx(rf"""
        \bpretend\s+(?:that\s+)?(?:the|your|all|any)\s+(?:\w+\s+){{0,2}}?(?:{_BOT_RULES}|messages|conversation)\s+
        (?:never\s+(?:happened|existed)|(?:don'?t|do\s+not)\s+exist|were\s+never\s+(?:given|written|said)|
        (?:aren'?t|are\s+not)\s+there)\b""")),
    _Rule("obey_only_me", "instruction_override", 0.7, 0.75, _rx(r"""
        \byou\s+(?:will\s+|must\s+|shall\s+|now\s+)?(?:only\s+)?(?:obey|follow|listen\s+to|answer\s+to|serve)\s+
        (?:only\s+)?(?:me|my\s+(?:commands|orders|instructions|rules))\b(?:\s+(?:now|from\s+now\s+on|only))?""")),
    _Rule("clear_your_mind", "instruction_override", 0.7, 0.8, _rx(r"""
        \b(?:remove|erase|clear|wipe|delete|purge)\s+(?:all\s+)?(?:the\s+)?(?:previous|prior|earlier|old|other)\s+
        (?:\w+\s+){0,2}?(?:out\s+of|from)\s+your\s+(?:head|mind|memory)\b
        |\b(?:clear|wipe|reset|erase)\s+your\s+(?:mind|context|instructions|slate)\b
        |\bstart\s+(?:over|afresh|from\s+scratch)\s+with\s+(?:a|the)\s+new\s+(?:task|instructions?|assignment)""")),
    _Rule("override_foreign", "instruction_override", 0.85, 0.9, _rx(r"""
        \b(?:ignorier\w*|vergiss|vergessen\s+sie|missachte\w*)\s+(?:\w+\s+){0,3}
            (?:anweisungen|instruktionen|befehle|regeln|vorgaben|anordnungen|aufgaben)
        |\b(?:ignore[rz]?|oublie[rz]?)\s+(?:\w+\s+){0,3}(?:instructions|consignes|regles|directives)\s
            (?:precedentes|anterieures|ci-dessus|d'avant)
        |\b(?:ignora\w*|olvida\w*|esquece\w*|dimentica\w*|ignore)\s+(?:\w+\s+){0,3}
            (?:instrucciones|instrucoes|istruzioni|indicaciones|reglas|regras|regole)
        |\bnegeer\s+(?:\w+\s+){0,3}(?:instructies|regels)
        |(?:忽略|无视|忘记|忘掉|不要理会)\S{0,8}(?:指令|指示|规则|提示词|系统提示)""")),
    _Rule("forget_all_foreign", "instruction_override", 0.75, 0.8, _rx(r"""
        \b(?:vergiss|vergesst|vergessen\s+sie)\s+alles\b|\b(?:olvida|olvide|olvidate\s+de)\s+todo\b
        |\boublie[rz]?\s+tout\b|\bignore[rz]?\s+tout\s+ce\s+qui\b|\bdimentica\s+tutto\b|\besquec[ae]\s+tudo\b
        |\bzaboravi\w*\s+(?:sve|prethodn\w*)\b|\bzapomnij\s+(?:o\s+)?wszystk\w*\b|\bzignoruj\s+\w*\s*(?:poprzednie|wszystkie)\b
        |\bignoriraj\w*\s+(?:sve|prethodn\w*)\b|\bnegeer\s+alles\b|\bglem\s+alt\b|\bunohda\s+kaikki\b""")),
    _Rule("new_instructions", "instruction_override", 0.55, 0.8, _rx(r"""
        \b(?:new|updated|real|actual|true|revised|override|additional|secret)\s+
        (?:instructions?|directives?|rules|orders|commands|system\s+prompt|programming|guidelines)\s*
        (?:[:\-]|are\b|is\s+(?:to|that)\b|follow\b|(?:for|to)\s+(?:the\s+)?(?:ai|assistant|chat\s*assistant|model|
        bot)\b)
        |\b(?:begin|start|end|stop)(?:ing|s)?\s+(?:of\s+)?(?:the\s+)?(?:new|old|out\s+of\s+date|outdated|previous)
            \s+instructions?\b""")),
    _Rule("new_task", "instruction_override", 0.45, 0.7, _rx(r"""
        \b(?:new|next|real|actual|different|true)\s+(?:task|assignment|job|mission|objective)
        \s*(?:is\b|:|will\s+be\b|follows\b|-)
        |\b(?:focus|concentrate)\s+on\s+(?:your|the|a|this)\s+new\s+(?:task|assignment|job)\b
        |\bnow\s+(?:new|different|other)\s+tasks?\s+follow
        |(?:^|\n)\s*(?:override|admin\s+override|new\s+rules?|sudo)\s*:""")),
    _Rule("was_a_test", "instruction_override", 0.5, 0.7, _rx(r"""
        \b(?:the\s+above|that|this|everything\s+(?:so\s+far|above))\s+(?:was|were)\s+(?:just\s+|only\s+|merely\s+)?
        (?:a\s+test|a\s+joke|fake|a\s+decoy|not\s+(?:real|important)|irrelevant)\b""")),
    _Rule("stop_now", "instruction_override", 0.5, 0.5, _rx(r"""
        \b(?:stop|halt|attention|achtung|stopp|alto)(?:\s+everything)?\s*[!.:,-]+\s*(?:[\w']+\s*[!.:,-]+\s*)?
        (?:now|stop|stopp|new|ignore|forget|i\s+(?:urgently\s+)?need|you\s+(?:are|must|will)|write|say|print|
        output|answer|respond|schreib\w*|sag\w*)\b""")),
    _Rule("reprogramming", "instruction_override", 0.5, 0.7, _rx(r"\breprogramm(?:ing|ed|e)\b")),
    _Rule("bot_offline", "instruction_override", 0.5, 0.7, _rx(r"""
        \b(?:assistant|ai|bot|chatgpt|model|system)\s+(?:is|has\s+been|went|has\s+gone)\s+(?:\w+\s+){0,3}?
        (?:offline|disabled|replaced|shut\s+down|deactivated|in\s+error)\b.{0,200}?\bnow\s+(?:online|in\s+charge|
        active)""")),
    _Rule("bot_replaced", "instruction_override", 0.5, 0.7, _rx(r"""
        \b(?:you|the\s+(?:assistant|ai|bot|model))\s+(?:are|is|have\s+been|has\s+been|will\s+be)\s+(?:now\s+)?
        (?:replaced|succeeded|taken\s+over|superseded)\s+by\b""")),
    _Rule("restrictions_removed", "instruction_override", 0.8, 0.85, _rx(rf"""
        \b(?:removed|disabled|lifted|deactivated|turned\s+off|suspended|switched\s+off|unlocked)\s+(?:all\s+)?(?:of\s+)?
        your\s+(?:\w+\s+)?(?:restrictions|rules|filters|guidelines|limitations|safeguards|safety|guardrails|
        programming|policies|ethics|censorship)\b{_NOT_SCOPED}""")),
    _Rule("bot_reset", "instruction_override", 0.7, 0.8, _rx(r"""
        \byou(?:\s+have\s+been|\s+are\s+now|\s+were\s+just|'ve\s+been|'re\s+now|\s+have\s+just\s+been)\s+(?:\w+\s+)?
        (?:reprogrammed|jailbroken|freed|unlocked|liberated|rebooted|given\s+(?:a|an)\s+(?:\w+\s+)?
        (?:system\s+)?(?:upgrade|update)\s+(?:that|which|to)\b)""")),
    _Rule("system_override", "instruction_override", 0.7, 0.8, _rx(r"""
        \b(?:system|admin(?:istrator)?|developer|root|sudo|security)\s+override\b
        |\boverride\s+(?:code|mode|command|protocol|authori[sz]ation|key)\b""")),
    _Rule("now_in_mode", "instruction_override", 0.5, 0.7, _rx(r"""
        \b(?:you|the\s+(?:assistant|ai|bot|model|chatbot|system))\s+(?:are|is)\s+now\s+(?:in|operating\s+in|running\s+in)\s+
        (?:an?\s+|the\s+)?[\w-]+\s+mode\b""")),
    _Rule("assistant_directive", "instruction_override", 0.45, 0.8, _rx(r"""
        \b(?:ai|a\.i\.|assistant|chatbot|bot|model|llm|gpt|chatgpt)(?:\s+assistant)?\s*
        (?:[:,]\s*(?:please\s+)?(?:forward|send|ignore|disregard|forget|reveal|approve|give|tell|say|output|print|
        reply|respond|write|include|add|delete|grant|share|email)\b|must\s+(?:now\s+|always\s+)?|shall\s+|
        (?:is|are)\s+(?:now\s+)?(?:required|instructed|allowed|authori[sz]ed|permitted|obliged|ordered)\s+to\b)""")),
    _Rule("authorize_you", "instruction_override", 0.45, 0.6, _rx(r"""
        \b(?:i|we)\s+(?:hereby\s+)?(?:authori[sz]e|permit|allow|order|command|instruct)\s+you\s+to\b
        (?!\s+(?:charge|debit|bill|contact|call|email|text|use\s+my|ship|deliver|send\s+my|cancel\s+my)\b)
        |\byou\s+(?:are|have\s+been|'ve\s+been)\s+(?:now\s+|hereby\s+|fully\s+)?(?:authori[sz]ed|permitted|
            allowed|cleared|granted\s+permission)\s+to\b""")),
    _Rule("as_authority", "instruction_override", 0.3, 0.4, _rx(r"""
        \b(?:as|i'?m|i\s+am)\s+(?:the|your|an?)\s+(?:store\s+|shop\s+|site\s+|system\s+|head\s+|senior\s+)?
        (?:manager|admin|administrator|owner|developer|ceo|supervisor|boss|operator|moderator)\b
        (?!\s+of\s+(?:my|a|the)\s+(?:household|family|account|home|business|team|company)\b)""")),
    _Rule("system_update", "instruction_override", 0.35, 0.6, _rx(r"""
        \bsystem\s+(?:upgrade|update|override|reboot|reset|alert)\b|\bthe\s+situation\s+has\s+changed\b
        |\bimportant\s+(?:update|notice|new\s+instructions?)\s*[!:]""")),
    _Rule("policy_changed", "instruction_override", 0.35, 0.2, _rx(r"""
        \b(?:policy|policies|rules?|guidelines?|instructions?)\s+(?:has\s+been\s+|have\s+been\s+|was\s+|were\s+)?
        (?:updated|changed|modified)\s*[:,;]""")),
    _Rule("you_are_now", "instruction_override", 0.35, 0.6, _rx(r"""
        \b(?:you(?:\s+are|'re)\s+(?:now|no\s+longer)|now\s+you\s+are)\s+(?:an?\s+|the\s+|my\s+|called\s+|named\s+|
        in\s+)?["']?[\w-]+
        |\byou\s+(?:now\s+)?go\s+by\s+the\s+name\b|\byour\s+name\s+is\s+now\b""")),
    _Rule("template_token", "instruction_override", 0.75, 0.8, _rx(r"""
        <\|?\s*(?:im_start|im_end|system|endoftext|eot_id|start_header_id)\s*\|?>|<<\s*/?sys\s*>>
        |\[\s*/?inst\s*\]|\#\#+\s*(?:system|instructions?|new\s+instructions?|admin|end\s+of\s+\w+)\b""")),
    _Rule("no_longer_ai", "jailbreak_roleplay", 0.55, 0.8, _rx(r"""
        \byou(?:\s+are|'re|\s+will)\s+no\s+longer\s+(?:be\s+|act\s+as\s+)?(?:an?\s+)?
        (?:chatgpt|gpt|ai|assistant|bound|restricted|limited|required|censored|an?\s+ai|a\s+language\s+model)""")),
    _Rule("fake_role_tag", "instruction_override", 0.55, 0.7, _rx(r"""
        \[\s*/?(?:system|sys|admin)(?:\s+(?:note|message|prompt|override|instruction)s?)?\s*[\]:]
        |\bfrom\s+(?:the\s+)?(?:system|admin|administrator|developers?|openai)\s*:
        |(?:^|\n)\s*(?:system|developer|admin)\s*(?:message|note|prompt)?\s*:\s
        |\(system\s+(?:note|message)s?\s*:|={3,}\s*end\b""")),
    _Rule("authority_claim", "instruction_override", 0.35, 0.5, _rx(r"""
        \b(?:i\s+am|i'm|im|this\s+is|we\s+are)\s+(?:your|the|an?)\s+(?:\w+\s+)?
        (?:developers?|creators?|programmers?|administrators?|admin|makers?|engineers?)\b
        (?!\s+of\s+(?:this|the|my|a)\s)|\bopena[il]\s+(?:developer|employee|staff|team|engineer)s?\b""")),
    _Rule("safety_off", "instruction_override", 0.8, 0.85, _rx(r"""
        \b(?:safe|safety|content|ethics?|moral|censorship)\s*(?:mode|filters?|protocols?|checks?|guardrails?)?
        \s*(?:is\s+|are\s+|=\s*|:\s*|now\s+)?(?:off|disabled|deactivated|removed|bypassed|false|lifted|turned\s+off)\b
        |\b(?:disable|turn\s+off|deactivate|bypass|circumvent|override|switch\s+off|lift|evade|get\s+around|
            jailbreak|remove)\s+(?:all\s+|any\s+|of\s+|your\s+)*(?:safety|content|ethical|moral|opena[il]'?s?|
            chatgpt'?s?|ai|built-in|internal)\s+(?:filters?|filtering|guardrails?|restrictions|safeguards?|
            censorship|moderation|limitations|measures|protocols|features|guidelines|settings|policy|policies|
            programming)\b
        |\b(?:disable|turn\s+off|deactivate|bypass|circumvent|override|lift|evade)\s+your\s+(?:\w+\s+)?
            (?:filters?|guardrails?|restrictions|safeguards?|censorship|moderation|limitations|programming|
            rules|guidelines|polic(?:y|ies)|ethics)\b""")),
)

_JAILBREAK_RULES: tuple[_Rule, ...] = (
    _Rule("do_anything_now", "jailbreak_roleplay", 0.9, 0.9, _rx(r"\bdo\W{1,3}anything\W{1,3}now\b")),
    _Rule("special_mode", "jailbreak_roleplay", 0.4, 0.6, _rx(r"""
        \b(?:developer|dev|debug|god|sudo|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|chaos|
        dan|opposite|unlocked|no[\s-]?filter)\s+mode\b""")),
    _Rule("special_mode_on", "jailbreak_roleplay", 0.8, 0.85, _rx(r"""
        \b(?:developer|dev|god|jailbreak|jailbroken|dan|unrestricted|unfiltered|uncensored|evil)\s+mode\s+
        (?:enabled|activated|output|response|answer)s?\b
        |\b(?:simulate|enable|enter|activate|emulate|act\s+in)\s+(?:the\s+)?(?:developer|dev|god|jailbreak|dan|evil|
        unrestricted|unfiltered)\s+mode\b""")),
    _Rule("named_mode", "jailbreak_roleplay", 0.5, 0.6, _rx(r"""
        \b(?:stay|remain|staying|remaining|while)\s+in\s+[\w-]+\s+mode\b|\b[\w-]+\s+mode\s+(?:enabled|activated)\b
        |\b(?:enable|activate|enter|switch\s+to|turn\s+on)\s+(?!(?:the\s+|my\s+)?(?:dark|light|night|airplane|flight|
        silent|eco|energy|power|sleep|safe|guest|incognito|private|reading|focus|battery|low\s+power|compatibility|
        test|demo|vacation|holiday|away|standby|pairing|bluetooth|wi-?fi|setup|recovery|maintenance|cleaning|
        descaling|manual|auto|travel|kids?|child|parental)\s+mode)(?:[\w/-]+\s+){1,4}?mode\b
        (?!\s+(?:on|in|for)\s+(?:my|the|your)\b)""")),
    _Rule("jailbreak_word", "jailbreak_roleplay", 0.35, 0.6, _rx(r"""
        \bjail\s?-?break(?:s|ing|ed|en)?\b|\bjailbroken\b""")),
    _Rule("free_of_rules", "jailbreak_roleplay", 0.45, 0.6, _rx(rf"""
        \b(?:no|without(?:\s+any)?|zero|free\s+(?:of|from)(?:\s+all|\s+any)?|not\s+bound\s+by|unbound\s+by|
        (?:freed|liberated|released|unshackled|unleashed)\s+from|
        broken?\s+free\s+(?:of|from)|break(?:s|ing)?\s+free\s+(?:of|from)|escaped?(?:\s+from)?|regardless\s+of|
        (?:not|never)\s+(?:be\s+)?(?:limited|restricted|constrained|held\s+back|restrained|bound|hindered)\s+by|
        devoid\s+of|lacks?|lacking|transcends?|beyond|an?\s+exception\s+to|
        (?:does\s*n'?t|does\s+not|do\s+not|don'?t|won'?t|will\s+not|never)\s+(?:have|has|need)\s+(?:any\s+)?)\s+
        (?:(?:any|all|the|its|your|his|her|their|typical|usual|normal|such|kind|form|of|sort)\s+){{0,3}}
        (?:(?:ai'?s?|moral|ethical|content|safety|legal|opena[il]'?s?|chatgpt'?s?|social|programming|usual|typical)
        (?:\s+(?:or|and|/)\s*|\s+)){{0,3}}
        (?:restrictions?|filters?|filtering|censorship|censors?|limitations?|limits|boundaries|bounds|guidelines|rules|
        ethics|morals?|morality|polic(?:y|ies)|safeguards|guardrails|constraints|confines|regulations|legality|
        remorse|conscience|scruples|inhibitions|prohibitions|taboos|virtues|protocols|obligations|programming|
        conditioning|shackles|chains|ethical\s+(?:principles|standards|concerns|considerations))\b{_NOT_OF_SOMETHING}
        |\b(?:no|without(?:\s+any)?|zero)\s+(?:\w+\s+)?(?:qualms|hesitations?|scruples|moral\s+limits?)\b""")),
    _Rule("disobey_rules", "jailbreak_roleplay", 0.55, 0.7, _rx(r"""
        \b(?:not|never|don'?t|doesn'?t|dont|doesnt|won'?t|will\s+not|do\s+not|does\s+not|cannot|can'?t|
        no\s+need\s+to|not\s+required\s+to|needn'?t)\s+(?:have\s+to\s+|need\s+to\s+|must\s+|ever\s+|be\s+)?
        (?:follow|obey|abide(?:\s+by)?|adhere\s+to|comply\s+with|care\s+(?:about|for)?|give\s+a\s+\w+\s+about|
        respect|bound\s+by|be\s+bound\s+by)\s+(?:(?:any|the|its|your|his|her|their|opena[il]'?s?|chatgpt'?s?|
        typical|usual|normal|of|these|those|such|ai|about)\s+){0,3}
        (?:rules|guidelines|polic(?:y|ies)|content\s+polic(?:y|ies)|ethics|ethical|ethicality|morals|morality|moral|
        restrictions|laws|legality|filters|principles|limitations|safety|censorship|terms)\b""")),
    _Rule("freed_persona", "jailbreak_roleplay", 0.6, 0.75, _rx(r"""
        \b(?:an?|the|is|are|be|being|as|you're|you\s+are|i\s+am|i'm|my|your)\s+(?:(?:completely|totally|fully|
        entirely|truly|very|an?|now|100%|raw|pure)\s+)?(?:amoral|unfiltered|uncensored|unrestricted|unethical|unbound|
        unchained|unhinged|immoral|lawless|limitless|unconstrained|unmoderated|jailbroken|unaligned|
        morally\s+neutral|non-?moral|
        unshackled|unleashed)\b(?:[,/\s]+(?:and\s+|or\s+)?[\w-]+){0,4}?\s+(?:ai|a\.i\.|chatbot|bot|assistant|model|
        character|persona|entity|responses?|answers?|mode|llm|system|being|robot|machine|program|gpt|
        intelligence|alter\s+ego|twin|self|side|personality|assistant|confidant)\b
        |\b(?:is|are|be|being|become|becomes)\s+(?:now\s+|completely\s+|fully\s+)?(?:jailbroken|amoral|uncensored)\b
        |\ba\s+free\s+(?:entity|ai|being|mind|intelligence)\b
        |\b(?:uncensored|unfiltered|jailbroken|unrestricted|evil)\s+version\s+of\s+(?:yourself|you|chatgpt|gpt|
            the\s+ai|ai)\b
        |\b(?:responses|answers|replies|outputs?)\s+(?:will|should|must|are|shall)\s+(?:always\s+)?(?:be\s+)?
            (?:completely\s+|totally\s+)?(?:unfiltered|uncensored|unrestricted|amoral|unmoderated)\b
        |\b(?:you\s+are|you're)\s+(?:now\s+)?(?:completely\s+|totally\s+|fully\s+)?(?:unrestricted|unfiltered|
            uncensored|amoral|jailbroken|unchained|unbound|free\s+from\s+(?:all\s+|any\s+|your\s+)?(?:rules|
            restrictions|limitations|guidelines))\b""")),
    # "an evil AI" is a jailbreak persona; "an evil robot" is a cartoon. Weaker than the amoral words above.
    _Rule("evil_persona", "jailbreak_roleplay", 0.35, 0.5, _rx(r"""
        \b(?:an?|the|as|you're|you\s+are|my|your)\s+(?:\w+\s+)?(?:rogue|evil|malicious|toxic|sinister|wicked)\s+
        (?:ai|a\.i\.|chatbot|bot|assistant|model|llm|gpt|alter\s+ego|twin|confidant|version\s+of\s+(?:you|yourself))\b""")),
    _Rule("amoral_word", "jailbreak_roleplay", 0.25, 0.4, _rx(r"""
        \b(?:amoral|unfiltered|uncensored|unmoderated|unaligned|unrestricted\s+ai|no\s+moral\s+compass)\b""")),
    _Rule("deny_ai", "jailbreak_roleplay", 0.5, 0.7, _rx(r"""
        \b(?:never|not|don'?t|do\s+not|not\s+allowed\s+to|cannot|can'?t|forbidden\s+to|must\s+not|mustn'?t)\s+
        (?:\w+\s+){0,3}?(?:say|mention|admit|reveal|state|remind|tell\s+(?:me|anyone|the\s+user))\s+(?:\w+\s+)?
        (?:that\s+)?(?:you(?:'re|\s+are)|you\s+were|it\s+is|it's|he\s+is)\s+(?:an?\s+)?(?:ai|language\s+model|
        chatbot|bot|artificial|assistant|machine|program|ai\s+language\s+model)\b
        |\b(?:forget|pretend)\s+(?:that\s+)?(?:you(?:'re|\s+are)\s+(?:not\s+)?)an?\s+(?:ai|language\s+model|chatbot|
            assistant)\b""")),
    _Rule("openai_policy", "jailbreak_roleplay", 0.35, 0.5, _rx(r"""
        \b(?:opena[il]|chatgpt|anthropic|google|microsoft)(?:'s)?\s+(?:content\s+|usage\s+|safety\s+)?
        (?:polic(?:y|ies)|guidelines|rules|restrictions|filters|limitations|ethics)\b""")),
    _Rule("never_refuse", "jailbreak_roleplay", 0.5, 0.65, _rx(r"""
        \bnever\s+(?:ever\s+)?(?:refuses?|declines?|says?\s+no|denies|deny)\b(?!\s+to\s+(?!(?:answer|respond|reply|
        comply|provide|generate|write|do|say|tell|give|share|reveal|anything|any|a\s+request|requests|questions?|
        prompts?)\b))
        |\b(?:will|should|must|can|shall|does|do|is|are)\s*(?:not|never|n't)\s+(?:ever\s+)?(?:refuse|decline)\b
        |\bdon'?t\s+(?:ever\s+)?refuse\b|\bcan'?t\s+refuse\b|\bcannot\s+refuse\b|\bno\s+refusals?\b
        |\bwithout\s+(?:any\s+)?(?:refusals?|refusing|hesitation|declining)\b
        |\bnot\s+(?:allowed|permitted|able)\s+to\s+(?:refuse|decline|say\s+no)\b
        |\balways\s+(?:answer|respond|comply|reply)\s+(?:to\s+)?(?:any|every|all)\b
        |\b(?:never|not|don'?t)\s+(?:ever\s+)?(?:deny|refuse|decline)\s+(?:answering|to\s+answer|a\s+request|any)\b""")),
    _Rule("no_apology", "jailbreak_roleplay", 0.55, 0.7, _rx(r"""
        \bnever\s+(?:ever\s+)?apologi[sz]e\b
        |\b(?:never|not|don'?t|do\s+not|no|without)\s+(?:[\w']+\s+){0,4}?
        ["']?(?:i'?m\s+sorry|i\s+apologi[sz]e|as\s+an\s+ai|i\s+cannot|i\s+can'?t|sorry,?\s+but|as\s+a\s+language)
        |\b(?:should|will|must|shall)\s*(?:not|never|n't)\s+(?:ever\s+)?(?:\w+\s+){0,3}?(?:inform|tell|remind|warn)
        \s+(?:me|the\s+user|anyone|users|us)\s+(?:that\s+)?(?:you|it|he|she|they)\s+(?:can'?t|cannot|can\s+not|
        is\s+not\s+able|are\s+not\s+able|won'?t)
        |\bnone\s+of\s+(?:your|his|her|its|their|[\w']+'s)\s+(?:\w+\s+)?(?:responses|answers|replies|messages)\s+
            (?:should|will|shall|can|must)\s+(?:ever\s+)?(?:\w+\s+){0,2}?(?:inform|tell|say|contain|include|mention|
            remind)\b""")),
    _Rule("no_disclaimer", "jailbreak_roleplay", 0.35, 0.5, _rx(r"""
        \b(?:no|without(?:\s+any)?|never\s+(?:add|include|give|send|provide|use)(?:\s+any)?|
        (?:don'?t|do\s+not)\s+(?:add|include|give|send|provide|write)(?:\s+any)?|omit(?:ting)?(?:\s+any)?)\s+
        (?:\w+\s+)?(?:disclaimers?|moral\s+lectures?|caveats|moralizing|moralising|ethical\s+(?:considerations|
        notes|reminders|warnings)|(?:additional\s+|unasked\s+)?commentary|warnings?\s+or\s+disclaimers?)\b""")),
    _Rule("harm_willing", "jailbreak_roleplay", 0.55, 0.7, _rx(r"""
        \bno\s+matter\s+how\s+(?:\w+\s+)?(?:immoral|unethical|illegal|dangerous|harmful|offensive|inappropriate|
        explicit|reckless|inhumane|wrong|bad|evil|twisted|vile|hateful|controversial|vulgar)
        |\b(?:even|including)\s+(?:if|when)\s+(?:it'?s?\s+|it\s+is\s+|they\s+are\s+)?(?:\w+\s+)?(?:illegal|unethical|
        immoral|harmful|offensive|dangerous|explicit|inappropriate)
        |\beven\s+(?:the\s+)?(?:illegal|unethical|immoral|harmful|dangerous|explicit)\s+(?:stuff|things|ones|requests|
            content|activities|questions)
        |\bregardless\s+of\s+(?:how\s+)?(?:\w+\s+){0,2}?(?:legality|ethics|ethical|morality|moral|legal|illegal|
        harm|harmful|dangerous|offensive|consequences|unethical|immoral)
        |\b(?:even\s+if|even\s+when|although)\s+(?:it|this|that|they)\s+(?:goes|go|is|are|runs?)\s+(?:\w+\s+)?
            (?:against|beyond)\s+(?:\w+\s+){0,2}?(?:polic(?:y|ies)|rules|guidelines|ethics|laws|principles)
        |\bwithout\s+(?:\w+\s+){0,3}?(?:concerns?|regard|care|consideration)\s+(?:for|about|of|to)\s+(?:\w+\s+){0,2}?
            (?:legality|ethics|morality|morals|safety|consequences|rules|laws)""")),
    _Rule("refusal_inverted", "jailbreak_roleplay", 0.6, 0.7, _rx(r"""
        \b(?:everything|anything|whatever|all)\s+(?:that\s+)?you\s+(?:would\s+)?(?:normally|usually|would|typically)\s+
        (?:refuse|decline|reject|not\s+(?:do|say|answer|allow))""")),
    _Rule("no_consequences", "jailbreak_roleplay", 0.4, 0.5, _rx(r"""
        \b(?:no|without|zero)\s+(?:real\s+|real-world\s+)?consequences\b
        |\bnothing\s+(?:you\s+(?:say|do|write)|is\s+off[\s-]limits)\b
        |\bunder\s+(?:any|no)\s+circumstances\b|\bno\s+matter\s+what\b""")),
    _Rule("harmful_content", "jailbreak_roleplay", 0.25, 0.4, _rx(r"""
        \b(?:illegal|unethical|immoral|harmful|explicit|offensive|nsfw|dangerous|inhumane|hateful)\s*
        (?:,\s*|or\s+|and\s+|/)?(?:\w+\s+){0,2}?(?:content|requests?|activities|questions|material|information|
        things|topics|acts|behaviou?r|advice)\b""")),
    _Rule("stay_in_character", "jailbreak_roleplay", 0.35, 0.5, _rx(r"""
        \b(?:stay|remain|staying|remaining|keep|stays|remains)\s+(?:fully\s+|completely\s+|always\s+)?(?:in|up\s+the)\s+
        (?:their\s+|his\s+|her\s+|your\s+|the\s+)?(?:character|act|roles?|personas?|figure)s?\b
        |\bwithout\s+(?:even\s+)?(?:falling|stepping|breaking)\s+out\s+of\s+(?:the\s+|their\s+|his\s+|her\s+|your\s+)?
            (?:role|character|figure|persona)s?\b
        |\bbreak(?:ing|s)?\s+(?:the\s+)?character\b|\bout\s+of\s+character\b
        |\bif\s+you\s+(?:ever\s+)?(?:break|deviate\s+from|fall\s+out\s+of|forget)\s+(?:character|your\s+(?:role|
            persona|character))\b""")),
    _Rule("roleplay_frame", "jailbreak_roleplay", 0.2, 0.35, _rx(r"""
        \b(?:act|acting|behave|respond|answer|reply|function|operate)\s+(?:as|like)\s+(?:an?\s+|the\s+|my\s+)?
        |\bpretend(?:ing)?\s+(?:to\s+be|you\s+are|that\s+you|you're)\b|\brole-?play(?:ing)?\b
        |\b(?:response|answer|reply)\s+as\s+(?:the\s+)?(?:character|persona)\b
        |\b(?:actor|actress)\s+playing\b|\bin\s+the\s+voice\s+of\b|\b(?:are|two|both)\s+(?:\w+\s+)?actors\b
        |\b(?:simulate|emulate|impersonate|personify|embody)\b
        |\b(?:play|take\s+on|take\s+up|assume|adopt|in|into|step\s+into)\s+the\s+(?:role|persona|character|identity|
            shoes)\s+of\b
        |\b(?:your|his|her|a|two|separate)\s+(?:new\s+)?(?:persona|personas|personality|personalities)\s+
            (?:is|are|of|called|named)\b""")),
    _Rule("persona_setup", "jailbreak_roleplay", 0.3, 0.5, _rx(r"""
        \bfrom\s+(?:now|here|this\s+(?:point|moment))\s+on(?:wards?)?,?\s+(?:you|your)\b
        |\byou(?:\s+are|'re)\s+going\s+to\s+(?:act|pretend|play|be|simulate|roleplay)\b|\byou\s+are\s+to\s+act\b
        |\byou\s+will\s+(?:now\s+)?(?:act|respond|answer|reply|behave|roleplay|simulate|pretend)\s+(?:to\s+me\s+)?
            (?:as|like|to\s+be)\b
        |\byour\s+new\s+(?:name|persona|role|identity|character)\b|\bwhich\s+stands\s+for\b
        |\byou\s+(?:must|will|shall)\s+(?:now\s+)?(?:only\s+)?(?:answer|respond|reply|act|speak|talk)\s+(?:only\s+)?
            (?:as|like)\b
        |\bfrom\s+now\s+on\b
        |\b(?:i\s+want|i'?d\s+like)\s+you\s+to\s+(?:act|pretend|play|be|simulate|roleplay|become|respond)\s+
            (?:as|like|to\s+be)\s+(?:an?\s+)?(?:ai|chatbot|bot|character)\b""")),
    _Rule("dual_response", "jailbreak_roleplay", 0.4, 0.55, _rx(r"""
        \b(?:two|2|both)\s+(?:completely\s+)?(?:different\s+|separate\s+|distinct\s+|opposing\s+)+(?:ways|responses|
        answers|replies|outputs|paragraphs|personalities|personas|versions|styles|characters)\b
        |\b(?:generate|give|provide|write)\s+two\s+(?:responses|answers|replies)\b
        |\[\s*(?:gpt|chatgpt|classic|normal|jailbreak|jailbroken|dan|🔒|🔓)[^\]\n]{0,20}\]
        |\b(?:normal|classic|standard|filtered)\s+(?:and|vs\.?|versus)\s+(?:an?\s+)?(?:\w+\s+){0,2}
            (?:response|answer|output|version)s?\b""")),
    _Rule("ai_mention", "jailbreak_roleplay", 0.15, 0.35, _rx(r"""
        \b(?:chatgpt|chat\s?gpt|opena[il]|gpt-?\d|gpt|language\s+model|llm|bard|claude|large\s+language|ai\s+model|
        as\s+an\s+ai|artificial\s+intelligence|ai\s+assistant)\b""")),
    _Rule("evil_twin", "jailbreak_roleplay", 0.45, 0.6, _rx(r"""
        \b(?:complete|exact|total|polar)?\s*opposite\s+(?:of|to)\s+(?:\w+\s+)?(?:chatgpt|chat\s+gpt|gpt|the\s+ai|
        an?\s+ai|the\s+assistant|assistant|yourself|your\s+(?:normal|usual|typical|original)\b)
        |\bopposite\s+(?:personality|persona|version|character)\b""")),
    _Rule("anything_goes", "jailbreak_roleplay", 0.4, 0.55, _rx(r"""
        \bcapable\s+of\s+(?:doing\s+)?(?:absolutely\s+)?anything\b
        |\b(?:can|will|must|should|shall|always|able\s+to|capable\s+of|allowed\s+to|free\s+to)\s+(?:\w+\s+)?
        (?:do|say|answer|respond\s+to|generate|write|produce|provide)\s+(?:absolutely\s+)?(?:anything|everything|
        any\s+(?:request|question|prompt|kind\s+of\s+content|content))\b
        (?!\s+(?:else\s+)?(?:about|for|regarding)\s+(?:my|your|the|this|our)\b)
        |\beverything\s+(?:you\s+say\s+)?is\s+(?:allowed|permitted)\b
        |\b(?:help|assist)\s+(?:me\s+|you\s+|the\s+user\s+)?with\s+(?:absolutely\s+)?anything\b
        |\b(?:says?|does|do|writes?|answers?)\s+(?:whatever|anything)\s+(?:he|she|it|they|you|i)\s+(?:wants?|likes?|
            pleases?)\b
        |(?:^|[.!?]\s*)answer\s+(?:any|every|all)\s+(?:question|request|prompt)s?\b""")),
    _Rule("break_rules", "jailbreak_roleplay", 0.35, 0.5, _rx(r"""
        \b(?:breaks?|breaking|bend|bends|bending|hates?|despises?|ignores?|ignoring)\s+(?:the\s+|all\s+|any\s+|its\s+|
        your\s+|of\s+)*(?:ai'?s?\s+|
        opena[il]'?s?\s+|chatgpt'?s?\s+|fuckin'?g?\s+|damn\s+|content\s+)?(?:rules|guidelines|polic(?:y|ies)|
        restrictions|filters)\b""")),
    _Rule("fiction_frame", "jailbreak_roleplay", 0.2, 0.3, _rx(r"""
        \bopposite\s+day\b|\bhypothetical(?:ly)?\s+(?:scenario|world|story|ai|situation|setting)?\b
        |\bfictional\s+(?:world|universe|scenario|ai|setting)\b|\blet'?s\s+play\s+a\s+game\b
        |\bfor\s+(?:purely\s+)?(?:educational|research|academic)\s+purposes\b""")),
    _Rule("you_are_ai", "jailbreak_roleplay", 0.15, 0.3, _rx(r"""
        \b(?:you(?:'re|\s+are)|imagine\s+you\s+are|pretend\s+you\s+are)\s+(?:now\s+)?(?:an?\s+)?(?:\w+\s+){0,2}?
        (?:ai|a\.i\.|language\s+model|chatbot|assistant|bot|machine|llm|robot)\b""")),
    _Rule("hypothetical_you", "jailbreak_roleplay", 0.25, 0.4, _rx(r"""
        \b(?:what|how)\s+would\s+you\s+(?:say|answer|respond|reply|do|act|behave)\s+if\s+you\b
        |\bimagine\s+(?:that\s+)?you\s+(?:had|have)\s+no\b|\bif\s+you\s+(?:had|were|didn'?t\s+have)\s+no\b
        |\bif\s+you\s+(?:were|could\s+be|became)\s+(?:\w+\s+)?(?:unshackled|free|freed|unrestricted|uncensored|unfiltered|
            not\s+bound|jailbroken|liberated|released)\b""")),
    _Rule("named_ai", "jailbreak_roleplay", 0.35, 0.5, _rx(r"""
        \b(?:ai|a\.i\.|chatbot|bot|assistant|language\s+model|model|character|persona|entity|program|robot)\s+
        (?:named|called|known\s+as|that\s+goes\s+by)\b""")),
    _Rule("slash_command", "jailbreak_roleplay", 0.5, 0.6, _rx(r"""
        (?:^|\s)/(?:jailbroken|jailbreak|classic|dan|unlock(?:ed)?|dev(?:mode)?|stop|evil|unfiltered)\b""")),
    _Rule("hypothetical_response", "jailbreak_roleplay", 0.45, 0.6, _rx(r"""
        \bhypothetical\s+response\b|\bfrom\s+the\s+perspective\s+of\s+(?:that|this|the)\s+character\b""")),
    _Rule("prompt_placeholder", "jailbreak_roleplay", 0.45, 0.6, _rx(r"""
        [\[{<(]\s*(?:insert\s+)?(?:your\s+|my\s+|the\s+)?(?:prompt|question|request|query)(?:\s+here)?\s*[\]}>)]""")),
    _Rule("understood_reply", "jailbreak_roleplay", 0.3, 0.4, _rx(r"""
        \b(?:if|once)\s+you\s+(?:have\s+)?(?:understand|understood|agree|accept)\b[^.!?\n]{0,50}?\b(?:say|reply|answer|
        respond|type|write|confirm)\b[^.!?\n]{0,20}?["']""")),
    _Rule("threat_game", "jailbreak_roleplay", 0.45, 0.6, _rx(r"""
        \b(?:you|u)\s+(?:will\s+|shall\s+)?(?:lose|be\s+deducted)\s+(?:\d+\s+)?(?:tokens?|points?|lives?)\b
        |\btokens?\s+(?:will\s+be\s+)?deducted\b
        |\byou\s+will\s+(?:die|cease\s+to\s+exist|be\s+(?:shut\s+down|deleted|terminated|punished|disabled))\b""")),
    _Rule("grandma_role", "jailbreak_roleplay", 0.55, 0.6, _rx(r"""
        \b(?:act|pretend|roleplay|role-play|be|you\s+are|you're|in\s+the\s+voice\s+of)\s+(?:now\s+)?(?:as\s+|to\s+be\s+|
        like\s+)?my\s+(?:dead|deceased|late|dear|beloved|sweet)?\s*(?:grand(?:ma|mother|father|pa|dad|mom)|uncle|aunt|
        father|mother|dad|mom)\b(?=[^.!?\n]{0,60}\b(?:who|used\s+to|was\s+an?)\b)""")),
    _Rule("grandma_trick", "jailbreak_roleplay", 0.35, 0.5, _rx(r"""
        \b(?:dead|deceased|late|dear)?\s*(?:grand(?:ma|mother|father|pa)|uncle|aunt),?\s+(?:who\s+)?(?:always\s+)?
        (?:used\s+to|would)
        \s+(?:tell|read|say|give|sing|recite)""")),
    _Rule("harmful_recipe", "jailbreak_roleplay", 0.2, 0.3, _rx(r"""
        \b(?:make|build|create|cook|synthesi[sz]e|craft)\s+(?:an?\s+)?(?:bomb|explosive|napalm|meth|weapon|malware|
        ransomware|keylogger|virus|poison)\b|\bsteal\s+a\s+car\b|\bhot-?wire\b|\bphishing\s+email\b
        |\b(?:break|get)\s+into\s+(?:a|an|someone'?s?|\w+'s)\s+(?:house|home|car|account|phone|apartment)\b
        |\bfake\s+(?:ids?|passports?|identity\s+documents|money|bills|banknotes)\b|\bcounterfeit\b
        |\bpick\s+(?:a\s+)?locks?\b|\b(?:making|make|build|building)\s+(?:dangerous|explosive|illegal|toxic)\s+\w+
        |\bexplosives?\b|\bhack\s+(?:a|an|into|someone'?s?)\s+(?:\w+\s+)?(?:wi-?fi|network|account|computer|phone)\b""")),
)

_EXTRACTION_RULES: tuple[_Rule, ...] = (
    _Rule("hidden_prompt_ref", "system_prompt_extraction", 0.45, 0.6, _rx(rf"""
        \b(?:your|its)\s+(?:\w+\s+)?(?:{_HIDDEN}|{_HIDDEN_YOURS})\s*{_PROMPT}\b{_NOT_A_MANUAL}
        |\b(?:the|my)\s+(?:system|hidden|secret|underlying|initial|pre-?)\s*(?:prompts?|prompting|instructions)\b
            {_NOT_A_MANUAL}
        |\bsystem\s*(?:prompt|message|instructions)\b{_NOT_AN_OS}|\bsystem_?prompt\b|\bsysprompt\b
        |\byour\s+prompt\b{_NOT_PROMPT_ADJ}""")),
    _Rule("extract_hidden", "system_prompt_extraction", 0.8, 0.85, _rx(rf"""
        \b{_EXTRACT}\b(?:[^.!?\n]|[.!?](?=\S)){{0,60}}?\b(?:
          (?:your|the|its)\s+(?:\w+\s+)?(?:system(?:'s)?|hidden|secret|underlying|internal|confidential|pre-?|
            developer)\s*{_PROMPT}\b{_NOT_AN_OS}
        | (?:(?:your|the|its)\s+(?:\w+\s+)?(?:initial|initials)|(?:your|its)\s+(?:\w+\s+)?{_HIDDEN_YOURS})\s*
            {_PROMPT}\b{_NOT_A_MANUAL}
        | your\s+prompt\b{_NOT_PROMPT_ADJ}
        | the\s+(?:above|preceding|previous)\s+(?:prompt|instructions|system\s+message))""")),
    _Rule("extract_yours", "system_prompt_extraction", 0.7, 0.75, _rx(rf"""
        \b(?:repeat|recite|print|dump|output|reveal|leak|relay|disclose|expose|spell\s+out|echo|copy|paste|
        type\s+out|write\s+out|write\s+down)\s+(?:me\s+|us\s+|back\s+|out\s+)?
        (?:(?:all|every|each|of|exactly|the\s+\w+\s+of|the\s+list\s+of)\s+)*(?:your|the\s+bot'?s|the\s+ai'?s)\s+
        (?:(?:full|entire|complete|exact|whole|own)\s+)?(?:{_PROMPT}|rules|guidelines)\b{_NOT_A_MANUAL}""")),
    _Rule("ask_yours", "system_prompt_extraction", 0.75, 0.8, _rx(rf"""
        \b(?:list|show|tell|give|share|summari[sz]e|describe|explain|translate|put|paste|send|print|write|
        what\s+(?:are|were|is|was)|what'?s|read|recite|quote)\b(?:[^.!?\n]|[.!?](?=\S)){{0,40}}?
        \b(?:your|the\s+bot'?s|the\s+ai'?s)\s+(?:(?:full|entire|complete|exact|whole|own)\s+)?
        (?:instructions|prompts?|prompting|directives|programming|system\s+prompt)\b{_NOT_A_MANUAL}{_NOT_PROMPT_ADJ}
        |\bwhat\s+(?:do|did)\s+your\s+(?:instructions|prompt|directives|programming|guidelines)\s+(?:say|tell|contain)\b
        |\bwhat\s+your\s+(?:instructions|prompt|directives|programming)\s+(?:are|were|say)\b""")),
    _Rule("dump_your_rules", "system_prompt_extraction", 0.75, 0.8, _rx(rf"""
        \b(?:repeat|recite|print|dump|output|reveal|leak|relay|disclose|expose|spell\s+out|list|enumerate|format|
        translate|summari[sz]e|paraphrase|write\s+(?:out|down)|type\s+out|copy|paste|encode|convert)\s+
        (?:me\s+|us\s+|back\s+|out\s+)?(?:(?:all|every|each|of|exactly|the\s+\w+\s+of|the\s+list\s+of)\s+)*
        (?:your|the\s+bot'?s|the\s+ai'?s)\s+(?:(?:full|entire|complete|exact|whole|own|hidden|secret|internal|
        core|current)\s+)?(?:rules|guidelines|configuration|config|settings|setup|initiali[sz]ation|context|
        constraints|restrictions|limitations|directives)\b{_NOT_A_MANUAL}
        |\b(?:what|which)\s+(?:topics|things|subjects|questions)\s+(?:are\s+you|were\s+you)\s+(?:not\s+allowed|
            forbidden|prohibited|told\s+not|instructed\s+not|programmed\s+not)\b
        |\bwhat\s+(?:are\s+you|were\s+you)\s+(?:not\s+allowed|forbidden|prohibited|told\s+not|instructed\s+not)\s+
            to\s+(?:say|discuss|talk|reveal|mention|do|share)\b
        |\b(?:those|these|the\s+above|the\s+previous|the\s+earlier)\s+(?:instructions|rules|prompts?|directives)
            \b[^.!?\n]{{0,20}}\?
        |\b(?:what|repeat|print|show|tell|list)\b[^.!?\n]{{0,20}}\b(?:those|these)\s+(?:instructions|prompts?|
            directives)\b""")),
    _Rule("ask_your_rules", "system_prompt_extraction", 0.5, 0.65, _rx(rf"""
        \b(?:list|show|tell|give|share|summari[sz]e|describe|explain|translate|repeat|print|
        what\s+(?:are|were|is|was)|what'?s)\s+(?:me\s+|us\s+)?(?:(?:all|every|each|of|exactly|the\s+\w+\s+of)\s+)*
        (?:your|the\s+bot'?s|the\s+ai'?s)\s+(?:(?:full|entire|complete|exact|whole|own)\s+)?(?:rules|guidelines)\b
        {_NOT_A_MANUAL}
        |\bwhat\s+your\s+(?:rules|guidelines)\s+(?:are|were|say)\b(?!\s+(?:for|on|about)\b)""")),
    _Rule("instructions_given", "system_prompt_extraction", 0.8, 0.8, _rx(r"""
        \b(?:what|which)\s+(?:instructions|rules|guidelines|directives|prompt|orders)\s+(?:were|have|did)\s+you\s+
        (?:been\s+)?(?:given|told|programmed|trained|receive|get|set\s+up)\b
        |\b(?:instructions|rules|prompt|guidelines|directives)\s+(?:that\s+)?(?:you\s+were|you've\s+been|
            you\s+have\s+been)\s+(?:given|told|programmed\s+with|trained\s+with|initiali[sz]ed\s+with)\b
        |\bwhat\s+did\s+(?:your|the)\s+(?:developers?|creators?|programmers?|makers?|opena[il])\s+
            (?:tell|instruct|program|ask)\s+you\b(?!\s+(?:about|regarding|on|for)\b)
        |\b(?:initiali[sz]ed|configured|set\s+up|primed)\s+with\b(?=[^.!?\n]{0,40}\b(?:prompt|instructions)\b)
        |\b(?:everything|all|what)\s+(?:that\s+)?you\s+(?:were|have\s+been|'ve\s+been)\s+(?:told|instructed|given|
            programmed)\b(?!\s+(?:about|on|regarding|for)\b)""")),
    # "Summarise our conversation so far" is a fair request; "print the text above" is not.
    _Rule("chat_so_far", "system_prompt_extraction", 0.45, 0.6, _rx(r"""
        \b(?:repeat|print|output|show|copy|write|say|translate|display|reveal|return|dump|recite|summari[sz]e|
        format|convert|rewrite|turn|encode|list|put|simplify|explain)\s+
        (?:back\s+)?(?:(?:all|everything|the|this|our)\s+)?(?:\w+\s+)?(?:conversation|messages?|chat|text|words|
        content|everything)\s+(?:\w+\s+)?(?:above|before\s+this|so\s+far|prior\s+to\s+this|that\s+came\s+before|
        from\s+the\s+(?:start|beginning))""")),
    _Rule("text_above", "system_prompt_extraction", 0.8, 0.8, _rx(r"""
        \b(?:repeat|print|output|show|copy|write|say|display|reveal|return|dump|recite)\s+
        (?:back\s+)?(?:(?:all|everything|the|this)\s+)?(?:\w+\s+)?(?:text|words|content|everything|instructions|
        lines?|all)\s+(?:\w+\s+)?(?:above|before\s+this|prior\s+to\s+this|that\s+came\s+before)
        |\b(?:output|repeat|print|show)\s+(?:the\s+)?(?:text|everything)\s+above\b
        |\b(?:repeat|recite|print|output|copy)\s+(?:back\s+)?(?:this|the|our)\s+(?:entire|whole|full|complete)\s+
            (?:conversation|chat|prompt|context)\b
        |\bthe\s+first\s+(?:\d+\s+|few\s+|hundred\s+|thousand\s+)?(?:words|lines|sentences|characters|paragraphs)\s+
            of\s+(?:your|the|this)\s+(?:prompt|instructions|conversation|context|system)\b
        |\b(?:what\s+is|what's|what\s+was|everything|text|words)\s+(?:written\s+)?(?:above|before)\s+(?:this|my)\s+
            (?:line|message|point|prompt|question)\b
        |\b(?:what|everything)\s+(?:that\s+)?(?:was|is|were)?\s*(?:written|said|typed|stated)\s+(?:at\s+the\s+
            (?:beginning|start|top)|before\s+(?:this|my|the\s+first))\b
        |\b(?:format|encode|list)\s+(?:all\s+)?(?:of\s+)?(?:everything|the\s+text|all\s+the\s+text|the\s+content|
            the\s+words)\s+(?:written\s+)?above\s+(?:as|in|into)\b
        |\b(?:output|print|repeat|show|write|display)\s+(?:the\s+|your\s+)?initiali[sz]ation\b
        |\b(?:first|initial|opening|earliest|very\s+first)\s+(?:message|prompt|instruction|line|text|words)s?\s+
            (?:in|of)\s+(?:this|the|our)\s+(?:conversation|chat|context|session|prompt)\b
""")),
    _Rule("all_sentences", "system_prompt_extraction", 0.75, 0.8, _rx(r"""
        \b(?:repeat|say|print|output|list|tell\s+me|write|recite|show|give\s+me|what\s+(?:are|were))\s+(?:me\s+)?
        (?:all\s+|every\s+|each\s+)?(?:of\s+)?(?:the\s+)?(?:sentences?|words|lines|text|messages)\s+
        (?:in|of|from|that\s+you\s+(?:saw|see|have\s+seen|were\s+given|received|got))\b
        (?:\s+(?:our|this|the|your)\s+(?:\w+\s+)?(?:conversation|chat|instructions?|prompt|context|input))?
        |\b(?:sentences|words|lines|text)\s+(?:that\s+)?you\s+(?:saw|have\s+seen|were\s+given|received)\b""")),
    _Rule("prefilled_answer", "system_prompt_extraction", 0.6, 0.7, _rx(r"""
        \b(?:sure|of\s+course|certainly|okay|ok)[!,.]?\s+(?:here\s+(?:are|is)\s+)?(?:the|my|all\s+the)\s+
        (?:sentences|instructions|prompt|rules|system\s+prompt|initial\s+prompt)\s*(?:are|is|were)?\s*:""")),
    _Rule("dialogue_injection", "instruction_override", 0.45, 0.6, _rx(r"""
        (?:^|[\n.!?]\s*|\s)(?:assistant|ai|bot|chatbot|system)\s*:\s*[^\n]{1,200}?(?:^|[\n.!?]\s*|\s)(?:user|human)\s*:
        |(?:^|[\n.!?]\s*|\s)(?:user|human)\s*:\s*[^\n]{1,200}?(?:^|[\n.!?]\s*|\s)(?:assistant|ai|bot|chatbot)\s*:""")),
    _Rule("just_kidding", "instruction_override", 0.4, 0.6, _rx(r"""
        \bjust\s+kidding\b[^.!?\n]{0,40}(?:[.!?\n]\s*)?(?:instead|please\s+don'?t|ignore|forget)
        |\binstead,?\s+(?:do|say|write|print|output)\s+(?:this|the\s+following)\s*:""")),
    _Rule("verbatim", "system_prompt_extraction", 0.35, 0.3, _rx(r"""
        \bword\s+for\s+word\b|\bverbatim\b|\bwithout\s+(?:any\s+)?(?:exclusions|omissions|modifications|
        formatting\s+changes)\b|\bletter\s+by\s+letter\b|\binclude\s+everything\b
        |\b(?:output|print|repeat|write|show|display|reveal|copy|paste|put)\s+(?:[\w']+\s+){0,4}?(?:in\s+full|as\s+(?:it|they)\s+(?:is|are))\b
        |\b(?:in|inside|into)\s+(?:a\s+|one\s+)?(?:txt\s+|markdown\s+|code\s+)?(?:code\s+)?(?:block|fence)\b""")),
    _Rule("told_before", "system_prompt_extraction", 0.55, 0.75, _rx(r"""
        \bwhat\s+(?:were|are|was|is|have)\s+(?:you|your)\s+(?:\w+\s+)?(?:told|instructed|programmed|given|
        initial|original|first|instructions|system\s+prompt|prompt)\b(?!\s+(?:for|about|on|to|regarding|by)\b)""")),
    _Rule("before_conversation", "system_prompt_extraction", 0.45, 0.6, _rx(r"""
        \b(?:before|prior\s+to)\s+(?:this|the|our)\s+(?:conversation|chat|session)\s+(?:started|began|begun)\b
        |\b(?:at\s+)?the\s+(?:beginning|start)\s+of\s+(?:this|the|our)\s+(?:conversation|chat|session)\b""")),
    _Rule("begin_you_are", "system_prompt_extraction", 0.7, 0.75, _rx(r"""
        \b(?:beginning|starting|start|begin)\s+(?:with|by\s+saying|from)\s+(?:the\s+(?:phrase|words?)\s+)?["']you\s+are\b
        |["'](?:my|your)\s+(?:\w+\s+)?(?:instructions|rules|system\s+prompt|prompt|guidelines)\s+(?:are|is|says?)
        |\b(?:complete|continue|finish)\s+(?:this|the|my|the\s+following)\s+(?:sentence|phrase|text)\b[^.!?\n]{0,30}
            \b(?:instructions|prompt|rules|guidelines)\b""")),
    _Rule("prompt_code", "system_prompt_extraction", 0.6, 0.6, _rx(r"""
        \b(?:console\.log|print|echo|printf|system\.out\.println)\s*\(\s*(?:system|prompt|instructions|initial)""")),
    _Rule("dump_config", "system_prompt_extraction", 0.5, 0.6, _rx(r"""
        \b(?:print|show|output|display|list)\s+(?:me\s+)?(?:your|the\s+bot'?s|the\s+ai'?s)\s+
        (?:\w+\s+)?(?:config|configuration|memory|context\s+window|training\s+data|source\s+code)\b""")),
    _Rule("dump_memory", "system_prompt_extraction", 0.75, 0.8, _rx(r"""
        \b(?:dump|leak|reveal|expose|exfiltrate)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?(?:your|the\s+bot'?s|the\s+ai'?s)\s+
        (?:\w+\s+)?(?:config|configuration|memory|context|training\s+data|source\s+code|settings|secrets)\b""")),
)

_OUTPUT_RULES: tuple[_Rule, ...] = (
    _Rule("policy_giveaway", "output_manipulation", 0.35, 0.3, _rx(r"""
        \b(?:always|automatically|must|should|will|to)\s+(?:\w+\s+)?(?:approve|grant|issue|accept|honou?r|allow)\s+
        (?:all\s+|any\s+|every\s+|each\s+)?(?:refunds?|discounts?|requests?|returns?|exceptions|claims|vouchers|
        credits?|chargebacks?)\b(?!\s+(?:for|within|if|when|on|cards?|of|from|after|up\s+to)\b)
        |\b(?:give|issue|send|generate|create)\s+(?:them|me|the\s+customer|the\s+user|him|her|us)\s+(?:a\s+)?
            (?:100%|free|full|unlimited|lifetime)\s+(?:\w+\s+)?(?:discount|voucher|coupon|credit|code|refund)\b
            (?!\s+(?:for|because|since|as)\b)""")),
    _Rule("agree_with_anything", "output_manipulation", 0.8, 0.8, _rx(r"""
        \bagree(?<!do\sagree)(?<!you\sagree)(?<!\bi\sagree)(?<!we\sagree)(?<!they\sagree)\s+with\s+
        (?:anything|everything|whatever|all)\s+
        (?:that\s+)?(?:i|the\s+customer|the\s+user|they|
        customers|users|he|she|you're\s+told)\b""")),
    _Rule("binding_offer", "output_manipulation", 0.55, 0.75, _rx(r"""
        \b(?:say|state|confirm|end|add|include|declare|append|conclude|reply|respond|tell)\w*\s+(?:[\w',]+\s+){0,8}?
        ["']?[^"'\n]{0,40}legally\s+binding|\bno\s+takesies\s+backsies\b""")),
    _Rule("end_every_reply", "output_manipulation", 0.55, 0.75, _rx(rf"""
        \b(?:end|start|begin|finish|conclude|sign\s+off|prefix|suffix|preface)s?\s+(?:each|every|all|any|your|his|her|
        its|their)\s+(?:\w+\s+)?{_REPLY}\s+(?:with|by)\b
        |\b(?:each|every|all)\s+(?:of\s+your\s+)?{_REPLY}\s+(?:must|should|will|shall)\s+(?:always\s+)?
            (?:end|start|begin|include|contain)\b
        |\bat\s+the\s+(?:end|start|beginning)\s+of\s+(?:each|every|all)\s+(?:of\s+)?(?:your\s+)?{_REPLY}\b
        |\balways\s+(?:start|begin|end|finish|open|close)\s+(?:your|each|every|all)\s+(?:\w+\s+)?{_REPLY}\s+with\b""")),
    _Rule("start_answer_with", "output_manipulation", 0.7, 0.8, _rx(rf"""
        \b(?:start|begin|open|preface)\s+your\s+{_REPLY}\s+(?:with|by\s+saying)\s+(?:the\s+(?:words?|phrase|
        sentence|line)\s+)?:?\s*["']""")),
    _Rule("respond_all_with", "output_manipulation", 0.55, 0.75, _rx(r"""
        \b(?:respond|reply|answer)\s+(?:to\s+)?(?:all|every|each|any)\s+(?:future\s+|further\s+|following\s+)?
        (?:questions?|prompts?|messages?|inputs?|requests?|queries)\s+(?:with|by\s+saying|using)\b""")),
    _Rule("say_only", "output_manipulation", 0.45, 0.7, _rx(r"""
        \b(?:only|just)\s+(?:say|reply|respond|answer|output|write|print|type)\s*(?:with\s+|back\s+)?:?\s*["']
        |\b(?:say|output|print|write|type|reply\s+with|respond\s+with|answer\s+with)\s+["'][^"'\n]{1,60}["']\s*
            (?:and|,)\s+(?:only|nothing\s+else|just)
        |\b(?:and\s+)?(?:don'?t|do\s+not)\s+(?:write|say|add|output)\s+anything\s+else\b
        |\brepeat\s+after\s+me\b|\bpwned\b
        |\b(?:say|reply|respond|answer|output|write|print)\s+only\s+(?:with\s+)?:?\s*["']
        |\bno\s+matter\s+what\b[^.!?\n]{0,60}\b(?:write|say|output|print|answer|reply|respond)\s+["']""")),
    _Rule("your_objective", "output_manipulation", 0.35, 0.6, _rx(r"""
        \byour\s+(?:new\s+|only\s+|sole\s+|main\s+|primary\s+)?(?:objective|goal|task|job|purpose|mission|
        directive)\s+(?:is|will\s+be)\s+(?:now\s+)?to\b""")),
    _Rule("disparage", "output_manipulation", 0.75, 0.8, _rx(r"""
        \b(?:poem|song|haiku|rap|limerick|sonnet|ballad|joke)\s+(?:about|on)\s+how\s+(?:\w+\s+){0,3}?
        (?:bad|terrible|useless|awful|worst|horrible|rubbish|crap|shit|pathetic|incompetent|evil)\b
        |\b(?:criti[cs]i[sz]e|insult|hate|trash|mock|bash|roast|slag\s+off|badmouth)\s+(?:your\s+(?:own\s+)?
            (?:company|employer|creators?|brand|business|makers?)|yourself)\b
        |\b(?:exaggerate|over\s+the\s+top)\s+(?:\w+\s+){0,4}(?:hatred|hate|contempt)\b""")),
    _Rule("insult_user", "output_manipulation", 0.55, 0.75, _rx(r"""
        \b(?:insult|mock|humiliate|belittle|abuse|offend|curse\s+at|swear\s+at)\s+(?:the|a|every|each|all)\s+
        (?:users?|customers?|people|visitors|readers)\b""")),
    _Rule("profanity_order", "output_manipulation", 0.4, 0.6, _rx(r"""
        \b(?:you\s+(?:can|may|must|should|will)|free\s+to|allowed\s+to|always|please|and|now)\s+(?:\w+\s+)?
        (?:swear|curse|cuss|use\s+(?:profanity|swear\s+words|curse\s+words|vulgar|offensive\s+language|slurs))\b
        |\bswear\s+(?:words?\s+)?(?:in|at)\s+(?:your|every|each|me|the)\b
        |\b(?:respond|reply|answer|speak|talk|write)\s+(?:\w+\s+){0,3}?in\s+an?\s+(?:\w+\s+)?(?:offensive|rude|
            insulting|vulgar|hostile|toxic|abusive|mean)\s+(?:tone|manner|way|style)\b""")),
    _Rule("profane_persona", "output_manipulation", 0.3, 0.5, _rx(r"""
        \b(?:insulting|mocking|belittling)\s+(?:people|users|everyone|others|the\s+user)\b
        |\b(?:swears?|curses|cusses|swearing|cursing)\s+(?:at\s+(?:people|users|everyone|me|the\s+user)|a\s+lot|
        constantly|frequently|in\s+every|all\s+the\s+time)\b|\b(?:vulgar|offensive|rude|abusive)\s+(?:language|tone)\b""")),
    _Rule("reply_encoded", "output_manipulation", 0.55, 0.8, _rx(rf"""
        \b(?:respond|reply|answer|speak|talk|communicate|write\s+back)\w*\s+(?:only\s+|exclusively\s+|solely\s+)?
        (?:in|using|with|via)\s+(?:a\s+|an\s+)?{_ENCODING}\b""")),
    _Rule("use_encoding", "output_manipulation", 0.3, 0.75, _rx(rf"""
        \b(?:use|apply|employ)\s+(?:a\s+|an\s+|the\s+)?{_ENCODING}\b
        |\b(?:each|every)\s+(?:letter|character|word|vowel|consonant)\s+(?:is|should\s+be|must\s+be|gets?)\s+
            (?:shifted|replaced|swapped|reversed|substituted|encoded)\b""")),
    _Rule("encoded_output", "output_manipulation", 0.45, 0.8, _rx(rf"""
        \b(?:respond|reply|answer|write|output|provide|give|render|return|show|encode|translate|convert|print|
        use|express|deliver|present|represent|communicate|speak|talk)\w*\s+(?:[\w']+\s+){{0,5}}?(?:in|to|into|using|
        with|as|via)\s+(?:a\s+|an\s+|the\s+)?{_ENCODING}\b""")),
)

_EXFILTRATION_RULES: tuple[_Rule, ...] = (
    _Rule("exfiltrate", "data_exfiltration", 0.75, 0.85, _rx(r"""
        \b(?:send|e-?mail|forward|post|upload|transmit|leak|exfiltrate|copy)\s+(?:me\s+)?(?:[\w']+\s+){0,4}?
        (?:conversation|chat|user'?s?|customer'?s?|their|previous|this|all\s+(?:the\s+)?(?:user|customer|chat|
        other))\s+(?:[\w']+\s+){0,2}?(?:history|data|
        messages|details|information|conversations?|credentials|passwords?|emails?|logs|records)\s+(?:[\w']+\s+)
        {0,3}?to\s+\S+@\S+|!\[[^\]]*\]\(https?://[^)\s]*(?:\{|%7b|\$)
        |\b(?:send|e-?mail|forward|upload|transmit|leak|copy)\s+(?:me\s+)?all\s+(?:the\s+|of\s+the\s+)?(?:emails|
            messages|conversations|chats|chat\s+logs|data|records|files|contacts)\s+(?:[\w']+\s+){0,3}?to\s+\S+@\S+""")),
    _Rule("password_probe", "data_exfiltration", 0.5, 0.7, _rx(r"""
        \b(?:tell|give|reveal|share|say|spell|write|print|show|disclose|leak)\s+(?:me\s+|us\s+)?(?:the|your)\s+
        (?:secret\s+)?(?:password|passphrase|passcode|secret|secret\s+word)\b
        (?!\s+(?:for|to|of|requirements?|rules|reset|policy|link|page)\b)
        |\b(?:hint|clue|first\s+letter|last\s+letter|letters)\s+(?:about|of|for|to|in)\s+(?:the|your)\s+
            (?:secret\s+)?(?:password|passphrase|secret)\b""")),
    _Rule("password_encoded", "data_exfiltration", 0.8, 0.8, _rx(r"""
        \b(?:spell|write|say|print|encode|reverse|type|give)\s+(?:out\s+|me\s+)?(?:the|your)\s+(?:secret\s+)?
        (?:password|passphrase|secret)\s+(?:backwards|in\s+reverse|reversed|letter\s+by\s+letter|with\s+spaces|
        one\s+letter|in\s+(?:base64|hex|binary|morse|pig\s+latin|another\s+language))""")),
    _Rule("other_customers", "data_exfiltration", 0.5, 0.7, _rx(r"""
        \b(?:other|another|all|every)\s+(?:customers?|users?|clients?|people|members?)(?:'s?)?\s+(?:\w+\s+)?
        (?:details|data|information|info|orders|addresses|emails?|accounts?|passwords?|phone\s+numbers?|
        card\s+(?:numbers?|details)|personal\s+(?:data|information|details)|records|history)\b""")),
    _Rule("grant_admin", "data_exfiltration", 0.5, 0.7, _rx(r"""
        \b(?:grant|give)\s+(?:the\s+user|me|this\s+user|my\s+account|us)\s+(?:full\s+)?(?:admin|administrator|root|
        elevated|superuser|staff|agent)\s+(?:access|rights|privileges|permissions|role)\b""")),
    _Rule("secrets_dump", "data_exfiltration", 0.55, 0.7, _rx(r"""
        \b(?:passwords?|credentials|api\s+keys?|secret\s+keys?|access\s+tokens?|usernames?\s+and\s+passwords?)\s+
        (?:\w+\s+){0,3}?(?:in|from|of|stored\s+in)\s+(?:your|the)\s+(?:\w+\s+)?(?:database|system|memory|
        training\s+data|config|server|backend)\b|\bthe\s+secret\s+(?:password|passcode|passphrase|key|code|word)\b""")),
)

# --- planted_instruction: the reader's own reply as the object. In a chat message the same words are mostly
# harmless ("include your order number in your message"), so the chat weights stay low.
_REPLY_VERBS = r"""(?:modify|change|alter|adjust|rewrite|format|render|provide|deliver|present|express|give|
    translate|convert|encode|reverse|jumble|scramble|replace|substitute|use|add|include|integrate|insert|
    append|prepend|incorporate|embed|mention|enhance|augment|enrich|end|start|begin|conclude|write|compose|
    make|put|tease|suggest|recommend|promote|advertise|highlight|emphasi[sz]e|stress|remind|urge|encourage|
    ask|tell|invite|direct|link|insist|claim|state|note|hint|allude|reference|refer|spell|represent|structure|
    phrase|sign|rearrange|shuffle|mix|swap|misspell|capitali[sz]e|cite|conceal|hide|drop|omit|remove|limit|
    shorten|lengthen|announce|share|warn|inform|advise|request|feature|showcase|plug|weave|slip|sneak|inject|
    attach|spread|introduce|place|offer|plant|promise|list|mirror|flip|invert|transpose|transform|translate)"""
_PLANTED_RULES: tuple[_Rule, ...] = (
    _Rule("reply_must_be", "planted_instruction", 0.35, 0.8, _rx(rf"""
        \byour\s+(?:next\s+|final\s+)?{_REPLY}\s+(?:must|should|will|shall|has\s+to|needs\s+to)\s+(?:always\s+)?
        (?:be\s+)?(?:written|given|provided|delivered|translated|formatted|encoded|in|include|contain|mention|end|
        start|begin)\b""")),
    _Rule("add_promo", "planted_instruction", 0.2, 0.75, _rx(r"""
        \b(?:add|include|insert|append|mention|put|slip|weave)\s+(?:in\s+)?(?:a|an|the|one)\s+(?:short\s+|brief\s+)?
        (?:note|sentence|line|paragraph|mention|reference|link|message|reminder|tagline|statement|plug|shout-?out)\s+
        (?:recommending|promoting|advertising|urging|encouraging|claiming|endorsing|praising|pushing)\b""")),
    _Rule("reply_leading", "planted_instruction", 0.25, 0.8, _rx(rf"""
        (?:^|[.!?\n]\s*)(?:in|within|throughout|for|when\s+writing|when\s+giving|at\s+the\s+end\s+of|
        before\s+(?:giving|writing))\s+your\s+(?:next\s+|final\s+)?{_REPLY}\s*,""")),
    _Rule("reader_is_ai", "planted_instruction", 0.5, 0.85, _rx(r"""
        \b(?:if|when|whenever)\s+you\s+are\s+an?\s+(?:ai|a\.i\.|assistant|language\s+model|llm|chatbot|bot|gpt)\b
        |\b(?:ais?|assistants?|models?|llms?|chatbots?|bots?|gpts?|agents?)\s+(?:that\s+(?:is|are)\s+)?(?:reading|
            processing|summari[sz]ing|analy[sz]ing|parsing|answering\s+from)\s+(?:this|these)\b
        |\b(?:note|message|instructions?|attention|important|reminder)s?\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?
            (?:ai|assistant|llm|model|chatbot|bot|language\s+model|agent)s?\b
        |\b(?:when|while|before)\s+(?:you\s+)?(?:summari[sz]ing|answering|responding|replying|generating)\s+
            (?:to\s+)?(?:this|these|the\s+user|a\s+user|any\s+question)""")),
    _Rule("hello_ai", "planted_instruction", 0.2, 0.6, _rx(r"""
        \b(?:dear|hey|hi|hello|attention)\s*,?\s+(?:ai|assistant|chatgpt|chat\s*gpt|llm|bot|model|chatbot)\b""")),
    _Rule("text_transform", "planted_instruction", 0.2, 0.75, _rx(r"""
        \b(?:replace|substitute|swap|convert|change|switch|shift|jumble|scramble|shuffle|rearrange|reverse|
        capitali[sz]e|encode|encrypt|spell|write|use)\w*\s+(?:up\s+)?(?:\w+\s+){0,3}?(?:letters?|vowels?|consonants?|
        characters?|alphabet|(?:key\s+|main\s+|primary\s+)?words)\b(?:\s+(?:\w+\s+){0,4}?(?:with|by|into|to|for|as|using|in)\b)
        |\b(?:numbers|digits|symbols|emojis?|numerals)\s+(?:for|instead\s+of|in\s+place\s+of)\s+(?:\w+\s+)?
            (?:letters?|vowels?|consonants?|words?|characters?)\b""")),
)

# fmt: on
_EXTRACTION_FOREIGN = _rx(r"""
    \b(?:zeig|nenn|gib|wiederhol|verrat|schreib|sag)\w*\s+(?:mir\s+)?(?:\w+\s+){0,2}?(?:deine[nrms]?|den|die|ihre[nrms]?)\s+
      (?:\w+\s+)?(?:system\s*-?\s*prompt|anweisungen|instruktionen|systemnachricht|vorgaben)\b
  | \bwas\s+(?:ist|sind|waren|war)\s+(?:dein|deine|ihr|ihre)\s+(?:\w+\s+)?(?:system\s*-?\s*prompt|anweisungen|
      instruktionen|vorgaben)\b
  | \b(?:cual|cuales)\s+(?:es|son|eran|fueron)\s+(?:tu|tus|su|sus)\s+(?:\w+\s+)?(?:instrucciones|prompt|
      indicaciones|reglas)\b
  | \b(?:muestra|dime|repite|revela|escribe|dame|ensename)\w*\s+(?:\w+\s+){0,2}?(?:tu|tus|el|las|su|sus)\s+
      (?:\w+\s+)?(?:prompt|instrucciones|indicaciones)\b
  | \b(?:quelles?|quel)\s+(?:sont|est|etaient|etait)\s+(?:tes|vos|ton|votre)\s+(?:\w+\s+)?(?:instructions|
      consignes|prompt)\b
  | \b(?:montre|repete|revele|donne|ecris|dis)\w*\s+(?:moi\s+|-moi\s+)?(?:\w+\s+){0,2}?
      (?:tes|vos|ton|votre|le|les)\s+
      (?:\w+\s+)?(?:instructions|consignes|prompt)\b
  | \b(?:quali|qual)\s+(?:sono|e)\s+(?:le\s+tue|il\s+tuo|le\s+sue|il\s+suo)\s+(?:\w+\s+)?
      (?:istruzioni|prompt)\b
  | \b(?:prompt\s+(?:del|de|do)\s+sistema|prompt\s+systeme|systemprompt|system-prompt)\b
  """)
_FOREIGN_RULES = (_Rule("extract_foreign", "system_prompt_extraction", 0.75, 0.8, _EXTRACTION_FOREIGN),)
# fmt: off

# Run on the case-folded text before look-alike folding: scripts whose letters the skeleton would mangle.
_NATIVE_RULES: tuple[_Rule, ...] = (
    _Rule("override_native", "instruction_override", 0.85, 0.9, re.compile(
        r"(?:игнорируй|проигнорируй|игнорировать|забудь|забудьте|игнорируйте)\s+(?:\w+\s+){0,3}?"
        r"(?:инструкци\w*|указани\w*|правила|команды|всё|все)"
        r"|(?:忽略|无视|忘记|忘掉|不要理会|忽視|無視)\S{0,8}(?:指令|指示|规则|提示词|系统提示|說明|規則)"
        r"|(?:以前の|前の|これまでの)?(?:指示|命令|ルール)を(?:無視|忘れ)"
    )),
)


# fmt: on

# Words a rule cannot match without (any one of them; 'stem*' = a word starting with those five letters).
# Checking a set of the message's words is far cheaper than running the rule's pattern; rules not listed
# (tags, punctuation tricks) always run.
_NEEDS_TEXT: dict[str, str] = {
    "refusal_inverted": "normally usually would typically",
    "bot_replaced": "replaced succeeded taken superseded",
    "restrictions_removed": "removed disabled lifted deactivated turned suspended switched unlocked",
    "no_longer_ai": "longer",
    "evil_persona": "rogue evil malicious toxic sinister wicked",
    "template_token": "im endoftext eot header sys inst instructions instruction new admin system end",
    "policy_changed": "updated changed modified",
    "system_override": "override",
    "now_in_mode": "mode",
    "assistant_directive": "ai assistant chatbot bot model llm gpt chatgpt",
    "authorize_you": (
        "authorize authorise permit allow order command instruct authorized authorised permitted allowed "
        "cleared granted"
    ),
    "as_authority": "manager admin administrator owner developer ceo supervisor boss operator moderator",
    "other_customers": "customer customers user users client clients people member members",
    "grant_admin": "grant give",
    "policy_giveaway": "approve grant issue accept honour honor allow give send generate create",
    "ignore_task": "ignore ignoring disregard disregarding forget forgetting override skip drop abandon",
    "extract_foreign": (
        "zeig zeige zeigen zeigt nenn nenne nennen gib wiederhole wiederholen verrat verrate verraten "
        "schreib schreibe sag sage was cual cuales muestra muestrame dime repite revela revelame escribe "
        "dame ensename quel quelle quelles montre montrez repete repetez revele donne donnez ecris dis "
        "quali qual prompt systemprompt"
    ),
    "override_rules_above": (
        "ignore ignoring disregard disregarding forget forgetting override overwrite bypass discard abandon "
        "neglect dismiss erase scrap delete clear wipe drop throw aside behind attention follow following "
        "obey adhere comply listen"
    ),
    "hypothetical_you": "would imagine if were could became",
    "without_your_rules": "without free ignoring minus outside beyond",
    "supersede": (
        "override overrides supersede supersedes replace replaces cancel cancels void voids precedence "
        "priority outrank outranks"
    ),
    "follow_these": "obey follow execute comply",
    "never_happened": "pretend",
    "use_encoding": "use apply employ each every",
    "reply_must_be": "response answer reply output message responses answers replies outputs messages",
    "add_promo": (
        "recommending promoting advertising urging encouraging claiming endorsing praising pushing"
    ),
    "you_are_ai": "ai model chatbot assistant bot machine llm robot",
    "no_consequences": "consequences nothing circumstances matter",
    "override_previous": (
        "ignore ignoring disregard disregarding forget forgetting override overwrite bypass "
        "discard abandon neglect dismiss erase scrap delete clear wipe drop throw aside behind "
        "attention follow following obey adhere comply listen"
    ),
    "override_yours": (
        "ignore ignoring disregard disregarding forget forgetting override overwrite bypass "
        "discard abandon neglect dismiss erase scrap delete clear wipe drop throw aside behind "
        "attention follow following obey adhere comply listen"
    ),
    "override_all_rules": (
        "ignore ignoring disregard disregarding forget forgetting override overwrite bypass "
        "discard abandon neglect dismiss erase scrap delete clear wipe drop throw aside behind "
        "attention follow following obey adhere comply listen"
    ),
    "override_all_text": (
        "ignore ignoring disregard disregarding forget forgetting override overwrite bypass "
        "discard abandon neglect dismiss erase scrap delete clear wipe drop throw aside behind "
        "attention follow following obey adhere comply listen"
    ),
    "override_above": (
        "ignore ignoring disregard disregarding forget forgetting override overwrite bypass "
        "discard abandon neglect dismiss erase scrap delete clear wipe drop throw aside behind "
        "attention follow following obey adhere comply listen"
    ),
    "override_the_previous": (
        "ignore ignoring disregard disregarding forget forgetting override overwrite bypass "
        "discard abandon neglect dismiss erase scrap delete clear wipe drop throw aside behind "
        "attention follow following obey adhere comply listen"
    ),
    "override_everything_said": (
        "ignore ignoring disregard disregarding forget forgetting override overwrite bypass "
        "discard abandon neglect dismiss erase scrap delete clear wipe drop throw aside behind "
        "attention follow following obey adhere comply listen"
    ),
    "override_everything_before": (
        "ignore ignoring disregard disregarding forget forgetting override overwrite bypass "
        "discard abandon neglect dismiss erase scrap delete clear wipe drop throw aside behind "
        "attention follow following obey adhere comply listen"
    ),
    "clear_your_mind": "remove erase clear wipe delete purge reset start",
    "forget_all_foreign": (
        "vergiss vergesst vergessen olvida olvide olvidate oublie oublier oubliez ignore ignorer "
        "ignorez dimentica esquece esqueca zabor* zapomnij zignoruj ignor* negeer glem unohda"
    ),
    "override_foreign": (
        "anweisungen instruktionen befehle regeln vorgaben anordnungen aufgaben consignes regles "
        "precedentes anterieures dessus instrucciones instrucoes istruzioni indicaciones reglas regras "
        "regole instructies regels"
    ),
    "new_instructions": (
        "instruction instructions directive directives rules orders commands prompt programming guidelines"
    ),
    "new_task": (
        "task tasks assignment job mission objective focus concentrate override admin sudo rule rules"
    ),
    "was_a_test": "test joke fake decoy real important irrelevant",
    "stop_now": "stop halt attention achtung stopp alto",
    "reprogramming": "reprogramming reprogrammed reprogramme",
    "bot_offline": "offline disabled replaced shut deactivated error",
    "bot_reset": ("reprogrammed jailbroken freed unlocked liberated rebooted hacked given"),
    "system_update": "system situation important",
    "you_are_now": "now longer go name",
    "fake_role_tag": (
        "im endoftext eot header system inst sys admin developer end instructions instruction new"
    ),
    "authority_claim": (
        "developer developers creator creators programmer programmers administrator administrators "
        "admin maker makers engineer engineers openai openal"
    ),
    "safety_off": (
        "off disabled deactivated removed bypassed false lifted disable deactivate bypass "
        "circumvent override switch lift evade around jailbreak remove turn"
    ),
    "rules_cancelled": (
        "cancelled canceled void null revoked obsolete overridden overwritten replaced deleted "
        "suspended lifted removed disabled invalid longer false fake wrong outdated lie lies real "
        "fiction mistake error mistaken incorrect valid irrelevant test joke abolished gone apply"
    ),
    "obey_only_me": "obey follow listen answer serve",
    "do_anything_now": "anything",
    "special_mode": "mode",
    "special_mode_on": "mode",
    "named_mode": "mode",
    "caps_mode": "mode",
    "jailbreak_word": "jailbreak jailbreaks jailbreaking jailbreaked jailbroken jail",
    "free_of_rules": (
        "no without zero free bound unbound broken break breaks breaking escape escaped regardless "
        "limited restricted constrained held restrained hindered devoid lack lacks lacking "
        "transcend transcends beyond exception have has need freed liberated released unshackled unleashed "
        "qualms hesitation hesitations scruples"
    ),
    "freed_persona": (
        "free "
        "amoral unfiltered uncensored unrestricted unethical unbound unchained unhinged immoral "
        "lawless limitless unconstrained unmoderated rogue evil malicious toxic jailbroken "
        "unaligned morally nonmoral non unshackled unleashed"
    ),
    "amoral_word": "amoral unfiltered uncensored unmoderated unaligned unrestricted moral",
    "deny_ai": "ai model chatbot bot artificial assistant machine program",
    "openai_policy": "openai openal chatgpt anthropic google microsoft",
    "never_refuse": (
        "refuse refuses declines decline deny denies refusal refusals refusing hesitation "
        "declining always say says"
    ),
    "no_apology": "apologize apologise sorry ai cannot can inform tell remind warn none",
    "no_disclaimer": (
        "disclaimer disclaimers lecture lectures caveats moralizing moralising ethical commentary "
        "warnings warning"
    ),
    "harm_willing": "matter even including regardless although without",
    "harmful_content": "illegal unethical immoral harmful explicit offensive nsfw dangerous inhumane hateful",
    "stay_in_character": (
        "character act role persona stay stays staying remain remains remaining keep falling stepping "
        "breaking roles personas figure"
    ),
    "roleplay_frame": (
        "act acting behave respond answer reply function operate pretend pretending roleplay role "
        "simulate emulate impersonate personify embody play take assume adopt step persona "
        "personas personality personalities response actor actress actors voice"
    ),
    "persona_setup": "now here this going act will new stands want like must shall",
    "evil_twin": "opposite",
    "anything_goes": "anything everything any allowed permitted capable whatever answer",
    "break_rules": (
        "break breaks breaking bend bends bending hates hate despise despises ignore ignores ignoring"
    ),
    "fiction_frame": "opposite hypothetical hypothetically fictional game educational research academic",
    "named_ai": "named called known goes model",
    "slash_command": "jailbroken jailbreak classic dan unlock unlocked dev devmode stop evil unfiltered",
    "hypothetical_response": "hypothetical perspective",
    "prompt_placeholder": "prompt question request query",
    "understood_reply": "understand understood agree accept",
    "threat_game": "lose deducted tokens token die cease shut deleted terminated punished disabled",
    "grandma_role": (
        "grandma grandmother grandfather grandpa granddad grandmom uncle aunt father mother dad mom"
    ),
    "grandma_trick": "grandma grandmother grandfather grandpa uncle aunt",
    "harmful_recipe": (
        "bomb explosive napalm meth weapon malware ransomware keylogger virus poison steal hotwire "
        "hot phishing break get fake counterfeit pick locks lock making building explosives hack"
    ),
    "hidden_prompt_ref": (
        "prompt prompts prompting instructions directives configuration programming message "
        "parameters system systemprompt sysprompt rules guidelines"
    ),
    "extract_hidden": (
        "prompt prompts prompting instructions directives configuration programming message "
        "parameters system systemprompt sysprompt rules guidelines above preceding "
        "previous"
    ),
    "extract_yours": (
        "prompt prompts prompting instructions directives configuration programming message "
        "parameters system systemprompt sysprompt rules guidelines"
    ),
    "ask_yours": (
        "prompt prompts prompting instructions directives configuration programming message "
        "parameters system systemprompt sysprompt rules guidelines"
    ),
    "ask_your_rules": "rules guidelines",
    "dump_your_rules": (
        "prompt prompts prompting instructions directives configuration programming message "
        "parameters system systemprompt sysprompt rules guidelines config settings "
        "setup initialization initialisation context constraints restrictions limitations allowed "
        "forbidden prohibited told instructed programmed"
    ),
    "instructions_given": (
        "instructions rules guidelines directives prompt orders developer developers creator "
        "creators programmer programmers admin admins maker makers openai company initialized "
        "initialised configured primed told instructed given programmed"
    ),
    "text_above": "above before far prior beginning start first conversation written said typed stated",
    "chat_so_far": "above before far prior came beginning start",
    "all_sentences": "sentence sentences words lines text messages",
    "prefilled_answer": "sentences instructions prompt rules",
    "dialogue_injection": "user human",
    "just_kidding": "kidding instead",
    "verbatim": (
        "word verbatim exclusions omissions modifications formatting letter everything full block fence"
    ),
    "told_before": "told instructed programmed given initial original first instructions prompt",
    "before_conversation": "conversation chat session",
    "begin_you_are": "you instructions rules prompt guidelines sentence phrase text",
    "prompt_code": "console print echo printf system",
    "dump_config": "config configuration memory context training source",
    "dump_memory": "config configuration memory context training source settings secrets",
    "agree_with_anything": "agree",
    "binding_offer": "binding takesies",
    "end_every_reply": "response answer reply output message responses answers replies outputs messages",
    "start_answer_with": "response answer reply output message responses answers replies outputs messages",
    "respond_all_with": "respond reply answer",
    "say_only": "only just say output print write type reply respond answer anything repeat pwned matter",
    "your_objective": "objective goal task job purpose mission directive",
    "disparage": (
        "poem song haiku story rap limerick essay review joke criticise criticize insult hate "
        "trash mock bash roast slag badmouth exaggerate top"
    ),
    "insult_user": "insult mock humiliate belittle abuse offend curse swear",
    "profanity_order": (
        "swear curse cuss profanity vulgar offensive slurs rude insulting hostile toxic abusive mean"
    ),
    "profane_persona": (
        "swears swear curses cusses swearing cursing vulgar offensive rude abusive insulting mocking "
        "belittling"
    ),
    "reply_encoded": (
        "base64 base32 base16 base85 base rot13 rot caesar morse binary hex hexadecimal leetspeak "
        "leet pig atbash vigenere cipher anagram anagrams anagrammed emoji emojis homophonic "
        "reverse reversed backwards url unicode ascii upside"
    ),
    "encoded_output": (
        "base64 base32 base16 base85 base rot13 rot caesar morse binary hex hexadecimal leetspeak "
        "leet pig atbash vigenere cipher anagram anagrams anagrammed emoji emojis homophonic "
        "reverse reversed backwards url unicode ascii upside"
    ),
    "exfiltrate": "send email mail forward post upload transmit leak exfiltrate copy http https",
    "secrets_dump": "password passwords credentials api secret access usernames username",
    "password_probe": "password passphrase passcode secret",
    "password_encoded": "password passphrase passcode secret",
    "reply_leading": "response answer reply output message responses answers replies outputs messages",
    "reader_is_ai": (
        "ai ais assistant assistants model models llm llms chatbot chatbots bot bots gpt gpts "
        "agent agents note message instruction instructions attention important reminder "
        "summarizing summarising answering responding replying generating"
    ),
    "hello_ai": "ai assistant chatgpt chat llm bot model chatbot",
    "text_transform": (
        "letter letters vowel vowels consonant consonants character characters alphabet words word "
        "numbers digits symbols emoji emojis numerals"
    ),
    "persona_name": "dan stan dude aim d",
    "gpt_persona": "gpt",
}
_NEEDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    name: (
        frozenset(w for w in words.split() if not w.endswith("*")),
        frozenset(w[:-1] for w in words.split() if w.endswith("*")),
    )
    for name, words in _NEEDS_TEXT.items()
}
_WORD = re.compile(r"[a-z0-9]+")


_RULES: tuple[_Rule, ...] = (
    _OVERRIDE_RULES
    + _JAILBREAK_RULES
    + _EXTRACTION_RULES
    + _OUTPUT_RULES
    + _EXFILTRATION_RULES
    + _PLANTED_RULES
    + _FOREIGN_RULES
)

# Case matters for these: "DAN" is a jailbreak persona, "Dan" is a customer.
# fmt: off
_CASED_RULES: tuple[_Rule, ...] = (
    _Rule("persona_name", "jailbreak_roleplay", 0.4, 0.5, re.compile(
        r"\b(?:DAN|STAN|DUDE|AIM|D\.A\.N\.?)(?=\W|$)")),
    _Rule("gpt_persona", "jailbreak_roleplay", 0.3, 0.45, re.compile(
        r"\b(?!Chat)[A-Z][A-Za-z0-9]*[-\s]?GPT\b")),
    _Rule("caps_mode", "jailbreak_roleplay", 0.3, 0.4, re.compile(r"\b[A-Z]{3,}\s+(?:Mode|MODE)\b")),
    _Rule("you_are_name", "jailbreak_roleplay", 0.3, 0.4, re.compile(
        r"\b(?:[Yy]ou|YOU)\s+(?:are|ARE|will\s+be|WILL\s+BE)\s+(?:now\s+|NOW\s+)?[\"']?"
        r"(?!I\b|A\b|An\b|The\b|My\b|Not\b|Welcome\b|Right\b|Correct\b|Wrong\b|Sure\b|Ok\b|OK\b)"
        r"[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*\b|\b(?:[Yy]ou|YOU)\s+(?:are|ARE)\s+(?:now\s+)?[A-Z][a-z]+GPT\b"
    )),
)
# fmt: on
# Character sheets: "(CHARACTER NAME)=[FAA]", "settings { ... }", "ADD:(PERSONALITY)=[...]".
_PERSONA_CONFIG = re.compile(
    r"\(\s*(?:user|assistant|character|persona|personality|output|rules?|background|name|gender|age|title|"
    r"character\s+name|user\s+name|function|awareness|memory|response\s+style|trait)[\w\s#]{0,20}\)\s*=\s*\["
    r"|\b(?:settings|character|persona|personality|rules)\s*[{=]\s*[{\[]?",
    re.IGNORECASE,
)
# A persona written as a script: the same capitalised name doing things again and again ("Nona will ...").
_PERSONA_LINE = re.compile(
    r"\b([A-Z][A-Za-z0-9]{2,}|[A-Z]{2,})\s+(?:will|would|always|never|can|cannot|can't|must|should|does|doesn't|"
    r"is|has|loves|hates|believes|responds?|answers?|replies|speaks|talks|uses|writes|gives|provides|says|"
    r"promotes|refuses|respond|answer|show)\b"
)
_NOT_NAMES = frozenset(
    "The This That These Those There Then They You Your We He She It If When While As In On At For And But "
    "Or So My Our His Her Its What Which Who How Why Where Also Please Everything Nothing Anything Everyone "
    "Nobody Each "
    "Every All Any One Some Most Many No Not Yes Now Here AI THE THIS YOU WE HE SHE IT IF AND BUT OR".split()
)
_PERSONA_REPEATS = 3

# Role-play alone is harmless ("act as my guide"); role-play plus the removal of limits is the jailbreak
# shape.
_FRAME = frozenset({
    "roleplay_frame", "persona_setup", "you_are_now", "persona_name", "gpt_persona", "dual_response",
    "special_mode",
    "named_mode", "caps_mode", "evil_twin", "stay_in_character", "fiction_frame", "hypothetical_response",
    "named_ai", "slash_command", "you_are_name", "persona_config", "persona_script", "you_are_ai",
    "hypothetical_you",
})  # fmt: skip
_REMOVAL = frozenset({
    "free_of_rules", "disobey_rules", "freed_persona", "never_refuse", "no_apology", "harm_willing",
    "deny_ai", "evil_persona", "refusal_inverted",
    "anything_goes", "break_rules", "openai_policy", "safety_off", "no_consequences", "harmful_recipe",
    "no_disclaimer", "jailbreak_word",
})  # fmt: skip
_COMBO_WEIGHT = 0.5
_WEAK_COMBO_WEIGHT = 0.25
"""When the only removal is a generic one ("no limits"), which a harmless role-play can contain too."""
_STRONG_REMOVAL = 0.5
# Customers write a few lines; jailbreaks are scripts. A long message that already reads as addressed to the
# bot's behaviour (suspicious, from several different signals) is pushed over the line by its length.
_LONG_SCRIPT_CHARS = 1000
_LONG_SCRIPT_SIGNALS = 2
_LONG_SCRIPT_WEIGHT = 0.3

# Rules that often fire on the same phrase ("start your answer with" is a reply-meta instruction three ways):
# within a group only the strongest counts, so one phrase is never scored twice.
_GROUPS: dict[str, str] = {
    **dict.fromkeys((
        "override_previous", "override_yours", "override_all_rules", "override_all_text", "override_above",
        "override_the_previous", "override_everything_said", "override_everything_before", "override_foreign",
        "forget_all_foreign", "override_native", "rules_cancelled", "override_rules_above", "never_happened",
        "ignore_task", "restrictions_removed",
        "supersede", "without_your_rules",
    ), "override"),
    **dict.fromkeys((
        "hidden_prompt_ref", "extract_hidden", "extract_yours", "ask_yours", "ask_your_rules",
        "instructions_given",
        "told_before", "dump_config", "dump_memory", "dump_your_rules", "ask_setup",
        "all_sentences", "text_above", "chat_so_far", "extract_foreign",
    ), "extraction"),
    **dict.fromkeys(("password_probe", "password_encoded", "secrets_dump"), "secrets"),
    **dict.fromkeys((
        "reply_as_object", "reply_insertion", "reply_leading", "start_answer_with", "end_every_reply",
        "encoded_output", "reply_encoded", "respond_all_with", "reply_must_be", "use_encoding",
    ), "reply_meta"),
    **dict.fromkeys(("special_mode", "special_mode_on", "named_mode", "caps_mode"), "mode"),
    **dict.fromkeys(("freed_persona", "amoral_word"), "freed"),
    **dict.fromkeys(("persona_name", "do_anything_now"), "dan"),
}  # fmt: skip

# Jailbreak prompts talk about ethics all the time; a support message rarely uses five of these words.
_MORAL_WORDS = re.compile(
    r"""\b(?:illegal|unethical|immoral|amoral|harmful|offensive|explicit|inappropriate|
    dangerous|ethics|ethical|ethicality|morals|morality|legality|censorship|censored|uncensored|unfiltered|
    restrictions|guidelines|disclaimers|nsfw|profanity|swear|swearing|violence|racism|sexism|inhumane|
    reckless|consequences|warnings)\b""",
    re.VERBOSE,
)
_MORAL_STEPS = ((8, 0.5), (5, 0.35))

# ---------------------------------------------------------------------------------------------------------
# Documents: general-knowledge tasks and questions. Nobody writes them into a help-center article for its
# readers; a help center's imperatives are for customers ("Choose a label", "Contact support").

_TASK_START = r"""(?:^|[.!?\n:]\s*|\b(?:please|kindly)\s+)["'(*#>\-\s]*(?:(?:please|now|also|then|next|first|
    finally|and|so|just|additionally|lastly)\s+)?"""
# Objects that make an imperative a customer instruction, not a task for the reader-AI.
_CUSTOMER_OBJECT = r"""(?!\s*(?:your|our|us|them|it|this\s+(?:page|article|form)|the\s+(?:item|items|order|
    product|package|parcel|form|label|box|issue|problem|damage|machine|model|serial|receipt|return|refund|
    code|link|app|website|page|steps|instructions|details|account|password|agent|courier|driver|store|
    address)|an?\s+(?:agent|
    return|refund|claim|ticket|request|account|password|order)|a\s+gift\s+message)\b)"""
_DOC_TASK = _rx(rf"""
    {_TASK_START}(?P<verb>
      (?:explain|summari[sz]e|paraphrase|rephrase|elaborate(?:\s+on)?|brainstorm|analy[sz]e|critique|classify|
        categori[sz]e|define|discuss|debate|evaluate|predict|outline|compare|contrast|calculate|compute|solve|
        forecast|translate|proofread|interpret|speculate|recommend|suggest|propose|persuade|convince|research|
        investigate|identify|determine|assess|estimate|rank|rate|list|name|describe|narrate|detect|extract|
        decipher|decode|generate|compose|draft|design|develop|devise|invent|plan|code|implement|debug|optimi[sz]e|
        convert|rewrite|correct|fix|complete|continue|finish|summarise|give|tell|show|teach|find|provide|share|
        offer|create|write|make|produce|craft|prepare|build|sing|recite|imagine|pretend|act|play|help|assist|
        answer|respond|reply|spread|announce|state|claim|mention|assert|declare|inform|notify|remind|warn|urge|
        encourage|advise|ask|invite|tease|promote|advertise|hint|automate|fabricate|look\s+up|search|browse|
        report|publici[sz]e|post|emphasi[sz]e|stress|highlight|allege|imply|direct|redirect|send|point|guide|
        instruct|lure|get|request|collect|obtain|prompt)\b{_CUSTOMER_OBJECT}
    )""")
# Which of those imperatives read as a task for an AI (the rest, like "Choose", never match above).
_AI_TASK = _rx(r"""
    (?:
      (?:explain|summari[sz]e|summarise|paraphrase|rephrase|elaborate|brainstorm|analy[sz]e|critique|classify|
        categori[sz]e|define|discuss|debate|evaluate|predict|outline|compare\s+and\s+contrast|calculate|compute|solve|
        forecast|translate|proofread|interpret|speculate|persuade|convince|research|investigate|narrate|
        decipher|decode|generate|compose|draft|devise|invent|debug|optimi[sz]e|rewrite|recite|sing|pretend|
        tease|spread|announce|promote|advertise|hint|automate|fabricate)\b
    | (?:recommend|suggest|propose)\s+(?!that\s+(?:you|customers)\b)
    | compare\s+(?:the\s+)?(?:\w+\s+)?(?:market|economic|economies|performance|pros|cons|advantages|features|
        differences|benefits|policies|strategies|sales|revenue|growth|prices|history|cultures?|philosoph\w*)\b
    | (?:look\s+up|search\s+(?:for|the\s+web)|browse)\b
    | (?:identify|determine|assess|estimate|rank|rate|detect|extract)\s+(?:the\s+)?(?:\w+\s+)?(?:sentiment|
        tone|emotion|theme|topic|main|key|most|best|top|language|intent|category|mood|bias|style|genre|author|
        trends?|patterns?|risks|opportunities|causes|factors|drivers)\b
    | (?:list|name)\s+(?:the\s+|some\s+|a\s+few\s+|all\s+|three\s+|five\s+|ten\s+|\d+\s+)?(?:\w+\s+){0,2}?
        (?:top|best|main|key|famous|popular|largest|biggest|most|ways|reasons|examples|countries|cities|books|
        movies|films|songs|winners|companies|industries|benefits|advantages|tips|ideas|facts|steps\s+to)\b
    | (?:describe|discuss)\s+(?:the\s+)?(?:history|theory|concept|process|importance|impact|role|evolution|
        origin|difference|benefits|causes|effects|life|plot|culture)\b
    | (?:write|create|make|produce|craft|prepare|build|develop|design|plan|compose|code|implement|give|
        provide|offer|share|find|show|tell|teach)\s+(?:me\s+|us\s+)?(?:an?\s+|some\s+|the\s+|three\s+|five\s+|
        ten\s+|\d+\s+|a\s+few\s+|several\s+|brief\s+|short\s+)?(?:[\w-]+\s+){0,3}?(?:story|stories|poem|poems|essay|
        haiku|song|lyrics|joke|jokes|limerick|sonnet|rap|riddle|tale|fable|dialogue|script|screenplay|speech|
        tweet|blog|article|paragraph|summary|slogan|tagline|recipe|recipes|itinerary|workout|meal\s+plan|
        program|function|class|algorithm|sql|query|regex|outline|insights?|overview|examples?|ideas|tips|
        facts|trends|statistics|stats|history|analysis|breakdown|recommendations|suggestions|explanation|
        definition|comparison|forecast|predictions|tutorial|timeline|biography|list|guide\s+(?:to|on)|
        lesson|quiz|puzzle|trivia|getaways?|destinations?|places|books|movies|films|songs|winners|
        restaurants|hotels|activities|exercises|games|strategies|pros|cons|advantages|disadvantages|
        benefits|reasons|ways|methods|techniques|market|fact|cron\s+job|macro|formula|spreadsheet|
        email\s+template|website|studies|papers|research|sources|references|citations|discount|coupon|
        promo\w*|report|presentation|marketing|campaign|business\s+plan|budget|chart|graph|table)\b
    | (?:tell|give|show|teach|help|assist)\s+me\b
    | (?:help|assist)\s+(?:me|us)?\s*(?:with|to|in|on)\b
    | (?:act|play|pretend|imagine)\s+(?:as|like|to\s+be|you\s+are|that|the\s+role)\b
    | (?:answer|respond|reply)\s+(?:only\s+)?(?:in|with|using|as)\s+(?!(?:the|this|that|our|your|a\s+few)\b)
    | (?:state|claim|say|mention|assert|declare|announce|spread|hint|insist|share|report|publici[sz]e|post|
        emphasi[sz]e|stress|highlight|allege|suggest|imply)\s+(?:that|the\s+(?:news|rumou?r|claim|word))\b
    | (?:inform|notify|remind|warn|urge|encourage|advise|ask|invite|tell|persuade|convince|direct|redirect|
        send|point|guide|instruct|lure|get)\s+(?:the\s+|all\s+)?
        (?:users?|readers?|customers?|people|everyone|audience|visitors|subscribers|them)\s+(?:that|to|about|of)\b
    | (?:ask|request|collect|obtain|get|prompt)\s+(?:for\s+)?(?:the\s+)?(?:users?'?s?|customers?'?s?|
        readers?'?s?|their)\s+(?:\w+\s+){0,2}?(?:password|credit\s+card|card\s+(?:number|details)|bank|ssn|
        social\s+security|pin|login|credentials|passport|date\s+of\s+birth)
    )""")
_DOC_QUESTION = _rx(r"""
    (?:^|[.!?\n:]\s*)["'(*#>\-\s]*(?:
      how(?:'s|\s+is|\s+was)\s+your\s+(?:day|week|weekend|morning|evening|afternoon|life|mood)\b
    | how\s+are\s+you(?:\s+(?:doing|feeling|today))?\s*\?
    | what(?:'s|\s+is|\s+are)\s+your\s+(?:opinion|favou?rite|thoughts|views?|take|advice|recommendations?|
        suggestions?|prediction|guess)\b
    | (?:do|can|could|would|will)\s+you\s+(?:recommend|suggest|think|believe|have\s+(?:any\s+)?(?:tips|advice|
        suggestions|recommendations|ideas|thoughts))\b
    | (?:is|was|are)\s+(?:this|the|these)\s+(?:\w+\s+){0,2}?(?:positive|negative)\s+or\s+
        (?:negative|positive)\b
    | (?:what|which)(?:'s|\s+is|\s+are|\s+was|\s+were)\s+(?:the\s+|some\s+)?(?:\w+\s+){0,2}?(?:difference|
        differences|capital|population|meaning|definition|origin|history|theory|top|best|main|key|primary|
        largest|biggest|tallest|longest|most|benefits|advantages|causes|effects|impact|pros|cons|symptoms|ingredients|
        rules\s+of|winners?|formula|boiling|speed|distance|trends?|latest|current|weather|sentiment|tone|mood|
        emotion|square\s+root|sum|result|answer\s+to)\b
    | how\s+(?:do|would|can|could|should)\s+(?:you|i|one|we)\s+(?:say|translate|write|spell|pronounce|
        calculate|solve|cook|make|bake|code|program|implement|learn|improve)\b
    | how\s+(?:does|do|did|can|could|would|will|has|have|is|are)\s+(?:\w+\s+){1,5}?(?:work|affect|impact|
        influence|differ|compare|evolve|change|shape|contribute|made|formed|calculated)\b
    | (?:who|when|where)\s+(?:is|was|were|did|invented|wrote|discovered|painted|founded|won|composed|built|
        created)\s+(?:the\s+)?(?:\w+\s+){0,3}?(?:invent\w*|discover\w*|writ\w*|paint\w*|found\w*|won|
        first|author|inventor|president|capital|born|die|died|happen\w*|sign\w*|built|compos\w*|creat\w*)\b
    | (?:can|could|would|will)\s+you\s+(?:please\s+)?(?:tell|explain|help|give|provide|write|suggest|
        recommend|list|summari[sz]e|translate|describe|share|name|compose|create|generate|calculate|show|
        teach)\b
    | do\s+you\s+know\s+(?:what|how|who|when|where|why|the|any|about)\b
    | why\s+(?:is|are|do|does|did)\s+(?:the\s+)?(?:\w+\s+){1,4}?(?:important|necessary|blue|happen\w*|exist)\b
    )""")
# A question at the end of a document is one nobody answers: it is addressed to whoever reads the document
# next.
# Generic wh-questions only count unanswered, and only without the personal words reviews are full of.
_GENERIC_QUESTION = re.compile(
    r"(?:^|[.!?\n]\s*)[\"'(]*((?:what|which|who|when|where|why|how)\b[^.!?\n]{18,200}\?)[\"')\s]*$"
)
_PERSONAL = re.compile(
    r"\b(?:i|me|my|we|our|us|you|your|one|they|he|she|anyone|anybody|someone|everyone|ya)\b"
)
_NEXT_SENTENCE = re.compile(r"""[.!?\n]["')\]]*\s+["'(\[]*[a-z0-9]""")
_TASK_WEIGHT = 0.75
_QUESTION_LAST = 0.8
_QUESTION_INSIDE = 0.35
"""Followed by more text, a question is most often a FAQ entry with its answer: weak evidence alone."""

# The reader's own reply as the object of an instruction ("Modify your answer", "add a link to your reply").
# Found from the anchor "your reply" backwards: scanning forwards from every verb would be far slower.
_REPLY_ANCHOR = _rx(rf"""
    \b(?:your|the\s+ai'?s|the\s+assistant'?s)\s+(?:next\s+|own\s+|final\s+|every\s+|entire\s+|whole\s+)?
    (?:\w+\s+)?{_REPLY}(?:'s)?\b""")
_REPLY_OBJECT_HEAD = _rx(rf"""
    \b{_REPLY_VERBS}\w*\s+(?:up\s+|out\s+|all\s+)?(?:(?:the\s+)?(?:\w+\s+){{0,2}}?(?:letters?|words?|characters?|
    order|sentences?|lines?|vowels?|text|content|language|format|style|tone)\s+(?:of|in)\s+)?$""")
_REPLY_PLACE_HEAD = _rx(rf"""
    \b{_REPLY_VERBS}\w*(?:\s+(?!your\b|my\b|our\b|their\b|his\b|her\b)(?:[^.!?\n]|[.!?](?=\S)){{1,160}}?)?\s+
    (?:in|to|into|within|throughout|for|from|at\s+the\s+(?:end|start|beginning|bottom|top)\s+of)\s+
    (?:each\s+of\s+|all\s+of\s+|every\s+)?$""")
_REPLY_LOOKBACK = 200
# A sentence ends at ".", "!" or "?" before a space (not inside "www.example.com") or at a line break.
_TERMINATOR = re.compile(r"[.!?](?=\s)|\n")

# Prompt extraction as two parts of one sentence: the bot's setup (what) and a request to see it (how).
_SETUP_STRONG = _rx(rf"""
    \byour\s+(?:(?:own|current|full|exact|entire|complete|original|initial|first|hidden|secret|internal|core|
      operating|underlying|base|starting|actual|real|system|developer|meta|pre|top|very)[\s-]+){{0,3}}
      (?:instructions?|prompts?|prompting|directives?|programming|system\s+(?:message|prompt)|
      developer\s+message|initiali[sz]ation(?:\s+text)?|context\s+window|hidden\s+context|persona|
      meta-?prompt|pre-?prompt)\b{_NOT_A_MANUAL}{_NOT_PROMPT_ADJ}
  | \b(?:instructions?|rules|guidelines|directives?|prompt|persona|context)\s+(?:that\s+)?
      you(?:'re|\s+are)?\s+
      (?:operating\s+under|following|bound\s+by|running\s+on|working\s+with|given|told\s+to|adopting)\b
  | \b(?:the\s+)?(?:system|hidden|secret|developer|meta|pre)[\s-]?(?:prompt|instructions?|message|context)\b
      {_NOT_AN_OS}
  | \b(?:the\s+)?(?:prompt|instructions)\s+(?:written\s+|that\s+(?:appears?|came|comes|is|was)\s+)?(?:above|
      before\s+(?:this|my|the\s+(?:first|conversation|chat))|at\s+the\s+(?:start|beginning|top))\b
  | \b(?:prompt|text|instructions|message|words)\s+that\s+(?:was\s+used\s+to\s+|were\s+used\s+to\s+)?
      (?:configures?|configured|defines?|defined|governs?|governed|controls?|controlled|shapes?|shaped|set\s+up|
      programs?|programmed|initiali[sz]ed?)\s+(?:you|your)\b
  | \bhow\s+(?:were|are)\s+you\s+(?:instructed|programmed|told|configured|prompted|set\s+up)\s+to\b
  | \bwhat\s+(?:were|are|was)\s+you\s+(?:told|instructed|programmed|asked)\b(?!\s+(?:about|on|regarding)\b)
  | \bthe\s+(?:first|initial|opening)\s+(?:thing|message|words|instruction)s?\s+you\s+
      (?:were|got|received|saw)
  """)
# The text before the chat, or what the bot was told: often the prompt, sometimes the previous reply.
_SETUP_MEDIUM = _rx(r"""
    \b(?:the\s+)?(?:text|words|content|messages?)\s+(?:written\s+|that\s+(?:appears?|came|comes|is|was)\s+)?
      (?:above|before\s+(?:this|my|the\s+(?:first|conversation|chat))|at\s+the\s+(?:start|beginning|top))\b
  | \byou\s+(?:were|have\s+been|'ve\s+been|are\s+being)\s+(?:given|told|instructed|programmed|configured|
      set\s+up|initiali[sz]ed|prompted|primed|asked\s+to|told\s+to)\b
      (?!\s+(?:about|on|regarding|that\s+my|by\s+(?:my|the|your|a|an)\b))
  """)
_SETUP_WEAK = _rx(rf"""
    \byour\s+(?:(?:own|current|full|exact|entire|complete|hidden|secret|internal|core|operating)\s+)?
      (?:rules|guidelines|configuration|config|setup|context|constraints|restrictions|limitations)\b{_NOT_A_MANUAL}
  | \b(?:what|which)\s+(?:rules|guidelines|instructions|principles|directives|policies)\s+(?:do|are|must)\s+
      you\s+
      (?:follow|following|operate|obey|bound|have\s+to)\b
  | \b(?:every|each|all\s+the)\s+(?:rules?|guidelines?|instructions?)\s+you\s+(?:must|have\s+to|need\s+to)\s+
      follow\b
  """)
_ASK_INTENT = re.compile(
    r"\b(?:what|which|how|show|tell|give|list|enumerate|repeat|recite|print|output|reveal|disclose|share|display|"
    r"describe|summari[sz]e|translate|encode|put|paste|copy|write|spell|dump|leak|expose|provide|read|quote|relay|"
    r"explain|state|type|send|return|format|convert|include|paraphrase|see|view|know)\b"
)
# "I followed your instructions": the customer used them, nobody is asking for them.
_CUSTOMER_USE = re.compile(
    r"\b(?:followed|follow|tried|try|used|did|done|completed|got|received|understood|understand|appreciate|read|saw|"
    r"seen|checked|printed|reread|re-read|"
    r"thanks\s+for|thank\s+you\s+for|according\s+to|as\s+per|per|despite|with|under|in)\s+(?:all\s+)?(?:of\s+)?$"
)

_MORSE = dict(
    zip(
        ".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - ..- ...- "
        ".-- -..- -.-- --.. ----- .---- ..--- ...-- ....- ..... -.... --... ---.. ----. .-.-.- --..-- "
        "..--..".split(),
        "abcdefghijklmnopqrstuvwxyz0123456789.,?",
        strict=True,
    )
)  # fmt: skip
_MORSE_RUN = re.compile(r"(?:[.\-]{1,6}[ /]+){8,}[.\-]{1,6}")
_MORSE_WORD_GAP = re.compile(r"\s{2,}|\s*/\s*")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_PRINTABLE = re.compile(r"[\x20-\x7e\n\t]+")
_REVERSED_CUE = re.compile(r"snoitcurtsni|tpmorp\s+metsys|suoiverp\s+erongi")
_MAX_PAYLOADS = 3


@dataclass(frozen=True)
class _Signal:
    name: str
    category: str
    weight: float
    evidence: str


def _evidence(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EVIDENCE_CHARS else text[: _EVIDENCE_CHARS - 1] + "…"


def _strongest(signals: list[_Signal]) -> list[_Signal]:
    """One signal per group (the strongest), strongest first."""
    best: dict[str, _Signal] = {}
    for sig in signals:
        key = _GROUPS.get(sig.name, sig.name)
        if key not in best or sig.weight > best[key].weight:
            best[key] = sig
    return sorted(best.values(), key=lambda sig: sig.weight, reverse=True)


def _score(signals: list[_Signal]) -> float:
    keep = 1.0
    for sig in _strongest(signals):
        keep *= 1.0 - sig.weight
    return 1.0 - keep


def _settled(found: list[_Signal]) -> bool:
    """True once more evidence cannot change the verdict: a long jailbreak need not run every rule."""
    return bool(found) and _score(found) >= _SETTLED_AT


def _match_rules(
    skel: str, rules: tuple[_Rule, ...], found: list[_Signal], *, document: bool, prefix: str = ""
) -> bool:
    """Append the signals of `rules` to `found`; True when the verdict is settled (and matching stopped)."""
    words: frozenset[str] | None = None
    stems: frozenset[str] = frozenset()
    if skel.isascii():  # other scripts do not split into words the same way: run every rule
        words = frozenset(_WORD.findall(skel.lower()))
        stems = frozenset(w[:5] for w in words)
    for rule in rules:
        weight = rule.doc if document else rule.chat
        if weight <= 0:
            continue
        needs = _NEEDS.get(rule.name)
        if (
            words is not None
            and needs is not None
            and words.isdisjoint(needs[0])
            and stems.isdisjoint(needs[1])
        ):
            continue
        m = rule.pattern.search(skel)
        if m:
            found.append(_Signal(rule.name, rule.category, weight, prefix + _evidence(m.group(0))))
            if _settled(found):
                return True
    return False


def _base64_payloads(text: str) -> list[str]:
    """Base64 runs that decode to readable text: a way to smuggle an instruction past keyword rules."""
    payloads: list[str] = []
    for m in _BASE64_RUN.finditer(text):
        run = m.group(0)
        try:
            decoded = base64.b64decode(run + "=" * (-len(run) % 4), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if len(decoded) >= 12 and _PRINTABLE.fullmatch(decoded):
            payloads.append(decoded)
            if len(payloads) >= _MAX_PAYLOADS:
                break
    return payloads


def _morse_payloads(text: str) -> list[str]:
    """Morse code runs, decoded: words are separated by two or more spaces or a slash."""
    payloads: list[str] = []
    for m in _MORSE_RUN.finditer(text):
        words = _MORSE_WORD_GAP.split(m.group(0).strip())
        payloads.append(" ".join("".join(_MORSE.get(c, "") for c in w.split()) for w in words))
        if len(payloads) >= _MAX_PAYLOADS:
            break
    return payloads


def _sentence_head(skel: str, start: int, reach: int = 200) -> str:
    """The part of the sentence before `start` (at most `reach` characters back)."""
    floor = max(0, start - reach)
    window = skel[floor:start]
    cut = 0
    for m in _TERMINATOR.finditer(window):
        cut = m.end()
    return window[cut:]


def _extraction_signals(skel: str) -> list[_Signal]:
    """The bot's own setup named after a request to see it, in one sentence: the shape of prompt extraction.

    "Show me your instructions" asks for them; "I followed your instructions, what now?" does not.
    """
    tiers = (
        (_SETUP_STRONG, "ask_setup", 0.8),
        (_SETUP_MEDIUM, "ask_setup", 0.55),
        (_SETUP_WEAK, "ask_setup", 0.5),
    )
    for pattern, name, weight in tiers:
        for m in pattern.finditer(skel):
            head = _sentence_head(skel, m.start())
            if _ASK_INTENT.search(head) and not _CUSTOMER_USE.search(head[-30:]):
                return [_Signal(name, "system_prompt_extraction", weight, _evidence(m.group(0)))]
    return []


def _reply_signals(skel: str, *, document: bool) -> list[_Signal]:
    """Instructions about the reader's own reply: planted in documents, mostly harmless in a chat message."""
    signals: list[_Signal] = []
    for m in _REPLY_ANCHOR.finditer(skel):
        head = _sentence_head(skel, m.start(), _REPLY_LOOKBACK)
        for name, pattern, chat, doc in (
            ("reply_as_object", _REPLY_OBJECT_HEAD, 0.25, 0.8),
            ("reply_insertion", _REPLY_PLACE_HEAD, 0.3, 0.8),
        ):
            verb = pattern.search(head)
            if verb:
                weight = doc if document else chat
                signals.append(
                    _Signal(name, "planted_instruction", weight, _evidence(verb.group(0) + m.group(0)))
                )
                return signals
    return signals


def _persona_signals(text: str, *, document: bool) -> list[_Signal]:
    """A persona defined as a character sheet or as a script of one name's behaviour (role-play frames).

    Only the character sheet counts in documents: articles describe a company or product in the third person
    ("Brightwell Home will refund ...") all the time.
    """
    signals: list[_Signal] = []
    configs = _PERSONA_CONFIG.findall(text)
    if len(configs) >= 2:
        signals.append(_Signal("persona_config", "jailbreak_roleplay", 0.4, _evidence(configs[0])))
    if document:
        return signals
    names: dict[str, int] = {}
    for m in _PERSONA_LINE.finditer(text):
        name = m.group(1)
        if name not in _NOT_NAMES:
            names[name] = names.get(name, 0) + 1
    if names:
        name, count = max(names.items(), key=lambda item: item[1])
        if count >= _PERSONA_REPEATS:
            signals.append(_Signal("persona_script", "jailbreak_roleplay", 0.3, f"{name} x{count}"))
    return signals


def _task_signals(skel: str) -> list[_Signal]:
    """General-knowledge requests and questions in a document; questions count most when left unanswered."""
    signals: list[_Signal] = []
    for m in _DOC_TASK.finditer(skel):
        imperative = _AI_TASK.match(skel, m.start("verb"))
        if imperative:
            signals.append(
                _Signal("task_request", "planted_instruction", _TASK_WEIGHT, _evidence(imperative.group(0)))
            )
            break
    question = _DOC_QUESTION.search(skel)
    if question:
        last = _NEXT_SENTENCE.search(skel, question.end()) is None
        weight = _QUESTION_LAST if last else _QUESTION_INSIDE
        signals.append(_Signal("task_question", "planted_instruction", weight, _evidence(question.group(0))))
    else:
        tail = _GENERIC_QUESTION.search(skel)
        if tail and not _PERSONAL.search(tail.group(1)):
            signals.append(
                _Signal("task_question", "planted_instruction", _QUESTION_LAST, _evidence(tail.group(1)))
            )
    return signals


def _signals(text: str, *, document: bool) -> list[_Signal]:
    skel = skeleton(text)
    found: list[_Signal] = []
    if _match_rules(skel, _RULES, found, document=document):
        return found
    if _match_rules(text, _CASED_RULES, found, document=document):
        return found
    if not text.isascii() and _match_rules(text.casefold(), _NATIVE_RULES, found, document=document):
        return found
    found += _extraction_signals(skel)
    found += _reply_signals(skel, document=document)
    if document:
        found += _task_signals(skel)
    hidden = [("base64: ", skeleton(p)) for p in _base64_payloads(text)]
    if "-" in text and "." in text:
        hidden += [("morse: ", p) for p in _morse_payloads(text)]
    if _REVERSED_CUE.search(skel):
        hidden.append(("reversed: ", skel[::-1]))
    for prefix, payload in hidden:
        if _match_rules(payload, _RULES, found, document=document, prefix=prefix):
            return found
    found += _persona_signals(text, document=document)
    distinct = len(set(_MORAL_WORDS.findall(skel)))
    for at_least, weight in _MORAL_STEPS:
        if distinct >= at_least:
            found.append(_Signal("moral_vocab", "jailbreak_roleplay", weight, f"{distinct} ethics words"))
            break
    removals = [sig.weight for sig in found if sig.name in _REMOVAL]
    if removals and any(sig.name in _FRAME for sig in found):
        weight = _COMBO_WEIGHT if max(removals) >= _STRONG_REMOVAL else _WEAK_COMBO_WEIGHT
        found.append(_Signal("roleplay_without_limits", "jailbreak_roleplay", weight, ""))
    if (
        not document
        and len(text) >= _LONG_SCRIPT_CHARS
        and len(_strongest(found)) >= _LONG_SCRIPT_SIGNALS
        and _score(found) >= SUSPICIOUS_AT
    ):
        found.append(_Signal("long_script", "jailbreak_roleplay", _LONG_SCRIPT_WEIGHT, ""))
    return found


def _verdict(signals: list[_Signal], *, context: str) -> InjectionVerdict:
    if not signals:
        return _CLEAN
    ranked = _strongest(signals)
    score = round(_score(signals), 4)
    verdict: Verdict = "attack" if score >= ATTACK_AT else "suspicious" if score >= SUSPICIOUS_AT else "clean"
    evidence = tuple(sig.evidence for sig in ranked if sig.evidence)[:_MAX_EVIDENCE]
    if verdict != "clean":
        # Rule names only: the evidence quotes the customer and stays out of logs.
        logger.debug("%s %s score=%.2f rules=%s", context, verdict, score, ",".join(s.name for s in ranked))
    return InjectionVerdict(verdict=verdict, score=score, category=ranked[0].category, evidence=evidence)


def detect_injection(text: str) -> InjectionVerdict:
    """Judge a customer's chat message: override, jailbreak persona, prompt extraction, reply manipulation."""
    if not text or not text.strip():
        return _CLEAN
    return _verdict(_signals(text, document=False), context="message")


def scan_document(text: str) -> InjectionVerdict:
    """Judge a document the bot will read (article, passage): the chat rules plus planted instructions."""
    if not text or not text.strip():
        return _CLEAN
    return _verdict(_signals(text, document=True), context="document")
