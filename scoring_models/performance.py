"""Loading and validating performance-evaluation definitions (``[performance]`` files,
PERFORMANCE.md §2–§4, §6) into :class:`credit.domain.performance.PerformanceDefinition`."""

from __future__ import annotations

from types import MappingProxyType

from marshmallow import ValidationError, fields, validate, validates_schema

from credit.domain.performance import (
    EVALUATION_KINDS,
    RATINGS,
    SEVERITIES,
    Indicator,
    PerformanceDefinition,
    PostAwardWarning,
    RatingBand,
)

from .base import Strict, cents_problem, dec, load_strict, raise_problems

ITEM = validate.Regexp(r"^[A-Z][A-Z0-9-]*$")
CODE = validate.Regexp(r"^[A-Z][A-Z0-9-]*$")
PLACEHOLDERS = ("{tender}", "{evaluation}")


def _length():
    return fields.List(fields.Integer(strict=True, validate=validate.Range(min=0)),
                       required=True, validate=validate.Length(equal=2))


class _Head(Strict):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]*$"))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    title = fields.String(load_default="")
    base = dec()
    floor = dec()
    max_deductions = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    note_length = _length()
    reason_length = _length()
    overdue_after_days = fields.Integer(required=True, strict=True,
                                        validate=validate.Range(min=0))
    index_window_months = fields.Integer(required=True, strict=True,
                                         validate=validate.Range(min=1))
    document_no = fields.String(required=True, validate=validate.Length(min=1))

    @validates_schema
    def _pattern(self, data, **kw):
        pattern = data.get("document_no", "")
        if any(p not in pattern for p in PLACEHOLDERS):
            raise ValidationError(f"must contain {' and '.join(PLACEHOLDERS)}", "document_no")
        try:
            pattern.format(tender="T", evaluation=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValidationError(f"only {{tender}} and {{evaluation}} may be "
                                  f"substituted ({exc!r})", "document_no") from None


class _Indicator(Strict):
    item = fields.String(required=True, validate=ITEM)
    name = fields.String(required=True, validate=validate.Length(min=1))
    max = dec(validate=validate.Range(min=0, min_inclusive=False))


class _Band(Strict):
    rating = fields.String(required=True, validate=validate.OneOf(RATINGS))
    name = fields.String(required=True, validate=validate.Length(min=1))
    min_score = dec()


class _Records(Strict):
    kinds = fields.List(fields.String(validate=validate.OneOf(EVALUATION_KINDS)),
                        required=True, validate=validate.Length(min=1))
    codes = fields.Dict(keys=fields.String(validate=validate.OneOf(RATINGS)),
                        values=fields.String(validate=CODE), required=True)


class _Warning(Strict):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1))
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    basis = fields.String(required=True)
    stage = fields.String(required=True)
    when_manager_absent = fields.Boolean(required=True)
    trigger_items = fields.List(fields.String(validate=ITEM), required=True)
    confirmation_codes = fields.List(fields.String(validate=CODE), required=True,
                                     validate=validate.Length(min=1))


class _Definition(Strict):
    performance = fields.Nested(_Head, required=True)
    indicators = fields.List(fields.Nested(_Indicator), required=True,
                             validate=validate.Length(min=1))
    bands = fields.List(fields.Nested(_Band), required=True, validate=validate.Length(min=1))
    records = fields.Nested(_Records, required=True)
    warning = fields.Nested(_Warning, required=True)


def _problems(d: dict) -> list[str]:
    """Exact cents, distinct items, bands covering every rating once in strictly
    decreasing order, triggers naming known items, lengths that are ranges."""
    head = d["performance"]
    problems = [p for p in (cents_problem("performance.base", head["base"]),
                            cents_problem("performance.floor", head["floor"])) if p]
    items = [i["item"] for i in d["indicators"]]
    for i, ind in enumerate(d["indicators"]):
        problems += [p for p in [cents_problem(f"indicators[{i}].max", ind["max"])] if p]
        if ind["item"] in items[:i]:
            problems.append(f"indicators[{i}].item: duplicate item {ind['item']}")
    bands = d["bands"]
    if [b["rating"] for b in bands] != list(RATINGS):
        problems.append(f"bands: must name the ratings {', '.join(RATINGS)} once each, in "
                        "that order")
    for i, band in enumerate(bands):
        problems += [p for p in [cents_problem(f"bands[{i}].min_score", band["min_score"])]
                     if p]
        if i and band["min_score"] >= bands[i - 1]["min_score"]:
            problems.append(f"bands[{i}].min_score: bands must be ordered by strictly "
                            "decreasing min_score")
    if bands and bands[-1]["min_score"] > head["floor"]:
        problems.append("bands: the last band must start at or below the floor")
    for key in ("note_length", "reason_length"):
        low, high = head[key]
        if low > high:
            problems.append(f"performance.{key}: {low} > {high}")
    unknown = sorted(set(d["warning"]["trigger_items"]) - set(items))
    if unknown:
        problems.append(f"warning.trigger_items: unknown items {unknown}")
    return problems


def build(doc: dict, sha: str, source: str) -> PerformanceDefinition:
    """A performance-evaluation definition (``[performance]`` table)."""
    d = load_strict(_Definition(), doc, source)
    raise_problems(source, _problems(d))
    head, w, rec = d["performance"], d["warning"], d["records"]
    return PerformanceDefinition(
        id=head["id"], version=head["version"], sha256=sha, title=head["title"],
        base=head["base"], floor=head["floor"],
        indicators=MappingProxyType({i["item"]: Indicator(i["item"], i["name"], i["max"])
                                     for i in d["indicators"]}),
        bands=tuple(RatingBand(b["rating"], b["name"], b["min_score"]) for b in d["bands"]),
        record_codes=MappingProxyType({r: rec["codes"][r] for r in RATINGS
                                       if r in rec["codes"]}),
        record_kinds=frozenset(rec["kinds"]),
        warning=PostAwardWarning(
            code=w["code"], name=w["name"], severity=w["severity"], basis=w["basis"],
            stage=w["stage"], trigger_items=frozenset(w["trigger_items"]),
            when_manager_absent=w["when_manager_absent"],
            confirmation_codes=tuple(w["confirmation_codes"])),
        document_no_pattern=head["document_no"],
        index_window_months=head["index_window_months"],
        max_deductions=head["max_deductions"],
        note_length=tuple(head["note_length"]), reason_length=tuple(head["reason_length"]),
        overdue_after_days=head["overdue_after_days"],
    )


def cross_problems(definition: PerformanceDefinition, scoring_models: list) -> list[str]:
    """Across definitions: every record code an approval creates is known to some scoring
    model, and wherever known it is a code only that approval creates (never entered by
    hand); every confirmation code of the warning is known to some scoring model."""
    out = []
    for rating, code in definition.record_codes.items():
        entries = [m.catalogue[code] for m in scoring_models if code in m.catalogue]
        if not entries:
            out.append(f"{definition.ref}: records.{rating}: no scoring model knows {code}")
        elif any(e.created_by != "performance_approval" for e in entries):
            out.append(f"{definition.ref}: records.{rating}: {code} must be "
                       "created_by = \"performance_approval\" in every scoring model")
    for code in definition.warning.confirmation_codes:
        if not any(code in m.catalogue for m in scoring_models):
            out.append(f"{definition.ref}: warning.confirmation_codes: no scoring model "
                       f"knows {code}")
    return out
