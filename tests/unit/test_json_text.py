"""credit/domain/json_text.py: the one way a client's JSON text is read — request bodies
(api.http.read_json) and the lines of ``credit tenders import`` alike."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from credit.domain.json_text import parse_json

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_nan_and_infinity_are_not_json(text):
    with pytest.raises(ValueError, match="is not JSON"):
        parse_json(text)


def test_plain_json_reads_as_json_does():
    assert parse_json('{"a": [1, 2.5, "工程", null, true], "b": {}}') == \
        {"a": [1, 2.5, "工程", None, True], "b": {}}


def _strict_parsers(path: Path) -> list[int]:
    """Lines calling a JSON reader with its own ``parse_constant`` or
    ``object_pairs_hook``: a second rule for reading client JSON."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and any(k.arg in ("parse_constant", "object_pairs_hook") for k in node.keywords)]


def test_the_rule_is_written_once():
    """The tender import parses a line "as POST /tenders parses its body": with the same
    function, not a copy of its rules that can drift (a copy of the NaN refusal once
    lived in both api/http.py and credit/services/tender_import.py). The one other
    strict reader reads no client's JSON: the audit log's stored entries, refused when
    they hold what the service never writes (audit_log.parse_entry)."""
    found = {str(p.relative_to(ROOT)): lines
             for package in ("api", "credit")
             for p in sorted((ROOT / package).rglob("*.py"))
             if (lines := _strict_parsers(p))}
    assert list(found) == ["credit/domain/json_text.py", "credit/persistence/audit_log.py"]


@pytest.mark.parametrize("text, key", [
    ('{"amount": "1.00", "amount": "2.00"}', "amount"),
    ('{"amount": "1.00", "amount": "1.00"}', "amount"),          # even the same value
    ('{"bids": [{"bidder": "a", "x": 1, "bidder": "b"}]}', "bidder"),  # at any depth
    ('{"金额": 1, "金额": 2}', "金额"),
    ('{"\\ud800": 1, "\\ud800": 2}', "\\ud800"),                 # named as JSON escapes it
])
def test_a_key_twice_in_one_object_is_refused(text, key):
    """RFC 8259 §4: names SHOULD be unique, and receivers differ on an object that
    repeats one (Python keeps the last): such a body is ambiguous, never read."""
    with pytest.raises(ValueError) as info:
        parse_json(text)
    assert f'the key "{key}" appears twice' in str(info.value)
    str(info.value).encode("utf-8")  # the message can be answered


def test_the_same_key_in_different_objects_is_fine():
    assert parse_json('{"a": {"x": 1}, "b": {"x": 2}, "x": [{"x": 3}, {"x": 4}]}') == \
        {"a": {"x": 1}, "b": {"x": 2}, "x": [{"x": 3}, {"x": 4}]}
