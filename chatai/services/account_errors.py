"""The one error type of account operations (services/accounts.py, services/password_attempts.py)."""

from __future__ import annotations


class AccountError(Exception):
    """code: invalid_email | password_too_short | password_too_long | password_too_common |
    password_too_simple | password_contains_email | email_taken | bad_credentials | rate_limited |
    signup_rate_limited | password_rate_limited | password_checks_busy | blocked | wrong_password | not_found |
    session_expired | mail_off | mail_resend_rate_limited | mail_reset_link_invalid

    The UI translates the code (`err_<code>`); messages never reveal whether an email is registered."""

    def __init__(self, code: str, retry_after: int = 0):
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after
