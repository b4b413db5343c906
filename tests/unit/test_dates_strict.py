"""Dates and instants are ASCII digits and the whole string only (issue 9 item 8):
``\\d`` also matches full-width and other Unicode digits, and ``$`` also matches before
a trailing newline; neither may let a lax value through, in the domain parsers or in a
spreadsheet cell."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.batch.sheets import cell_text
from credit.domain.dates import (
    CST,
    format_instant,
    parse_date,
    parse_instant,
    parse_stored_instant,
)

LAX_DATES = ["２０２６-03-01", "2026-０3-01", "2026-03-0１", "٢٠٢٦-03-01", "2026-03-01\n",
             "2026-03-01\r\n", "\n2026-03-01", "2026-03-01 ", " 2026-03-01"]
LAX_INSTANTS = ["2026-03-01T08:00:00+08:00\n", "２０２６-03-01T08:00:00+08:00",
                "2026-03-01T0８:00:00+08:00", "2026-03-01T08:00:00.１+08:00",
                "2026-03-01T08:00:00+0８:00", "2026-03-01T08:00:00Z\n",
                "2026-03-01T08:00:00+08:00 "]


@pytest.mark.parametrize("text", LAX_DATES)
def test_a_lax_date_is_refused(text):
    with pytest.raises(ValueError):
        parse_date(text)


@pytest.mark.parametrize("text", LAX_INSTANTS)
def test_a_lax_instant_is_refused(text):
    with pytest.raises(ValueError):
        parse_instant(text)


def test_strict_forms_still_parse():
    assert parse_date("2026-03-01") == date(2026, 3, 1)
    assert parse_instant("2026-03-01T08:00:00.5+08:00") == datetime(
        2026, 3, 1, 8, 0, 0, 500000, tzinfo=timezone(timedelta(hours=8)))
    assert parse_instant("2026-03-01t00:00:00z") == datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", ["２０２６年1月5日", "2026/１/5", "2026-01-05\n",
                                   "2026/1/5\n", "2026年1月\n5日"])
def test_a_lax_spreadsheet_date_is_not_made_a_date(value):
    # passed on unchanged, so that the API's validation refuses the row
    assert cell_text(value, "decided_on") == value


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(9998, 12, 31),
                    timezones=st.sampled_from([timezone.utc, CST,
                                               timezone(timedelta(hours=-5, minutes=-30))])))
def test_the_service_writes_one_instant_form_and_reads_it_back(dt):
    text = format_instant(dt)
    # the form documented in API.md §1, as strftime wrote it before
    assert text == dt.astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+08:00"
    assert parse_stored_instant(text) == parse_instant(text) == dt
