"""The configuration read from the environment (API.md §8, credit/settings.py): a
misspelt variable is refused, never silently read as unset (found by a review from a
newcomer's and an operator's seat: ``CREDIT_DATABSE_URL`` migrated a new local SQLite
file instead of the production database, ``CREDIT_SECURE_COOKIE=1`` left the session
cookie sent over plain HTTP)."""

from __future__ import annotations

import pytest

from credit.settings import ConfigurationError, Settings


@pytest.mark.parametrize("name, meant", [
    ("CREDIT_DATABSE_URL", "CREDIT_DATABASE_URL"),
    ("CREDIT_SECURE_COOKIE", "CREDIT_SECURE_COOKIES"),
    ("CREDIT_MODLE", "CREDIT_MODEL"),
    ("CREDIT_SIGNING_KEYS", "CREDIT_SIGNING_KEY"),
])
def test_a_misspelt_setting_is_refused_naming_the_setting_meant(name, meant):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({name: "postgresql://db/prod"})
    assert name in str(caught.value) and f"did you mean {meant}?" in str(caught.value)


def test_other_credit_variables_and_a_set_correct_spelling_are_left_alone():
    env = {"CREDIT_REQUIRE_PG": "1", "CREDIT_STRESS": "1", "CREDIT_TEST_PG": "x",
           "CREDIT_DATABASE_URL": "sqlite:////tmp/x.db", "CREDIT_DATABSE_URL": "y",
           "CREDIT_MODLE": ""}
    assert Settings.from_env(env).database_url == "sqlite:////tmp/x.db"
