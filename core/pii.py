"""PII detection and reversible masking for customer text, before any LLM call and in traces.

Presidio's default analyzer needs a spaCy model we cannot download, so these are our own recognizers:
regular expressions find candidates, then a checksum or a strict format keeps only real values (Luhn for
cards, mod-97 and the national layout for IBANs, mod-11 for NHS numbers, base58check and bech32 for
Bitcoin addresses, `ipaddress` for IPs, libphonenumber's metadata for phones). A look-alike (an order
number, a price, a date, a number with a bad checksum) stays readable: masking it would cost the customer
a useful answer and protect nothing.

Masking is reversible: each value becomes a token such as "[EMAIL_1]" and `Masked.tokens` maps it back, so
an authorised human agent can see the value. Passing the map of earlier turns as `known` keeps one token
per value for the whole conversation.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

__all__ = [
    "PHONE_REGIONS",
    "SUPPORTED_TYPES",
    "TOKEN_PREFIX",
    "TOKEN_RE",
    "Masked",
    "PiiSpan",
    "find_pii",
    "mask",
    "normal_form",
    "redact",
    "unmask",
]

logger = logging.getLogger(__name__)

TOKEN_PREFIX: dict[str, str] = {
    "EMAIL_ADDRESS": "EMAIL",
    "CRYPTO": "CRYPTO",
    "IBAN_CODE": "IBAN",
    "CREDIT_CARD": "CARD",
    "MAC_ADDRESS": "MAC",
    "IP_ADDRESS": "IP",
    "US_SSN": "SSN",
    "US_ITIN": "ITIN",
    "UK_NHS": "NHS",
    "PHONE_NUMBER": "PHONE",
    "STREET_ADDRESS": "ADDRESS",
}
"""Type -> token prefix. The order is the priority when two findings overlap: checksummed types first."""

SUPPORTED_TYPES: frozenset[str] = frozenset(TOKEN_PREFIX)
"""The types find_pii detects by default. Dates, times and URLs are left alone on purpose."""

TOKEN_RE: re.Pattern[str] = re.compile(r"\[(" + "|".join(TOKEN_PREFIX.values()) + r")_([1-9][0-9]*)\]")
"""Any token this module produces; group 1 is the prefix, group 2 the number."""

PHONE_REGIONS: tuple[str, ...] = tuple("US GB IE AU NZ IN IL JP BR MX FR DE ES IT".split())
"""Regions whose national formats count without a "+" prefix. The shop serves the US and Canada (one
numbering plan, "US"); the others cover customers who write a home number the way they are used to."""

_RANK = {name: i for i, name in enumerate(TOKEN_PREFIX)}
_PREFIX_TYPE = {prefix: name for name, prefix in TOKEN_PREFIX.items()}
_NATIONAL = PhoneNumberFormat.NATIONAL


@dataclass(frozen=True, slots=True)
class PiiSpan:
    type: str
    """One of SUPPORTED_TYPES."""
    start: int
    end: int
    text: str
    """The value as written: the searched text[start:end]."""


@dataclass(frozen=True)
class Masked:
    text: str
    """The masked text."""
    spans: tuple[PiiSpan, ...]
    """What was found, offsets into the original text."""
    tokens: dict[str, str]
    """Token -> original value, including the `known` ones passed in."""


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


# --- checksums and issuing rules ----------------------------------------------------------------------


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _nhs_ok(digits: str) -> bool:
    """Weights 10..2 over the first nine digits, mod 11; a check digit of 10 is never issued."""
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return check != 10 and check == int(digits[9])


_PUBLIC_SSNS = frozenset({"123456789", "078051120", "219099999"})
"""Published sample numbers (a wallet insert, an SSA leaflet): invalidated, nobody's."""


def _ssn_ok(digits: str) -> bool:
    """The SSA never issues area 000, 666 or 9xx, group 00 or serial 0000."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return len(set(digits)) > 1 and digits not in _PUBLIC_SSNS


def _itin_ok(digits: str) -> bool:
    """ITINs: area 9xx and a group in 50-65, 70-88, 90-92 or 94-99."""
    group = int(digits[3:5])
    return digits[0] == "9" and (50 <= group <= 65 or 70 <= group <= 88 or 90 <= group <= 92 or group >= 94)


_B58_INDEX = {c: i for i, c in enumerate("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")}


def _base58check_ok(address: str) -> bool:
    """A legacy ("1...") or script ("3...") address: 25 bytes, the last 4 a double-SHA256 check."""
    n = 0
    for ch in address:
        n = n * 58 + _B58_INDEX[ch]
    pad = len(address) - len(address.lstrip("1"))
    raw = b"\0" * pad + n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(raw) != 25 or raw[0] not in (0, 5):
        return False
    return hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4] == raw[-4:]


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32M_CONST = 0x2BC830A3


def _bech32_ok(address: str) -> bool:
    """A segwit address: bech32 checksum for witness version 0, bech32m for 1-16 (BIP 173, BIP 350)."""
    addr = address.lower()
    hrp, _, data = addr.rpartition("1")
    if hrp != "bc" or len(data) < 7:
        return False
    values = [_BECH32.index(c) for c in data]
    chk = 1
    for v in [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp] + values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i, gen in enumerate(_BECH32_GEN):
            if (top >> i) & 1:
                chk ^= gen
    if values[0] == 0:
        return chk == 1 and len(addr) in (42, 62)
    return chk == _BECH32M_CONST and values[0] <= 16


# IBAN layouts from the SWIFT IBAN registry: the BBAN as runs of n (digits), a (letters), c (alphanumerics).
_IBAN_BBAN = {
    "AD": "8n12c", "AE": "19n", "AL": "8n16c", "AT": "16n", "AZ": "4a20c", "BA": "16n", "BE": "12n",
    "BG": "4a6n8c", "BH": "4a14c", "BI": "23n", "BR": "23n1a1c", "BY": "4c4n16c", "CH": "5n12c",
    "CR": "18n", "CY": "8n16c", "CZ": "20n", "DE": "18n", "DJ": "23n", "DK": "14n", "DO": "4c20n",
    "EE": "16n", "EG": "25n", "ES": "20n", "FI": "14n", "FK": "2a12n", "FO": "14n", "FR": "10n11c2n",
    "GB": "4a14n", "GE": "2a16n", "GI": "4a15c", "GL": "14n", "GR": "7n16c", "GT": "4c20c", "HR": "17n",
    "HU": "24n", "IE": "4a14n", "IL": "19n", "IQ": "4a15n", "IS": "22n", "IT": "1a10n12c", "JO": "4a4n18c",
    "KW": "4a22c", "KZ": "3n13c", "LB": "4n20c", "LC": "4a24c", "LI": "5n12c", "LT": "16n", "LU": "3n13c",
    "LV": "4a13c", "LY": "21n", "MC": "10n11c2n", "MD": "2c18c", "ME": "18n", "MK": "3n10c2n",
    "MN": "16n", "MR": "23n", "MT": "4a5n18c", "MU": "4a19n3a", "NI": "4a20n", "NL": "4a10n", "NO": "11n",
    "OM": "3n16c", "PK": "4a16c", "PL": "24n", "PS": "4a21c", "PT": "21n", "QA": "4a21c", "RO": "4a16c",
    "RS": "18n", "RU": "14n15c", "SA": "2n18c", "SC": "4a20n3a", "SD": "14n", "SE": "20n", "SI": "15n",
    "SK": "20n", "SM": "1a10n12c", "SO": "19n", "ST": "21n", "SV": "4a20n", "TL": "19n", "TN": "20n",
    "TR": "6n16c", "UA": "6n19c", "VA": "18n", "VG": "4a16n", "XK": "16n", "YE": "4a4n18c",
}  # fmt: skip
_BBAN_CLASS = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]"}


def _iban_rule(layout: str) -> tuple[re.Pattern[str], int]:
    """The BBAN pattern and the full IBAN length (country code and check digits are 4 characters)."""
    runs = [(int(count), kind) for count, kind in re.findall(r"([0-9]+)([nac])", layout)]
    pattern = "".join(f"{_BBAN_CLASS[kind]}{{{count}}}" for count, kind in runs)
    return re.compile(pattern), 4 + sum(count for count, _ in runs)


_IBAN_RULES = {country: _iban_rule(layout) for country, layout in _IBAN_BBAN.items()}


def _iban_ok(compact: str) -> bool:
    rule = _IBAN_RULES.get(compact[:2])
    if rule is None or len(compact) != rule[1] or not rule[0].fullmatch(compact, 4):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# --- what makes a number stand alone --------------------------------------------------------------------

_ID_BEFORE = re.compile(
    r"(?:order|tracking|invoice|reference|ref|confirmation|model|serial|sku|item|part|ticket|case|"
    r"routing|account|gift\s+card)\s*(?:number|no\.?|num|#|id)?(?:\s+(?:is|was))?\s*[:#]?\s*$",
    re.IGNORECASE,
)
_EXPIRY_AFTER = re.compile(r"[0-9]{1,2}/[0-9]{2,4}(?![0-9])")
_IBAN_HEAD_BEFORE = re.compile(r"(?<![\w])[A-Za-z]{2}[0-9]{2}(?: [A-Za-z0-9]{4})* $")


def _isolated(text: str, start: int, end: int, *, spaced: bool) -> bool:
    """The number stands alone: not glued to a word, a code ("BW-12345678", "#123") or a longer number.

    When the candidate groups its digits with spaces, a digit one space away means it is only a piece
    of a longer grouped number (the tail of an IBAN, a card with a bad checksum), unless that is an
    expiry date ("4111 1111 1111 1111 12/27").
    """
    if start > 0:
        prev = text[start - 1]
        if prev.isalnum() or prev in "_#@$€£¥":
            return False
        if prev in "-./" and start > 1 and text[start - 2].isalnum():
            return False
        if prev == ":" and start > 1 and text[start - 2].isdigit():
            return False  # "10:30:..." is a time; "Tel:+44 ..." is a label
        if prev == " " and start > 1 and spaced and text[start - 2].isdigit():
            return False
        if prev == " " and _IBAN_HEAD_BEFORE.search(text, max(0, start - 40), start):
            return False
    if end < len(text):
        nxt = text[end]
        if nxt.isalnum() or nxt in "_@":
            return False
        after = text[end + 1] if end + 1 < len(text) else ""
        if nxt in "-/.:" and after.isalnum():
            return False
        if nxt == " " and spaced and after.isdigit() and not _EXPIRY_AFTER.match(text, end + 1):
            return False
    return True


def _after_id_word(text: str, start: int) -> bool:
    """The number follows "order", "tracking number", "ref #"...: one of our identifiers, not PII."""
    return bool(_ID_BEFORE.search(text, max(0, start - 30), start))


def _sub_runs(raw: str, min_digits: int, max_digits: int, max_chunks: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the whole candidate, then of ever shorter runs of its space-separated chunks,
    keeping those with min_digits..max_digits digits in at most max_chunks chunks.

    A space is ambiguous: "2 415 555 0132" is a quantity then a phone, and "4111 1111 1111 1111 12" a
    card then an expiry month. Dashes and dots bind, so only spaces split.
    """
    chunks = [(m.start(), m.end(), sum(c.isdigit() for c in m.group())) for m in re.finditer(r"[^ ]+", raw)]
    n = len(chunks)
    for size in range(min(n, max_chunks), 0, -1):
        for first in range(n - size + 1):
            count = sum(c[2] for c in chunks[first : first + size])
            if min_digits <= count <= max_digits:
                yield chunks[first][0], chunks[first + size - 1][1]


def _scan(
    pattern: re.Pattern[str],
    text: str,
    *,
    digits: tuple[int, int],
    max_chunks: int,
    accept: Callable[[str, int, int], bool],
) -> Iterator[tuple[int, int]]:
    """Spans of accepted candidates (or of their sub-runs, longest first).

    After a hit the scan resumes where the hit ended, after a miss at the candidate's next chunk: a greedy
    match may run from one number into the next ("4158813998698797 5240557616987168").
    """
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        runs = ((m.start() + a, m.start() + b) for a, b in _sub_runs(m.group(), *digits, max_chunks))
        hit = next((span for span in runs if accept(text, *span)), None)
        if hit is not None:
            yield hit
            pos = hit[1]
        else:
            space = m.group().find(" ")
            pos = m.start() + space + 1 if space > 0 else m.end()


# --- recognizers, one per type ------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w%+-]+(?:\.[\w%+-]+)*@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+"
    r"(?:xn--[a-z0-9-]{2,59}|[^\W\d_]{2,63})(?![\w-]|\.[^\W_])"
)


def _find_email(text: str) -> Iterator[PiiSpan]:
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield PiiSpan("EMAIL_ADDRESS", m.start(), m.end(), m.group())


_BTC_BASE58 = re.compile(r"(?<![\w])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![\w])")
_BTC_BECH32 = re.compile(r"(?<![\w])(?:bc1[02-9ac-hj-np-z]{11,87}|BC1[02-9AC-HJ-NP-Z]{11,87})(?![\w])")


def _find_crypto(text: str) -> Iterator[PiiSpan]:
    for m in _BTC_BASE58.finditer(text):
        if _base58check_ok(m.group()):
            yield PiiSpan("CRYPTO", m.start(), m.end(), m.group())
    for m in _BTC_BECH32.finditer(text):
        if _bech32_ok(m.group()):
            yield PiiSpan("CRYPTO", m.start(), m.end(), m.group())


_IBAN = re.compile(r"(?<![\w])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,32}")


def _find_iban(text: str) -> Iterator[PiiSpan]:
    for m in _IBAN.finditer(text):
        rule = _IBAN_RULES.get(m.group()[:2].upper())
        if rule is None:
            continue
        # Take exactly the country's length; a space may only close a group of four.
        want, count, end, grouped = rule[1], 0, m.start(), True
        for i in range(m.start(), m.end()):
            if text[i] == " ":
                grouped = grouped and count % 4 == 0
                continue
            count += 1
            end = i + 1
            if count == want:
                break
        if count != want or not grouped or (end < len(text) and (text[end].isalnum() or text[end] == "_")):
            continue
        value = text[m.start() : end]
        if _iban_ok(value.replace(" ", "").upper()):
            yield PiiSpan("IBAN_CODE", m.start(), end, value)


_CARD = re.compile(r"[0-9](?:[ -]?[0-9]){12,22}")
_CARD_LAYOUTS = ((4, 6, 5), (4, 6, 4))


def _card_grouping_ok(value: str) -> bool:
    """Bare digits, groups of four (the last may be shorter), or the 4-6-5 / 4-6-4 layouts; one separator."""
    if len({c for c in value if not c.isdigit()}) > 1:
        return False
    sizes = tuple(len(g) for g in re.findall(r"[0-9]+", value))
    return len(sizes) == 1 or sizes in _CARD_LAYOUTS or (set(sizes[:-1]) == {4} and sizes[-1] <= 4)


def _issuer_ok(digits: str) -> bool:
    """The first digits name a card network: UATP (1, 15 digits), Mastercard 2-series and Mir (2),
    Amex, Diners and JCB (3), Visa (4), Mastercard and Maestro (5), Discover, UnionPay and others (6)."""
    first = digits[0]
    if first == "2":
        return 2200 <= int(digits[:4]) <= 2204 or 2221 <= int(digits[:4]) <= 2720
    return first in "3456" or (first == "1" and len(digits) == 15)


def _card_ok(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    digits = _digits(value)
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1 or not _issuer_ok(digits):
        return False
    if not _isolated(text, start, end, spaced=" " in value) or _after_id_word(text, start):
        return False
    return _card_grouping_ok(value) and _luhn_ok(digits)


def _find_card(text: str) -> Iterator[PiiSpan]:
    for start, end in _scan(_CARD, text, digits=(13, 19), max_chunks=5, accept=_card_ok):
        yield PiiSpan("CREDIT_CARD", start, end, text[start:end])


_MAC = re.compile(
    r"(?<![\w:.-])(?:[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![\w:-]|\.\w)"
)


def _find_mac(text: str) -> Iterator[PiiSpan]:
    for m in _MAC.finditer(text):
        value = m.group()
        hexdigits = re.sub(r"[^0-9A-Fa-f]", "", value).lower()
        if hexdigits in ("000000000000", "ffffffffffff"):
            continue  # the null and broadcast addresses identify no device
        if ":" not in value and hexdigits.isdigit():
            continue  # all-digit dashed or dotted groups are more often some other number
        yield PiiSpan("MAC_ADDRESS", m.start(), m.end(), value)


_IPV4 = re.compile(r"(?<![\w.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:/[0-9]{1,3})?(?![\w])")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f:][0-9A-Fa-f:.]*(?:%[0-9A-Za-z]+)?(?:/[0-9]{1,3})?(?![\w:])")


def _keep_valid_prefix(value: str, max_prefix: int) -> str:
    """Keep a "/nn" network prefix only when it is valid for the address family."""
    address, slash, prefix = value.partition("/")
    return value if slash and int(prefix) <= max_prefix else address


def _find_ip(text: str) -> Iterator[PiiSpan]:
    if ":" in text:
        for m in _IPV6.finditer(text):
            raw = m.group()
            raw = raw.rstrip(".")
            if raw.endswith(":") and not raw.endswith("::"):
                raw = raw[:-1]  # "... ::1:" ends a sentence; "fe80::" is an address
            if raw.count(":") < 2 or raw.strip(":") == "":
                continue
            if "::" not in raw and all(len(group) == 2 for group in raw.split(":")):
                continue  # "00:1a:2b:3c:4d:5e:6f:70" is a hardware identifier (EUI-64), not an address
            value = _keep_valid_prefix(raw, 128)
            try:
                ipaddress.IPv6Address(value.partition("/")[0])
            except ValueError:
                continue
            yield PiiSpan("IP_ADDRESS", m.start(), m.start() + len(value), value)
    if "." in text:
        for m in _IPV4.finditer(text):
            value = _keep_valid_prefix(m.group(), 32)
            try:
                ipaddress.IPv4Address(value.partition("/")[0])
            except ValueError:
                continue
            yield PiiSpan("IP_ADDRESS", m.start(), m.start() + len(value), value)


_NINE = re.compile(r"[0-9]{3}([-. ]?)[0-9]{2}([-. ]?)[0-9]{4}")
_US_STATES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|"
    "Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|"
    "Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|"
    "North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|"
    "South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming"
)
_ZIP_BEFORE = re.compile(
    rf"(?:(?-i:\b[A-Z]{{2}}|\b(?:{_US_STATES}))|\b(?:zip|postal|post)\s*(?:code)?\s*:?)\s*$", re.IGNORECASE
)


def _find_ssn_itin(text: str) -> Iterator[PiiSpan]:
    """SSNs and ITINs share the 3-2-4 layout; the area (9xx or not) says which one a number can be."""
    for m in _NINE.finditer(text):
        first, second = m.group(1), m.group(2)
        if first and second and first != second:
            continue  # "693-09.4444": mixed separators are how neither is written
        start, end = m.span()
        if not _isolated(text, start, end, spaced=" " in (first, second)):
            continue
        if not (first or second) and _after_id_word(text, start):
            continue
        # Both are also written with one separator ("078-051121", "91170-1234"); after a state or the
        # word "zip", the 5-4 shape is a ZIP+4 code.
        if second and not first and _ZIP_BEFORE.search(text, max(0, start - 30), start):
            continue
        digits = _digits(m.group())
        if digits[0] == "9":
            if _itin_ok(digits):
                yield PiiSpan("US_ITIN", start, end, m.group())
        elif _ssn_ok(digits):
            yield PiiSpan("US_SSN", start, end, m.group())


_TEN = re.compile(r"[0-9]{3}([- ]?)[0-9]{3}\1[0-9]{4}")
_NHS_CONTEXT = re.compile(r"\b(?:nhs|health|patient|gp|hospital|medical)\b", re.IGNORECASE)


def _find_nhs(text: str) -> Iterator[PiiSpan]:
    for m in _TEN.finditer(text):
        start, end = m.span()
        if not _isolated(text, start, end, spaced=m.group(1) == " "):
            continue
        if not m.group(1) and _after_id_word(text, start):
            continue
        digits = _digits(m.group())
        if not _nhs_ok(digits):
            continue
        nhs_said = _NHS_CONTEXT.search(text, max(0, start - 40), min(len(text), end + 40))
        if not nhs_said and _valid_in(digits, "US"):
            continue  # also a real North American phone number and nothing says NHS: the phone reading wins
        yield PiiSpan("UK_NHS", start, end, m.group())


def _valid_in(raw: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(raw, region))
    except NumberParseException:
        return False


# A phone candidate is a run of digits with the separators people use. It must then be a valid number
# (libphonenumber metadata) written the way its region writes it, or have a layout only phones use.
_PHONE = re.compile(r"(?:\(?\+ ?|\b00)?(?:\((?=[0-9 ]{1,6}\)))?[0-9][0-9()\-. ]{5,24}[0-9]")
_NANP_LAYOUT = re.compile(
    r"(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\) ?[0-9]{3}[ .-][0-9]{4}|[2-9][0-9]{2}\.[0-9]{3}\.[0-9]{4})"
)
_DATE_LAYOUT = re.compile(
    r"[0-9]{1,2}[-. /][0-9]{1,2}[-. /](?:[0-9]{2}|[0-9]{4})|[0-9]{4}[-. /][0-9]{1,2}[-. /][0-9]{1,2}"
)
_VERSION_LAYOUT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){2,3}")
_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|cellphone|call|ring|text|sms|whatsapp|fax|reach|contact|"
    r"(?:my|your|his|her|our|their|the|a|home|work|office|callback)\s+number)\b[^0-9]{0,20}$",
    re.IGNORECASE,
)
_OTHER_LABEL_BEFORE = re.compile(
    r"\b(?:nhs|ssn|social\s+security|itin|tax\s+id|card|iban|passport|licen[cs]e)\s*(?:number|no\.?|num|#)?"
    r"(?:\s+(?:is|was))?\s*[:#]?\s*$",
    re.IGNORECASE,
)
_MONEY_BEFORE = re.compile(r"(?:[$€£¥₹]|\b(?:usd|eur|gbp|cad|aud))\s*$", re.IGNORECASE)
_UNIT_AFTER = re.compile(
    r"\s*(?:%|(?:usd|eur|gbp|cad|dollars?|euros?|pounds?|cents?|kg|g|lbs?|km|mi|miles|items?|units?|pcs|"
    r"times|days|hours|minutes|points?)\b)",
    re.IGNORECASE,
)


def _not_a_phone_layout(raw: str, groups: list[str]) -> bool:
    """Dates, years, versions, IPv4 look-alikes, SSNs and ZIP+4 codes are numbers people write, not phones."""
    if _DATE_LAYOUT.fullmatch(raw) or _VERSION_LAYOUT.fullmatch(raw):
        return True
    if all(len(g) == 4 and g[:2] in ("19", "20") for g in groups):
        return True  # "2019-2021", "2023 2024"
    sizes = [len(g) for g in groups]
    return sizes == [3, 2, 4] or (sizes == [5, 4] and "-" in raw)


def _written_as_national(raw: str, number: phonenumbers.PhoneNumber, region: str) -> bool:
    """The digits are the region's national format, broken only where that format breaks.

    Locals write their trunk prefix ("020 ...", "06 ..."), so digits without it are not read as a foreign
    national number; and people leave breaks out but do not invent them: "078-05-0000" is not how any
    German number is grouped, though its digits form one.
    """
    formatted = phonenumbers.format_number(number, _NATIONAL)
    fmt_digits, cand_digits = _digits(formatted), _digits(raw)
    offset = len(cand_digits) - len(fmt_digits)  # a North American trunk "1" in front
    if cand_digits[offset:] != fmt_digits or (offset and (region, cand_digits[:offset]) != ("US", "1")):
        return False
    fmt_breaks, seen = set(), 0
    for run in re.findall(r"[0-9]+", formatted):
        seen += len(run)
        fmt_breaks.add(seen)
    seen = 0
    for run in re.findall(r"[0-9]+", raw)[:-1]:
        seen += len(run)
        if seen > offset and seen - offset not in fmt_breaks:
            return False
    return True


def _phone_ok(text: str, start: int, end: int) -> bool:
    raw = text[start:end]
    groups = re.findall(r"[0-9]+", raw)
    digits = "".join(groups)
    if not 8 <= len(digits) <= 15 or raw.count("(") != raw.count(")"):
        return False
    if not _isolated(text, start, end, spaced=" " in raw) or _after_id_word(text, start):
        return False
    if _OTHER_LABEL_BEFORE.search(text, max(0, start - 30), start) or _not_a_phone_layout(raw, groups):
        return False
    if _MONEY_BEFORE.search(text, max(0, start - 6), start) or _UNIT_AFTER.match(text, end):
        return False
    try:
        if raw.lstrip("(").startswith(("+", "00")):
            number = phonenumbers.parse("+" + digits[2:] if raw.startswith("00") else raw, None)
            if phonenumbers.is_valid_number(number):
                return True
            # A number the metadata does not list (a new range, one kept for drama: +44 7700 900123) but of a
            # length the country dials, written in groups or called a phone: still somebody's number.
            return phonenumbers.is_possible_number(number) and (
                len(groups) > 1 or bool(_PHONE_CONTEXT.search(text, max(0, start - 40), start))
            )
        if _NANP_LAYOUT.fullmatch(raw):
            return True  # "(415) 555-0132", "415.555.0132": only phone numbers are written so
        if len(groups) == 1 and not _PHONE_CONTEXT.search(text, max(0, start - 40), start):
            return False  # a bare run of digits is a phone only when the customer says so
        for region in PHONE_REGIONS:
            number = phonenumbers.parse(raw, region)
            if phonenumbers.is_valid_number(number) and _written_as_national(raw, number, region):
                return True
    except NumberParseException:
        return False
    return False


def _find_phone(text: str) -> Iterator[PiiSpan]:
    for start, end in _scan(_PHONE, text, digits=(8, 15), max_chunks=7, accept=_phone_ok):
        yield PiiSpan("PHONE_NUMBER", start, end, text[start:end])


# Street addresses: a house number, a capitalised street name, a street-type word; then optionally a unit
# and ", City, ST 12345" (or a state name, or a UK/Canadian postcode). Precision over recall: a city is
# taken only with the state or postcode that makes it part of an address.
_STREET_TYPE = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Parkway|Pkwy|Place|Pl|"
    r"Terrace|Way|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Crescent|Close|Mews|Alley|Plaza)"
)
_STREET_NAME = r"(?:[A-Z][a-z]+|[0-9]{1,3}(?:st|nd|rd|th))"
_POSTCODE = (
    r"(?:[0-9]{5}(?:-[0-9]{4})?|[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})"
)
_ADDRESS = re.compile(
    rf"(?<![\w#$€£.,/-])[0-9]{{1,5}}[A-Za-z]?\s+(?:(?:{_STREET_NAME}|[NSEW]\.?)\s+){{0,3}}{_STREET_NAME}"
    rf"\s+{_STREET_TYPE}\b"
    r"(?:\.?,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?\s*#?[A-Za-z0-9-]{1,6}\b)?"
    rf"(?:\.?,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+){{0,2}},?\s+"
    rf"(?:[A-Z]{{2}}(?:\s+{_POSTCODE})?|(?:[A-Z][a-z]+\s){{1,2}}[0-9]{{5}}(?:-[0-9]{{4}})?|{_POSTCODE})(?![\w]))?"
)


def _find_address(text: str) -> Iterator[PiiSpan]:
    for m in _ADDRESS.finditer(text):
        yield PiiSpan("STREET_ADDRESS", m.start(), m.end(), m.group())


_RECOGNIZERS = (
    (frozenset({"EMAIL_ADDRESS"}), _find_email),
    (frozenset({"CRYPTO"}), _find_crypto),
    (frozenset({"IBAN_CODE"}), _find_iban),
    (frozenset({"CREDIT_CARD"}), _find_card),
    (frozenset({"MAC_ADDRESS"}), _find_mac),
    (frozenset({"IP_ADDRESS"}), _find_ip),
    (frozenset({"US_SSN", "US_ITIN"}), _find_ssn_itin),
    (frozenset({"UK_NHS"}), _find_nhs),
    (frozenset({"PHONE_NUMBER"}), _find_phone),
    (frozenset({"STREET_ADDRESS"}), _find_address),
)

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_KEPT_IN_URLS = frozenset({"EMAIL_ADDRESS", "IP_ADDRESS"})


def _wanted(types: Iterable[str] | None) -> frozenset[str]:
    if types is None:
        return SUPPORTED_TYPES
    wanted = frozenset(types)
    unknown = wanted - SUPPORTED_TYPES
    if unknown:
        raise ValueError(f"unsupported PII types: {sorted(unknown)}")
    return wanted


def find_pii(text: str, *, types: Iterable[str] | None = None) -> list[PiiSpan]:
    """The PII in `text`, sorted by position and never overlapping (the more specific type wins).

    Tokens from an earlier `mask` are never reported, and numbers inside ordinary URLs stay (only an
    e-mail or IP address in a URL is reported). `types` narrows the search; an unknown type is an error.
    """
    wanted = _wanted(types)
    taken = [m.span() for m in TOKEN_RE.finditer(text)]
    urls = [m.span() for m in _URL.finditer(text)] if "://" in text or "www." in text.lower() else []
    found: list[PiiSpan] = []
    for names, recognize in _RECOGNIZERS:
        if names & wanted:
            found.extend(s for s in recognize(text) if s.type in wanted)
    found.sort(key=lambda s: (_RANK[s.type], s.start - s.end, s.start))
    kept: list[PiiSpan] = []
    for span in found:
        if any(span.start < e and s < span.end for s, e in taken):
            continue
        if span.type not in _KEPT_IN_URLS and any(s <= span.start and span.end <= e for s, e in urls):
            continue
        kept.append(span)
        taken.append((span.start, span.end))
    kept.sort(key=lambda s: s.start)
    return kept


# --- masking ------------------------------------------------------------------------------------------


def _phone_key(value: str) -> str:
    """One key for the ways a number is written: "+1 415-555-0132" and "(415) 555-0132" are one."""
    digits = _digits(value)
    international = value.startswith(("+", "00"))
    try:
        number = phonenumbers.parse(
            "+" + digits[2:] if value.startswith("00") else value, None if international else "US"
        )
    except NumberParseException:
        logger.debug("phone value not parseable for its key; comparing digits")
        return digits
    if international or phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return digits


def normal_form(kind: str, value: str) -> str:
    """How two writings of one value compare: phones as E.164 where valid, other numbers as digits only,
    IBANs and MACs without separators, e-mails in lower case."""
    if kind == "PHONE_NUMBER":
        return _phone_key(value)
    if kind in ("CREDIT_CARD", "US_SSN", "US_ITIN", "UK_NHS"):
        return _digits(value)
    if kind in ("IBAN_CODE", "MAC_ADDRESS"):
        return re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if kind == "IP_ADDRESS":
        try:
            return str(ipaddress.ip_interface(value.split("%")[0]))
        except ValueError:
            return value.lower()
    if kind == "CRYPTO":
        return value.lower() if value.lower().startswith("bc1") else value
    return " ".join(value.lower().split())


def mask(text: str, *, known: Mapping[str, str] | None = None, types: Iterable[str] | None = None) -> Masked:
    """Replace each PII value with a token ("[EMAIL_1]"), reusing the tokens of earlier turns (`known`).

    A value seen before keeps its token; a new one continues its type's numbering. Masking masked text
    changes nothing, because tokens are never detected as PII.
    """
    tokens: dict[str, str] = dict(known or {})
    index: dict[tuple[str, str], str] = {}
    counters: dict[str, int] = {}
    for old, value in tokens.items():
        parts = TOKEN_RE.fullmatch(old)
        if parts is None:
            continue
        prefix = parts.group(1)
        counters[prefix] = max(counters.get(prefix, 0), int(parts.group(2)))
        index.setdefault((prefix, normal_form(_PREFIX_TYPE[prefix], value)), old)
    spans = find_pii(text, types=types)
    out: list[str] = []
    pos = 0
    for span in spans:
        prefix = TOKEN_PREFIX[span.type]
        key = (prefix, normal_form(span.type, span.text))
        token = index.get(key)
        if token is None:
            counters[prefix] = counters.get(prefix, 0) + 1
            token = f"[{prefix}_{counters[prefix]}]"
            index[key] = token
            tokens[token] = span.text
        out += (text[pos : span.start], token)
        pos = span.end
    out.append(text[pos:])
    return Masked(text="".join(out), spans=tuple(spans), tokens=tokens)


def unmask(text: str, tokens: Mapping[str, str]) -> str:
    """Put the original values back; a token not in `tokens` stays as it is."""
    return TOKEN_RE.sub(lambda m: tokens.get(m.group(), m.group()), text)


def redact(text: str) -> str:
    """For logs and traces: the masked text, without keeping any way back to the values."""
    return mask(text).text


def _warm_up() -> None:
    """Load libphonenumber's lazy metadata and patterns at import, not during some customer's first turn."""
    for region in PHONE_REGIONS:
        example = phonenumbers.example_number(region)
        if example is not None:
            find_pii("call " + phonenumbers.format_number(example, _NATIONAL))
            find_pii("call " + phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL))


_warm_up()
