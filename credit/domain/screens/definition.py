"""The screen definition (WARNINGS.md §4): which screens exist is code, their severity,
basis, thresholds and the record codes a confirmation may use are data
(``scoring_models/definitions/keqiao-screens-2025@1.toml``), versioned and stamped with
the SHA-256 of the file like a scoring model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Iterable, Mapping

from ..tenders import ScreenWarning
from ..values import value

# The vocabulary: the screens of WARNINGS.md §4, in the order they run and are numbered.
SCREEN_CODES = (
    "SAME-PREPARER", "SAME-UPLOADER", "SAME-IP", "SAME-DEPOSIT", "SAME-PERSONNEL",
    "IDENTICAL-PRICE", "REGULAR-PRICES", "LOW-DISPERSION", "COVER-GAP",
    "LOWEST-REJECTED", "SOLE-VALID", "PM-ELSEWHERE", "CO-BIDDING",
)
SEVERITIES = ("high", "medium", "low")
# Parameters by type; decimals are kept as written in the definition (``"0.02"``).
INTEGER_PARAMETERS = ("regular_min_bids", "cv_min_bids", "rd_min_bids",
                      "co_bid_window_days", "co_bid_min")
DECIMAL_PARAMETERS = ("regular_tolerance", "cv_max", "rd_min")
PARAMETERS = ("regular_min_bids", "regular_tolerance", "cv_min_bids", "cv_max",
              "rd_min_bids", "rd_min", "co_bid_window_days", "co_bid_min")


@value
class Screen:
    """One screen as the definition describes it: its number (the order it runs in),
    code, Chinese name, severity, legal or literature basis, and the catalogue codes a
    regulator may confirm its warnings with (WARNINGS.md §6)."""

    number: int
    code: str
    name: str
    severity: str
    basis: str
    allowed_codes: tuple[str, ...]

    def as_json(self) -> dict:
        return {"number": self.number, "code": self.code, "name": self.name,
                "severity": self.severity, "basis": self.basis,
                "allowed_codes": list(self.allowed_codes)}


@value
class ScreenDefinition:
    """A published version of the screens (``keqiao-screens-2025@1``) with the
    parameters of WARNINGS.md §4."""

    id: str
    version: int
    sha256: str
    screens: tuple[Screen, ...]
    regular_min_bids: int
    regular_tolerance: Decimal
    cv_min_bids: int
    cv_max: Decimal
    rd_min_bids: int
    rd_min: Decimal
    co_bid_window_days: int
    co_bid_min: int
    title: str = ""
    kind: ClassVar[str] = "screens"

    @property
    def ref(self) -> str:
        """``id@version`` as clients name it."""
        return f"{self.id}@{self.version}"

    def screen(self, code: str) -> Screen:
        """The screen with ``code``; KeyError when the definition has none."""
        for s in self.screens:
            if s.code == code:
                return s
        raise KeyError(code)

    @property
    def allowed_codes(self) -> tuple[str, ...]:
        """Every code some screen's warnings may be confirmed with, in order of first
        appearance (v1: ``("BID-COLLUDE", "BID-FRAUD")`` for all 13 screens)."""
        seen: dict[str, None] = {}
        for s in self.screens:
            seen.update(dict.fromkeys(s.allowed_codes))
        return tuple(seen)

    @property
    def record_codes(self) -> tuple[str, ...]:
        """The catalogue codes records created from this definition may carry; the
        registry checks that the active scoring model knows them."""
        return self.allowed_codes

    def parameters(self, *names: str) -> dict[str, Any]:
        """Parameter values as a warning records them: integers as integers, decimals
        as the strings the definition writes (WARNINGS.md §4)."""
        out: dict[str, Any] = {}
        for name in names or PARAMETERS:
            value = getattr(self, name)
            out[name] = f"{value:f}" if name in DECIMAL_PARAMETERS else value
        return out

    def warning(self, code: str, bids: Iterable[int], evidence: Mapping[str, Any],
                parameters: tuple[str, ...] = ()) -> ScreenWarning:
        """The warning screen ``code`` raises on ``bids`` with its evidence and the
        values of the named parameters it used (none for most screens)."""
        screen = self.screen(code)
        return ScreenWarning(screen=screen.number, code=code, severity=screen.severity,
                             basis=screen.basis, bids=tuple(sorted(bids)),
                             evidence=evidence,
                             parameters=self.parameters(*parameters) if parameters else {})
