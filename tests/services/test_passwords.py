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
    # Very low variety (issue 19): long enough and in no list, but among a guesser's first tries.
    ("aaaaaaaaaaaa", "", "password_too_simple"),
    ("AaAaAaAaAaAa", "", "password_too_simple"),  # case does not add variety
    ("abcabcabcabc", "", "password_too_simple"),  # a short unit repeated
    ("xyz12xyz12xyz1", "", "password_too_simple"),  # ... also when the last repeat is cut short
    ("the the the the", "", "password_too_simple"),
    ("abcdefghijklmn", "", "password_too_simple"),  # a run
    ("zyxwvutsrqponm", "", "password_too_simple"),  # backwards
    ("acegikmoqsuw", "", "password_too_simple"),  # every other letter
    ("aaaaaaaaaaaabcde", "", "password_too_simple"),  # one character is most of it
    ("correct horse", "", ""),
    ("tulips-in-may", "", ""),
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


def test_the_too_simple_refusal_is_a_sentence_in_english_and_russian():
    from chatai.web.i18n import text

    english, russian = text("en", "err_password_too_simple"), text("ru", "err_password_too_simple")
    assert english.startswith("This password is too simple") and english.endswith(".")
    assert russian.startswith("Пароль слишком простой") and russian != english
