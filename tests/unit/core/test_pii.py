"""PII detection and reversible masking: `core.pii`.

All values here are made up for these tests (or are published specification examples), with checksums
computed for the purpose; none comes from the external benchmark.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from core.pii import SUPPORTED_TYPES, TOKEN_RE, PiiSpan, find_pii, mask, normal_form, redact, unmask


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.type, s.text) for s in find_pii(text)]


# --- e-mail -------------------------------------------------------------------------------------------


def test_email_in_a_sentence_is_found_without_the_full_stop():
    assert kinds("Please write to Jane.Doe+orders@mail.example.co.uk.") == [
        ("EMAIL_ADDRESS", "Jane.Doe+orders@mail.example.co.uk")
    ]


def test_email_with_an_internationalised_domain_is_found():
    assert kinds("mail: ana@xn--bcher-kva.xn--tckwe") == [("EMAIL_ADDRESS", "ana@xn--bcher-kva.xn--tckwe")]


@pytest.mark.parametrize("text", ["write to jane@localhost", "jane@ is my handle", "@brightwell on social"])
def test_an_at_sign_without_a_domain_is_not_an_email(text):
    assert kinds(text) == []


# --- credit cards -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card",
    [
        "4158813998698797",
        "4158 8139 9869 8797",
        "5240-5576-1698-7168",
        "3784 133017 56820",
        "6579906593976158",
    ],
)
def test_card_with_valid_luhn_is_masked_in_any_usual_grouping(card):
    assert kinds(f"my card is {card}, thanks") == [("CREDIT_CARD", card)]


@pytest.mark.parametrize("card", ["4158813998698798", "5240 5576 1698 7169", "3784 133017 56821"])
def test_card_with_bad_luhn_is_not_masked(card):
    assert kinds(f"my card is {card}") == []


def test_card_followed_by_its_expiry_is_masked_without_the_expiry():
    assert kinds("card 4158 8139 9869 8797 12/29") == [("CREDIT_CARD", "4158 8139 9869 8797")]


def test_two_cards_in_a_row_are_both_masked():
    assert kinds("cards 5240557616987168 4158813998698797") == [
        ("CREDIT_CARD", "5240557616987168"),
        ("CREDIT_CARD", "4158813998698797"),
    ]


def test_luhn_valid_number_outside_the_card_networks_is_not_masked():
    assert kinds("ref 7992739871300") == []  # passes Luhn, but no card network starts with 7


def test_card_number_glued_into_an_order_code_is_not_masked():
    assert kinds("order #4158813998698797 and BW-4158813998698797") == []


# --- IBAN ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iban",
    [
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "FR14 2004 1010 0505 0001 3M02 606",
        "nl91abna0417164300",
    ],
)
def test_iban_with_or_without_spaces_is_masked(iban):
    assert kinds(f"IBAN: {iban}. Thanks") == [("IBAN_CODE", iban)]


@pytest.mark.parametrize(
    "lookalike",
    [
        "DE89 3704 0044 0532 0130 01",  # check digits do not match
        "DE89 3704 0044 0532 0130 0",  # one character short for Germany
        "DE89 3704 0044 0532 0130 000",  # one too many
        "NL91 AB1A 0417 1643 00",  # a digit where the Dutch layout has a bank letter
        "DE89 37040 0440 5320 1300 0",  # spaces that do not close groups of four
        "ZZ12 3456 7890 1234",  # no such country
    ],
)
def test_iban_with_bad_checksum_length_or_layout_is_not_masked(lookalike):
    assert kinds(lookalike) == []


# --- US SSN and ITIN ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ssn", ["123-45-6780", "123 45 6780", "123.45.6780", "123456780"])
def test_ssn_is_masked_with_dashes_spaces_dots_or_bare(ssn):
    assert kinds(f"my social security number is {ssn}") == [("US_SSN", ssn)]


@pytest.mark.parametrize(
    "never_issued",
    ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "111-11-1111", "078-05-1120"],
)
def test_ssn_in_a_range_never_issued_is_not_masked(never_issued):
    assert kinds(f"SSN {never_issued}") == []


def test_ssn_written_with_one_separator_is_masked():
    assert kinds("SSN 123-456780") == [("US_SSN", "123-456780")]


def test_zip_plus_four_after_a_state_name_is_not_taken_for_an_ssn():
    assert kinds("Springfield, Illinois 62704-1234; zip 62704-1234") == []


def test_ssn_with_mixed_separators_is_not_masked():
    assert kinds("123-45.6780") == []


@pytest.mark.parametrize("itin", ["912-70-1234", "912 94 1234", "912701234"])
def test_itin_in_a_valid_group_is_masked(itin):
    assert kinds(f"ITIN {itin}") == [("US_ITIN", itin)]


def test_itin_outside_the_issued_groups_is_not_masked():
    assert kinds("ITIN 912-89-1234") == []


def test_zip_plus_four_after_a_state_is_not_taken_for_an_itin():
    assert kinds("Send it to Fresno, CA 93711-2345") == []


# --- phones -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "020 7946 0958",
        "(555) 123-4567",
        "555.123.4567",
        "(212) 555-0187",
        "212-555-0187",
        "+1 212 555 0187",
        "1-800-555-0199",
        "+49 30 901820",
        "+33 6 12 34 56 78",
        "0033 6 12 34 56 78",
        "090-3456-7812",  # a Japanese mobile written the Japanese way
        "(+1) 212 555 0187",
        "+44 7700 900123",  # in a range the metadata lists as no one's (kept for drama): a phone all the same
        "+1 555 010 9999",
    ],
)
def test_phone_in_international_and_national_formats_is_masked(phone):
    assert kinds(f"you can reach me on {phone}, evenings") == [("PHONE_NUMBER", phone)]


def test_a_label_glued_with_a_colon_does_not_hide_the_value():
    assert kinds("Tel:+44 20 7946 0958, SSN:123-45-6780") == [
        ("PHONE_NUMBER", "+44 20 7946 0958"),
        ("US_SSN", "123-45-6780"),
    ]


def test_bare_digits_are_a_phone_only_when_the_customer_says_so():
    assert kinds("call me back on 2125550187") == [("PHONE_NUMBER", "2125550187")]
    assert kinds("it says 2125550187 on the box") == []


def test_a_quantity_before_a_phone_is_not_part_of_it():
    assert kinds("I need 2 of them, my cell 212-555-0187") == [("PHONE_NUMBER", "212-555-0187")]


@pytest.mark.parametrize(
    "text",
    [
        "Order BW-20481234 arrived damaged",
        "my order number is 20481234",
        "order #482913 was late",
        "tracking number 9405511899223197428490",
        "It cost $1,249.99 plus 12.50 shipping",
        "I paid 2125550187 dollars",  # absurd, but a price all the same
        "Delivered on 2026-03-14 at 10:30",
        "Delivered 14/03/2026, 03-14-2026 or 14.03.2026",
        "I bought it in 1999, returned it in 2024",
        "warranty from 2019-2021",
        "please send 12 units, 3 boxes",
        "firmware 10.2.114 is installed",
        "ratio 16:9 and time 10:30:15",
        "the model DC-120 and the BX-700",
    ],
)
def test_order_numbers_prices_dates_years_and_quantities_are_not_masked(text):
    assert kinds(text) == []


def test_numbers_inside_an_ordinary_url_are_not_masked():
    assert kinds("see https://brightwell.example/orders/2125550187?card=4158813998698797") == []


# --- IP, MAC, crypto, NHS, street address -------------------------------------------------------------


def test_ipv4_ipv6_and_networks_are_masked():
    found = kinds(
        "from 203.0.113.42 via 2001:db8:abcd::12 in 198.51.100.0/24, link fe80::, port 10.1.2.3:8080."
    )
    assert found == [
        ("IP_ADDRESS", "203.0.113.42"),
        ("IP_ADDRESS", "2001:db8:abcd::12"),
        ("IP_ADDRESS", "198.51.100.0/24"),
        ("IP_ADDRESS", "fe80::"),
        ("IP_ADDRESS", "10.1.2.3"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "203.0.113.300",
        "203.0.113",
        "2001:db8::abcd::12",
        "see std::vector",
        "a :: b",
        "3c:22:fb:11:aa:07:5e:01",
    ],
)
def test_invalid_ip_addresses_are_not_masked(text):
    assert kinds(text) == []


@pytest.mark.parametrize("mac", ["3c:22:fb:11:aa:07", "3C-22-FB-11-AA-07", "3c22.fb11.aa07"])
def test_mac_address_is_masked(mac):
    assert kinds(f"my laptop is {mac}") == [("MAC_ADDRESS", mac)]


@pytest.mark.parametrize("text", ["3c:22:fb:11:aa", "ff:ff:ff:ff:ff:ff", "3c:22-fb:11-aa:07"])
def test_partial_broadcast_or_mixed_mac_is_not_masked(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "wallet",
    [
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",  # base58check
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",  # bech32 (BIP 173 example)
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",  # bech32m (BIP 350 example)
    ],
)
def test_bitcoin_address_with_a_valid_checksum_is_masked(wallet):
    assert kinds(f"send it to {wallet}") == [("CRYPTO", wallet)]


@pytest.mark.parametrize(
    "wallet", ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"]
)
def test_bitcoin_address_with_one_character_changed_is_not_masked(wallet):
    assert kinds(wallet) == []


def test_nhs_number_with_valid_check_digit_is_masked():
    assert kinds("NHS number 943 476 5919") == [("UK_NHS", "943 476 5919")]


def test_nhs_number_with_bad_check_digit_is_not_masked():
    assert kinds("NHS number 943 476 5918") == []


@pytest.mark.parametrize(
    "address",
    [
        "221B Baker Street",
        "1600 Amphitheatre Parkway, Mountain View, CA 94043",
        "742 Evergreen Terrace, Apt 3, Springfield, IL 62704",
        "350 5th Avenue",
    ],
)
def test_street_address_is_masked(address):
    assert kinds(f"ship it to {address} please") == [("STREET_ADDRESS", address)]


def test_capitalised_words_after_a_number_without_a_street_type_are_not_an_address():
    assert kinds("I ordered 2 Large Mugs and 3 Tall Glasses") == []


# --- find_pii -----------------------------------------------------------------------------------------


def test_find_pii_returns_sorted_non_overlapping_spans_with_original_offsets():
    text = "ip 203.0.113.42, mail a@b.example, tel +44 20 7946 0958"
    spans = find_pii(text)
    assert [s.type for s in spans] == ["IP_ADDRESS", "EMAIL_ADDRESS", "PHONE_NUMBER"]
    assert all(a.end <= b.start for a, b in pairwise(spans))
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_where_two_readings_overlap_the_checksummed_type_wins():
    # These ten digits are both a valid NHS number and shaped like a phone number; the NHS context decides.
    assert kinds("my NHS number is 943-476-5919") == [("UK_NHS", "943-476-5919")]


def test_types_narrows_the_search_and_an_unknown_type_is_refused():
    text = "mail a@b.example, tel +44 20 7946 0958"
    assert [s.type for s in find_pii(text, types=["PHONE_NUMBER"])] == ["PHONE_NUMBER"]
    with pytest.raises(ValueError, match="DATE_TIME"):
        find_pii(text, types=["DATE_TIME"])


def test_dates_and_urls_are_not_supported_types():
    assert {"DATE_TIME", "URL"}.isdisjoint(SUPPORTED_TYPES)


# --- mask, unmask, redact -----------------------------------------------------------------------------


def test_mask_replaces_each_value_with_a_numbered_token_per_type():
    masked = mask("a@b.example and c@d.example, call +44 20 7946 0958")
    assert masked.text == "[EMAIL_1] and [EMAIL_2], call [PHONE_1]"
    assert masked.tokens == {
        "[EMAIL_1]": "a@b.example",
        "[EMAIL_2]": "c@d.example",
        "[PHONE_1]": "+44 20 7946 0958",
    }
    assert masked.spans[0] == PiiSpan("EMAIL_ADDRESS", 0, 11, "a@b.example")


def test_a_value_repeated_in_one_text_gets_one_token():
    assert mask("a@b.example, again a@b.example").text == "[EMAIL_1], again [EMAIL_1]"


def test_known_tokens_are_reused_for_the_same_value_written_differently():
    first = mask("I am Jane.Doe@Example.com, card 4158 8139 9869 8797, tel (212) 555-0187")
    second = mask("jane.doe@example.com / 4158-8139-9869-8797 / +1 212 555 0187", known=first.tokens)
    assert second.text == "[EMAIL_1] / [CARD_1] / [PHONE_1]"
    assert second.tokens == first.tokens


def test_normal_form_makes_two_writings_of_one_value_equal():
    assert normal_form("PHONE_NUMBER", "(212) 555-0187") == normal_form("PHONE_NUMBER", "+1 212-555-0187")
    assert normal_form("EMAIL_ADDRESS", "Jane@Example.com") == "jane@example.com"
    assert normal_form("IBAN_CODE", "de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    assert normal_form("CREDIT_CARD", "5240-5576-1698-7168") != normal_form("CREDIT_CARD", "5240557616987169")


def test_new_values_continue_the_numbering_of_known_tokens():
    known = {"[EMAIL_1]": "a@b.example", "[EMAIL_4]": "x@y.example", "[PHONE_1]": "+44 20 7946 0958"}
    masked = mask("now c@d.example", known=known)
    assert masked.text == "now [EMAIL_5]"
    assert masked.tokens == {**known, "[EMAIL_5]": "c@d.example"}


def test_masking_masked_text_changes_nothing():
    once = mask("mail a@b.example, IBAN DE89 3704 0044 0532 0130 00, ip 203.0.113.42")
    twice = mask(once.text, known=once.tokens)
    assert twice.text == once.text and twice.spans == () and twice.tokens == once.tokens
    assert mask(once.text).tokens == {}


def test_unmask_puts_the_originals_back():
    text = "I'm at 221B Baker Street, mail a@b.example, SSN 123-45-6780, card 5240-5576-1698-7168."
    masked = mask(text)
    assert masked.text != text
    assert unmask(masked.text, masked.tokens) == text


def test_unmask_leaves_unknown_tokens_alone():
    assert unmask("[EMAIL_1] and [EMAIL_2]", {"[EMAIL_1]": "a@b.example"}) == "a@b.example and [EMAIL_2]"


def test_redact_masks_like_mask():
    text = "tel +44 20 7946 0958, order BW-20481234"
    assert redact(text) == mask(text).text == "tel [PHONE_1], order BW-20481234"


def test_token_re_matches_every_token_mask_produces():
    text = (
        "a@b.example 4158813998698797 DE89370400440532013000 123-45-6780 912-70-1234 203.0.113.42 "
        "3c:22:fb:11:aa:07 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa NHS 943 476 5919 tel +44 20 7946 0958 "
        "at 221B Baker Street"
    )
    masked = mask(text)
    assert {s.type for s in masked.spans} == SUPPORTED_TYPES
    assert [m.group() for m in TOKEN_RE.finditer(masked.text)] == list(masked.tokens)
    assert not any(ch.isdigit() for ch in TOKEN_RE.sub("", masked.text))
