"""Normalisation and personal-data rules of WARNINGS.md §2 (credit.domain.identifiers).

The id numbers below are real-looking 居民身份证号码 whose check characters were computed
by hand with GB 11643's table: S = Σ digit × weight (weights 7 9 10 5 8 4 2 1 6 3 7 9 10
5 8 4 2), check = "10X98765432"[S mod 11]. For example 33062119800101123·:
3·7+3·9+0·10+6·5+2·8+1·4+1·2+9·1+8·6+0·3+0·7+1·9+0·10+1·5+1·8+2·4+3·2 = 193,
193 mod 11 = 6 → "6".
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from credit.domain.identifiers import (
    check_id_number,
    id_check_character,
    keyed_hash,
    mask_account,
    mask_id_number,
    normalise_account,
    normalise_by_kind,
    normalise_identifier,
    normalise_ip,
)

TODAY = date(2026, 6, 1)
KEY = b"k" * 32

# number, S (Σ digit × weight), S mod 11 → check character
VALID_IDS = [
    ("330621198001011236", 193),   # 193 mod 11 = 6 → 6
    ("11010519491231002X", 167),   # 167 mod 11 = 2 → X (GB 11643's own example)
    ("33062120000229002X", 189),   # 189 mod 11 = 2 → X; born on a leap day of 2000
    ("330621199602291231", 286),   # 286 mod 11 = 0 → 1; leap day 1996
    ("330602190001010019", 113),   # 113 mod 11 = 3 → 9; born 1900-01-01, the earliest
    ("510108197902021037", 203),   # 203 mod 11 = 5 → 7
    ("33010619880808155X", 310),   # 310 mod 11 = 2 → X
    ("330106198808081605", 304),   # 304 mod 11 = 7 → 5
]


# ---- identifiers -----------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("00-1A-2B-3C-4D-5E", "001A2B3C4D5E"),
    ("00:1a:2b:3c:4d:5e", "001A2B3C4D5E"),
    ("001a.2b3c.4d5e", "001A2B3C4D5E"),
    (" 00 1a\t2b\n3c\u30004d\u00a05e ", "001A2B3C4D5E"),   # ideographic and nbsp spaces
    ("8f3a-22c1", "8F3A22C1"),
    ("bfebfbff000906ea", "BFEBFBFF000906EA"),
    ("x", "X"),
    ("a" * 128, "A" * 128),
    ("-".join("A" * 128), "A" * 128),                     # separators do not count
])
def test_identifier_normalisation(raw, expected):
    assert normalise_identifier(raw) == expected


@pytest.mark.parametrize("raw", [
    "", " ", "-:.", " - ", "A" * 129,
    "７A1C",             # a full-width digit is not an ASCII digit
    "ＡＢ",              # full-width letters
    "AB_CD", "AB/CD", "AB+CD", "é1", "ß",
])
def test_identifier_refusals(raw):
    with pytest.raises(ValueError):
        normalise_identifier(raw)


def test_identifier_upper_cases_only_ascii():
    # str.upper would turn "ß" into "SS", an ASCII result from a non-ASCII input
    with pytest.raises(ValueError):
        normalise_identifier("ßA")


@pytest.mark.parametrize("raw, expected", [
    ("115.220.4.17", "115.220.4.17"),
    ("  115.220.4.17\t", "115.220.4.17"),
    ("0.0.0.0", "0.0.0.0"),
    ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    ("2001:db8::1", "2001:db8::1"),
    ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
    ("::1", "::1"),
    ("::", "::"),
    ("::ffff:115.220.4.17", "115.220.4.17"),       # IPv4-mapped → its IPv4 address
    ("::FFFF:73DC:0411", "115.220.4.17"),          # the same, written in hex
    ("0:0:0:0:0:ffff:7f00:1", "127.0.0.1"),
    ("::115.220.4.17", "::73dc:411"),              # IPv4-compatible is not mapped
    ("64:ff9b::115.220.4.17", "64:ff9b::73dc:411"),
])
def test_ip_normalisation(raw, expected):
    assert normalise_ip(raw) == expected


@pytest.mark.parametrize("raw", [
    "115.220.04.17",          # leading zero
    "115.220.4.017",
    "::ffff:115.220.04.17",   # a leading zero inside a mapped address
    "fe80::1%eth0",           # zone ids
    "fe80::1%1",
    "115.220.4", "115.220.4.17.1", "256.1.1.1", "115.220.4.17/32",
    "１15.220.4.17",          # full-width digit
    "115 .220.4.17", "", "   ", "2001:db8:::1", "gggg::1", "localhost",
])
def test_ip_refusals(raw):
    with pytest.raises(ValueError):
        normalise_ip(raw)


@pytest.mark.parametrize("kind, raw, expected", [
    ("machine_code", "8f3a-22c1", "8F3A22C1"),
    ("file_id", "f-88a1", "F88A1"),
    ("pricing_lock", "js.0091", "JS0091"),
    ("mac", "00-1a-2b-3c-4d-5e", "001A2B3C4D5E"),
    ("cpu", "bfebfbff 000906ea", "BFEBFBFF000906EA"),
    ("disk", "s3z9nb0k", "S3Z9NB0K"),
    ("ip", " ::ffff:10.0.0.1 ", "10.0.0.1"),
])
def test_normalise_by_kind(kind, raw, expected):
    assert normalise_by_kind(kind, raw) == expected


def test_normalise_by_kind_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="Unknown identifier kind"):
        normalise_by_kind("deposit_account", "12345678")
    with pytest.raises(ValueError):
        normalise_by_kind("ip", "8F3A-22C1")


# ---- deposit accounts ------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("6222 0212 0400 1234 567", "6222021204001234567"),
    ("6222-0212-0400-1234-567", "6222021204001234567"),
    ("12345678", "12345678"),
    ("1" * 32, "1" * 32),
    ("\u3000" + "1234 5678", "12345678"),
])
def test_account_normalisation(raw, expected):
    assert normalise_account(raw) == expected


@pytest.mark.parametrize("raw", ["1234567", "1" * 33, "1234567A", "1234.5678",
                                 "１２３４５６７８", "", "  -  "])
def test_account_refusals(raw):
    with pytest.raises(ValueError):
        normalise_account(raw)


def test_refusals_never_repeat_the_personal_value():
    for raw, fn in (("6222 0212 04A", normalise_account),
                    ("330621198001011237", lambda v: check_id_number(v, TODAY)),
                    ("33062119800101123", lambda v: check_id_number(v, TODAY))):
        with pytest.raises(ValueError) as info:
            fn(raw)
        digits = "".join(c for c in raw if c.isdigit())
        assert digits[:8] not in str(info.value) and digits[-4:] not in str(info.value)


# ---- resident id numbers ---------------------------------------------------------------

@pytest.mark.parametrize("number, total", VALID_IDS)
def test_valid_id_numbers(number, total):
    assert check_id_number(number, TODAY) == number
    assert id_check_character(number[:17]) == "10X98765432"[total % 11] == number[17]


def test_lower_case_x_is_upper_cased():
    assert check_id_number("11010519491231002x", TODAY) == "11010519491231002X"
    assert check_id_number("33062120000229002x", TODAY) == "33062120000229002X"


@pytest.mark.parametrize("number", [
    "330621198001011237",     # wrong check digit (6 expected)
    "110105194912310021",     # X expected
    "33010619880808155Y",     # not a check character
    "330621198001011230",
])
def test_wrong_check_character(number):
    with pytest.raises(ValueError, match="check character"):
        check_id_number(number, TODAY)


@pytest.mark.parametrize("number", [
    "33062119800101123",      # 17 characters
    "3306211980010112366",    # 19
    "",
    " 330621198001011236",    # whitespace is not trimmed from an id number
])
def test_wrong_length(number):
    with pytest.raises(ValueError, match="18 characters"):
        check_id_number(number, TODAY)


@pytest.mark.parametrize("number", [
    "３30621198001011236",    # a full-width digit
    "33062119800101123６",
    "3306211980010112X6",     # X only as the check character
    "33062119800101-236",
])
def test_non_ascii_or_misplaced_characters(number):
    with pytest.raises(ValueError, match="17 ASCII digits"):
        check_id_number(number, TODAY)


def _with_birth(birth: str) -> str:
    """A number born on ``birth`` (YYYYMMDD) with its correct check character."""
    first17 = "330621" + birth + "123"
    return first17 + id_check_character(first17)


@pytest.mark.parametrize("birth", [
    "19000229",   # 1900 is not a leap year (divisible by 100, not by 400)
    "20010229", "19991301", "19990001", "19990431", "19990100", "18991231",
])
def test_birth_date_not_a_real_date_or_too_early(birth):
    with pytest.raises(ValueError, match="birth date"):
        check_id_number(_with_birth(birth), TODAY)


def test_birth_date_from_1900_to_today():
    # 330621 19000101 123 → S = 3·7+3·9+0+6·5+2·8+1·4+1·2+9·1+0+0+0+1·9+0+1·5+1·8+2·4+3·2
    # = 21+27+30+16+4+2+9+9+5+8+8+6 = 145, 145 mod 11 = 2 → X
    assert check_id_number("33062119000101123X", TODAY) == "33062119000101123X"
    today = _with_birth("20260601")
    assert check_id_number(today, TODAY) == today
    tomorrow = _with_birth("20260602")
    with pytest.raises(ValueError, match="birth date"):
        check_id_number(tomorrow, TODAY)
    assert check_id_number(tomorrow, date(2026, 6, 2)) == tomorrow
    # a number born before 1900 is refused even when its check character is right
    with pytest.raises(ValueError, match="birth date"):
        check_id_number("440524188001010014", TODAY)


def test_leap_days():
    assert check_id_number(_with_birth("20000229"), TODAY)      # 2000 divisible by 400
    assert check_id_number(_with_birth("20240229"), TODAY)
    with pytest.raises(ValueError, match="birth date"):
        check_id_number(_with_birth("20230229"), TODAY)


# ---- masks and hashes ------------------------------------------------------------------

def test_masks():
    assert mask_id_number("330621198001011236") == "330621********1236"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_account("6222021204001234567") == "****4567"
    assert mask_account("12345678") == "****5678"


def test_keyed_hash_is_hmac_sha256_lowercase_hex():
    value = "330621198001011236"
    expected = hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()
    assert keyed_hash(KEY, value) == expected
    assert len(expected) == 64 and expected == expected.lower()
    assert keyed_hash(b"j" * 32, value) != expected          # depends on the key
    assert keyed_hash(KEY, "330621198001011237") != expected
    # HMAC, not a bare SHA-256 of key and value
    assert keyed_hash(KEY, value) != hashlib.sha256(KEY + value.encode()).hexdigest()


def test_keyed_hash_refuses_a_short_key():
    with pytest.raises(ValueError, match="32 bytes"):
        keyed_hash(b"k" * 31, "x")
