"""Loading and validating screen definitions (``[screens]`` TOML → ScreenDefinition).

The screens themselves are code (credit.domain.screens); a definition must list exactly
those screens, in the order of WARNINGS.md §4, and give every parameter of §4. Decimal
parameters are written as strings (``"0.02"``) so that a warning can record them
exactly as the file writes them.
"""

from __future__ import annotations

from decimal import Decimal

from marshmallow import ValidationError, fields, validate, validates_schema

from credit.domain.screens.definition import SCREEN_CODES, SEVERITIES, Screen, ScreenDefinition

from .validation import ModelError, Strict, flatten

_DECIMAL_TEXT = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$"
_RECORD_CODE = r"^[A-Z][A-Z0-9-]*$"


def _count(minimum: int):
    return fields.Integer(required=True, strict=True, validate=validate.Range(min=minimum))


def _decimal_text():
    message = 'must be a plain decimal written as a string, such as "0.02"'
    return fields.String(required=True, validate=validate.Regexp(_DECIMAL_TEXT, error=message),
                         error_messages={"invalid": message})


class _Head(Strict):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]*$"))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    title = fields.String(load_default="")


class _Parameters(Strict):
    """The parameters of WARNINGS.md §4. The minimums keep every statistic defined:
    a sample variance needs 2 prices, COVER-GAP's sL needs 2 prices above the lowest,
    and a pair always has the current tender in common (so co_bid_min ≥ 2)."""

    regular_min_bids = _count(2)
    regular_tolerance = _decimal_text()
    cv_min_bids = _count(2)
    cv_max = _decimal_text()
    rd_min_bids = _count(3)
    rd_min = _decimal_text()
    co_bid_window_days = _count(0)
    co_bid_min = _count(2)

    @validates_schema
    def _positive(self, data, **kw):
        for name in ("cv_max", "rd_min"):
            if name in data and Decimal(data[name]) == 0:
                raise ValidationError("must be greater than 0", name)


class _Screen(Strict):
    number = fields.Integer(required=True, strict=True)
    code = fields.String(required=True, validate=validate.OneOf(SCREEN_CODES))
    name = fields.String(required=True, validate=validate.Length(min=1))
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    basis = fields.String(required=True, validate=validate.Length(min=1))
    allowed_codes = fields.List(fields.String(validate=validate.Regexp(_RECORD_CODE)),
                                required=True, validate=validate.Length(min=1))


class _Definition(Strict):
    screens = fields.Nested(_Head, required=True)
    parameters = fields.Nested(_Parameters, required=True)
    screen = fields.List(fields.Nested(_Screen), required=True)

    @validates_schema
    def _every_screen_in_order(self, data, **kw):
        """Exactly the screens of WARNINGS.md §4, numbered 1–13 in their order."""
        listed = data.get("screen", [])
        for i, expected in enumerate(SCREEN_CODES):
            if i >= len(listed):
                raise ValidationError(f"missing screen {i + 1} ({expected}); a definition "
                                      f"lists all {len(SCREEN_CODES)} screens", "screen")
            if listed[i]["code"] != expected:
                raise ValidationError(f"expected {expected}: screens are listed in the "
                                      "order of WARNINGS.md §4", f"screen.{i}.code")
            if listed[i]["number"] != i + 1:
                raise ValidationError(f"expected {i + 1}", f"screen.{i}.number")
        if len(listed) > len(SCREEN_CODES):
            raise ValidationError(f"there are {len(SCREEN_CODES)} screens, not "
                                  f"{len(listed)}", "screen")


def build_screens(doc: dict, sha: str, source: str) -> ScreenDefinition:
    """A screen definition (``[screens]`` table): WARNINGS.md §4."""
    try:
        data = _Definition().load(doc)
    except ValidationError as exc:
        raise ModelError(f"{source}: " + "; ".join(flatten(exc.messages))) from None
    head, params = data["screens"], data["parameters"]
    screens = tuple(Screen(number=s["number"], code=s["code"], name=s["name"],
                           severity=s["severity"], basis=s["basis"],
                           allowed_codes=tuple(s["allowed_codes"]))
                    for s in data["screen"])
    return ScreenDefinition(
        id=head["id"], version=head["version"], sha256=sha, title=head["title"],
        screens=screens,
        regular_min_bids=params["regular_min_bids"],
        regular_tolerance=Decimal(params["regular_tolerance"]),
        cv_min_bids=params["cv_min_bids"], cv_max=Decimal(params["cv_max"]),
        rd_min_bids=params["rd_min_bids"], rd_min=Decimal(params["rd_min"]),
        co_bid_window_days=params["co_bid_window_days"], co_bid_min=params["co_bid_min"],
    )
