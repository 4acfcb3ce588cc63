"""Words for values the database stores as codes and pages show to people (a bot's status and mode on the
admin pages, the mail queue's summary): they read "running", "polling", "Mail queue: ..." in the Russian
admin panel. `stored_value_text` is the one way a page turns such a code into words; tests/web/test_i18n.py
walks STORED_VALUES against the codes the services and models use, so a new status without words fails."""

from __future__ import annotations

# field -> every code it can hold (the services' own tuples are checked against these by the i18n test)
STORED_VALUES: dict[str, tuple[str, ...]] = {
    "bot_status": ("starting", "running", "paused", "error"),
    "bot_mode": ("polling", "webhook"),
}

EN = {
    "stored_bot_status_starting": "Starting",
    "stored_bot_status_running": "Running",
    "stored_bot_status_paused": "Paused",
    "stored_bot_status_error": "Error",
    "stored_bot_mode_polling": "Polling",
    "stored_bot_mode_webhook": "Webhook",
    "admin_mail_queue": "Mail queue: {waiting} waiting, {given_up} given up in the last day.",
    "admin_mail_queue_error": "Last sending error: {error}",
}
RU = {
    "stored_bot_status_starting": "Запускается",
    "stored_bot_status_running": "Работает",
    "stored_bot_status_paused": "На паузе",
    "stored_bot_status_error": "Ошибка",
    "stored_bot_mode_polling": "Опрос (polling)",
    "stored_bot_mode_webhook": "Вебхук",
    "admin_mail_queue": "Очередь писем: ждут отправки {waiting}, не доставлено за сутки {given_up}.",
    "admin_mail_queue_error": "Последняя ошибка отправки: {error}",
}


def stored_value_text(locale: str, field: str, value: str) -> str:
    """The words for a stored code; a code nobody gave words to is shown as it is (never an empty cell)."""
    from chatai.web.i18n import TEXTS

    return TEXTS.get(locale, TEXTS["en"]).get(f"stored_{field}_{value}", value)
