"""Loading and validating scoring model definitions (TOML → credit.domain.model)."""

from __future__ import annotations

import hashlib
import tomllib
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable

from marshmallow import ValidationError, fields, validate, validates_schema

from credit.domain.model import (
    CATEGORIES,
    CREATORS,
    FLAGS,
    SECTORS,
    TIERS,
    CatalogueEntry,
    GradeBand,
    ScoringModel,
)

from . import agency, performance, screens
from .base import CENT, MAX_MAGNITUDE, ModelError, Strict, load_strict  # noqa: F401
from .base import cents_problem as _cents_problem
from .base import dec as _dec

DEFINITIONS = Path(__file__).parent / "definitions"

class _ModelHead(Strict):
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


class _Band(Strict):
    grade = fields.String(required=True, validate=validate.Length(min=1, max=2))
    min_score = _dec()


class _Grades(Strict):
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


class _Factor(Strict):
    same = _dec(validate=validate.Range(min=0))
    other = _dec(validate=validate.Range(min=0))


class _Factors(Strict):
    minor = fields.Nested(_Factor, required=True)
    general = fields.Nested(_Factor, required=True)
    serious = fields.Nested(_Factor, required=True)
    good = fields.Nested(_Factor, required=True)


class _JointPunishment(Strict):
    pair_window_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    key_supervision_grades = fields.List(fields.String(), required=True)
    key_supervision_min_serious = fields.Integer(required=True, strict=True,
                                                 validate=validate.Range(min=1))
    key_supervision_min_multiplier = _dec(validate=validate.Range(min=0))


class _BidPoints(Strict):
    credit_weight = _dec(validate=validate.Range(min=0))
    floor = _dec()
    full = _dec()

    @validates_schema
    def _range(self, data, **kw):
        if data["full"] <= data["floor"]:
            raise ValidationError("full must be greater than floor", "full")


class _Entry(Strict):
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
    # Who creates records of this code (absent: a regulator enters them by hand).
    created_by = fields.String(load_default="regulator", validate=validate.OneOf(CREATORS))

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


class _Definition(Strict):
    model = fields.Nested(_ModelHead, required=True)
    grades = fields.Nested(_Grades, required=True)
    sector_factors = fields.Nested(_Factors, required=True)
    joint_punishment = fields.Nested(_JointPunishment, required=True)
    inspection_multipliers = fields.Dict(keys=fields.String(), values=_dec(), required=True)
    bid_points = fields.Nested(_BidPoints, required=True)
    catalogue = fields.List(fields.Nested(_Entry), required=True,
                            validate=validate.Length(min=1))

    @validates_schema
    def _bands_reach_the_floor(self, data, **kw):
        """Every score the model can give has a band (MODEL.md §5): the lowest band
        starts at or below the score's floor, else a score under it would take the
        lowest band's grade without earning it."""
        lowest, floor = data["grades"]["bands"][-1], data["model"]["floor"]
        if lowest["min_score"] > floor:
            raise ValidationError(
                f"the lowest band ({lowest['grade']} ≥ {lowest['min_score']}) must start "
                f"at or below model.floor ({floor}): a score between them has no band",
                "grades")


def _build_scoring(doc: dict, sha: str, source: str) -> ScoringModel:
    """A scoring model (``[model]`` table): MODEL.md."""
    return _build(load_strict(_Definition(), doc, source), sha, source)


# The kinds of definition, by the table that heads the file. Each builder validates the
# parsed TOML and returns a frozen domain object with ``id``, ``version``, ``sha256``,
# ``ref`` and ``kind``; it raises ModelError naming the file and the key.
BUILDERS: dict[str, Callable[[dict, str, str], Any]] = {
    "model": _build_scoring,
    "screens": screens.build_screens,  # WARNINGS.md §4
    "performance": performance.build,  # PERFORMANCE.md §3–§6
    "agency": agency.build,            # PERFORMANCE.md §7
}


# Checks across definitions, by kind: ``check(definition, scoring_models)`` returns
# problems (a performance definition's record codes must be codes only its approval
# creates; an agency code must not also be a scoring model's code).
CROSS_CHECKS: dict[str, Callable[[Any, list], list[str]]] = {
    "screens": screens.cross_problems,
    "performance": performance.cross_problems,
    "agency": agency.cross_problems,
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


def _quantity_problems(d: dict) -> list[str]:
    """Every quantity in cents; a factor may have more decimals (0.125 × 8.00 is exact),
    only the products must not (checked per catalogue entry)."""
    problems = [p for p in (_cents_problem(k, v) for k, v in _quantities(d)) if p]
    for tier, f in d["sector_factors"].items():
        for which in ("same", "other"):
            problem = _cents_problem(f"sector_factors.{tier}.{which}", f[which], cents=False)
            if problem:
                problems.append(problem)
    return problems


def _catalogue(entries: list[dict], factors: dict
               ) -> tuple[dict[str, CatalogueEntry], list[str]]:
    """The catalogue by code, and what is wrong with its entries, in their order."""
    catalogue: dict[str, CatalogueEntry] = {}
    problems: list[str] = []
    for i, e in enumerate(entries):
        key = f"catalogue[{i}] ({e['code']})"
        if e["code"] in catalogue:
            problems.append(f"{key}.code: duplicate code {e['code']}")
            continue
        bad_points = _cents_problem(f"{key}.points", e["points"])
        if bad_points:
            problems.append(bad_points)
            continue
        problems.extend(_entry_problems(key, e, factors))
        catalogue[e["code"]] = CatalogueEntry(
            code=e["code"], name=e["name"], category=e["category"], points=e["points"],
            tier=e["tier"], validity_months=e["validity_months"],
            explicit_max_months=e["explicit_max_months"],
            repair_min_months=e["repair_min_months"], flags=frozenset(e["flags"]),
            family=e["family"], basis=e["basis"], created_by=e["created_by"])
    return catalogue, problems


def _entry_problems(key: str, e: dict, factors: dict) -> list[str]:
    """A catalogue entry's points × each sector factor must stay in cents, and good
    conduct is never repairable."""
    problems = []
    tier_key = "good" if e["category"] == "good" else e["tier"]
    for which, f in zip(("same", "other"), factors[tier_key], strict=True):
        product = e["points"] * f
        if product.quantize(CENT) != product:
            problems.append(
                f"{key}.points × sector_factors.{tier_key}.{which}: {e['points']} × {f} = "
                f"{product} has more than two decimals")
    if e["category"] == "good" and e["repair_min_months"] is not None:
        problems.append(f"{key}.repair_min_months: good-conduct records are not repairable")
    return problems


def _build(d: dict, sha: str, source: str) -> ScoringModel:
    """The model of a parsed definition, or ModelError naming every problem found: first
    the quantities' cents, then the grades and the catalogue together."""
    head, grades = d["model"], d["grades"]
    problems = _quantity_problems(d)
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
    catalogue, entry_problems = _catalogue(d["catalogue"], factors)
    problems += entry_problems
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


DEFAULT_ACTIVE = {"scoring": "keqiao-2025@2",
                  "screens": "keqiao-screens-2025@1",
                  "performance": "keqiao-performance-2025@1",
                  "agency": "keqiao-agency-2025@1"}


class ModelRegistry:
    """The published definitions of every kind (scoring models, and the other rule sets
    kept as data beside them) and which one of each kind is active.

    A "model" in API.md is a scoring model: :meth:`get` and :attr:`active` name scoring
    models only, so asking a score route for another kind of definition is "not found".

    Scoring models need not share a catalogue: a model ignores a record whose code it
    does not know (status ``not_in_model``, PERFORMANCE.md §5), so version 1 stays
    loadable, and every trace served under it replays, while version 2 is active.
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
        scoring = self.of_kind("scoring")
        problems = [p for d in self._defs.values() if d.kind in CROSS_CHECKS
                    for p in CROSS_CHECKS[d.kind](d, scoring)]
        if problems:
            raise ModelError("; ".join(problems))

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

    def record_entry(self, code: str):
        """The catalogue entry of a code ``POST /records`` may name: the active scoring
        model's, else the active agency definition's (PERFORMANCE.md §7); None when
        neither knows it (400 ``unknown_code``). ``entry.enterable`` is False for codes
        only an approval creates (400 ``code_not_enterable``)."""
        entry = self.active.catalogue.get(code)
        if entry is None and "agency" in self._active:
            entry = self._active["agency"].catalogue.get(code)
        return entry

    def describe(self, code: str):
        """The catalogue entry that names and classes ``code`` on a stored record: the
        active one (:meth:`record_entry`), else that of the newest published definition
        that knows the code, scoring models first. A record a newer model created (a
        PERF-FAIL under version 2) stays readable after an operator makes an older
        model active again, which ignores it (API.md §7). None only for a code no
        shipped definition knows, which no stored record can have: published versions
        are never removed."""
        entry = self.record_entry(code)
        if entry is not None:
            return entry
        knowing = [d for d in self._defs.values() if code in getattr(d, "catalogue", ())]
        if not knowing:
            return None
        newest = max(knowing, key=lambda d: (d.kind == "scoring", d.version, d.id))
        return newest.catalogue[code]

    def recorded_codes(self) -> list[str]:
        """Every code a stored record can have, sorted: those of every published
        definition with a catalogue (what :meth:`describe` knows)."""
        return sorted({c for d in self._defs.values() for c in getattr(d, "catalogue", ())})

    def enterable_codes(self) -> list[str]:
        """Every code a regulator may enter by hand (``POST /records``), sorted: the
        active scoring model's enterable codes and the active agency definition's."""
        codes = [c for c, e in self.active.catalogue.items() if e.enterable]
        if "agency" in self._active:
            codes += list(self._active["agency"].catalogue)
        return sorted(codes)

    def is_active(self, definition) -> bool:
        return self._active.get(definition.kind) is definition

    def of_kind(self, kind: str) -> list:
        return sorted((d for d in self._defs.values() if d.kind == kind),
                      key=lambda d: (d.id, d.version))

    def all(self) -> list:
        """Every definition of every kind, by id and version."""
        return sorted(self._defs.values(), key=lambda m: (m.id, m.version))


def default_registry(active: str | None = None, extra_dirs=(),
                     active_of: dict[str, str] | None = None) -> ModelRegistry:
    """All definitions shipped under ``definitions/`` (plus ``extra_dirs``); ``active``
    names the active scoring model (default: ``DEFAULT_ACTIVE["scoring"]``)."""
    models, shipped = [], []
    for folder in (DEFINITIONS, *map(Path, extra_dirs)):
        for path in sorted(folder.glob("*.toml")):
            model = load_file(path)
            if path.stem != model.ref:
                raise ModelError(f"{path}: file name must be {model.ref}.toml")
            models.append(model)
            if folder == DEFINITIONS:
                shipped.append(model)
    check_published(shipped)
    return ModelRegistry(models, active or DEFAULT_ACTIVE["scoring"], active_of)


#: The SHA-256 of each shipped definition as it was published (``sha256sum`` format).
PUBLISHED = DEFINITIONS / "PUBLISHED.sha256"


def check_published(shipped, manifest: Path = PUBLISHED) -> None:
    """Every definition shipped under ``definitions/`` has the bytes it was published
    with (:data:`PUBLISHED`): a published version is never edited, only superseded, and
    an edited one would answer differently for the same inputs and fail every replay of
    the traces served under it. ModelError names the file otherwise, a shipped
    definition the manifest does not list, and a listed one no longer shipped."""
    published = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            sha, _, name = line.partition("  ")
            published[name.strip()] = sha.strip()
    for model in shipped:
        name = f"{model.ref}.toml"
        if name not in published:
            raise ModelError(f"{name} is not in {manifest.name}: add its sha256 when it is "
                             "published.")
        if published[name] != model.sha256:
            raise ModelError(f"{name} was edited after it was published (sha256 "
                             f"{model.sha256[:12]}…, published {published[name][:12]}…): a "
                             "published version is never edited; publish a new version.")
    gone = sorted(set(published) - {f"{m.ref}.toml" for m in shipped})
    if gone:  # its traces would no longer replay either
        raise ModelError(f"{', '.join(gone)} published ({manifest.name}) but no longer "
                         "shipped: a published version stays loadable.")
