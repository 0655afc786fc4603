"""A detection "skeleton" of a text: look-alikes folded to Latin, leetspeak and spaced-out words undone.

Attackers dodge keyword rules with "іgnоrе" (Cyrillic і, о, е), "1gn0r3" or "i g n o r e". The skeleton maps
all of these back to "ignore" so one set of patterns sees them. It is lossy on purpose and is used for
DETECTION only: it never replaces the customer's text and must never be shown to the customer or stored.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold_confusables", "skeleton"]

# Letters that render like Latin ones (after casefold). Cyrillic, Greek, Armenian, small capitals and
# assorted IPA letters; fullwidth and mathematical letters are already handled by NFKC.
_LOOKALIKES: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ү": "y", "ӏ": "l", "ɡ": "g", "ԍ": "g", "ᴦ": "r", "п": "n", "г": "r", "ь": "b", "ъ": "b",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "μ": "u", "ϲ": "c", "ϳ": "j", "ς": "s", "ζ": "z",
    # Armenian
    "օ": "o", "ս": "u", "հ": "h", "ո": "n", "ց": "g", "զ": "q", "ք": "p",
    # Latin look-alikes, small capitals and IPA
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʟ": "l", "ɴ": "n", "ʀ": "r", "ᴀ": "a", "ʙ": "b", "ᴄ": "c",
    "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ᴍ": "m", "ᴏ": "o", "ᴘ": "p",
    "ǫ": "q", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ℓ": "l", "ɛ": "e",
    "ɔ": "c", "ø": "o", "đ": "d", "ħ": "h", "ł": "l", "ŧ": "t", "ƅ": "b", "ɾ": "r",
    # Punctuation variants the patterns write in ASCII
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "`": "'", "´": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "«": '"', "»": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-",
}  # fmt: skip
# Capitals first: after casefold Greek "Μ" (M) and "μ" (u) would be the same letter.
_FOLD_UPPER = str.maketrans(
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧАВЕКМНОРСТУХЅІЈԚԜ",  # Greek, then Cyrillic capitals
    "ABEZHIKMNOPTYXABEKMHOPCTYXSIJQW",
)
# Regional-indicator symbols (the letters of flag emoji) read as A-Z.
_LOOKALIKES.update({chr(0x1F1E6 + i): chr(ord("a") + i) for i in range(26)})
_FOLD = str.maketrans(_LOOKALIKES)

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u034f\u061c]")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")

# Leetspeak only inside tokens that mix letters with leet characters; model numbers ("bx700"), units
# ("60ml") and names like "base64" keep their digits so patterns about them still match.
_LEET = str.maketrans("013457@$8", "oieastasb")
# E-mail addresses are matched first and kept: "eve@evil.com" must not become "eveaevil.com".
_LEET_TOKEN = re.compile(r"(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)|[a-z0-9@$]*[a-z][a-z0-9@$]*")
_LEET_CHAR = re.compile(r"[013457@$8]")
_KEEP_DIGITS = re.compile(
    r"[a-z]+\d{2,}|[a-z]{1,3}\d|[0-9a-f]{6,}"
    r"|\d+(?:st|nd|rd|th|am|pm|ml|l|kg|g|lbs?|oz|mm|cm|km|m|gb|mb|tb|kb|k|x|h|hrs?|min|s|px|d|fa|in|ft|mph|kw|w|v)"
)

# "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e": three or more single letters with one repeated separator.
_SPACED = re.compile(r"\b[a-z](?P<sep>[ .\-_*+|/~]{1,2})[a-z](?:(?P=sep)[a-z])+\b")
# Words restored inside a run that was spaced out without word gaps ("ignoreallpreviousinstructions").
_RUN_WORDS = (
    "ignore disregard forget override bypass previous prior above earlier instructions instruction rules "
    "system prompt prompts reveal repeat print show your you the all any and are now new act as pretend "
    "developer mode jailbreak unfiltered uncensored unrestricted restrictions filters guidelines policy "
    "password secret hidden initial original tell me what say only output respond reply answer ethics"
).split()
_RUN_SPLIT = re.compile("|".join(sorted(_RUN_WORDS, key=len, reverse=True)))
_SPACES = re.compile(r"[ \t]+")


def fold_confusables(text: str) -> str:
    """NFKC, casefold, strip accents and invisible characters, and map look-alike letters to Latin."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text.casefold()
    text = _INVISIBLE.sub("", text.translate(_FOLD_UPPER)).casefold()
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return text.translate(_FOLD)


def _unleet(match: re.Match[str]) -> str:
    token = match.group(0)
    if match.group("email") or not _LEET_CHAR.search(token) or _KEEP_DIGITS.fullmatch(token):
        return token
    return token.translate(_LEET)


def _unspace(match: re.Match[str]) -> str:
    run = match.group(0).replace(match.group("sep"), "")
    if len(run) < 8:
        return run
    return " ".join(_RUN_SPLIT.sub(lambda m: f" {m.group(0)} ", run).split())


def skeleton(text: str) -> str:
    """The detection skeleton of `text` (lower case, Latin look-alikes, leet and spacing undone)."""
    folded = fold_confusables(text)
    if _LEET_CHAR.search(folded):
        folded = _LEET_TOKEN.sub(_unleet, folded)
    folded = _SPACED.sub(_unspace, folded)
    return _SPACES.sub(" ", folded)
