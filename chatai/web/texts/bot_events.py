"""UI text of the bot event log (bots page): the button, the dialog, a label per event kind, and the Russian
of every sentence the runner and the services store in English (`bot_event_text`)."""

from __future__ import annotations

import re
from functools import lru_cache

from chatai.web.sentence_templates import template_pattern, translate

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
    "bot_events_kind_operator_unlinked": "Operator unlinked",
    "bot_events_kind_operator_alert_failed": "Alert not delivered",
}

# English sentences written by the bot runner and services (chatai/bots/bot_sentences.py, services/bots.py,
# services/admin.py) -> Russian, with the same {placeholders}. Missing one here leaves it in English.
RU_SENTENCES: dict[str, str] = {
    "A message could not be stored (attempt {n} of {limit}); retrying, then it will be skipped.":
        "Сообщение не удалось сохранить (попытка {n} из {limit}); пробуем снова, затем оно будет пропущено.",
    "The bot is running again.": "Бот снова работает.",
    "Message {update_id} could not be stored after {n} attempts and was skipped.":
        "Сообщение {update_id} пропущено: его не удалось сохранить (попыток: {n}).",
    "Message {update_id} could not be answered after {n} attempts and was skipped.":
        "Сообщение {update_id} пропущено: на него не удалось ответить (попыток: {n}).",
    "Paused by the owner.": "Приостановлен владельцем.",
    "Resumed by the owner.": "Возобновлён владельцем.",
    "The bot token was replaced; the bot restarts with it.": "Токен бота заменён; бот перезапускается с новым токеном.",
    "Paused by a platform administrator.": "Приостановлен администратором платформы.",
    "Resumed by a platform administrator.": "Возобновлён администратором платформы.",
    "Restarted by a platform administrator.": "Перезапущен администратором платформы.",
    # chatai/bots/operator_alerts.py
    "Operator {who} blocked the bot in Telegram, so the account was unlinked and gets no more alerts. A new link "
    "from the dashboard adds it again.":
        "Оператор {who} заблокировал бота в Telegram, поэтому аккаунт отвязан и больше не получает оповещений. "
        "Новая ссылка из панели управления снова подключит его.",
    "Telegram did not take the alerts for operator {who} after {n} attempts; they were given up. The waiting "
    "dialogs are in the inbox.":
        "Telegram не принял оповещения для оператора {who} после {n} попыток; они отменены. Ожидающие диалоги — "
        "во входящих.",
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
    "bot_events_kind_operator_unlinked": "Оператор отвязан",
    "bot_events_kind_operator_alert_failed": "Оповещение не доставлено",
}


@lru_cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    from chatai.bots import bot_sentences
    from chatai.web.texts import first_hour

    # The runner's error sentences (a bot card's last error) have their Russian among the bot card's texts.
    errors = {bot_sentences.REVOKED: "first_hour_bot_revoked", bot_sentences.CONFLICT: "first_hour_bot_conflict",
              bot_sentences.TELEGRAM_UNREACHABLE: "first_hour_bot_unreachable",
              bot_sentences.DATABASE_UNREACHABLE: "first_hour_bot_database",
              bot_sentences.INTERNAL_ERROR: "first_hour_bot_internal"}
    sentences = {**{english: first_hour.RU[key] for english, key in errors.items()}, **RU_SENTENCES}
    return [(template_pattern(english), russian) for english, russian in sentences.items()]


def bot_event_text(locale: str, message: str) -> str:
    """A bot's stored (English) last error or event sentence in the owner's language."""
    if locale == "en" or not message:
        return message
    return translate(message, _patterns())
