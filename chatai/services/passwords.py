"""Password policy for new passwords, and the strength hint shown while typing.

The policy applies when a password is set (sign-up, change, admin reset), never at sign-in: accounts
made under an older, shorter rule still sign in. The common-password list is zxcvbn's 30,000 most
frequent passwords (chatai/data/common_passwords.txt, MIT, licence beside it).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 would hash more, but nobody types it and it costs CPU per attempt
_COMMON_FILE = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"
# "password2024!" is as guessable as "password": compare the word without its trailing digits/symbols too.
_TRAILING_NON_LETTERS = re.compile(r"[\W\d_]+$")
_MIN_LOCAL_PART = 3  # "al@x.io" must not forbid every password containing "al"
# Variety: "aaaaaaaaaaaa" is long enough and in no list, yet a guesser tries such strings first.
MIN_DISTINCT = 5  # different characters (case folded)
_MAX_RUN_STEP = 2  # "abcdefghij", "9876543210", "acegikmoqs": each character the last one plus a fixed step


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with _COMMON_FILE.open(encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def is_common(password: str) -> bool:
    lowered = password.strip().lower()
    common = common_passwords()
    stem = _TRAILING_NON_LETTERS.sub("", lowered)
    return lowered in common or (len(stem) >= 4 and stem in common)


def _contains_email_name(password: str, email: str) -> bool:
    local = email.split("@", 1)[0].strip().lower()
    return len(local) >= _MIN_LOCAL_PART and local in password.lower()


def is_too_simple(password: str) -> bool:
    """Too little variety: fewer than MIN_DISTINCT different characters, one character making up more than
    half, a short unit repeated ("abcabcabcabc", "the the the the"), or a run with one fixed step."""
    folded = password.lower()
    size = len(folded)
    if len(set(folded)) < MIN_DISTINCT or max(map(folded.count, set(folded)), default=0) * 2 > size:
        return True
    if any((folded[:unit] * (size // unit + 1))[:size] == folded for unit in range(1, size // 2 + 1)):
        return True
    steps = {ord(b) - ord(a) for a, b in zip(folded, folded[1:], strict=False)}
    return len(steps) == 1 and abs(steps.pop()) <= _MAX_RUN_STEP


def password_problem(password: str, *, email: str = "") -> str:
    """The reason a new password is refused ("password_too_short", "password_too_long",
    "password_too_common", "password_too_simple", "password_contains_email"), or "" when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return "password_too_short"
    if len(password) > MAX_LENGTH:
        return "password_too_long"
    if is_common(password):
        return "password_too_common"
    if is_too_simple(password):
        return "password_too_simple"
    if email and _contains_email_name(password, email):
        return "password_contains_email"
    return ""


def strength(password: str, *, email: str = "") -> str:
    """"" for an empty field, else weak | fair | strong: a hint, not a promise. Anything the policy
    refuses is weak; then length and variety of character kinds decide."""
    if not password:
        return ""
    if password_problem(password, email=email):
        return "weak"
    kinds = sum(bool(re.search(pattern, password)) for pattern in (r"[a-zа-яё]", r"[A-ZА-ЯЁ]", r"\d", r"[\W_]"))
    if len(password) >= 16 or (len(password) >= 12 and kinds >= 3):
        return "strong"
    return "fair"
