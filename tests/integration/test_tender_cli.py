"""``credit tenders import`` and ``credit screens replay`` (WARNINGS.md §8), the demo
tenders of ``credit demo-data``, on both backends."""

from __future__ import annotations

import csv
import json
import os

import pytest
from click.testing import CliRunner

from credit.services import warnings
from credit.services.audit import verify_chain
from credit.services.demo import load_demo
from tests.tender_data import BIDDER_1, BIDDER_2, bid, tender_body

from .helpers import tamper
from .tender_helpers import AUDITOR, TRANSPORT, warnings_of

pytestmark = pytest.mark.db


def _cli(ctx, monkeypatch, *args):
    import credit.cli as cli
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    return CliRunner().invoke(cli.main, list(args))


def _lines(path, bodies) -> None:
    path.write_text("\n".join(b if isinstance(b, str) else json.dumps(b, ensure_ascii=False)
                              for b in bodies) + "\n", encoding="utf-8")


def test_import_registers_line_by_line_reports_rejects_and_adds_nothing_again(
        tctx, monkeypatch, tmp_path):
    bad = tender_body("KQ-BAD")
    bad["bids"][0]["uploads"][0]["ip"] = "1.2.3.04"
    bad["bids"][1]["deposit_account"] = "12"
    later = tender_body("KQ-2026-0099", opened_at="2026-05-20T09:30:00+08:00",
                        bids=[bid(BIDDER_1, "100.00"), bid(BIDDER_2, "101.00")],
                        exclusions=[])
    path = tmp_path / "tenders.jsonl"
    _lines(path, [tender_body(), "", "{not json", bad, later])
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path), "--screens",
               "keqiao-screens-2025@1")
    assert res.exit_code == 1, res.output + res.stderr
    assert "registered               2" in res.output and "rejected                 2" in \
        res.output
    with open(f"{path}.rejects.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "code", "field", "error", "message"]
    assert [(r[0], r[1], r[2], r[3]) for r in rows[1:]] == [
        ("3", "", "_body", "malformed_json"),
        ("4", "KQ-BAD", "bids.0.uploads.0.ip", "validation_error"),
        ("4", "KQ-BAD", "bids.1.deposit_account", "validation_error")]
    assert [w["code"] for w in warnings_of(tctx, "KQ-2026-0031")][0] == "SAME-PREPARER"
    assert all(e["actor"].startswith("operator:") for e in _entries(tctx, "tender.registered"))
    _lines(path, [tender_body(), later])
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 0, res.output
    assert "already present          2" in res.output
    assert not (tmp_path / "tenders.jsonl.rejects.csv").exists()
    changed = tender_body(name="同号不同内容")
    _lines(path, [changed])
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 1 and "duplicate_tender 1" in res.output
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path), "--screens", "nope@9")
    assert res.exit_code == 2
    assert verify_chain(tctx)["ok"]


def test_an_instant_beyond_pythons_dates_is_a_rejected_line_not_the_end_of_the_import(
        tctx, monkeypatch, tmp_path):
    """WARNINGS.md §8: the import reports rejects "like credit import" — a line whose
    opening instant has no date in CST that Python can hold (API.md §1: outside
    2000-01-01 … 2099-12-31, 400) is one reject, and the lines after it still register."""
    far = tender_body("KQ-FAR", opened_at="9999-12-31T23:59:59+00:00")
    path = tmp_path / "tenders.jsonl"
    _lines(path, [far, tender_body()])
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 1, res.output
    assert "registered               1" in res.output and "rejected                 1" in \
        res.output
    with open(f"{path}.rejects.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert [tuple(r) for r in rows[1:]] == [
        ("1", "KQ-FAR", "opened_at", "validation_error",
         "must lie between 2000-01-01 and 2099-12-31.")]
    assert verify_chain(tctx)["ok"]


def test_lines_are_read_one_at_a_time_and_split_at_line_feeds_only(
        tctx, monkeypatch, tmp_path):
    """A tender name may hold U+2028 or U+0085 (JSON keeps them raw); a line over 1 MiB
    (a body POST /tenders refuses with 413) and a line that is not UTF-8 are one reject
    each, and the lines around them, CRLF-ended after a byte-order mark, still
    register."""
    odd = tender_body("KQ-ODD", name="柯桥区\u2028某村\x85道路")
    big = json.dumps(tender_body("KQ-BIG", name="长" * (400 * 1024)), ensure_ascii=False)
    path = tmp_path / "tenders.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(odd, ensure_ascii=False).encode() + b"\r\n"
                     + big.encode() + b"\r\n" + b'{"code": "\xff"}\r\n'
                     + json.dumps(tender_body()).encode() + b"\r\n")
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 1, res.output + res.stderr
    assert "registered               2" in res.output and "rejected                 2" in \
        res.output
    with open(f"{path}.rejects.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert [tuple(r[:4]) for r in rows[1:]] == [
        ("2", "", "_body", "payload_too_large"), ("3", "", "_body", "malformed_json")]
    names = {e["payload"]["code"]: e["payload"]["name"]
             for e in _entries(tctx, "tender.registered")}
    assert names == {"KQ-ODD": odd["name"], "KQ-2026-0031": tender_body()["name"]}
    assert verify_chain(tctx)["ok"]


def _entries(ctx, kind):
    from credit.services.audit import list_entries
    return list_entries(ctx, after=0, limit=500, kind=kind)["items"]


def test_replay_exits_0_when_equal_and_1_when_not(tctx, monkeypatch, tmp_path):
    path = tmp_path / "t.jsonl"
    _lines(path, [tender_body()])
    assert _cli(tctx, monkeypatch, "tenders", "import", str(path)).exit_code == 0
    res = _cli(tctx, monkeypatch, "screens", "replay", "--tender", "KQ-2026-0031")
    assert res.exit_code == 0, res.output + res.stderr
    assert json.loads(res.stdout)["equal"] is True and "equal" in res.stderr
    tamper(tctx, "warnings", "UPDATE warnings SET evidence = '{}' WHERE id = 2")
    res = _cli(tctx, monkeypatch, "screens", "replay", "--tender", "KQ-2026-0031")
    assert res.exit_code == 1 and "NOT equal" in res.stderr
    assert json.loads(res.stdout)["differences"] == ["warning 2 (SAME-IP): evidence differs"]
    res = _cli(tctx, monkeypatch, "screens", "replay", "--tender", "NONE")
    assert res.exit_code == 2


def test_demo_data_shows_an_open_warning_in_the_regulators_inbox(tctx, tmp_path):
    summary = load_demo(tctx, tmp_path / "tokens.txt")
    assert "3 demo tenders" in summary
    assert "platform\t" in (tmp_path / "tokens.txt").read_text(encoding="utf-8")
    inbox = warnings.list_warnings(tctx, TRANSPORT, warnings.WarningFilter(status="open"))
    assert {w["code"] for w in inbox["items"]} >= {"SAME-PREPARER", "PM-ELSEWHERE"}
    assert {w["code"] for w in warnings.list_warnings(
        tctx, AUDITOR, warnings.WarningFilter(sector="housing"))["items"]} == {
        "SAME-DEPOSIT", "IDENTICAL-PRICE"}
    assert "already" in load_demo(tctx, tmp_path / "tokens.txt")
    assert verify_chain(tctx)["ok"]


def test_demo_data_without_an_identity_key_skips_the_tenders(ctx, tmp_path):
    assert "demo tenders skipped" in load_demo(ctx, tmp_path / "tokens.txt")


def test_a_file_that_cannot_seek_imports_like_any_other(tctx, monkeypatch, tmp_path):
    """``credit tenders import <(zcat tenders.jsonl.gz)`` or a named pipe: the file is
    read one line at a time, so nothing needs it to be seekable (it was read whole
    before). The progress position must not ask a pipe where it is: ``tell()`` on a
    pipe fails (ESPIPE) after the first tender was registered, and the import ended
    with exit 2 ("cannot read") and no summary."""
    import os
    import threading
    fifo = tmp_path / "tenders.fifo"
    os.mkfifo(fifo)
    later = tender_body("KQ-2026-0099", opened_at="2026-05-20T09:30:00+08:00",
                        bids=[bid(BIDDER_1, "100.00"), bid(BIDDER_2, "101.00")],
                        exclusions=[])
    data = "".join(json.dumps(b, ensure_ascii=False) + "\n"
                   for b in (tender_body(), later)).encode()

    def feed():
        with open(fifo, "wb") as w:
            w.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    res = _cli(tctx, monkeypatch, "tenders", "import", str(fifo))
    writer.join(5)
    assert res.exit_code == 0, (res.exit_code, res.output, res.stderr)
    assert "registered               2" in res.output


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_a_line_of_exactly_one_mebibyte_registers_whatever_its_line_ending(
        tctx, monkeypatch, tmp_path, ending):
    """POST /tenders takes a body of exactly 1 MiB (413 only over it), and the import
    reads a CRLF file like an LF one: a tender line of exactly 1 MiB registers with
    either ending. With CRLF the line's CR was counted against the limit (the read
    stops at 1 MiB + 1 byte, which is the CR), and the line was a payload_too_large
    reject."""
    from credit.services.tender_import import MAX_LINE  # POST /tenders' body limit
    text = json.dumps(tender_body(), ensure_ascii=False).encode()
    line = text[:-1] + b" " * (MAX_LINE - len(text)) + b"}"
    assert len(line) == MAX_LINE and json.loads(line)["code"] == "KQ-2026-0031"
    path = tmp_path / "tenders.jsonl"
    path.write_bytes(line + ending)
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 0, (res.output, res.stderr,
                                path.with_name("tenders.jsonl.rejects.csv").exists()
                                and path.with_name("tenders.jsonl.rejects.csv").read_text())
    assert "registered               1" in res.output


def test_a_line_posted_as_a_body_would_be_malformed_json_is_one_reject(
        tctx, monkeypatch, tmp_path):
    """WARNINGS.md §8: the import reports rejects "like credit import", each line
    registered as ``POST /tenders`` registers its body — which answers 400
    ``malformed_json`` (API.md §1) to JSON nested too deep for the parser and to the
    non-JSON constants ``NaN`` and ``Infinity``. The import ended at such a line with a
    RecursionError traceback (nothing after it registered, no rejects list, no summary),
    and took ``NaN`` for a number (a ``validation_error`` of the field)."""
    deep = "[" * 100_000 + "]" * 100_000
    nan = json.dumps(tender_body("KQ-NAN")).replace('"village": true', '"village": NaN')
    assert "NaN" in nan
    # a key twice in one object is ambiguous, refused as POST /tenders refuses it
    twice = json.dumps(tender_body("KQ-TWICE"))[:-1] + ', "code": "KQ-OTHER"}'
    path = tmp_path / "tenders.jsonl"
    _lines(path, [deep, nan, twice, tender_body()])
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 1, (res.output, res.stderr, res.exception)
    assert "registered               1" in res.output and "rejected                 3" in \
        res.output
    with open(f"{path}.rejects.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert [tuple(r[:4]) for r in rows[1:]] == [
        ("1", "", "_body", "malformed_json"), ("2", "", "_body", "malformed_json"),
        ("3", "", "_body", "malformed_json")]
    assert "appears twice" in rows[3][4]
    assert verify_chain(tctx)["ok"]


def test_a_rejected_line_holding_an_unpaired_surrogate_is_written_to_the_rejects_list(
        tctx, monkeypatch, tmp_path):
    """JSON may spell an unpaired surrogate (``"\\ud800"``); such a line is refused like
    any line a field of which the service cannot store (API.md §1: 400), and its reject
    names the code and the field as sent. Writing them to the UTF-8 rejects list raised
    UnicodeEncodeError: the import ended with a traceback, a truncated rejects list and
    no summary, and the lines after it never registered."""
    path = tmp_path / "tenders.jsonl"
    odd_key = json.dumps({**tender_body("KQ-KEY"), "x\ud800": 1})  # ASCII: "x\\ud800"
    _lines(path, ['{"code": "KQ-\\ud800"}', odd_key, tender_body()])
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 1, (res.output, res.stderr, res.exception)
    assert "registered               1" in res.output and "rejected                 2" in \
        res.output
    with open(f"{path}.rejects.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert ("1", "KQ-\\ud800", "code", "validation_error") in [tuple(r[:4]) for r in rows]
    assert ("2", "KQ-KEY", "x\\ud800", "validation_error") in [tuple(r[:4]) for r in rows]
    assert verify_chain(tctx)["ok"]


def test_the_rejects_list_neutralises_formulas_like_credit_import(tctx, monkeypatch,
                                                                   tmp_path):
    """WARNINGS.md §8: rejects are reported "like credit import", whose rejects list
    (docs/batch.md, "Formula injection") writes a text cell starting with ``=``, ``+``,
    ``-``, ``@``, a tab, CR or LF with a leading ``'``, so that the operator's spreadsheet
    shows it and never runs it. A tender code is the platform's text (``=`` and ``+`` are
    allowed in it) and so is a field name; both reached the list as sent."""
    formula = '=HYPERLINK("evil.example","x")'  # a valid code: no '/', no space
    body = tender_body(formula, sector="rail")
    body["@cmd"] = 1
    path = tmp_path / "tenders.jsonl"
    _lines(path, [body])
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 1, (res.output, res.stderr, res.exception)
    with open(f"{path}.rejects.csv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert sorted(tuple(r[:3]) for r in rows[1:]) == [
        ("1", "'" + formula, "'@cmd"), ("1", "'" + formula, "sector")]


def _small(code: str, day: str) -> dict:
    return tender_body(code, opened_at=f"2026-05-{day}T09:30:00+08:00",
                       bids=[bid(BIDDER_1, "100.00"), bid(BIDDER_2, "101.00")], exclusions=[])


def _registered(ctx) -> int:
    with ctx.uow(write=False) as uow:
        return len(list(uow.audit_queries.iter_kind("tender.registered")))


@pytest.mark.parametrize("failing_call", [1, 3])
def test_a_database_failure_partway_says_what_is_on_file(tctx, monkeypatch, tmp_path,
                                                         failing_call):
    """Each line is its own transaction: a failure of the database at line 4 leaves
    lines 1–2 registered and line 3's reject written, the summary printed, exit 3 ("the
    lines before are done"), not exit 2 ("not imported"); at the first line it is exit 2
    as before."""
    from credit.errors import Unavailable
    from credit.services import tender_import
    path = tmp_path / "t.jsonl"
    _lines(path, [_small("KQ-1", "20"), _small("KQ-2", "21"), "{not json",
                  _small("KQ-3", "22"), _small("KQ-4", "23")])
    real, calls = tender_import.register_tender, []

    def failing(*args, **kw):
        calls.append(1)
        if len(calls) == failing_call:
            raise Unavailable("the database cannot be reached or is busy")
        return real(*args, **kw)
    monkeypatch.setattr(tender_import, "register_tender", failing)
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    if failing_call == 1:
        assert res.exit_code == 2 and _registered(tctx) == 0, res.output + res.stderr
        assert not (tmp_path / "t.jsonl.rejects.csv").exists()
        return
    assert res.exit_code == 3, res.output + res.stderr
    assert _registered(tctx) == 2
    assert "registered               2" in res.output and "Stopped at line 4" in res.output
    assert "is busy. The lines before it" in res.output and "may be on file" in res.output
    assert "Import the file again to finish" in res.output
    with open(f"{path}.rejects.csv", encoding="utf-8-sig") as f:
        assert [r[0] for r in csv.reader(f)][1:] == ["3"]
    monkeypatch.setattr(tender_import, "register_tender", real)
    again = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert again.exit_code == 1 and _registered(tctx) == 4  # line 3 is still a reject
    assert "already present          2" in again.output


def test_a_failure_after_blank_lines_only_is_nothing_imported(tctx, monkeypatch, tmp_path):
    """Blank lines do nothing: a failure at the first tender after them is exit 2 ("not
    imported"), as at the first line, not exit 3 ("stopped partway")."""
    from credit.errors import Unavailable
    from credit.services import tender_import
    path = tmp_path / "t.jsonl"
    _lines(path, ["", "   ", _small("KQ-1", "20")])

    def failing(*args, **kw):
        raise Unavailable("the database cannot be reached or is busy")
    monkeypatch.setattr(tender_import, "register_tender", failing)
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 2 and "Stopped" not in res.output, res.output + res.stderr


def test_a_rejects_list_that_cannot_be_written_is_found_before_any_line(tctx, monkeypatch,
                                                                         tmp_path):
    path = tmp_path / "t.jsonl"
    _lines(path, [_small("KQ-1", "20"), "{not json", _small("KQ-2", "21")])
    (tmp_path / "t.jsonl.rejects.csv").mkdir()
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 2, res.output + res.stderr
    assert "cannot be written" in res.stderr and "nothing was imported" in res.stderr
    assert _registered(tctx) == 0


def test_a_failure_of_stored_data_partway_does_not_promise_that_a_rerun_finishes(
        tctx, monkeypatch, tmp_path):
    from credit.errors import IntegrityFailure
    from credit.services import tender_import
    path = tmp_path / "t.jsonl"
    _lines(path, [_small("KQ-1", "20"), _small("KQ-2", "21")])
    real, calls = tender_import.register_tender, []

    def failing(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise IntegrityFailure("Audit entry 7 is not the text it was written as.")
        return real(*args, **kw)
    monkeypatch.setattr(tender_import, "register_tender", failing)
    res = _cli(tctx, monkeypatch, "tenders", "import", str(path))
    assert res.exit_code == 3, res.output + res.stderr
    assert "Import the file again" not in res.output and "credit audit verify" in res.output


def _pipe(lines) -> int:
    read, write = os.pipe()
    os.write(write, ("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)
                               for x in lines) + "\n").encode())
    os.close(write)
    return read


def test_a_pipes_rejects_list_goes_to_the_working_directory(tctx, monkeypatch, tmp_path):
    """``credit tenders import <(zcat …)`` names the file /dev/fd/N, beside which
    nothing can be written: the rejects list goes to the working directory, under a
    name of its own run."""
    monkeypatch.chdir(tmp_path)
    fd = _pipe([_small("KQ-1", "20"), "{not json"])
    try:
        res = _cli(tctx, monkeypatch, "tenders", "import", f"/dev/fd/{fd}")
    finally:
        os.close(fd)
    assert res.exit_code == 1, res.output + res.stderr
    assert _registered(tctx) == 1
    (rejects,) = tmp_path.glob("tenders-*.rejects.csv")
    assert str(rejects) in res.output
    with open(rejects, encoding="utf-8-sig") as f:
        assert [r[0] for r in csv.reader(f)][1:] == ["2"]
    # bash names the next pipe /dev/fd/63 again: a clean run keeps the earlier list
    fd = _pipe([_small("KQ-2", "21")])
    try:
        assert _cli(tctx, monkeypatch, "tenders", "import", f"/dev/fd/{fd}").exit_code == 0
    finally:
        os.close(fd)
    assert list(tmp_path.glob("tenders-*.rejects.csv")) == [rejects]
