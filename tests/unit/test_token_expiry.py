"""The one rule of a token's end (credit/domain/token_expiry.py): its expiry instant is
already outside its life, to the microsecond."""

from credit.domain.token_expiry import expired_at

EXPIRY = 1_764_547_200_000_000  # 2025-12-01T00:00:00Z in µs


def test_a_token_without_expiry_never_ends():
    assert not expired_at(None, 0)
    assert not expired_at(None, 2**62)


def test_the_microsecond_before_expiry_is_alive():
    assert not expired_at(EXPIRY, EXPIRY - 1)


def test_the_expiry_instant_itself_is_too_late():
    assert expired_at(EXPIRY, EXPIRY)


def test_after_expiry_is_too_late():
    assert expired_at(EXPIRY, EXPIRY + 1)
