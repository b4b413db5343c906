"""Loading and validating definitions (TOML → frozen domain objects): scoring models
(``[model]``, credit.domain.model) here, other kinds in their own modules (``[screens]``:
scoring_models/screens.py), dispatched by the table heading the file."""

from __future__ import annotations

import hashlib
import tomllib
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable

from marshmallow import (
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from credit.domain.model import (
    CATEGORIES,
    FLAGS,
    SECTORS,
    TIERS,
    CatalogueEntry,
    GradeBand,
    ScoringModel,
)

from .screens import build_screens
from .validation import ModelError
from .validation import Strict as _Strict
from .validation import flatten as _flatten

DEFINITIONS = Path(__file__).parent / "definitions"
CENT = Decimal("0.01")


def _dec(**kw):
    return fields.Decimal(required=True, allow_nan=False, **kw)


class _ModelHead(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]*$"))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    title = fields.String(load_default="")
    base = _dec()
    bonus_cap = _dec(validate=validate.Range(min=0))
    floor = _dec()
    max_reasons = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    sectors = fields.List(fields.String(validate=validate.OneOf(SECTORS)), required=True)
    sector_names = fields.Dict(keys=fields.String(validate=validate.OneOf(SECTORS)),
                               values=fields.String(), load_default=dict)


class _Band(_Strict):
    grade = fields.String(required=True, validate=validate.Length(min=1, max=2))
    min_score = _dec()


class _Grades(_Strict):
    listed = fields.String(required=True)
    bands = fields.List(fields.Nested(_Band), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _ordered(self, data, **kw):
        bands = data["bands"]
        for i in range(1, len(bands)):
            if bands[i]["min_score"] >= bands[i - 1]["min_score"]:
                raise ValidationError(
                    f"bands must be ordered by strictly decreasing min_score; band {i} "
                    f"({bands[i]['grade']} ≥ {bands[i]['min_score']}) overlaps or is out of "
                    f"order with band {i - 1} ({bands[i - 1]['grade']} ≥ "
                    f"{bands[i - 1]['min_score']})", "bands")
        grades = [b["grade"] for b in bands] + [data["listed"]]
        if len(set(grades)) != len(grades):
            raise ValidationError("grades must be distinct (listed grade included)", "bands")


class _Factor(_Strict):
    same = _dec(validate=validate.Range(min=0))
    other = _dec(validate=validate.Range(min=0))


class _Factors(_Strict):
    minor = fields.Nested(_Factor, required=True)
    general = fields.Nested(_Factor, required=True)
    serious = fields.Nested(_Factor, required=True)
    good = fields.Nested(_Factor, required=True)


class _JointPunishment(_Strict):
    pair_window_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    key_supervision_grades = fields.List(fields.String(), required=True)
    key_supervision_min_serious = fields.Integer(required=True, strict=True,
                                                 validate=validate.Range(min=1))
    key_supervision_min_multiplier = _dec(validate=validate.Range(min=0))


class _BidPoints(_Strict):
    credit_weight = _dec(validate=validate.Range(min=0))
    floor = _dec()
    full = _dec()

    @validates_schema
    def _range(self, data, **kw):
        if data["full"] <= data["floor"]:
            raise ValidationError("full must be greater than floor", "full")


class _Entry(_Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Z0-9-]*$"))
    name = fields.String(required=True, validate=validate.Length(min=1))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    points = _dec()
    tier = fields.String(load_default=None, validate=validate.OneOf(TIERS))
    validity_months = fields.Integer(strict=True, load_default=None,
                                     validate=validate.Range(min=1))
    explicit_max_months = fields.Integer(strict=True, load_default=None,
                                         validate=validate.Range(min=1))
    repair_min_months = fields.Integer(strict=True, load_default=None,
                                       validate=validate.Range(min=0))
    flags = fields.List(fields.String(validate=validate.OneOf(FLAGS)), load_default=list)
    family = fields.String(load_default=None)
    basis = fields.String(load_default="")

    @validates_schema
    def _consistent(self, data, **kw):
        good = data["category"] == "good"
        if good and data.get("tier") is not None:
            raise ValidationError("good-conduct codes have no tier", "tier")
        if not good and data.get("tier") is None:
            raise ValidationError("bad-conduct codes need a tier (minor, general, serious)",
                                  "tier")
        if good and data["points"] < 0 or not good and data["points"] > 0:
            raise ValidationError("good conduct adds points, bad conduct deducts them",
                                  "points")
        if (data.get("validity_months") is None) == (data.get("explicit_max_months") is None):
            raise ValidationError(
                "exactly one of validity_months and explicit_max_months is required",
                "validity_months")


class _Definition(_Strict):
    model = fields.Nested(_ModelHead, required=True)
    grades = fields.Nested(_Grades, required=True)
    sector_factors = fields.Nested(_Factors, required=True)
    joint_punishment = fields.Nested(_JointPunishment, required=True)
    inspection_multipliers = fields.Dict(keys=fields.String(), values=_dec(), required=True)
    bid_points = fields.Nested(_BidPoints, required=True)
    catalogue = fields.List(fields.Nested(_Entry), required=True,
                            validate=validate.Length(min=1))


def _build_scoring(doc: dict, sha: str, source: str) -> ScoringModel:
    """A scoring model (``[model]`` table): MODEL.md."""
    try:
        data = _Definition().load(doc)
    except ValidationError as exc:
        raise ModelError(f"{source}: " + "; ".join(_flatten(exc.messages))) from None
    return _build(data, sha, source)


# The kinds of definition, by the table that heads the file. Each builder validates the
# parsed TOML and returns a frozen domain object with ``id``, ``version``, ``sha256``,
# ``ref`` and ``kind``; it raises ModelError naming the file and the key.
BUILDERS: dict[str, Callable[[dict, str, str], Any]] = {
    "model": _build_scoring,
    "screens": build_screens,
}


def load_bytes(raw: bytes, source: str = "<memory>"):
    """Validate one definition of any kind and build its domain object; errors name
    ``source`` and the offending key. The SHA-256 is that of the file's bytes."""
    try:
        doc = tomllib.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{source}: not valid UTF-8 TOML: {exc}") from None
    heads = [k for k in BUILDERS if k in doc]
    if len(heads) != 1:
        raise ModelError(f"{source}: a definition has exactly one of the tables "
                         f"{', '.join('[' + k + ']' for k in BUILDERS)} (found "
                         f"{', '.join(heads) or 'none'})")
    return BUILDERS[heads[0]](doc, hashlib.sha256(raw).hexdigest(), source)


def load_file(path: str | Path) -> ScoringModel:
    path = Path(path)
    return load_bytes(path.read_bytes(), str(path))


MAX_MAGNITUDE = Decimal(1_000_000)


def _cents_problem(key: str, value: Decimal, cents: bool = True) -> str | None:
    """Every quantity of a model is exact to the cent and of a sane size, so that no
    rounding happens anywhere in scoring and every trace value prints exactly."""
    if not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
        return f"{key}: {value} is out of range (|value| < {MAX_MAGNITUDE})"
    if cents and value.quantize(CENT) != value:
        return f"{key}: more than two decimals ({value})"
    return None


def _quantities(d: dict):
    """(key, value) for every decimal of the definition outside the catalogue."""
    for name in ("base", "bonus_cap", "floor"):
        yield f"model.{name}", d["model"][name]
    for i, band in enumerate(d["grades"]["bands"]):
        yield f"grades.bands[{i}].min_score", band["min_score"]
    yield ("joint_punishment.key_supervision_min_multiplier",
           d["joint_punishment"]["key_supervision_min_multiplier"])
    for grade, m in d["inspection_multipliers"].items():
        yield f"inspection_multipliers.{grade}", m
    for name in ("credit_weight", "floor", "full"):
        yield f"bid_points.{name}", d["bid_points"][name]


def _build(d: dict, sha: str, source: str) -> ScoringModel:
    head, grades = d["model"], d["grades"]
    problems: list[str] = [p for p in (_cents_problem(k, v) for k, v in _quantities(d)) if p]
    # A factor may have more decimals (0.125 × 8.00 is exact); only products must not.
    for tier, f in d["sector_factors"].items():
        for which in ("same", "other"):
            problem = _cents_problem(f"sector_factors.{tier}.{which}", f[which], cents=False)
            if problem:
                problems.append(problem)
    if problems:
        raise ModelError(f"{source}: " + "; ".join(problems))
    bands = tuple(GradeBand(b["grade"], b["min_score"]) for b in grades["bands"])
    all_grades = [b.grade for b in bands] + [grades["listed"]]
    mult = d["inspection_multipliers"]
    if sorted(mult) != sorted(all_grades):
        problems.append(f"inspection_multipliers: must name exactly the grades {all_grades}")
    for g in d["joint_punishment"]["key_supervision_grades"]:
        if g not in all_grades:
            problems.append(f"joint_punishment.key_supervision_grades: unknown grade {g!r}")
    factors = {k: (v["same"], v["other"]) for k, v in d["sector_factors"].items()}

    catalogue: dict[str, CatalogueEntry] = {}
    for i, e in enumerate(d["catalogue"]):
        key = f"catalogue[{i}] ({e['code']})"
        if e["code"] in catalogue:
            problems.append(f"{key}.code: duplicate code {e['code']}")
            continue
        bad_points = _cents_problem(f"{key}.points", e["points"])
        if bad_points:
            problems.append(bad_points)
            continue
        tier_key = "good" if e["category"] == "good" else e["tier"]
        for which, f in zip(("same", "other"), factors[tier_key], strict=True):
            product = e["points"] * f
            if product.quantize(CENT) != product:
                problems.append(
                    f"{key}.points × sector_factors.{tier_key}.{which}: {e['points']} × {f} = "
                    f"{product} has more than two decimals")
        if e["category"] == "good" and e["repair_min_months"] is not None:
            problems.append(f"{key}.repair_min_months: good-conduct records are not repairable")
        catalogue[e["code"]] = CatalogueEntry(
            code=e["code"], name=e["name"], category=e["category"], points=e["points"],
            tier=e["tier"], validity_months=e["validity_months"],
            explicit_max_months=e["explicit_max_months"],
            repair_min_months=e["repair_min_months"], flags=frozenset(e["flags"]),
            family=e["family"], basis=e["basis"])
    if problems:
        raise ModelError(f"{source}: " + "; ".join(problems))
    return ScoringModel(
        id=head["id"], version=head["version"], sha256=sha,
        base=head["base"], bonus_cap=head["bonus_cap"], floor=head["floor"],
        bands=bands, listed_grade=grades["listed"],
        sector_factors=MappingProxyType(factors),
        pair_window_days=d["joint_punishment"]["pair_window_days"],
        key_supervision_grades=frozenset(d["joint_punishment"]["key_supervision_grades"]),
        key_supervision_min_serious=d["joint_punishment"]["key_supervision_min_serious"],
        key_supervision_min_multiplier=d["joint_punishment"]["key_supervision_min_multiplier"],
        multipliers=MappingProxyType(dict(mult)),
        credit_weight=d["bid_points"]["credit_weight"],
        bid_floor=d["bid_points"]["floor"], bid_full=d["bid_points"]["full"],
        max_reasons=head["max_reasons"],
        catalogue=MappingProxyType(catalogue),
        sectors=tuple(head["sectors"]),
        grades_best_first=tuple(b.grade for b in bands) + (grades["listed"],),
        names=MappingProxyType(dict(head["sector_names"])),
    )


DEFAULT_ACTIVE = {"scoring": "keqiao-2025@1", "screens": "keqiao-screens-2025@1"}


class ModelRegistry:
    """The published definitions of every kind (scoring models, and the other rule sets
    kept as data beside them) and which one of each kind is active.

    A "model" in API.md is a scoring model: :meth:`get` and :attr:`active` name scoring
    models only, so asking a score route for another kind of definition is "not found".

    Refuses a model whose catalogue lacks a code of the active model (API.md §7): a
    record entered under the active model must be scorable by every model.
    """

    def __init__(self, models: list, active: str, active_of: dict[str, str] | None = None):
        self._defs: dict[str, Any] = {}
        for m in models:
            if m.ref in self._defs:
                raise ModelError(f"model {m.ref} is defined twice (sha256 "
                                 f"{self._defs[m.ref].sha256[:12]}… and {m.sha256[:12]}…): a "
                                 "published version is never redefined, only superseded")
            self._defs[m.ref] = m
        wanted = {**DEFAULT_ACTIVE, **(active_of or {}), "scoring": active}
        self._active: dict[str, Any] = {}
        for kind, ref in wanted.items():
            found = self._defs.get(ref)
            if found is None or found.kind != kind:
                if kind == "scoring" or any(d.kind == kind for d in self._defs.values()):
                    known = sorted(r for r, d in self._defs.items() if d.kind == kind)
                    raise ModelError(f"active {kind} definition {ref} is not among {known}")
                continue
            self._active[kind] = found
        self.active = self._active["scoring"]
        for m in self.of_kind("scoring"):
            missing = set(self.active.catalogue) - set(m.catalogue)
            if missing:
                raise ModelError(
                    f"model {m.ref} lacks codes of the active model: {sorted(missing)}")
        for d in self._defs.values():  # rule sets that create records (screens, …)
            unknown = set(getattr(d, "record_codes", ())) - set(self.active.catalogue)
            if unknown:
                raise ModelError(f"{d.kind} definition {d.ref} names codes the active model "
                                 f"{self.active.ref} lacks: {sorted(unknown)}")

    def get(self, ref: str):
        """The scoring model named ``id@version``; KeyError when unknown (or of another
        kind)."""
        found = self._defs[ref]
        if found.kind != "scoring":
            raise KeyError(ref)
        return found

    def definition(self, ref: str, kind: str | None = None):
        """The definition named ``id@version`` (of ``kind`` when given); KeyError."""
        found = self._defs[ref]
        if kind is not None and found.kind != kind:
            raise KeyError(ref)
        return found

    def active_of(self, kind: str):
        """The active definition of ``kind``; KeyError when none is shipped."""
        return self._active[kind]

    def is_active(self, definition) -> bool:
        return self._active.get(definition.kind) is definition

    def of_kind(self, kind: str) -> list:
        return sorted((d for d in self._defs.values() if d.kind == kind),
                      key=lambda d: (d.id, d.version))

    def all(self) -> list:
        """Every definition of every kind, by id and version."""
        return sorted(self._defs.values(), key=lambda m: (m.id, m.version))


def default_registry(active: str = "keqiao-2025@1", extra_dirs=(),
                     active_of: dict[str, str] | None = None) -> ModelRegistry:
    """All definitions shipped under ``definitions/`` (plus ``extra_dirs``)."""
    models = []
    for folder in (DEFINITIONS, *map(Path, extra_dirs)):
        for path in sorted(folder.glob("*.toml")):
            model = load_file(path)
            if path.stem != model.ref:
                raise ModelError(f"{path}: file name must be {model.ref}.toml")
            models.append(model)
    return ModelRegistry(models, active, active_of)
