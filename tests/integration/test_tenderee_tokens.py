"""The tenderee role (PERFORMANCE.md §1): a token bound to exactly one USCC, like an
enterprise's; every other role refuses a USCC."""

from __future__ import annotations

import pytest

from credit.errors import InvalidInput
from credit.services.tokens import authenticate, create_token

TENDEREE = "11330621002587465Y"


def test_a_tenderee_token_carries_its_uscc(ctx):
    _, secret = create_token(ctx, "op", role="tenderee", name="柯桥区某镇人民政府",
                             uscc=TENDEREE.lower())
    actor = authenticate(ctx, secret)
    assert (actor.role, actor.uscc) == ("tenderee", TENDEREE)


def test_a_tenderee_token_without_a_uscc_is_refused(ctx):
    with pytest.raises(InvalidInput) as exc:
        create_token(ctx, "op", role="tenderee", name="某镇")
    assert exc.value.errors == {"uscc": ["required"]}


def test_a_tenderee_token_with_a_bad_uscc_is_refused(ctx):
    with pytest.raises(InvalidInput) as exc:
        create_token(ctx, "op", role="tenderee", name="某镇", uscc="11330621002587465X")
    assert exc.value.error == "invalid_uscc"


@pytest.mark.parametrize("role", ["evaluator", "auditor", "admin", "platform"])
def test_other_roles_refuse_a_uscc(ctx, role):
    with pytest.raises(InvalidInput) as exc:
        create_token(ctx, "op", role=role, name="x", uscc=TENDEREE)
    assert "uscc" in exc.value.errors
