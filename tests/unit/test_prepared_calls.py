"""A prepared call's SQL (persistence/prepared_calls.py): named parameters numbered in the
order they first appear, each once, whatever repeats them; casts and times left alone."""

from credit.persistence.prepared_calls import PreparedCall


def test_named_parameters_are_numbered_in_order_of_first_appearance():
    call = PreparedCall("credit_x", "SELECT :b, :a WHERE x = :b AND y::text = 'HH24:MI'")
    assert call.name == b"credit_x"
    assert call.sql == b"SELECT $1, $2 WHERE x = $1 AND y::text = 'HH24:MI'"
    assert call.params == ("b", "a")
