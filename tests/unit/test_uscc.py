"""Unified social credit codes (USCC): normalisation and GB 32100-2015 validation
(API.md §1 and §9)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from credit.uscc import USCC_SHAPE, InvalidUSCC, is_valid_uscc, normalise_uscc
from tests.conftest import unavailable

# Real, published 统一社会信用代码 (all valid under GB 32100-2015), from the shared test
# data (API.md §9), which lies beside the project: ../shared/data/uscc-real.txt from the
# project root, wherever the checkout is. The copy below keeps the test meaningful in a
# checkout without the shared folder (the file's own test then skips, or fails in CI);
# when the file is there, every code in it is tested.
ROOT = Path(__file__).resolve().parents[2]
REAL_CODES_FILE = ROOT.parent / "shared" / "data" / "uscc-real.txt"
SUBJECT = "91330603MA2D4F6E84"  # the subject of MODEL.md's worked examples
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
KNOWN_REAL_CODES = [
    "121200004013590816",
    "91110000600037341L",
    "91110000710926094P",
    "91120224064012553U",
    "911522010783710635",
    "91152201078371135X",
    "91310000631696382C",
    "91310000797046224D",
    "91310112087994932F",
    "913101127033980359",
    "91310115MA1K3BTP2B",
    "91320214745555318W",
    "913205056082348768",
    "913304007429141869",
    "91340600MA2PBM9HXD",
    "91340602MA2UJY0D0T",
    "91371082775260043P",
    "914112810713741814",
    "91420684MA4927PJ7B",
    "91440300568520498A",
    "9144030071526726XG",
    "9144060573144633XL",
    "91442000696462712R",
    "91620100719023721L",
    "91620105L015101280",
    "91620105MA71T4YW8Q",
    "92340602MA2PBMEM24",
    "92340603MA2PBN17X5",
    "92340621MA2UK3PJXE",
    "91330100799655058B",
]


def _real_codes() -> list[str]:
    codes = list(KNOWN_REAL_CODES)
    if REAL_CODES_FILE.is_file():
        for line in REAL_CODES_FILE.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and line not in codes:
                codes.append(line)
    return codes


REAL_CODES = _real_codes()


def _refusal(raw) -> str:
    with pytest.raises(InvalidUSCC) as info:
        normalise_uscc(raw)
    assert not is_valid_uscc(raw)
    return str(info.value)


def test_published_codes_are_present():
    assert len(REAL_CODES) >= 20


def test_every_code_of_the_shared_file_is_among_those_tested():
    if not REAL_CODES_FILE.is_file():
        unavailable(f"the shared test data {REAL_CODES_FILE} is not present")
    lines = REAL_CODES_FILE.read_text(encoding="utf-8").splitlines()
    from_file = [x.strip() for x in lines if x.strip() and not x.startswith("#")]
    assert from_file and set(from_file) <= set(REAL_CODES)


@pytest.mark.parametrize("code", REAL_CODES)
def test_every_published_code_is_accepted(code):
    assert normalise_uscc(code) == code
    assert is_valid_uscc(code)


def test_worked_example_subject_is_valid():
    assert normalise_uscc(SUBJECT) == SUBJECT
    assert is_valid_uscc(SUBJECT)


def test_invalid_uscc_is_a_value_error():
    assert issubclass(InvalidUSCC, ValueError)


# ---- normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "91330603ma2d4f6e84",
    "91330603Ma2D4f6E84",
    "  91330603MA2D4F6E84",
    "91330603MA2D4F6E84\n",
    "\t 91330603ma2d4f6e84 \r\n",
    "\u300091330603MA2D4F6E84\u3000",  # ideographic space from a Chinese input method
])
def test_case_and_surrounding_whitespace_are_normalised(raw):
    assert normalise_uscc(raw) == SUBJECT
    assert is_valid_uscc(raw)


@pytest.mark.parametrize("code", REAL_CODES)
def test_lower_case_published_code_is_upper_cased(code):
    assert normalise_uscc(f" {code.lower()} ") == code


# ---- inner separators ------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "91330603 MA2D4F6E84",
    "913306 03MA2D4F6E84",
    "91330603MA2D4F6E8 4",
    "91330603-MA2D4F6E84",
    "9133 0603 MA2D 4F6E 84",
    "91330603\u3000MA2D4F6E84",
    "91330603\tMA2D4F6E84",
])
def test_inner_space_or_separator_is_refused(raw):
    message = _refusal(raw)
    assert "separator" in message or "not allowed" in message


@pytest.mark.parametrize("raw", ["91330603 MA2D4F6E84", "91330603-MA2D4F6E84",
                                 "9133 0603 MA2D 4F6E 84", "9-1-3-3-0-6-0-3-MA2D4F6E84"])
def test_separators_stdnum_would_silently_remove_are_refused(raw):
    assert stdnum_uscc.is_valid(raw)  # stdnum's compact() deletes inner spaces and hyphens
    _refusal(raw)


def test_inner_space_message_names_the_space_and_its_position():
    message = _refusal("91330603 MA2D4F6E84")
    assert "19 characters" in message
    assert "18" in message
    assert "character 9 is a space" in message


def test_inner_hyphen_keeping_eighteen_characters_names_the_hyphen():
    # One hyphen replacing a digit: right length, but a character that is not allowed.
    message = _refusal("9133-603MA2D4F6E84")
    assert "Character 5" in message
    assert "'-'" in message


# ---- wrong length ----------------------------------------------------------------------


@pytest.mark.parametrize("raw, found", [
    ("9133060MA2D4F6E84", 17),
    ("913306033MA2D4F6E84", 19),
    ("91330603MA2D4F6E844444", 22),
    ("9", 1),
])
def test_wrong_length_says_length_found_and_expected(raw, found):
    message = _refusal(raw)
    assert f"{found} character" in message
    assert "18 are expected" in message


@pytest.mark.parametrize("raw", ["", "   ", "\u3000"])
def test_empty_code_is_refused_with_its_length(raw):
    message = _refusal(raw)
    assert "empty" in message
    assert "0 characters" in message
    assert "18" in message


def test_length_is_counted_after_stripping():
    message = _refusal("  9133060MA2D4F6E84  ")
    assert "17 characters" in message


# ---- bad character and position --------------------------------------------------------


@pytest.mark.parametrize("position", range(1, 9))
def test_letter_in_division_part_names_character_and_position(position):
    raw = SUBJECT[: position - 1] + "A" + SUBJECT[position:]
    message = _refusal(raw)
    assert f"Character {position} " in message
    assert "'A'" in message
    assert "digits" in message


@pytest.mark.parametrize("letter", "IOSVZ")
@pytest.mark.parametrize("position", [9, 13, 17])
def test_forbidden_letter_in_organisation_code_is_refused(letter, position):
    raw = SUBJECT[: position - 1] + letter + SUBJECT[position:]
    message = _refusal(raw)
    assert f"Character {position} " in message
    assert f"'{letter}'" in message
    assert "never I, O, S, V or Z" in message


@pytest.mark.parametrize("letter", "iosvz")
def test_forbidden_lower_case_letter_is_reported_upper_cased(letter):
    message = _refusal(SUBJECT[:9] + letter + SUBJECT[10:])
    assert "Character 10 " in message
    assert f"'{letter.upper()}'" in message


@pytest.mark.parametrize("letter", "IOSVZ")
def test_forbidden_letter_as_check_character_is_refused(letter):
    message = _refusal(SUBJECT[:17] + letter)
    assert "Character 18 " in message
    assert f"'{letter}'" in message


@pytest.mark.parametrize("char, shown", [
    ("＊", "'＊'"),
    ("９", "'９'"),  # a full-width digit is not a digit 0-9
    ("é", "'é'"),
    ("\x00", "U+0000"),
    ("\u200b", "U+200B"),  # zero-width space
])
def test_non_ascii_or_invisible_character_is_named(char, shown):
    message = _refusal(SUBJECT[:3] + char + SUBJECT[4:])
    assert "Character 4 " in message
    assert shown in message


def test_first_bad_character_is_the_one_reported():
    message = _refusal("9133060XMA2D4F6EI4")
    assert "Character 8 " in message
    assert "'X'" in message


def test_every_allowed_organisation_character_passes_the_character_check():
    # Any character of the alphabet at position 9 is well-formed: the only possible
    # complaint is about the check character.
    for char in ALPHABET:
        raw = SUBJECT[:8] + char + SUBJECT[9:]
        try:
            normalise_uscc(raw)
        except InvalidUSCC as exc:
            assert "check character" in str(exc)


# ---- check character -------------------------------------------------------------------


def test_wrong_check_character_names_found_and_expected():
    message = _refusal("91330603MA2D4F6E8X")
    assert "check character" in message
    assert "'X'" in message
    assert "'4'" in message


@pytest.mark.parametrize("code", REAL_CODES)
def test_every_other_check_character_is_refused_with_the_right_expectation(code):
    expected = code[17]
    wrong = next(c for c in ALPHABET if c != expected)
    message = _refusal(code[:17] + wrong)
    assert f"'{expected}' is expected" in message
    assert f"is '{wrong}'" in message


def test_transposed_digits_are_caught_by_the_check_character():
    raw = "91330603AM2D4F6E84"
    message = _refusal(raw)
    assert "check character" in message
    assert f"'{stdnum_uscc.calc_check_digit(raw[:17])}' is expected" in message


# ---- non-text input --------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, 913306031234567890, b"91330603MA2D4F6E84",
                                 ["91330603MA2D4F6E84"], 3.5])
def test_non_text_is_refused(raw):
    message = _refusal(raw)
    assert "text" in message


# ---- properties ------------------------------------------------------------------------


organisation_code = st.text(alphabet=ALPHABET, min_size=9, max_size=9)
division = st.text(alphabet="0123456789", min_size=8, max_size=8)


@given(division, organisation_code)
def test_any_well_formed_code_with_its_check_character_is_accepted(head, body):
    code = head + body + stdnum_uscc.calc_check_digit(head + body)
    assert normalise_uscc(code) == code
    assert normalise_uscc(f" {code.lower()}\n") == code


@given(st.text(max_size=25))
def test_arbitrary_text_is_either_accepted_unchanged_or_refused_with_a_sentence(raw):
    try:
        code = normalise_uscc(raw)
    except InvalidUSCC as exc:
        message = str(exc)
        assert message[0].isupper() and message.endswith(".")
        assert not is_valid_uscc(raw)
    else:
        assert len(code) == 18
        assert stdnum_uscc.is_valid(code)
        assert is_valid_uscc(raw)


# ---- the shape the OpenAPI document states -----------------------------------------------

# Every character str.strip() removes (the service trims with it).
_WHITESPACE = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
_SPACE = st.text(alphabet=_WHITESPACE, max_size=2)


def test_the_documented_shape_forgives_exactly_the_whitespace_the_service_trims():
    padded = [c for c in map(chr, range(sys.maxunicode + 1))
              if re.fullmatch(USCC_SHAPE, c + SUBJECT)]
    assert padded == _WHITESPACE
    assert "\\s" not in USCC_SHAPE  # regex dialects disagree on what \s means


@given(_SPACE, division, organisation_code, _SPACE, st.booleans())
def test_every_accepted_code_has_the_documented_shape(before, head, body, after, lower):
    """USCC_SHAPE is never stricter than the service: a client that validates against
    the OpenAPI document never refuses a code the service would take."""
    code = head + body + stdnum_uscc.calc_check_digit(head + body)
    raw = before + (code.lower() if lower else code) + after
    assert is_valid_uscc(raw)
    assert re.fullmatch(USCC_SHAPE, raw)


@pytest.mark.parametrize("raw", ["91330603MA2D4F6E8", "91330603MA2D4F6E845",
                                 "9133060AMA2D4F6E84", "91330603MA2D4F6O84",
                                 "91330603MA2D4F6E8Z", "91330603 MA2D4F6E84",
                                 "91330603-MA2D4F6E84", ""])
def test_the_documented_shape_refuses_what_no_check_character_can_mend(raw):
    assert re.fullmatch(USCC_SHAPE, raw) is None
    assert not is_valid_uscc(raw)


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdz -\u3000", max_size=20))
def test_a_code_outside_the_shape_is_refused(raw):
    if re.fullmatch(USCC_SHAPE, raw) is None:
        assert not is_valid_uscc(raw)
