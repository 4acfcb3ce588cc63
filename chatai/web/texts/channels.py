"""Channels (where a conversation happens) and the playground's conversation controls."""

from __future__ import annotations

EN: dict[str, str] = {
    "channel_telegram": "Telegram bot",
    "channel_web": "Website",
    "channel_playground": "Playground",
    "channel_business": "Telegram Business",
    "channel_filter": "Channel",
    "channel_all": "All channels",
    "playground_new": "New conversation",
    "playground_kept": "This conversation is kept: it is in the inbox too, and it is never charged.",
    "playground_waiting": "The conversation waits for a person: answer it from the inbox, or release it there.",
    "analytics_by_channel": "By channel",
    "analytics_channel_messages": "Messages",
    "analytics_channel_dialogs": "Conversations",
}

RU: dict[str, str] = {
    "channel_telegram": "Бот в Telegram",
    "channel_web": "Сайт",
    "channel_playground": "Песочница",
    "channel_business": "Аккаунт Telegram Business",
    "channel_filter": "Канал",
    "channel_all": "Все каналы",
    "playground_new": "Новый разговор",
    "playground_kept": "Этот разговор сохраняется: он есть и во входящих, и он никогда не оплачивается.",
    "playground_waiting": "Разговор ждёт сотрудника: ответьте во входящих или верните его ассистенту там.",
    "analytics_by_channel": "По каналам",
    "analytics_channel_messages": "Сообщения",
    "analytics_channel_dialogs": "Разговоры",
}
