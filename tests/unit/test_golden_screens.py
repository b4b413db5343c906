"""Golden cases of WARNINGS.md §4's screens, kept as data under
``tests/golden/screens/*.toml`` (one file per family: identifiers, prices, history).

Every expected warning was derived by hand from §4 (the arithmetic is in each case's
comments), never copied from the screens' output. Each case is run through
``credit.domain.screens.run`` with the shipped definition keqiao-screens-2025@1, and
the whole list of warnings must equal the case's ``expect`` list, in order.

Case format (TOML)::

    [[case]]
    name = "..."                  # unique within its file
    about = ["COVER-GAP"]         # the screens the case is about (coverage check below)
    doc = "..."                   # the derivation
    code = "KQ-2026-0031"         # optional tender fields, defaults below
    method = "lowest_price"
    opened_at = 2026-05-12T09:30:00+08:00
    exclusions = [{ kind = "ip", value = "::ffff:10.0.0.8" }]   # raw values

    [[case.bids]]                 # bid n = its place in the list, from 1
    bidder = "A"                  # a label standing for a USCC
    price = "1196000.00"
    status = "rejected"           # default "valid"; rejected needs reject_reason
    reject_reason = "..."
    consortium = ["X"]
    documents = [{ machine_code = "7a1c-90ee" }]          # raw, normalised here
    uploads = [{ mac = "...", cpu = "...", disk = "...", ip = "...", onsite = false }]
    deposit_account = "6222 0212 ..."                     # raw, hashed and masked here
    personnel = [{ role = "project_manager", id_number = "330621198001011236" }]

    [[case.prior]]                # the snapshot: tenders registered earlier
    code = "KQ-2025-0100"
    opened_on = 2025-11-01
    bidders = ["A", "B"]
    award = { winner = "A", awarded_on = 2025-11-20, end = 2026-11-30,
              project_managers = ["330621198001011236"] }       # optional

    [[case.expect]]               # every warning raised, in order
    code = "SAME-PREPARER"
    bids = [1, 2]
    evidence = { shared = [...] }
    parameters = { ... }          # optional; default: PARAMETERS_USED below
"""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from credit.domain.identifiers import (
    check_id_number,
    keyed_hash,
    mask_account,
    mask_id_number,
    normalise_account,
    normalise_by_kind,
    normalise_identifier,
    normalise_ip,
)
from credit.domain.screens import run
from credit.domain.tenders import (
    Bid,
    Document,
    Party,
    Person,
    PriorAward,
    PriorTender,
    Snapshot,
    Tender,
    Upload,
)
from scoring_models import default_registry

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "screens"
FAMILIES = ("identifiers", "prices", "history")
DEFINITION = default_registry().active_of("screens")
KEY = b"golden-screens-identity-key-32by"
TODAY = date(2026, 6, 1)

# WARNINGS.md §4's table, written out by hand: code → (number, severity)
TABLE = {
    "SAME-PREPARER": (1, "high"), "SAME-UPLOADER": (2, "high"), "SAME-IP": (3, "low"),
    "SAME-DEPOSIT": (4, "high"), "SAME-PERSONNEL": (5, "high"),
    "IDENTICAL-PRICE": (6, "medium"), "REGULAR-PRICES": (7, "medium"),
    "LOW-DISPERSION": (8, "low"), "COVER-GAP": (9, "low"), "LOWEST-REJECTED": (10, "low"),
    "SOLE-VALID": (11, "medium"), "PM-ELSEWHERE": (12, "medium"), "CO-BIDDING": (13, "low"),
}
# The parameters each screen uses, with the v1 values of §4 as the definition writes them
PARAMETERS_USED = {
    "REGULAR-PRICES": {"regular_min_bids": 4, "regular_tolerance": "0.02"},
    "LOW-DISPERSION": {"cv_min_bids": 4, "cv_max": "0.005"},
    "COVER-GAP": {"rd_min_bids": 4, "rd_min": "3"},
    "CO-BIDDING": {"co_bid_window_days": 365, "co_bid_min": 4},
}


def load_cases() -> list[tuple[str, dict]]:
    out = []
    for family in FAMILIES:
        with open(GOLDEN / f"{family}.toml", "rb") as f:
            cases = tomllib.load(f)["case"]
        names = [c["name"] for c in cases]
        assert len(names) == len(set(names)), f"duplicate case names in {family}.toml"
        out += [(f"{family}:{c['name']}", c) for c in cases]
    return out


CASES = load_cases()


# ---- building the domain values from raw data, as the tender service would ----------

def person(raw: dict) -> Person:
    number = check_id_number(raw["id_number"], TODAY)
    return Person(role=raw["role"], id_hash=keyed_hash(KEY, number),
                  id_masked=mask_id_number(number))


def upload(raw: dict) -> Upload:
    fields = {k: normalise_identifier(raw[k]) for k in ("mac", "cpu", "disk") if k in raw}
    if "ip" in raw:
        fields["ip"] = normalise_ip(raw["ip"])
    return Upload(**fields, onsite=raw.get("onsite", False))


def bid(n: int, raw: dict, opened_at: datetime) -> Bid:
    account = raw.get("deposit_account")
    account = normalise_account(account) if account is not None else None
    return Bid(
        n=n, bidder=Party(raw["bidder"], f"投标人{raw['bidder']}"),
        price=Decimal(raw["price"]), status=raw.get("status", "valid"),
        reject_reason=raw.get("reject_reason"),
        submitted_at=opened_at - timedelta(hours=1),
        consortium=tuple(Party(u, f"成员{u}") for u in raw.get("consortium", ())),
        documents=tuple(Document(**{k: normalise_identifier(v) for k, v in d.items()})
                        for d in raw.get("documents", ())),
        uploads=tuple(upload(u) for u in raw.get("uploads", ())),
        deposit_hash=keyed_hash(KEY, account) if account else None,
        deposit_masked=mask_account(account) if account else None,
        personnel=tuple(person(p) for p in raw.get("personnel", ())))


def tender(case: dict) -> Tender:
    opened_at = case.get("opened_at", datetime.fromisoformat("2026-05-12T09:30:00+08:00"))
    return Tender(
        code=case.get("code", "KQ-2026-0031"), name="柯桥区某村道路硬化工程",
        sector="transport", tenderee=Party("11330621002587465Y", "柯桥区某镇人民政府"),
        agency=None, method=case.get("method", "lowest_price"),
        ceiling_price=Decimal("2000000.00"), opened_at=opened_at, village=False,
        bids=tuple(bid(i, b, opened_at) for i, b in enumerate(case["bids"], start=1)),
        exclusions=frozenset((e["kind"], normalise_by_kind(e["kind"], e["value"]))
                             for e in case.get("exclusions", ())))


def snapshot(case: dict) -> Snapshot:
    tenders = []
    for p in case.get("prior", ()):
        award = None
        if "award" in p:
            a = p["award"]
            award = PriorAward(
                winner=a["winner"], awarded_on=a["awarded_on"], end=a["end"],
                project_managers=frozenset(keyed_hash(KEY, check_id_number(x, TODAY))
                                           for x in a.get("project_managers", ())))
        tenders.append(PriorTender(code=p["code"], opened_on=p["opened_on"],
                                   bidders=frozenset(p["bidders"]), award=award))
    return Snapshot(knowledge_position=100, tenders=tuple(tenders))


def expected(case: dict) -> list[dict]:
    out = []
    for e in case.get("expect", ()):
        number, severity = TABLE[e["code"]]
        out.append({"screen": number, "code": e["code"], "severity": severity,
                    "bids": e["bids"], "evidence": e["evidence"],
                    "parameters": e.get("parameters", PARAMETERS_USED.get(e["code"], {}))})
    return out


# ---- the cases ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_golden_case(case):
    warnings = run(DEFINITION, tender(case), snapshot(case))
    got = [{"screen": w.screen, "code": w.code, "severity": w.severity, "bids": list(w.bids),
            "evidence": w.evidence, "parameters": w.parameters} for w in warnings]
    assert got == expected(case), case["doc"]
    for w in warnings:
        assert w.basis == DEFINITION.screen(w.code).basis
        json.dumps(w.evidence, allow_nan=False)           # plain JSON, no Decimal/float
        json.dumps(w.parameters, allow_nan=False)


def test_every_screen_has_a_case_that_fires_and_one_that_does_not():
    fires, silent = set(), set()
    for _, case in CASES:
        raised = {e["code"] for e in case.get("expect", ())}
        for code in case["about"]:
            assert code in TABLE, f"{case['name']}: unknown screen {code}"
            (fires if code in raised else silent).add(code)
    assert fires == set(TABLE), f"no firing case for {sorted(set(TABLE) - fires)}"
    assert silent == set(TABLE), f"no silent case for {sorted(set(TABLE) - silent)}"
