"""Loading and validating tender-agency evaluation definitions (``[agency]`` files,
PERFORMANCE.md §7) into :class:`credit.domain.agency.AgencyDefinition`."""

from __future__ import annotations

from types import MappingProxyType

from marshmallow import ValidationError, fields, validate, validates_schema

from credit.domain.agency import (
    AGENCY_CATEGORY,
    AGENCY_FLAGS,
    AgencyBand,
    AgencyDefinition,
    RatingItem,
)
from credit.domain.model import TIERS, CatalogueEntry

from .base import CENT, Strict, cents_problem, dec, load_strict, raise_problems


class _Weights(Strict):
    service = dec(validate=validate.Range(min=0))
    conduct = dec(validate=validate.Range(min=0))


class _Head(Strict):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]*$"))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    title = fields.String(load_default="")
    min_ratings = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    default_rating = dec(validate=validate.Range(min=0))
    window_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    conduct_base = dec()
    conduct_floor = dec()
    service_places = fields.Integer(required=True, strict=True,
                                    validate=validate.Range(min=2, max=8))
    restricted_grade = fields.String(required=True, validate=validate.Length(min=1, max=2))
    restricted_measure = fields.String(required=True, validate=validate.Length(min=1))
    weights = fields.Nested(_Weights, required=True)


class _Item(Strict):
    item = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]*$"))
    name = fields.String(required=True, validate=validate.Length(min=1))
    max = dec(validate=validate.Range(min=0, min_inclusive=False))


class _Band(Strict):
    grade = fields.String(required=True, validate=validate.Length(min=1, max=2))
    min_score = dec()


class _Grades(Strict):
    bands = fields.List(fields.Nested(_Band), required=True, validate=validate.Length(min=1))


class _Entry(Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Z0-9-]*$"))
    name = fields.String(required=True, validate=validate.Length(min=1))
    points = dec(validate=validate.Range(max=0))
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    validity_months = fields.Integer(required=True, strict=True,
                                     validate=validate.Range(min=1))
    repair_min_months = fields.Integer(strict=True, load_default=None,
                                       validate=validate.Range(min=0))
    flags = fields.List(fields.String(validate=validate.OneOf(AGENCY_FLAGS)),
                        load_default=list)
    basis = fields.String(load_default="")


class _Definition(Strict):
    agency = fields.Nested(_Head, required=True)
    items = fields.List(fields.Nested(_Item), required=True, validate=validate.Length(min=1))
    grades = fields.Nested(_Grades, required=True)
    catalogue = fields.List(fields.Nested(_Entry), required=True,
                            validate=validate.Length(min=1))

    @validates_schema
    def _distinct(self, data, **kw):
        for key, name in (("items", "item"), ("catalogue", "code")):
            values = [x[name] for x in data.get(key, [])]
            if len(set(values)) != len(values):
                raise ValidationError(f"duplicate {name}", key)


def _problems(d: dict) -> list[str]:
    """Exact cents everywhere, weights summing to 1, bands strictly decreasing with the
    restricted grade among them."""
    head = d["agency"]
    values = [("agency.default_rating", head["default_rating"]),
              ("agency.conduct_base", head["conduct_base"]),
              ("agency.conduct_floor", head["conduct_floor"]),
              ("agency.weights.service", head["weights"]["service"]),
              ("agency.weights.conduct", head["weights"]["conduct"])]
    values += [(f"items[{i}].max", x["max"]) for i, x in enumerate(d["items"])]
    values += [(f"grades.bands[{i}].min_score", b["min_score"])
               for i, b in enumerate(d["grades"]["bands"])]
    values += [(f"catalogue[{i}] ({e['code']}).points", e["points"])
               for i, e in enumerate(d["catalogue"])]
    problems = [p for p in (cents_problem(k, v) for k, v in values) if p]
    weights = head["weights"]
    if weights["service"] + weights["conduct"] != 1:
        problems.append("agency.weights: service + conduct must be 1.00")
    bands = d["grades"]["bands"]
    for i in range(1, len(bands)):
        if bands[i]["min_score"] >= bands[i - 1]["min_score"]:
            problems.append(f"grades.bands[{i}].min_score: bands must be ordered by strictly "
                            "decreasing min_score")
    grades = [b["grade"] for b in bands]
    if len(set(grades)) != len(grades):
        problems.append("grades.bands: grades must be distinct")
    if head["restricted_grade"] not in grades:
        problems.append(f"agency.restricted_grade: {head['restricted_grade']!r} is not a "
                        "grade of grades.bands")
    return problems


def _entry(e: dict) -> CatalogueEntry:
    return CatalogueEntry(
        code=e["code"], name=e["name"], category=AGENCY_CATEGORY,
        points=e["points"].quantize(CENT), tier=e["tier"],
        validity_months=e["validity_months"], explicit_max_months=None,
        repair_min_months=e["repair_min_months"], flags=frozenset(e["flags"]),
        basis=e["basis"])


def build(doc: dict, sha: str, source: str) -> AgencyDefinition:
    """An agency-evaluation definition (``[agency]`` table)."""
    d = load_strict(_Definition(), doc, source)
    raise_problems(source, _problems(d))
    head = d["agency"]
    return AgencyDefinition(
        id=head["id"], version=head["version"], sha256=sha, title=head["title"],
        items=MappingProxyType({x["item"]: RatingItem(x["item"], x["name"], x["max"])
                                for x in d["items"]}),
        catalogue=MappingProxyType({e["code"]: _entry(e) for e in d["catalogue"]}),
        min_ratings=head["min_ratings"], default_rating=head["default_rating"],
        window_days=head["window_days"],
        service_weight=head["weights"]["service"], conduct_weight=head["weights"]["conduct"],
        conduct_base=head["conduct_base"], conduct_floor=head["conduct_floor"],
        service_places=head["service_places"],
        bands=tuple(AgencyBand(b["grade"], b["min_score"]) for b in d["grades"]["bands"]),
        restricted_grade=head["restricted_grade"],
        restricted_measure=head["restricted_measure"],
    )


def cross_problems(definition: AgencyDefinition, scoring_models: list) -> list[str]:
    """A code means one thing: ``POST /records`` accepts a code of the active scoring
    model or of the active agency definition, so no agency code is a scoring code."""
    out = []
    for m in scoring_models:
        shared = sorted(set(definition.catalogue) & set(m.catalogue))
        if shared:
            out.append(f"{definition.ref}: catalogue codes {shared} are also codes of the "
                       f"scoring model {m.ref}")
    return out
