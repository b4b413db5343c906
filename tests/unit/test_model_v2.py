"""Scoring model keqiao-2025 version 2 (PERFORMANCE.md §5) and the codes only an
approval creates.

Version 2 is version 1 with two catalogue rows added, nothing else changed; version 1's
file is never edited. PERF-EXCELLENT and PERF-FAIL say, as data, that only the approval
of a performance evaluation creates them (``created_by``), which the loader validates
and the registry checks against the performance definition.
"""

from __future__ import annotations

import hashlib
import tomllib
from decimal import Decimal

import pytest

from scoring_models import ModelError, ModelRegistry, default_registry, load_bytes
from scoring_models.loader import DEFINITIONS

V1_PATH = DEFINITIONS / "keqiao-2025@1.toml"
V2_PATH = DEFINITIONS / "keqiao-2025@2.toml"
V2_TEXT = V2_PATH.read_text(encoding="utf-8")
# The SHA-256 of keqiao-2025@1.toml as published: a published version is never edited,
# and every trace served under it names this hash.
V1_SHA256 = "3d9c9ff75d8056d9854fded4af4fc1dca17ad7be4c5df7baadeee0ee539adea3"
NEW_CODES = ("PERF-FAIL", "PERF-EXCELLENT")
D = Decimal


@pytest.fixture(scope="module")
def registry():
    return default_registry()


def test_version_1_is_unchanged():
    assert hashlib.sha256(V1_PATH.read_bytes()).hexdigest() == V1_SHA256


def test_version_2_is_version_1_plus_two_rows_nothing_else():
    v1 = tomllib.loads(V1_PATH.read_text(encoding="utf-8"))
    v2 = tomllib.loads(V2_TEXT)
    assert v2["model"].pop("version") == 2
    assert v1["model"].pop("version") == 1
    added = [e for e in v2["catalogue"] if e["code"] in NEW_CODES]
    v2["catalogue"] = [e for e in v2["catalogue"] if e["code"] not in NEW_CODES]
    assert v2 == v1
    assert sorted(e["code"] for e in added) == sorted(NEW_CODES)


def test_the_two_rows_are_those_of_section_5(registry):
    v2 = registry.get("keqiao-2025@2")
    fail, excellent = v2.entry("PERF-FAIL"), v2.entry("PERF-EXCELLENT")
    basis = "建筑市场信用管理暂行办法(建市〔2017〕241号)"
    assert (fail.name, fail.points, fail.tier, fail.validity_months, fail.repair_min_months,
            fail.category, fail.flags, fail.family, fail.basis) == (
        "合同履约评价不合格", D("-8.00"), "general", 12, 3, "site", frozenset(), None, basis)
    assert (excellent.name, excellent.points, excellent.tier, excellent.validity_months,
            excellent.repair_min_months, excellent.category, excellent.family,
            excellent.basis) == (
        "合同履约评价优良", D("3.00"), None, 36, None, "good", "performance", basis)
    v1 = registry.get("keqiao-2025@1")
    assert set(v2.catalogue) - set(v1.catalogue) == set(NEW_CODES)
    assert all(v2.catalogue[c] == e for c, e in v1.catalogue.items())
    assert (v2.base, v2.bonus_cap, v2.bands, v2.sector_factors, v2.multipliers) == (
        v1.base, v1.bonus_cap, v1.bands, v1.sector_factors, v1.multipliers)


def test_only_an_approval_creates_the_perf_codes(registry):
    v2 = registry.get("keqiao-2025@2")
    for code in NEW_CODES:
        assert v2.entry(code).created_by == "performance_approval"
        assert not v2.entry(code).enterable
    others = [e for c, e in v2.catalogue.items() if c not in NEW_CODES]
    assert others and all(e.enterable and e.created_by == "regulator" for e in others)
    assert all(e.enterable for e in registry.get("keqiao-2025@1").catalogue.values())


def test_an_unknown_creator_is_refused():
    raw = V2_TEXT.replace('created_by = "performance_approval"', 'created_by = "tenderee"', 1)
    with pytest.raises(ModelError) as info:
        load_bytes(raw.encode(), source="bad.toml")
    assert "created_by" in str(info.value)
    assert "regulator, performance_approval" in str(info.value)


def test_version_1_stays_loadable_while_version_2_is_active():
    registry = default_registry("keqiao-2025@2")
    assert registry.active.ref == "keqiao-2025@2"
    assert registry.get("keqiao-2025@1").sha256 == V1_SHA256


def _registry_with(v2_text: str) -> ModelRegistry:
    others = [d for d in default_registry().all() if d.ref != "keqiao-2025@2"]
    v2 = load_bytes(v2_text.encode(), source="keqiao-2025@2.toml")
    return ModelRegistry([*others, v2], active="keqiao-2025@1")


def test_the_registry_refuses_a_perf_code_a_regulator_could_enter():
    # keqiao-2025@2 without the created_by of PERF-FAIL: the performance definition's
    # record code would be enterable by hand.
    start = V2_TEXT.index('code = "PERF-FAIL"')
    end = V2_TEXT.index('created_by = "performance_approval"\n', start)
    text = V2_TEXT[:end] + V2_TEXT[end + len('created_by = "performance_approval"\n'):]
    with pytest.raises(ModelError) as info:
        _registry_with(text)
    assert "keqiao-performance-2025@1" in str(info.value)
    assert "PERF-FAIL" in str(info.value)


def test_the_registry_refuses_an_agency_code_that_is_also_a_scoring_code():
    extra = ('\n[[catalogue]]\ncode = "AGENCY-FEE"\nname = "违规收取费用"\ncategory = "market"\n'
             'points = -5.00\ntier = "general"\nvalidity_months = 12\nrepair_min_months = 3\n')
    with pytest.raises(ModelError) as info:
        _registry_with(V2_TEXT + extra)
    assert "AGENCY-FEE" in str(info.value) and "keqiao-agency-2025@1" in str(info.value)


def test_record_entry_looks_in_the_active_model_then_the_agency_definition():
    registry = default_registry("keqiao-2025@2")
    assert registry.record_entry("BID-NOSIGN") is registry.active.entry("BID-NOSIGN")
    perf = registry.record_entry("PERF-FAIL")
    assert perf is not None and not perf.enterable
    leak = registry.record_entry("AGENCY-LEAK")
    assert leak.category == "agency" and leak.enterable and "restrict" in leak.flags
    assert registry.record_entry("NOT-A-CODE") is None
    # Under version 1 the PERF codes are unknown (400 unknown_code at POST /records).
    assert default_registry("keqiao-2025@1").record_entry("PERF-FAIL") is None
