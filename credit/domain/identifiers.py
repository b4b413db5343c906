"""Identifiers of bids and personal data, normalised and protected (WARNINGS.md §2).

The screens compare identifiers only after normalisation, so that values which differ
in case or separators (``00-1a-2b…`` and ``001A2B…``) are equal, and compare personal
values (居民身份证号码, deposit accounts) only by their keyed hashes: equality of hashes
is all the screens need, and a hash without the key reveals nothing.

Every check raises ``ValueError`` with an English sentence fit for an error body. The
sentences never repeat a personal value (an id number or an account), since an error
body is served and may be logged.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import string
from datetime import date

from .tenders import DOCUMENT_KINDS, UPLOAD_KINDS

IDENTIFIER_MAX = 128
ACCOUNT_MIN, ACCOUNT_MAX = 8, 32
ID_NUMBER_LENGTH = 18
EARLIEST_BIRTH = date(1900, 1, 1)
MIN_KEY_BYTES = 32  # the identity key (CREDIT_IDENTITY_KEY) has at least 32 bytes

_ALNUM = frozenset(string.ascii_uppercase + string.digits)
_DIGITS = frozenset(string.digits)
_SEPARATORS = frozenset("-:.")
_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
# GB 11643-1999 (ISO 7064 MOD 11-2): weight of position i (0-based) is 2^(17-i) mod 11;
# the check character is (12 - S mod 11) mod 11, with 10 written as "X".
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))


def normalise_identifier(raw: str) -> str:
    """A bid-file or upload identifier (``machine_code``, ``file_id``, ``pricing_lock``,
    ``mac``, ``cpu``, ``disk``) as stored and compared: every whitespace character
    (``str.isspace``), ``-``, ``:`` and ``.`` removed, ASCII letters upper-cased; the
    result must be 1–128 ASCII letters and digits (WARNINGS.md §2)."""
    kept = "".join(c for c in raw if not c.isspace() and c not in _SEPARATORS)
    value = kept.translate(_UPPER)
    if not value:
        raise ValueError("An identifier must contain at least one letter or digit "
                         "besides whitespace, '-', ':' and '.'.")
    if len(value) > IDENTIFIER_MAX:
        raise ValueError(f"An identifier has at most {IDENTIFIER_MAX} letters and digits "
                         f"once separators are removed (this one has {len(value)}).")
    if not set(value) <= _ALNUM:
        raise ValueError("An identifier may contain only ASCII letters and digits "
                         "(besides whitespace, '-', ':' and '.').")
    return value


def normalise_ip(raw: str) -> str:
    """An upload's IP address as stored and compared: trimmed, an IPv4 address without
    leading zeros or an IPv6 address without zone id, in Python's ``ipaddress``
    compressed form; an IPv4-mapped IPv6 address becomes its IPv4 address
    (WARNINGS.md §2)."""
    text = raw.strip()
    if not text.isascii():
        raise ValueError("An IP address is written with ASCII characters only.")
    if "%" in text:
        raise ValueError("An IP address must not carry a zone id ('%…').")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("Not an IPv4 address (four decimal numbers 0–255 without leading "
                         "zeros) or an IPv6 address.") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.compressed


def normalise_by_kind(kind: str, raw: str) -> str:
    """The value of an identifier of ``kind`` (one of WARNINGS.md §2's exclusion kinds)
    normalised as its kind is; exclusions and bids use this same function, so they
    match by (kind, normalised value)."""
    if kind == "ip":
        return normalise_ip(raw)
    if kind in DOCUMENT_KINDS or kind in UPLOAD_KINDS:
        return normalise_identifier(raw)
    raise ValueError(f"Unknown identifier kind {kind!r}; expected one of "
                     f"{', '.join(DOCUMENT_KINDS + UPLOAD_KINDS)}.")


def normalise_account(raw: str) -> str:
    """A deposit account (保证金缴纳账号) without whitespace and ``-``: 8–32 ASCII
    digits (WARNINGS.md §2)."""
    value = "".join(c for c in raw if not c.isspace() and c != "-")
    if not (ACCOUNT_MIN <= len(value) <= ACCOUNT_MAX and set(value) <= _DIGITS):
        raise ValueError(f"A deposit account is {ACCOUNT_MIN}–{ACCOUNT_MAX} ASCII digits "
                         "once whitespace and '-' are removed.")
    return value


def id_check_character(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an id number."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def check_id_number(raw: str, today: date) -> str:
    """A 居民身份证号码 upper-cased and checked (WARNINGS.md §2): 18 characters, 17
    ASCII digits and the GB 11643 check character (``X`` in any case), the birth date
    (characters 7–14) a real date from 1900-01-01 to ``today``. The region code is not
    checked: regions are renamed, and numbers issued under old codes stay valid."""
    value = raw.translate(_UPPER)
    if len(value) != ID_NUMBER_LENGTH:
        raise ValueError("A resident id number has 18 characters.")
    if not set(value[:17]) <= _DIGITS or not (value[17] in _DIGITS or value[17] == "X"):
        raise ValueError("A resident id number is 17 ASCII digits and a check character "
                         "(a digit or X).")
    born = _birth_date(value[6:14])
    if born is None or not EARLIEST_BIRTH <= born <= today:
        raise ValueError("The birth date inside a resident id number must be a real date "
                         f"from {EARLIEST_BIRTH.isoformat()} to today.")
    if id_check_character(value[:17]) != value[17]:
        raise ValueError("The check character of the resident id number does not match "
                         "its first 17 digits (GB 11643).")
    return value


def _birth_date(digits: str) -> date | None:
    """``YYYYMMDD`` as a date, or None when it names no real day."""
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def mask_id_number(value: str) -> str:
    """What may be shown of an id number: the first 6 and the last 4 characters with
    eight ``*`` between (``330621********1236``)."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_account(value: str) -> str:
    """What may be shown of a deposit account: ``****`` and its last 4 digits."""
    return "****" + value[-4:]


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of a normalised personal value under the identity key, lowercase hex:
    the only form in which the service keeps an id number or an account."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"The identity key must have at least {MIN_KEY_BYTES} bytes.")
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
