"""Handoff: why an operator's message (or a handoff notice) was not delivered, shown on that message."""

from __future__ import annotations

EN: dict[str, str] = {
    "handoff_delivery_blocked": "The customer blocked the bot or deleted the chat, so Telegram refused the message.",
    "handoff_delivery_bot_stopped": "The bot is stopped or disconnected, so the message could not be sent.",
    "handoff_delivery_too_late": "The bot could not reach Telegram for two minutes, so the message was not sent. "
                                 "Check the bot's status and send it again.",
}
RU: dict[str, str] = {
    "handoff_delivery_blocked": "Клиент заблокировал бота или удалил чат, поэтому Telegram не принял сообщение.",
    "handoff_delivery_bot_stopped": "Бот остановлен или отключён, поэтому сообщение не отправлено.",
    "handoff_delivery_too_late": "Бот две минуты не мог связаться с Telegram, поэтому сообщение не отправлено. "
                                 "Проверьте состояние бота и отправьте его снова.",
}
