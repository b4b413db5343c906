"""Request bodies of the tender loop shared by the unit, integration, e2e and bench
suites: a valid tender (WARNINGS.md §2's example, completed), valid resident id
numbers and deposit accounts, and the raw personal values a test searches for."""

from __future__ import annotations

import copy
import os

from stdnum.cn import uscc as gb32100

from credit.domain.identifiers import id_check_character

# Real, valid codes (../data/uscc-real.txt and WARNINGS.md §2's example).
BIDDER_1 = "91330603MA2D4F6E84"
MEMBER_1 = "91330602MA2C8R1L5T"
BIDDER_2 = "91110000600037341L"
BIDDER_3 = "91110000710926094P"
BIDDER_4 = "91310000631696382C"
BIDDER_5 = "913304007429141869"
BIDDER_6 = "91320214745555318W"
TENDEREE = "11330621002587465Y"
AGENCY = "91330621MA2BX7K3QQ"


def make_uscc(n: int, prefix: str = "91330621") -> str:
    """A valid synthetic USCC number ``n`` (check character per GB 32100-2015)."""
    body = f"{prefix}{n:09d}"
    return body + gb32100.calc_check_digit(body)


def id_number(n: int, born: str = "19800101", region: str = "330621") -> str:
    """A valid 居民身份证号码 (GB 11643 check character) with sequence number ``n``."""
    first17 = f"{region}{born}{n % 1000:03d}"
    return first17 + id_check_character(first17)


def identity_key_file(folder) -> str:
    """An identity key of 32 random bytes (hex, newline-terminated) in ``folder``."""
    path = os.path.join(str(folder), "identity-key")
    with open(path, "w", encoding="ascii") as f:
        f.write(os.urandom(32).hex() + "\n")
    return path


PM_1 = id_number(123)        # project manager of bid 1 (and of bid 3: SAME-PERSONNEL)
PM_2 = id_number(456, born="19851231")
ACCOUNT_1 = "6222 0212 0400 1234 567"   # shared by bids 1 and 2: SAME-DEPOSIT
ACCOUNT_3 = "6217-0000-1111-2222"
RAW_PERSONAL = (PM_1, PM_2, "6222021204001234567", ACCOUNT_1, "6217000011112222",
                ACCOUNT_3)


def bid(bidder: str, price: str, *, name: str = "投标人", status: str = "valid",
        **extra) -> dict:
    body = {"bidder": bidder, "bidder_name": name, "price": price, "status": status,
            "submitted_at": "2026-05-12T08:41:07+08:00"}
    if status == "rejected":
        body["reject_reason"] = "未按要求提交投标保证金"
    body.update(extra)
    return body


def tender_body(code: str = "KQ-2026-0031", **overrides) -> dict:
    """WARNINGS.md §2's example with four bids and planted signals: bids 1 and 2 share
    a machine code (SAME-PREPARER), an IP (SAME-IP) and a deposit account
    (SAME-DEPOSIT); bids 1 and 3 name the same project manager (SAME-PERSONNEL)."""
    body = {
        "code": code, "name": "柯桥区某村道路硬化工程", "sector": "transport",
        "tenderee": {"uscc": TENDEREE, "name": "柯桥区某镇人民政府"},
        "agency": {"uscc": AGENCY, "name": "某招标代理有限公司"},
        "method": "lowest_price", "ceiling_price": "1280000.00",
        "opened_at": "2026-05-12T09:30:00+08:00", "village": True,
        "exclusions": [{"kind": "machine_code", "value": "8F3A-22C1"}],
        "bids": [
            bid(BIDDER_1, "1196000.00", name="浙江柯桥建工有限公司",
                consortium=[{"uscc": MEMBER_1, "name": "绍兴某设计院有限公司"}],
                documents=[{"machine_code": "7A1C-90EE", "file_id": "F-88A1",
                            "pricing_lock": "JS0091"}],
                uploads=[{"mac": "00-1A-2B-3C-4D-5E", "cpu": "BFEBFBFF000906EA",
                          "disk": "S3Z9NB0K", "ip": "115.220.4.17", "onsite": False}],
                deposit_account=ACCOUNT_1,
                personnel=[{"role": "project_manager", "id_number": PM_1}]),
            bid(BIDDER_2, "1201000.00", name="北京某路桥有限公司",
                documents=[{"machine_code": "7a1c90ee", "file_id": "G-1"}],
                uploads=[{"ip": "::ffff:115.220.4.17"}],
                deposit_account="6222021204001234567",
                personnel=[{"role": "project_manager", "id_number": PM_2}]),
            bid(BIDDER_3, "1233000.00", name="北京某建设有限公司",
                documents=[{"machine_code": "8F3A22C1"}],
                uploads=[{"ip": "10.0.0.8", "onsite": True}],
                deposit_account=ACCOUNT_3,
                personnel=[{"role": "safety_officer", "id_number": PM_1.lower()}]),
            bid(BIDDER_4, "1150000.00", name="上海某工程有限公司", status="rejected",
                documents=[{"machine_code": "8f3a-22c1"}]),
        ],
    }
    body.update(overrides)
    return copy.deepcopy(body)


def award_body(winner: str = BIDDER_1, **overrides) -> dict:
    body = {"winner": winner, "awarded_on": "2026-05-20", "contract_price": "1196000.00",
            "completion_due": "2027-05-19"}
    body.update(overrides)
    return body


def confirm_body(bids, **overrides) -> dict:
    body = {"action": "confirm", "document_no": "柯交执〔2026〕31号",
            "decided_on": "2026-05-28", "reason": "经调查，两家投标文件由同一人编制",
            "code": "BID-COLLUDE", "bids": list(bids)}
    body.update(overrides)
    return body
