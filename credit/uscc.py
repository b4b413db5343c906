"""The Unified Social Credit Code (统一社会信用代码, USCC) that identifies a subject.

Every USCC the service accepts — in a request body, a path or a query string — is first
normalised the way API.md §1 prescribes: surrounding whitespace is stripped and letters
are upper-cased. The result must then be a well-formed code under GB 32100-2015
(API.md §9):

* 18 characters;
* positions 1–8 (registration authority, entity type, administrative division) are
  digits;
* positions 9–17 (the organisation code) come from ``0-9 A-H J-N P-R T-U W-Y`` — never
  I, O, S, V or Z;
* position 18 is the check character computed from the first 17.

Inner spaces, hyphens or any other separators make a code invalid: the service never
guesses what a regulator or bidder meant. The check character itself is verified with
python-stdnum (``stdnum.cn.uscc``), but only after this module has refused anything
stdnum's own ``compact`` would silently repair.

When a code is refused, :class:`InvalidUSCC` carries one English sentence saying what is
wrong — the length found, the offending character and its position, or the check
character the code should have ended with — so a client can fix its input.
"""

from __future__ import annotations

from functools import lru_cache

from stdnum.cn import uscc as _gb32100
from stdnum.exceptions import InvalidChecksum, ValidationError

__all__ = ["USCC_LENGTH", "USCC_SHAPE", "InvalidUSCC", "is_valid_uscc", "normalise_uscc"]

#: Number of characters in every USCC.
USCC_LENGTH = 18

#: The characters ``str.strip()`` removes (``str.isspace()``), spelled out: regex
#: dialects disagree on ``\s`` (ECMA-262, the OpenAPI document's, leaves out U+001C–
#: U+001F and U+0085; Go's and Java's are ASCII only, without U+3000).
_WHITESPACE = (r"[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f"
               r"\u205f\u3000]")

#: The shape of a USCC as the service accepts it, for the OpenAPI document: surrounding
#: whitespace, eight digits, ten characters of the code alphabet in either case. Every
#: code :func:`normalise_uscc` accepts matches it (tests/unit/test_uscc.py); what it
#: cannot say is the check character, which the service still verifies (400
#: ``invalid_uscc``).
USCC_SHAPE = (f"^{_WHITESPACE}*[0-9]{{8}}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{{10}}"
              f"{_WHITESPACE}*$")

_DIGITS = frozenset("0123456789")
# The GB 32100-2015 alphabet for the organisation code and the check character.
_CODE_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")
_ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
_TO_UPPER = str.maketrans(_ASCII_LOWER, _ASCII_LOWER.upper())

_DIVISION_PART = ("positions 1–8 (registration authority, entity type and division code) "
                  "must be digits 0-9")
_ORGANISATION_PART = ("positions 9–17 (the organisation code) must be digits 0-9 or letters "
                      "A-H, J-N, P-R, T-U, W-Y (never I, O, S, V or Z)")
_CHECK_PART = ("position 18 (the check character) must be a digit 0-9 or a letter A-H, "
               "J-N, P-R, T-U, W-Y (never I, O, S, V or Z)")


class InvalidUSCC(ValueError):
    """A unified social credit code that is not a well-formed GB 32100-2015 code.

    The message is a human-readable English sentence naming what is wrong; the API
    answers it as 400 ``invalid_uscc``.
    """


def _show(char: str) -> str:
    """A character as a person can read it in an error message."""
    if char == " ":
        return "a space"
    if char.isprintable() and not char.isspace():
        return f"'{char}'"
    return f"U+{ord(char):04X}"


def _rule_for(position: int) -> str:
    """What the GB 32100-2015 layout allows at a 1-based ``position``."""
    if position <= 8:
        return _DIVISION_PART
    if position <= 17:
        return _ORGANISATION_PART
    return _CHECK_PART


def _allowed_at(position: int, char: str) -> bool:
    return char in (_DIGITS if position <= 8 else _CODE_ALPHABET)


def normalise_uscc(raw: str) -> str:
    """Strip surrounding whitespace, upper-case, validate; return the 18-char code or raise
    InvalidUSCC.

    Only the surrounding whitespace is forgiven (including the ideographic space U+3000
    that Chinese input methods produce); a space, hyphen or other separator inside the
    code is refused, as is a code whose check character does not match.
    """
    if not isinstance(raw, str):
        raise InvalidUSCC(f"A USCC must be given as text, not as {type(raw).__name__}.")
    return _normalised(raw)


@lru_cache(maxsize=65_536)  # pure; every request names a USCC, often the same ones
def _normalised(raw: str) -> str:
    """:func:`normalise_uscc` of a string (a refusal raises, and is not remembered)."""
    # Only ASCII letters are upper-cased: Unicode case mapping may change the length
    # ('ß' → 'SS') and no other letter can belong to a USCC anyway.
    code = raw.strip().translate(_TO_UPPER)
    if len(code) != USCC_LENGTH:
        found = "1 character" if len(code) == 1 else f"{len(code)} characters"
        message = f"The USCC has {found}, but {USCC_LENGTH} are expected."
        if not code:
            message = f"The USCC is empty: it has 0 characters, but {USCC_LENGTH} are expected."
        stray = next(((i, c) for i, c in enumerate(code, 1) if c not in _CODE_ALPHABET), None)
        if stray is not None:
            position, char = stray
            message = (f"The USCC has {found}, but {USCC_LENGTH} are expected; "
                       f"character {position} is {_show(char)}, which never belongs in a "
                       "USCC (no spaces or separators are allowed inside the code).")
        raise InvalidUSCC(message)

    for position, char in enumerate(code, 1):
        if not _allowed_at(position, char):
            raise InvalidUSCC(
                f"Character {position} of the USCC is {_show(char)}, which is not allowed "
                f"there: {_rule_for(position)}.")

    try:
        _gb32100.validate(code)
    except InvalidChecksum:
        expected = _gb32100.calc_check_digit(code[:17])
        raise InvalidUSCC(
            f"The check character (position 18) of the USCC is '{code[17]}', but "
            f"'{expected}' is expected for {code[:17]} under GB 32100-2015.") from None
    except ValidationError as exc:  # pragma: no cover - our own checks come first
        raise InvalidUSCC(f"The USCC {code} is not valid under GB 32100-2015: {exc}.") from None
    return code


def is_valid_uscc(raw: str) -> bool:
    """True when ``raw``, once normalised, is a well-formed USCC (see
    :func:`normalise_uscc`)."""
    try:
        normalise_uscc(raw)
    except InvalidUSCC:
        return False
    return True
