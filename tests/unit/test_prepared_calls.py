"""A prepared call's SQL (persistence/prepared_calls.py): named parameters numbered in the
order they first appear, each once, whatever repeats them; casts and times left alone."""

from credit.persistence.prepared_calls import PreparedCall, replace_parameters


def test_named_parameters_are_numbered_in_order_of_first_appearance():
    call = PreparedCall("credit_x", "SELECT :b, :a WHERE x = :b AND y::text = 'HH24:MI'")
    assert call.name == b"credit_x"
    assert call.sql == b"SELECT $1, $2 WHERE x = $1 AND y::text = 'HH24:MI'"
    assert call.params == ("b", "a")


def test_a_colon_inside_a_string_an_identifier_or_a_comment_is_no_parameter():
    sql = ("SELECT ':a', 'it''s :b', \"col :c\", :d -- a :e comment\n"
           "/* :f\n and :g */ FROM t WHERE x = :h AND y = ''")
    call = PreparedCall("credit_x", sql)
    assert call.params == ("d", "h")
    assert call.sql == sql.replace(":d", "$1").replace(":h", "$2").encode()


def test_the_served_scores_statements_keep_their_separator_and_casts():
    call = PreparedCall("credit_x", "SELECT string_agg(t.sha256, ',' ORDER BY t.id), "
                                    "CAST(:n AS text)::text FROM t WHERE u = :u")
    assert call.sql == (b"SELECT string_agg(t.sha256, ',' ORDER BY t.id), "
                        b"CAST($1 AS text)::text FROM t WHERE u = $2")
    assert call.params == ("n", "u")


def test_the_same_parameters_written_for_psycopgs_execute():
    """The served scores' group INSERT on PostgreSQL (served_scores.py ``_placeholders``)
    names its parameters by the same rule: a cast or a string is left alone."""
    assert replace_parameters("SELECT :a::text, ':b', :c -- :d", "%({})s".format) == \
        "SELECT %(a)s::text, ':b', %(c)s -- :d"
