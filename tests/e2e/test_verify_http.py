"""``GET /api/v1/audit/verify?from=checkpoint`` (API.md §6, issue 10): incremental from
the newest stored intact verification; the full run stays the default; bad values and
a saved checkpoint together with it are 400."""

from __future__ import annotations


def test_from_checkpoint_walks_only_what_is_new(api):
    api.create_record()
    full = api.get("/api/v1/audit/verify", "auditor").get_json()
    assert full["ok"] is True and "from_position" not in full
    head = full["entries_checked"]
    api.score()
    r = api.get("/api/v1/audit/verify?from=checkpoint", "auditor")
    assert r.status_code == 200
    assert r.get_json() == {"ok": True, "entries_checked": 1, "first_bad": None,
                            "from_position": head}


def test_bad_from_values_are_400(api):
    assert api.get("/api/v1/audit/verify?from=start", "auditor").status_code == 400
    r = api.get("/api/v1/audit/verify?from=checkpoint&position=1&sha256=" + "0" * 64,
                "auditor")
    assert r.status_code == 400 and "from" in r.get_json()["errors"]
    assert api.get("/api/v1/audit/verify?from=checkpoint", "evaluator").status_code == 403
