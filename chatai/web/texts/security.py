"""Texts of the security hardening (sign-in during an outage)."""

EN = {
    "err_temporarily_unavailable": "Sign-in is temporarily unavailable. Please try again in a minute.",
}
RU = {
    "err_temporarily_unavailable": "Вход временно недоступен. Пожалуйста, попробуйте через минуту.",
}
