"""``rate-all`` on every backend: the published table agrees to the cent with the
single-subject engine for every subject, the run is one audit entry carrying the file's
SHA-256, and a past ``known_at`` replays exactly."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from credit.batch.export import COLUMNS, MONEY
from credit.batch.ratings import rate_all
from credit.domain.dates import parse_instant
from credit.errors import InvalidInput, NotFound
from credit.services.audit import list_entries, verify_chain
from credit.services.records import create_record

from .batch_helpers import OPERATOR, REGULATORS, build_population, make_uscc, single_subject_rows

AS_OF = date(2026, 3, 31)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entries(ctx, kind=None) -> list[dict]:
    return list_entries(ctx, after=0, limit=10_000, kind=kind)["items"]


@pytest.fixture
def population(ctx, clock):
    return build_population(ctx, clock)


@pytest.mark.parametrize("sector", ["housing", "transport"])
def test_every_row_agrees_with_the_single_subject_engine(ctx, population, tmp_path, sector):
    out = tmp_path / "ratings.csv"
    result = rate_all(ctx, OPERATOR, sector=sector, as_of=AS_OF, out=out)
    rows = read_csv(out)
    assert [r["uscc"] for r in rows] == sorted(population)
    assert list(rows[0]) == [en for en, _ in COLUMNS]
    want = single_subject_rows(ctx, population, sector, AS_OF, result.knowledge.known_at)
    for row in rows:
        assert row["sector"] == sector and row["as_of"] == AS_OF.isoformat()
        assert row["model"] == "keqiao-2025@2"  # the default: the newest shipped version
        assert parse_instant(row["known_at"]) == result.knowledge.known_at
        got = {k: row[k] for k in want[row["uscc"]]}
        assert got == want[row["uscc"]]
    # The population exercises the rules that matter.
    assert {r["grade"] for r in rows} >= {"B", "C", "E"}
    assert any(r["eligible_to_bid"] == "false" for r in rows)


def test_the_run_is_one_audit_entry_with_the_files_hash(ctx, population, tmp_path):
    before = entries(ctx)
    out = tmp_path / "公示.csv"
    result = rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=out)
    after = entries(ctx)
    assert len(after) == len(before) + 1
    entry = after[-1]
    assert entry["kind"] == "ratings.exported" and entry["actor"] == OPERATOR
    p = entry["payload"]
    assert p["sha256"] == sha256(out) == result.sha256
    assert p["rows"] == len(population) == result.rows
    assert p["file"] == "公示.csv" and p["format"] == "csv"
    assert p["sector"] == "housing" and p["as_of"] == AS_OF.isoformat()
    assert p["knowledge_position"] == before[-1]["position"]
    assert p["known_at"] == before[-1]["at"]  # default: everything on file
    assert p["model"]["id"] == "keqiao-2025" and p["model"]["version"] == 2  # the default
    assert sum(p["grades"].values()) == len(population)
    assert not any(e["kind"] == "score.served" for e in after[len(before):])
    assert verify_chain(ctx)["ok"] is True
    assert not list(tmp_path.glob(".*partial*"))


def test_a_past_known_at_replays_byte_for_byte(ctx, clock, population, tmp_path):
    first = rate_all(ctx, OPERATOR, sector="water", as_of=AS_OF, out=tmp_path / "a.csv")
    k = first.knowledge.known_at
    clock.advance(seconds=5)
    newcomer = make_uscc(424242)
    create_record(ctx, REGULATORS["water"], {
        "uscc": population[0], "subject_name": "x", "sector": "water", "code": "SUB-TRANSFER",
        "decided_on": "2026-01-05", "document_no": "later-1", "issued_by": "水利局"})
    create_record(ctx, REGULATORS["water"], {
        "uscc": newcomer, "subject_name": "新企业", "sector": "water", "code": "BID-NOSIGN",
        "decided_on": "2026-01-05", "document_no": "later-2", "issued_by": "水利局"})
    clock.advance(seconds=5)
    again = rate_all(ctx, OPERATOR, sector="water", as_of=AS_OF, out=tmp_path / "b.csv",
                     known_at=k)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert again.sha256 == first.sha256
    now = rate_all(ctx, OPERATOR, sector="water", as_of=AS_OF, out=tmp_path / "c.csv")
    rows = {r["uscc"]: r for r in read_csv(tmp_path / "c.csv")}
    assert newcomer in rows and newcomer not in {r["uscc"] for r in read_csv(tmp_path / "a.csv")}
    assert rows[population[0]]["grade"] == "E"
    want = single_subject_rows(ctx, [population[0], newcomer], "water", AS_OF,
                               now.knowledge.known_at)
    for uscc, expected in want.items():
        assert {k_: rows[uscc][k_] for k_ in expected} == expected


def test_a_known_at_not_yet_past_is_refused(ctx, clock, population, tmp_path):
    """A known_at not yet past by the clock skew the service allows when the run takes
    the lock: a served score stamps its own entry there; a run appends only after
    rating, so a record stamped meanwhile at or before it — by this host, or by one
    whose clock is behind — would be known at it and missing from the file (two
    reviews found the file then did not replay)."""
    from credit.errors import RuleViolation
    ahead = clock() + timedelta(milliseconds=800)
    # ahead, and just past: a writer whose clock is behind ours by less than the skew
    # API.md §4 tolerates could still stamp a record at or before it
    for known_at in (ahead, clock() - timedelta(milliseconds=500)):
        with pytest.raises(RuleViolation) as info:
            rate_all(ctx, OPERATOR, sector="water", as_of=AS_OF, out=tmp_path / "a.csv",
                     known_at=known_at)
        assert info.value.error == "known_at_in_future"
        assert not (tmp_path / "a.csv").exists()
    clock.advance(seconds=2)  # past by more than the skew: rated, and again byte for byte
    first = rate_all(ctx, OPERATOR, sector="water", as_of=AS_OF, out=tmp_path / "b.csv",
                     known_at=ahead)
    again = rate_all(ctx, OPERATOR, sector="water", as_of=AS_OF, out=tmp_path / "c.csv",
                     known_at=ahead)
    assert first.sha256 == again.sha256


def test_xlsx_has_chinese_headers_and_two_decimal_numbers(ctx, population, tmp_path):
    # Money in .xlsx is a number shown with two decimals (issue 9 item 1: decimals are
    # numbers, not text); it equals the csv's two-decimal text.
    rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.csv")
    rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == [zh for _, zh in COLUMNS]
    text_rows = read_csv(tmp_path / "r.csv")
    assert len(rows) == len(text_rows) + 1
    for got, want in zip(rows[1:], text_rows, strict=True):
        for (en, _), value in zip(COLUMNS, got, strict=True):
            if en == "eligible_to_bid":
                assert value == ("是" if want[en] == "true" else "否")
            elif en == "known_at":
                continue  # a later run, a later instant
            elif en in MONEY:
                assert f"{value:.2f}" == want[en], en
            else:
                assert (value or "") == want[en], en
        assert isinstance(got[6], (int, float)) and not isinstance(got[6], bool)
    first = next(ws.iter_rows(min_row=2))
    assert [first[i].number_format for i in (6, 9, 10)] == ["0.00"] * 3


def test_parquet_types(ctx, population, tmp_path):
    rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.csv")
    result = rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.parquet",
                      known_at=None)
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.column_names == [en for en, _ in COLUMNS]
    schema = table.schema
    for col in ("score", "bid_points", "inspection_multiplier"):
        assert schema.field(col).type == pa.decimal128(9, 2)
    assert schema.field("as_of").type == pa.date32()
    assert schema.field("eligible_to_bid").type == pa.bool_()
    assert pa.types.is_timestamp(schema.field("known_at").type)
    rows = table.to_pylist()
    text = read_csv(tmp_path / "r.csv")
    assert [r["uscc"] for r in rows] == [r["uscc"] for r in text]
    for got, want in zip(rows, text, strict=True):
        assert f"{got['score']:.2f}" == want["score"]
        assert f"{got['bid_points']:.2f}" == want["bid_points"]
        assert got["as_of"] == AS_OF
        assert got["known_at"] == result.knowledge.known_at


def test_refusals(ctx, population, tmp_path):
    with pytest.raises(InvalidInput):
        rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.json")
    with pytest.raises(NotFound):
        rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.csv",
                 model="keqiao-2025@9")
    assert not (tmp_path / "r.csv").exists()
    assert not any(e["kind"] == "ratings.exported" for e in entries(ctx))


def test_empty_store_gives_an_empty_table(ctx, tmp_path):
    result = rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.parquet")
    assert result.rows == 0 and pq.read_table(tmp_path / "r.parquet").num_rows == 0
    result = rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.csv")
    assert read_csv(tmp_path / "r.csv") == []


def test_cli_rate_all_with_plot(ctx, population, tmp_path, monkeypatch):
    import credit.cli as cli
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    monkeypatch.setenv("CREDIT_OPERATOR", "张三")
    out, png = tmp_path / "r.csv", tmp_path / "grades.png"
    res = CliRunner().invoke(cli.main, ["rate-all", "--sector", "housing", "--as-of",
                                        "2026-03-31", "--out", str(out), "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert f"{len(population)} subjects rated" in res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    entry = entries(ctx, "ratings.exported")[-1]
    assert entry["actor"] == "张三"
    assert entry["payload"]["plot_sha256"] == sha256(png)
    bad = CliRunner().invoke(cli.main, ["rate-all", "--sector", "housing", "--as-of",
                                        "2026-02-30", "--out", str(out)])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    future = (date.today() + timedelta(days=400)).isoformat() + "T00:00:00+08:00"
    res = CliRunner().invoke(cli.main, ["rate-all", "--sector", "housing", "--as-of",
                                        "2026-03-31", "--known-at", future, "--out", str(out)])
    assert res.exit_code == 2 and "future" in res.output
