"""UI text of the bot event log (bots page): the button, the dialog and a label per event kind."""

from __future__ import annotations

EN: dict[str, str] = {
    "bot_events_button": "Event log",
    "bot_events_title": "Event log",
    "bot_events_subtitle": "The last 200 events of this bot, newest first.",
    "bot_events_empty": "Nothing has happened to this bot yet.",
    "bot_events_close": "Close",
    "bot_events_kind_error": "Error",
    "bot_events_kind_recovered": "Recovered",
    "bot_events_kind_update_failed": "Message skipped",
    "bot_events_kind_paused": "Paused",
    "bot_events_kind_resumed": "Resumed",
    "bot_events_kind_token_replaced": "Token replaced",
}

RU: dict[str, str] = {
    "bot_events_button": "Журнал событий",
    "bot_events_title": "Журнал событий",
    "bot_events_subtitle": "Последние 200 событий этого бота, сначала новые.",
    "bot_events_empty": "С этим ботом пока ничего не происходило.",
    "bot_events_close": "Закрыть",
    "bot_events_kind_error": "Ошибка",
    "bot_events_kind_recovered": "Восстановлен",
    "bot_events_kind_update_failed": "Сообщение пропущено",
    "bot_events_kind_paused": "Приостановлен",
    "bot_events_kind_resumed": "Возобновлён",
    "bot_events_kind_token_replaced": "Токен заменён",
}
