"""The shipped screen definition keqiao-screens-2025@1 and the loader that refuses
unusable ones (WARNINGS.md §4).

The shipped file must encode exactly §4's parameters and table; every refusal is a
ModelError naming the file and the offending key. Bad definitions are built by editing
the shipped file's text, so each test changes exactly one thing.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from credit.domain.screens.definition import SCREEN_CODES, ScreenDefinition
from scoring_models import ModelError, ModelRegistry, default_registry, load_bytes, load_file
from scoring_models.loader import BUILDERS, DEFAULT_ACTIVE, DEFINITIONS

PATH = DEFINITIONS / "keqiao-screens-2025@1.toml"
TEXT = PATH.read_text(encoding="utf-8")
BAD = "bad.toml"

# WARNINGS.md §4, row by row: number, code, severity, basis
TABLE = [
    (1, "SAME-PREPARER", "high", "条例第40条(一)"),
    (2, "SAME-UPLOADER", "high", "条例第40条(二)"),
    (3, "SAME-IP", "low", "条例第40条(二)"),
    (4, "SAME-DEPOSIT", "high", "条例第40条(六)"),
    (5, "SAME-PERSONNEL", "high", "条例第40条(三)"),
    (6, "IDENTICAL-PRICE", "medium", "条例第40条(四) 异常一致"),
    (7, "REGULAR-PRICES", "medium", "条例第40条(四) 规律性差异"),
    (8, "LOW-DISPERSION", "low", "Imhof (2017) CV screen"),
    (9, "COVER-GAP", "low", "Imhof (2017) relative distance"),
    (10, "LOWEST-REJECTED", "low", "cardinal R036"),
    (11, "SOLE-VALID", "medium", "cardinal R035"),
    (12, "PM-ELSEWHERE", "medium", "建市〔2014〕118号 (项目负责人不得同时在两个及以上项目任职)"),
    (13, "CO-BIDDING", "low", "OECD bid-rotation checklist"),
]


@pytest.fixture(scope="module")
def shipped() -> ScreenDefinition:
    return load_file(PATH)


def edited(old: str, new: str) -> bytes:
    assert old in TEXT, f"edit anchor not found: {old!r}"
    return TEXT.replace(old, new, 1).encode("utf-8")


def refusal(raw: bytes) -> str:
    with pytest.raises(ModelError) as info:
        load_bytes(raw, source=BAD)
    message = str(info.value)
    assert message.startswith(f"{BAD}: "), message
    return message


def screen_block(code: str) -> str:
    start = TEXT.index(f'[[screen]]\nnumber = {SCREEN_CODES.index(code) + 1}\n')
    end = TEXT.find("[[screen]]", start + 1)
    return TEXT[start:end if end != -1 else len(TEXT)]


# ---- the shipped definition encodes §4 -------------------------------------------------

def test_identity_and_fingerprint(shipped):
    assert isinstance(shipped, ScreenDefinition)
    assert (shipped.id, shipped.version, shipped.ref, shipped.kind) == (
        "keqiao-screens-2025", 1, "keqiao-screens-2025@1", "screens")
    assert shipped.sha256 == hashlib.sha256(PATH.read_bytes()).hexdigest()
    # a comment is part of the published bytes: editing it is a different definition
    assert load_bytes(edited("# Collusion", "#  Collusion")).sha256 != shipped.sha256


def test_v1_parameters(shipped):
    assert shipped.regular_min_bids == 4
    assert shipped.regular_tolerance == Decimal("0.02")
    assert shipped.cv_min_bids == 4
    assert shipped.cv_max == Decimal("0.005")
    assert shipped.rd_min_bids == 4
    assert shipped.rd_min == Decimal("3")
    assert shipped.co_bid_window_days == 365
    assert shipped.co_bid_min == 4
    # as a warning records them: decimals as the file writes them
    assert shipped.parameters() == {
        "regular_min_bids": 4, "regular_tolerance": "0.02", "cv_min_bids": 4,
        "cv_max": "0.005", "rd_min_bids": 4, "rd_min": "3", "co_bid_window_days": 365,
        "co_bid_min": 4}
    assert shipped.parameters("cv_min_bids", "cv_max") == {"cv_min_bids": 4,
                                                           "cv_max": "0.005"}


def test_decimal_parameters_keep_their_text():
    d = load_bytes(edited('cv_max = "0.005"', 'cv_max = "0.0000001"'))
    assert d.parameters("cv_max") == {"cv_max": "0.0000001"}     # never "1E-7"
    d = load_bytes(edited('regular_tolerance = "0.02"', 'regular_tolerance = "0.020"'))
    assert d.parameters("regular_tolerance") == {"regular_tolerance": "0.020"}


def test_the_thirteen_screens(shipped):
    assert [(s.number, s.code, s.severity, s.basis) for s in shipped.screens] == TABLE
    assert all(s.name for s in shipped.screens)
    assert all(s.allowed_codes == ("BID-COLLUDE", "BID-FRAUD") for s in shipped.screens)
    assert shipped.allowed_codes == ("BID-COLLUDE", "BID-FRAUD")
    assert shipped.screen("COVER-GAP").number == 9
    with pytest.raises(KeyError):
        shipped.screen("NO-SUCH-SCREEN")


def test_registered_under_its_heading_and_active_by_default():
    assert "screens" in BUILDERS
    assert DEFAULT_ACTIVE["screens"] == "keqiao-screens-2025@1"


def test_listed_by_the_registry_but_not_a_scoring_model(shipped):
    registry = default_registry()
    assert [d.ref for d in registry.of_kind("screens")] == ["keqiao-screens-2025@1"]
    assert registry.active_of("screens").sha256 == shipped.sha256
    assert registry.definition("keqiao-screens-2025@1", "screens").ref == shipped.ref
    assert "keqiao-screens-2025@1" in [d.ref for d in registry.all()]
    assert registry.is_active(registry.active_of("screens"))
    assert registry.active.ref == "keqiao-2025@1"
    with pytest.raises(KeyError):
        registry.get("keqiao-screens-2025@1")              # score routes: 404
    with pytest.raises(KeyError):
        registry.definition("keqiao-screens-2025@1", "scoring")


# ---- refusals --------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, key", [
    ('cv_max = "0.005"', "cv_max = 0.005", "parameters.cv_max"),      # not a string
    ('cv_max = "0.005"', 'cv_max = "5E-3"', "parameters.cv_max"),
    ('cv_max = "0.005"', 'cv_max = "-0.005"', "parameters.cv_max"),
    ('cv_max = "0.005"', 'cv_max = "0"', "parameters.cv_max"),
    ('rd_min = "3"', 'rd_min = "0.000"', "parameters.rd_min"),
    ('regular_tolerance = "0.02"', 'regular_tolerance = ".02"', "parameters.regular_tolerance"),
    ("regular_min_bids = 4", "regular_min_bids = 1", "parameters.regular_min_bids"),
    ("cv_min_bids = 4", "cv_min_bids = 1", "parameters.cv_min_bids"),
    ("rd_min_bids = 4", "rd_min_bids = 2", "parameters.rd_min_bids"),
    ("co_bid_min = 4", "co_bid_min = 1", "parameters.co_bid_min"),
    ("co_bid_window_days = 365", "co_bid_window_days = -1", "parameters.co_bid_window_days"),
    ("co_bid_window_days = 365", 'co_bid_window_days = "365"',
     "parameters.co_bid_window_days"),
    ("co_bid_min = 4", "co_bid_min = 4.0", "parameters.co_bid_min"),
    ("co_bid_min = 4 ", "co_bid_minimum = 4 ", "parameters.co_bid_minimum"),     # unknown
    ('version = 1', 'version = 0', "screens.version"),
    ('id = "keqiao-screens-2025"', 'id = "Keqiao Screens"', "screens.id"),
    ('severity = "high"', 'severity = "critical"', "screen.0.severity"),
    ('basis = "条例第40条(一)"', 'basis = ""', "screen.0.basis"),
    ('number = 2\n', 'number = 3\n', "screen.1.number"),
    ('code = "SAME-IP"', 'code = "SAME-IPV4"', "screen.2.code"),
    ('allowed_codes = ["BID-COLLUDE", "BID-FRAUD"]', "allowed_codes = []",
     "screen.0.allowed_codes"),
    ('allowed_codes = ["BID-COLLUDE", "BID-FRAUD"]', 'allowed_codes = ["bid-collude"]',
     "screen.0.allowed_codes"),
    ('name = "最低价投标被否决"\n', "", "screen.9.name"),
])
def test_bad_values_are_refused_naming_the_key(old, new, key):
    message = refusal(edited(old, new))
    assert f"{key}" in message, message


def test_screens_out_of_order_are_refused():
    swapped = TEXT.replace(screen_block("SAME-IP"), "@@").replace(
        screen_block("SAME-UPLOADER"), screen_block("SAME-IP").replace("number = 3",
                                                                        "number = 2"))
    swapped = swapped.replace("@@", screen_block("SAME-UPLOADER").replace("number = 2",
                                                                         "number = 3"))
    message = refusal(swapped.encode())
    assert "screen.1.code: expected SAME-UPLOADER" in message


def test_a_missing_or_an_extra_screen_is_refused():
    message = refusal(TEXT.replace(screen_block("CO-BIDDING"), "").encode())
    assert "screen: missing screen 13 (CO-BIDDING)" in message
    message = refusal((TEXT + "\n" + screen_block("CO-BIDDING").replace(
        "number = 13", "number = 14")).encode())
    assert "screen: there are 13 screens, not 14" in message


def test_missing_tables_are_refused():
    assert "parameters" in refusal(TEXT.replace("[parameters]", "[parameterz]").encode())
    head = TEXT.index("[parameters]")
    no_params = TEXT[:head] + TEXT[TEXT.index("# The screens in the order"):]
    assert "parameters: Missing data" in refusal(no_params.encode())


def test_a_file_with_two_heads_is_refused():
    message = refusal(edited("[screens]", '[model]\nid = "x"\n\n[screens]'))
    assert "exactly one of the tables" in message


def test_the_registry_refuses_codes_the_active_model_lacks(shipped):
    unknown = load_bytes(edited('allowed_codes = ["BID-COLLUDE", "BID-FRAUD"]',
                                'allowed_codes = ["BID-COLLUDE", "BID-RIGGED"]'))
    scoring = default_registry().active
    with pytest.raises(ModelError, match=r"keqiao-screens-2025@1 names codes .*BID-RIGGED"):
        ModelRegistry([scoring, unknown], active="keqiao-2025@1")
    assert ModelRegistry([scoring, shipped], active="keqiao-2025@1").active_of(
        "screens") is shipped


def test_a_published_version_is_never_redefined(shipped):
    other = load_bytes(edited('title = "', 'title = "改 '))
    scoring = default_registry().active
    with pytest.raises(ModelError, match="defined twice"):
        ModelRegistry([scoring, shipped, other], active="keqiao-2025@1")


def test_file_name_must_be_the_ref(tmp_path):
    (tmp_path / "keqiao-screens-2025@2.toml").write_bytes(PATH.read_bytes())
    with pytest.raises(ModelError, match="file name must be keqiao-screens-2025@1.toml"):
        default_registry(extra_dirs=[tmp_path])


def test_an_active_screens_ref_that_does_not_exist_is_refused():
    with pytest.raises(ModelError, match="active screens definition keqiao-screens-2025@9"):
        default_registry(active_of={"screens": "keqiao-screens-2025@9"})
