"""A served score's trace is serialised before the append lock is taken and the entry's
text assembled around it under the lock (issue 10): the bytes must be exactly
``canonical.dumps`` of the whole entry (API.md §6), for any payload and actor."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from credit.domain import canonical
from credit.persistence.audit_log import entry_text

text = st.text(max_size=30)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20)


@given(payload=st.dictionaries(text, values, max_size=6), actor=text, kind=text,
       position=st.integers(1, 2**62))
def test_entry_text_is_the_canonical_text_of_the_entry(payload, actor, kind, position):
    at, prev = "2026-06-01T10:00:00.000000+08:00", "ab" * 32
    whole = {"position": position, "kind": kind, "at": at, "actor": actor,
             "payload": payload, "prev_sha256": prev}
    assert entry_text(position, kind, at, actor, canonical.dumps(payload), prev) == \
        canonical.dumps(whole)


def test_a_chinese_actor_and_escapes():
    payload = {"名称": "绍兴柯桥\u2028建工\"集团\"\\", "n": [1, None, True]}
    whole = {"position": 7, "kind": "score.served", "at": "x", "actor": "评标系统\n",
             "payload": payload, "prev_sha256": "0" * 64}
    assert entry_text(7, "score.served", "x", "评标系统\n", canonical.dumps(payload),
                      "0" * 64) == canonical.dumps(whole)
