"""The password policy and the strength hint."""

import pytest

from chatai.services import passwords


def test_common_list_is_shipped_with_at_least_ten_thousand_entries():
    common = passwords.common_passwords()
    assert len(common) >= 10_000
    assert {"password", "qwertyuiop", "1234567890", "iloveyou"} <= common


@pytest.mark.parametrize(("password", "email", "problem"), [
    ("short", "", "password_too_short"),
    ("x" * 1025, "", "password_too_long"),
    ("1234567890", "", "password_too_common"),
    ("QwertyUiop", "", "password_too_common"),
    ("football2024!", "", "password_too_common"),
    ("my name is ivan.petrov", "Ivan.Petrov@example.com", "password_contains_email"),
    ("a long enough passphrase", "", ""),
    ("bo is at the river bank", "bo@example.com", ""),  # a 2-letter email name does not forbid "bo"
])
def test_password_problem(password, email, problem):
    assert passwords.password_problem(password, email=email) == problem


@pytest.mark.parametrize(("password", "level"), [
    ("", ""),
    ("password", "weak"),
    ("aaaaaaaaaaaaaaaa", "weak"),
    ("tulips-in-may", "fair"),
    ("Tulips in May 2031", "strong"),
    ("blue whales sing softly", "strong"),
])
def test_strength_hint(password, level):
    assert passwords.strength(password) == level
