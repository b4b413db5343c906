"""The shipped scoring model keqiao-2025@1 and the loader that refuses unusable models.

The shipped definition must encode exactly MODEL.md's numbers; every refusal is a
ModelError naming the definition file and the offending key. Bad definitions are built
by editing the shipped file's text, so each test changes exactly one thing.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

import pytest

from credit.domain.dates import CST
from credit.domain.engine import evaluate
from credit.domain.records import Knowledge, Record
from scoring_models import ModelError, ModelRegistry, default_registry, load_bytes, load_file
from scoring_models.loader import DEFINITIONS

SHIPPED_PATH = DEFINITIONS / "keqiao-2025@1.toml"
SHIPPED_TEXT = SHIPPED_PATH.read_text(encoding="utf-8")
BAD = "bad.toml"

D = Decimal

# MODEL.md §9, row by row:
# code, 名称, category, points, tier, validity months, explicit max months,
# earliest repair months (None = not repairable), flags, family
CATALOGUE = [
    ("BID-COLLUDE", "串通投标", "market", "-20", "serious", 36, None, 12, set(), None),
    ("BID-BRIBE", "以行贿手段谋取中标", "market", "-20", "serious", 36, None, 12, set(), None),
    ("BID-FRAUD", "弄虚作假或以他人名义投标", "market", "-15", "serious", 36, None, 12, set(),
     None),
    ("BID-NOSIGN", "中标后无正当理由不订立合同", "market", "-8", "general", 12, None, 3, set(),
     None),
    ("BID-ABANDON", "无正当理由放弃中标资格", "market", "-5", "general", 12, None, 3, set(),
     None),
    ("BID-COMPLAINT", "捏造事实、伪造材料恶意投诉", "market", "-5", "general", 12, None, 3,
     set(), None),
    ("BID-BAN", "被依法取消投标资格", "market", "0", "serious", None, 36, None, {"bid_ban"},
     None),
    ("FALSE-INFO", "向监管部门提供虚假材料", "market", "-8", "general", 12, None, 3, set(), None),
    ("SUB-TRANSFER", "转包", "site", "-20", "serious", 36, None, 12, {"blacklist"}, None),
    ("QUAL-LEND", "出借资质或挂靠", "site", "-20", "serious", 36, None, 12, {"blacklist"}, None),
    ("SUB-ILLEGAL", "违法分包", "site", "-10", "general", 12, None, 3, set(), None),
    ("SITE-PM-ABSENT", "项目经理等关键岗位人员不在岗", "site", "-4", "minor", 6, None, 0, set(),
     None),
    ("SITE-STAFF-MISMATCH", "现场管理人员与投标承诺不一致", "site", "-2", "general", 12, None, 3,
     set(), None),
    ("SITE-RECTIFY-REFUSE", "拒不执行整改或停工指令", "site", "-6", "general", 12, None, 3,
     set(), None),
    ("SITE-QUALITY", "工程质量违法违规", "site", "-5", "general", 12, None, 3, set(), None),
    ("SAFE-ACC-GENERAL", "一般生产安全事故（负有责任）", "site", "-10", "serious", 36, None, 12,
     set(), None),
    ("SAFE-ACC-LARGER", "较大生产安全事故", "site", "-20", "serious", 36, None, 12,
     {"pair_rule"}, None),
    ("SAFE-ACC-MAJOR", "重大及以上生产安全事故", "site", "-30", "serious", 36, None, 12,
     {"blacklist"}, None),
    ("SAFE-CONCEAL", "瞒报、谎报生产安全事故", "site", "-10", "serious", 36, None, 12, set(),
     None),
    ("WAGE-ARREARS", "拖欠农民工工资", "site", "-10", "general", 12, None, 3, set(), None),
    ("WAGE-BLACKLIST", "列入拖欠农民工工资失信联合惩戒对象名单", "site", "0", "serious", 36,
     None, 6, {"blacklist"}, None),
    ("ADMIN-PENALTY", "其他建设领域行政处罚", "site", "-5", "general", 12, None, 3, set(), None),
    ("ADMIN-CRITICISM", "通报批评或约谈", "site", "-3", "minor", 6, None, 0, set(), None),
    ("AWARD-NATIONAL", "国家级工程质量奖（鲁班奖、国家优质工程奖）", "good", "5", None, 36, None,
     None, set(), "quality-award"),
    ("AWARD-PROVINCIAL", "省级工程质量奖（钱江杯等）", "good", "3", None, 36, None, None, set(),
     "quality-award"),
    ("AWARD-CITY", "市级工程质量奖", "good", "1", None, 36, None, None, set(), "quality-award"),
    ("SITE-STANDARD-PROVINCIAL", "省级安全文明标准化工地", "good", "2", None, 36, None, None,
     set(), "standard-site"),
    ("SITE-STANDARD-CITY", "市级安全文明标准化工地", "good", "1", None, 36, None, None, set(),
     "standard-site"),
    ("COMMEND-EMERGENCY", "抢险救灾等省级以上表彰", "good", "3", None, 36, None, None, set(),
     "emergency"),
]


@pytest.fixture(scope="module")
def shipped():
    return load_file(SHIPPED_PATH)


def edited(old: str, new: str, count: int = 1) -> bytes:
    """The shipped definition with one textual edit (which must apply)."""
    assert SHIPPED_TEXT.count(old) >= count, f"edit anchor not found: {old!r}"
    return SHIPPED_TEXT.replace(old, new, count).encode("utf-8")


def refusal(raw: bytes) -> str:
    """Load ``raw`` as bad.toml and return the refusal message."""
    with pytest.raises(ModelError) as info:
        load_bytes(raw, source=BAD)
    message = str(info.value)
    assert message.startswith(f"{BAD}: "), message
    return message


def entry_block(code: str) -> str:
    """The shipped text of one ``[[catalogue]]`` entry (without its header)."""
    start = SHIPPED_TEXT.index(f'[[catalogue]]\ncode = "{code}"\n')
    end = SHIPPED_TEXT.find("[[catalogue]]", start + 1)
    return SHIPPED_TEXT[start:end if end != -1 else len(SHIPPED_TEXT)]


# ---- the shipped model encodes MODEL.md ------------------------------------------------


def test_identity_and_fingerprint(shipped):
    assert shipped.id == "keqiao-2025"
    assert shipped.version == 1
    assert shipped.ref == "keqiao-2025@1"
    assert shipped.sha256 == hashlib.sha256(SHIPPED_PATH.read_bytes()).hexdigest()


def test_fingerprint_is_of_the_exact_bytes():
    raw = SHIPPED_PATH.read_bytes()
    assert load_bytes(raw).sha256 == hashlib.sha256(raw).hexdigest()
    # A comment changes nothing in the model but does change its fingerprint.
    assert load_bytes(raw + b"\n# note\n").sha256 != hashlib.sha256(raw).hexdigest()


def test_score_parameters(shipped):
    """MODEL.md §5: base 100.00, bonus cap 15.00, floor 0.00; §8: at most 5 reasons."""
    assert shipped.base == D("100.00")
    assert shipped.bonus_cap == D("15.00")
    assert shipped.floor == D("0.00")
    assert shipped.max_reasons == 5


def test_sectors(shipped):
    assert shipped.sectors == ("housing", "transport", "water")
    assert dict(shipped.names) == {"housing": "房屋建筑和市政基础设施", "transport": "交通",
                                   "water": "水利"}


def test_grade_bands(shipped):
    """MODEL.md §6: E when listed; A ≥ 105.00, B ≥ 100.00, C ≥ 85.00, else D."""
    assert [(b.grade, b.min_score) for b in shipped.bands] == [
        ("A", D("105.00")), ("B", D("100.00")), ("C", D("85.00")), ("D", D("0.00"))]
    assert shipped.listed_grade == "E"
    assert shipped.grades_best_first == ("A", "B", "C", "D", "E")


@pytest.mark.parametrize("score, grade", [
    ("115.00", "A"), ("105.00", "A"), ("104.99", "B"), ("100.00", "B"), ("99.99", "C"),
    ("85.00", "C"), ("84.99", "D"), ("0.00", "D"),
])
def test_grade_for_score(shipped, score, grade):
    assert shipped.grade_for(D(score)) == grade


def test_sector_factors(shipped):
    """MODEL.md §3: only serious records count in another sector, at half weight."""
    assert dict(shipped.sector_factors) == {
        "minor": (D("1"), D("0")),
        "general": (D("1"), D("0")),
        "serious": (D("1"), D("0.5")),
        "good": (D("1"), D("0")),
    }


def test_joint_punishment_parameters(shipped):
    """MODEL.md §6: L2 window 365 days; key supervision on D/E or ≥ 2 serious records,
    multiplier at least 2.00."""
    assert shipped.pair_window_days == 365
    assert shipped.key_supervision_grades == {"D", "E"}
    assert shipped.key_supervision_min_serious == 2
    assert shipped.key_supervision_min_multiplier == D("2.00")


def test_inspection_multipliers(shipped):
    assert dict(shipped.multipliers) == {"A": D("0.50"), "B": D("1.00"), "C": D("1.50"),
                                         "D": D("2.00"), "E": D("3.00")}


def test_bid_points_parameters(shipped):
    """MODEL.md §7: credit_weight 10.00, floor 60.00, full 105.00."""
    assert shipped.credit_weight == D("10.00")
    assert shipped.bid_floor == D("60.00")
    assert shipped.bid_full == D("105.00")


def test_catalogue_has_exactly_the_codes_of_model_md(shipped):
    assert list(shipped.catalogue) == [row[0] for row in CATALOGUE]
    assert len(shipped.catalogue) == 29


@pytest.mark.parametrize("row", CATALOGUE, ids=[row[0] for row in CATALOGUE])
def test_catalogue_row(shipped, row):
    code, name, category, points, tier, validity, explicit_max, repair, flags, family = row
    entry = shipped.entry(code)
    assert entry.code == code
    assert entry.name == name
    assert entry.category == category
    assert entry.points == D(points)
    assert entry.points.as_tuple().exponent == -2  # written with two decimals
    assert entry.tier == tier
    assert entry.validity_months == validity
    assert entry.explicit_max_months == explicit_max
    assert entry.repair_min_months == repair
    assert entry.flags == frozenset(flags)
    assert entry.family == family
    assert entry.explicit == (validity is None)
    assert entry.repairable == (repair is not None)
    assert entry.is_good == (category == "good")


def test_worked_example_factors(shipped):
    """MODEL.md §10: a serious transport record counts half in housing, a minor one not."""
    acc = shipped.entry("SAFE-ACC-GENERAL")
    assert acc.points * shipped.factor(acc, "transport", "housing") == D("-5.00")
    pm = shipped.entry("SITE-PM-ABSENT")
    assert pm.points * shipped.factor(pm, "transport", "housing") == 0
    award = shipped.entry("AWARD-PROVINCIAL")
    assert shipped.factor(award, "housing", "housing") == 1
    assert shipped.factor(award, "water", "housing") == 0


def test_default_registry_serves_the_newest_shipped_version_as_active(shipped):
    registry = default_registry()
    assert registry.active.ref == "keqiao-2025@2"  # API.md §8: the newest shipped version
    assert registry.get("keqiao-2025@1").sha256 == shipped.sha256
    with pytest.raises(KeyError):
        registry.get("keqiao-2025@9")
    with pytest.raises(KeyError):  # a definition of another kind is no scoring model
        registry.get("keqiao-performance-2025@1")


# ---- refusals: unknown keys ------------------------------------------------------------


def test_unknown_top_level_key_is_refused():
    message = refusal(b'colour = "red"\n' + SHIPPED_PATH.read_bytes())
    assert "colour" in message
    assert "Unknown field" in message


def test_unknown_top_level_table_is_refused():
    message = refusal(SHIPPED_PATH.read_bytes() + b"\n[appeals]\nwindow_days = 30\n")
    assert "appeals" in message


def test_unknown_key_in_model_section_is_refused():
    message = refusal(edited("bonus_cap = 15.00\n", "bonus_cap = 15.00\nmalus_cap = 5.00\n"))
    assert "model.malus_cap" in message


def test_unknown_key_inside_a_catalogue_entry_is_refused():
    message = refusal(edited('code = "BID-BRIBE"\n', 'code = "BID-BRIBE"\nweight = 2\n'))
    assert "catalogue.1.weight" in message
    assert "Unknown field" in message


def test_unknown_key_inside_a_sector_factor_is_refused():
    message = refusal(edited("minor = { same = 1.00, other = 0.00 }",
                             "minor = { same = 1.00, other = 0.00, cap = 1.00 }"))
    assert "sector_factors.minor.cap" in message


# ---- refusals: grade bands -------------------------------------------------------------


def test_overlapping_bands_are_refused():
    message = refusal(edited('{ grade = "B", min_score = 100.00 }',
                             '{ grade = "B", min_score = 105.00 }'))
    assert "grades.bands" in message
    assert "overlaps or is out of order" in message


def test_unordered_bands_are_refused():
    message = refusal(edited('{ grade = "B", min_score = 100.00 },\n'
                             '  { grade = "C", min_score = 85.00 },',
                             '{ grade = "C", min_score = 85.00 },\n'
                             '  { grade = "B", min_score = 100.00 },'))
    assert "grades.bands" in message
    assert "B ≥ 100.00" in message


def test_listed_grade_repeating_a_band_is_refused():
    message = refusal(edited('listed = "E"', 'listed = "D"'))
    assert "grades.bands" in message
    assert "distinct" in message


def test_multipliers_must_name_exactly_the_grades():
    message = refusal(edited("E = 3.00\n", "E = 3.00\nF = 4.00\n"))
    assert "inspection_multipliers" in message


def test_key_supervision_grade_must_exist():
    message = refusal(edited('key_supervision_grades = ["D", "E"]',
                             'key_supervision_grades = ["D", "X"]'))
    assert "joint_punishment.key_supervision_grades" in message
    assert "'X'" in message


# ---- refusals: catalogue entries -------------------------------------------------------


def test_unknown_tier_is_refused():
    message = refusal(edited('tier = "minor"', 'tier = "grave"'))
    assert "catalogue.11.tier" in message  # SITE-PM-ABSENT, the first minor code
    assert "minor, general, serious" in message


def test_duplicate_code_is_refused():
    message = refusal(edited('code = "BID-BRIBE"', 'code = "BID-COLLUDE"'))
    assert "catalogue[1] (BID-COLLUDE).code" in message
    assert "duplicate code BID-COLLUDE" in message


def test_points_times_factor_with_two_decimals_is_accepted():
    # -5.00 × 0.33 = -1.65 (and -8 × 0.33, -10 × 0.33, … likewise): fine.
    model = load_bytes(edited("general = { same = 1.00, other = 0.00 }",
                              "general = { same = 1.00, other = 0.33 }"), source="ok.toml")
    abandon = model.entry("BID-ABANDON")
    assert abandon.points * model.factor(abandon, "water", "housing") == D("-1.65")


def test_points_times_factor_with_three_decimals_is_refused():
    # -5.00 × 0.333 = -1.665: three decimals.
    message = refusal(edited("general = { same = 1.00, other = 0.00 }",
                             "general = { same = 1.00, other = 0.333 }"))
    assert "catalogue[4] (BID-ABANDON).points × sector_factors.general.other" in message
    assert "-1.665" in message
    assert "more than two decimals" in message
    # Only the factor that misbehaves is blamed.
    assert "general.same" not in message


def test_good_points_times_factor_with_three_decimals_is_refused():
    message = refusal(edited("good = { same = 1.00, other = 0.00 }",
                             "good = { same = 1.00, other = 0.125 }"))
    assert "(AWARD-CITY).points × sector_factors.good.other" in message


def test_points_with_three_decimals_are_refused():
    message = refusal(edited("points = -8.00", "points = -8.005"))
    assert "catalogue[3] (BID-NOSIGN).points: more than two decimals" in message


def test_model_totals_with_three_decimals_are_refused():
    message = refusal(edited("bonus_cap = 15.00", "bonus_cap = 15.005"))
    assert "model.bonus_cap: more than two decimals" in message


def test_both_validity_and_explicit_maximum_are_refused():
    message = refusal(edited("explicit_max_months = 36\n",
                             "explicit_max_months = 36\nvalidity_months = 36\n"))
    assert "catalogue.6.validity_months" in message  # BID-BAN
    assert "explicit_max_months" in message


def test_neither_validity_nor_explicit_maximum_is_refused():
    block = entry_block("BID-COLLUDE")
    raw = edited(block, block.replace("validity_months = 36\n", ""))
    message = refusal(raw)
    assert "catalogue.0.validity_months" in message
    assert "explicit_max_months" in message


def test_good_code_with_tier_is_refused():
    block = entry_block("AWARD-NATIONAL")
    message = refusal(edited(block, block.replace("points = 5.00\n",
                                                  'points = 5.00\ntier = "minor"\n')))
    assert "catalogue.23.tier" in message
    assert "good-conduct codes have no tier" in message


def test_bad_code_without_tier_is_refused():
    block = entry_block("BID-NOSIGN")
    message = refusal(edited(block, block.replace('tier = "general"\n', "")))
    assert "catalogue.3.tier" in message


def test_good_points_must_be_positive_and_bad_negative():
    message = refusal(edited("points = -8.00", "points = 8.00"))
    assert "catalogue.3.points" in message


def test_repairable_good_code_is_refused():
    block = entry_block("AWARD-CITY")
    message = refusal(edited(block, block.replace("points = 1.00\n",
                                                  "points = 1.00\nrepair_min_months = 3\n")))
    assert "(AWARD-CITY).repair_min_months" in message


def test_unknown_flag_is_refused():
    message = refusal(edited('flags = ["bid_ban"]', 'flags = ["debarred"]'))
    assert "catalogue.6.flags" in message


def test_not_toml_is_refused_with_the_file_name():
    message = refusal(b"[model\nid = ")
    assert "not valid UTF-8 TOML" in message
    message = refusal(b"\xff\xfe")
    assert "not valid UTF-8 TOML" in message


def test_file_name_must_be_the_model_reference(tmp_path):
    (tmp_path / "keqiao-2025@2.toml").write_bytes(SHIPPED_PATH.read_bytes())
    with pytest.raises(ModelError) as info:
        default_registry(extra_dirs=[tmp_path])
    assert "keqiao-2025@2.toml" in str(info.value)
    assert "keqiao-2025@1.toml" in str(info.value)


def test_error_from_a_file_names_its_path(tmp_path):
    path = tmp_path / "keqiao-2025@9.toml"
    path.write_bytes(edited('code = "BID-BRIBE"', 'code = "BID-COLLUDE"'))
    with pytest.raises(ModelError) as info:
        load_file(path)
    assert str(info.value).startswith(f"{path}: ")


# ---- the registry ----------------------------------------------------------------------


def test_registry_accepts_a_model_lacking_a_code_of_the_active_model(shipped):
    """PERFORMANCE.md §5: a model ignores codes outside its catalogue (not_in_model), so
    an older model lacking codes of the active one stays loadable and scores."""
    lean = load_bytes(
        edited('id = "keqiao-2025"', 'id = "keqiao-lean"').decode()
        .replace(entry_block("COMMEND-EMERGENCY"), "").encode(),
        source="keqiao-lean@1.toml")
    assert "COMMEND-EMERGENCY" not in lean.catalogue
    registry = ModelRegistry([shipped, lean], active="keqiao-2025@1")
    rec = Record(1, "91330603MA2D4F6E84", "housing", "COMMEND-EMERGENCY", date(2026, 1, 5),
                 date(2029, 1, 4), "D-1", 1, datetime(2026, 1, 5, tzinfo=CST))
    knowledge = Knowledge(1, datetime(2026, 2, 1, tzinfo=CST))
    under_lean = evaluate(registry.get("keqiao-lean@1"), rec.uscc, [rec], [], "housing",
                          date(2026, 2, 1), knowledge)
    assert [(st.status, st.factor, st.contribution) for st in under_lean.records] == [
        ("not_in_model", D("0.00"), D("0.00"))]
    assert under_lean.score == D("100.00")
    under_shipped = evaluate(shipped, rec.uscc, [rec], [], "housing", date(2026, 2, 1),
                             knowledge)
    assert under_shipped.score == D("103.00")


def test_registry_accepts_a_model_with_extra_codes(shipped):
    extra = entry_block("AWARD-CITY").replace('"AWARD-CITY"', '"AWARD-COUNTY"')
    rich = load_bytes(edited('id = "keqiao-2025"', 'id = "keqiao-rich"') + extra.encode(),
                      source="keqiao-rich@1.toml")
    registry = ModelRegistry([shipped, rich], active="keqiao-2025@1")
    assert registry.get("keqiao-rich@1").entry("AWARD-COUNTY").points == D("1.00")
    assert [m.ref for m in registry.all()] == ["keqiao-2025@1", "keqiao-rich@1"]


def test_registry_refuses_an_unknown_active_model(shipped):
    with pytest.raises(ModelError) as info:
        ModelRegistry([shipped], active="keqiao-2026@1")
    assert "keqiao-2026@1" in str(info.value)


def test_registry_refuses_two_different_definitions_of_one_version(shipped):
    impostor = load_bytes(edited("bonus_cap = 15.00", "bonus_cap = 5.00"),
                          source="elsewhere/keqiao-2025@1.toml")
    with pytest.raises(ModelError):
        ModelRegistry([shipped, impostor], active="keqiao-2025@1")


# ---- loader robustness (a refusal is always a ModelError) ------------------------------


@pytest.mark.parametrize("old, new", [
    ("points = -8.00", "points = -1e30"),
    ("base = 100.00", "base = 1e30"),
])
def test_huge_numbers_are_refused_with_a_model_error(old, new):
    refusal(edited(old, new))


def _can_score(model) -> None:
    record = Record(1, "91330603MA2D4F6E84", "housing", "BID-NOSIGN", date(2026, 1, 10),
                    date(2027, 1, 9), "柯交罚〔2026〕1号", 1, datetime(2026, 1, 11, tzinfo=CST))
    evaluate(model, record.uscc, [record], [], "housing", date(2026, 6, 30),
             Knowledge(1, datetime(2026, 7, 1, tzinfo=CST)))


@pytest.mark.parametrize("old, new", [
    pytest.param("A = 0.50", "A = 0.505", id="multiplier"),
    pytest.param("min_score = 85.00", "min_score = 85.005", id="band"),
    pytest.param("credit_weight = 10.00", "credit_weight = 10.001", id="credit_weight"),
    pytest.param("key_supervision_min_multiplier = 2.00",
                 "key_supervision_min_multiplier = 2.005", id="key_supervision_min"),
])
def test_a_model_that_loads_can_score(old, new):
    try:
        model = load_bytes(edited(old, new), source=BAD)
    except ModelError:
        return  # refusing it is fine too
    _can_score(model)


# ---- refusals: good conduct, several problems ------------------------------------------


def test_good_conduct_is_not_repairable():
    block = entry_block("AWARD-CITY")
    repairable = block.replace("validity_months = 36\n",
                               "validity_months = 36\nrepair_min_months = 12\n")
    message = refusal(edited(block, repairable))
    assert "(AWARD-CITY).repair_min_months: good-conduct records are not repairable" in message


def test_every_problem_is_named_at_once():
    """A definition with a grade problem and a catalogue problem names both."""
    raw = edited("E = 3.00\n", "F = 3.00\n").decode("utf-8")
    raw = raw.replace('code = "BID-BRIBE"', 'code = "BID-COLLUDE"', 1).encode("utf-8")
    message = refusal(raw)
    assert "inspection_multipliers" in message and "duplicate code BID-COLLUDE" in message


def test_every_shipped_definition_is_as_published():
    """definitions/PUBLISHED.sha256 lists every shipped file's SHA-256 (``sha256sum -c``
    format); the registry loads (checked on every load)."""
    from scoring_models.loader import PUBLISHED
    listed = {line.split("  ")[1]: line.split("  ")[0]
              for line in PUBLISHED.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")}
    shipped = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
               for p in DEFINITIONS.glob("*.toml")}
    assert listed == shipped
    default_registry()


def test_a_published_definition_edited_in_place_is_refused(tmp_path):
    """A published version is never edited, only superseded: an edit (BID-NOSIGN −8 →
    −9, say) would answer differently for the same inputs and fail the replay of every
    trace served under it, so the registry refuses to load it."""
    from scoring_models.loader import check_published
    manifest = tmp_path / "PUBLISHED.sha256"
    manifest.write_text((DEFINITIONS / "PUBLISHED.sha256").read_text(encoding="utf-8"),
                        encoding="utf-8")
    original = (DEFINITIONS / "keqiao-2025@2.toml").read_bytes()
    v2 = load_bytes(original, "keqiao-2025@2.toml")
    others = [load_file(p) for p in sorted(DEFINITIONS.glob("*.toml"))
              if p.name != "keqiao-2025@2.toml"]
    check_published([v2, *others], manifest)
    edited = original.replace(b"points = -8.00", b"points = -9.00", 1)
    assert edited != original
    with pytest.raises(ModelError, match="edited after it was published"):
        check_published([load_bytes(edited, "keqiao-2025@2.toml"), *others], manifest)
    other = load_bytes(original.replace(b"version = 2", b"version = 3", 1), "x")
    with pytest.raises(ModelError, match="is not in PUBLISHED.sha256"):
        check_published([v2, other, *others], manifest)


def test_a_published_definition_no_longer_shipped_is_refused():
    """Its traces would no longer replay: a published version stays loadable."""
    from scoring_models.loader import check_published
    shipped = [load_file(p) for p in sorted(DEFINITIONS.glob("*.toml"))]
    check_published(shipped)
    with pytest.raises(ModelError, match="keqiao-2025@1.toml published .* no longer shipped"):
        check_published([m for m in shipped if m.ref != "keqiao-2025@1"])


def test_bands_that_leave_scores_above_the_floor_without_a_grade_are_refused():
    """A score of 5.00 took grade D ≥ 10.00 (grade_for falls back to the lowest band)
    when the bands stopped above the floor (a model review)."""
    message = refusal(edited('{ grade = "D", min_score = 0.00 }',
                             '{ grade = "D", min_score = 10.00 }'))
    assert "grades" in message and "model.floor" in message
