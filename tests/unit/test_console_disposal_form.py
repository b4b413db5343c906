"""The console's disposal form turns typed bid positions and record ids into integers
only when they are plain ASCII integers (API.md §3, issue 9 item 9): "５" or "²" stay
text, so the use case refuses them with a 400 instead of ``int`` raising (a 500)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from api.console.tender_views import disposal_body


def _form(**fields) -> MultiDict:
    base = {"action": "confirm", "reason": "经调查属实", "code": "BID-COLLUDE",
            "decided_on": "2026-05-28", "document_no": "柯交执〔2026〕31号",
            "covered_by": ""}
    return MultiDict({**base, **fields})


def test_plain_positions_become_integers():
    assert disposal_body(_form(bids="1, 2，3"))["bids"] == [1, 2, 3]
    assert disposal_body(_form(bids="1", covered_by="7 8"))["covered_by"] == [7, 8]


def test_other_digits_stay_text():
    for typed in ("²", "５", "1 ²", "+1"):
        bids = disposal_body(_form(bids=typed))["bids"]
        assert not all(isinstance(b, int) for b in bids), typed
