"""Request bodies of post-award performance (PERFORMANCE.md §3, §4) and their
validation, in two phases like every input (credit.services.inputs): marshmallow checks
the shape; then the rules that need the definition (items, maxima, lengths) or the
calendar (no date in the future) are applied to what loaded, every problem collected.
Checks against the stored tender (dates ≥ ``awarded_on``) and evaluation
(``reviewed_on`` ≥ its ``period_end``) come later, at step 11a of API.md §1."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from marshmallow import fields, validate

from credit.domain.performance import (
    EVALUATION_KINDS,
    Deduction,
    PerformanceDefinition,
    deduction_problems,
)

from .inputs import Day, FieldErrors, Strict, Text, as_sent, load
from .tender_inputs import StrictBool

REVIEW_ACTIONS = ("approve", "return")


_NOT_A_DEDUCTION = "must be an object with item, points and note."


class DeductionIn(Strict):
    # One message for a deduction that is no object at all (5, "x", [], null), where
    # marshmallow says "Invalid input type." / "Field may not be null.".
    error_messages = {"type": _NOT_A_DEDUCTION}

    item = fields.String(required=True, validate=validate.Length(min=1, max=64))
    points = fields.Raw(required=True, metadata={
        "type": "string", "pattern": r"^(0|[1-9]\d*)\.\d{2}$", "example": "6.00"})
    note = Text(required=True, max_len=2000)


class PerformanceIn(Strict):
    """POST /tenders/{code}/performance (PERFORMANCE.md §3)."""

    kind = fields.String(required=True, validate=validate.OneOf(EVALUATION_KINDS))
    period_end = Day(load_default=None, allow_none=True)
    completed_on = Day(load_default=None, allow_none=True)
    deductions = fields.List(fields.Nested(DeductionIn,
                                           error_messages={"null": _NOT_A_DEDUCTION}),
                             load_default=list, validate=validate.Length(max=100))
    project_manager_on_site = StrictBool(required=True)


class ReviewIn(Strict):
    """POST /performance/{id}/review (PERFORMANCE.md §4)."""

    action = fields.String(required=True, validate=validate.OneOf(REVIEW_ACTIONS))
    reason = Text(required=True, max_len=2000)
    reviewed_on = Day(required=True)


_PERFORMANCE_IN, _REVIEW_IN = PerformanceIn(), ReviewIn()


def _length(errors: FieldErrors, field: str, text: str | None, bounds) -> None:
    low, high = bounds
    if text is not None and not low <= len(text) <= high:
        errors.add(field, f"must be {low}–{high} characters long ({len(text)} sent).")


def _not_future(errors: FieldErrors, data: dict, field: str, today: date) -> None:
    if data.get(field) and data[field] > today:
        errors.add(field, f"must not lie in the future (today is {today} in China Standard "
                   "Time).")


def _dates(errors: FieldErrors, data: dict, raw: dict) -> None:
    """A periodic evaluation has ``period_end`` (no ``completed_on``); a final one has
    ``completed_on`` and ``period_end`` absent or equal to it."""
    kind = data.get("kind")
    if kind == "periodic":
        if data.get("period_end") is None and "period_end" not in errors.errors:
            errors.add("period_end", "is required for a periodic evaluation.")
        if raw.get("completed_on") is not None:
            errors.add("completed_on", "is only for a final evaluation.")
    elif kind == "final":
        # A completed_on that did not load is its own error: period_end has nothing to
        # be compared with.
        if data.get("completed_on") is None:
            if "completed_on" not in errors.errors:
                errors.add("completed_on", "is required for a final evaluation.")
        elif data.get("period_end") is not None and \
                data["period_end"] != data["completed_on"]:
            errors.add("period_end", "must equal completed_on in a final evaluation (or be "
                       "left out).")


def validate_performance(raw, definition: PerformanceDefinition, today: date) -> dict:
    """Step 8 of an evaluation: shape, dates, deductions (``duplicate_item``,
    ``points_out_of_range`` with ``maximum``), note lengths. Returns the data with
    ``period_end`` set (a final one's is its ``completed_on``) and ``deductions`` as
    :class:`Deduction`."""
    errors = FieldErrors()
    data = load(_PERFORMANCE_IN, raw, errors)
    raw = raw if isinstance(raw, dict) else {}
    _dates(errors, data, raw)
    for field in ("period_end", "completed_on"):
        _not_future(errors, data, field, today)
    sent = raw.get("deductions")
    if isinstance(sent, list) and "deductions" not in errors.errors:
        items = [d if isinstance(d, dict) else {} for d in sent]
        # A deduction that is no object has its one message (the schema's): no item or
        # points of it to find wanting.
        shapeless = {f"deductions.{i}" for i, d in enumerate(sent) if not isinstance(d, dict)}
        for p in deduction_problems(definition, items):
            if p.field not in errors.errors and p.field.rpartition(".")[0] not in shapeless:
                errors.add(p.field, p.message, p.error, **p.extra)
        for i, d in as_sent(sent, data.get("deductions") or []):
            _length(errors, f"deductions.{i}.note", d.get("note"), definition.note_length)
    errors.raise_if_any(uniform=True)
    if data["kind"] == "final":
        data["period_end"] = data["completed_on"]
    data["deductions"] = [Deduction(d["item"], Decimal(d["points"]), d["note"])
                          for d in data["deductions"]]
    return data


def validate_review(raw, definition: PerformanceDefinition, today: date) -> dict:
    """Step 8 of a review: shape, the reason's length, ``reviewed_on`` not in the
    future."""
    errors = FieldErrors()
    data = load(_REVIEW_IN, raw, errors)
    _length(errors, "reason", data.get("reason"), definition.reason_length)
    _not_future(errors, data, "reviewed_on", today)
    errors.raise_if_any(uniform=True)
    return data
