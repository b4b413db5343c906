"""Stored data that no longer matches its audit entry is never served silently, through
the real app (issue 9 item 6: a remembered Idempotency-Key reply edited behind the
service is located by /audit/verify and refused, not replayed)."""

from __future__ import annotations

from tests.e2e.conftest import assert_error, record_body
from tests.live_server import raw


def test_an_edited_remembered_reply_is_refused_and_located(api, ctx, tokens):
    headers = {"Idempotency-Key": "retry-1"}
    first = api.post("/api/v1/records", record_body(), "regulator", headers=headers)
    assert first.status_code == 201
    forged = first.get_data(as_text=True).replace('"counts_today":true',
                                                   '"counts_today":false')
    assert forged != first.get_data(as_text=True)
    raw(ctx, "UPDATE idempotency_keys SET body = :b", {"b": forged},
        tables=["idempotency_keys"])
    again = api.post("/api/v1/records", record_body(), "regulator", headers=headers)
    assert_error(again, 500, "integrity_failure")
    assert forged.encode() not in again.data
    bad = api.get("/api/v1/audit/verify", "auditor").get_json()["first_bad"]
    assert (bad["position"], bad["problem"], bad["table"]) == (
        first.get_json()["audit_position"], "row_mismatch", "idempotency_keys")
