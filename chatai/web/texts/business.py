"""Telegram Business: the connections on the bots page, and the inbox's notes of business chats."""

from __future__ import annotations

EN: dict[str, str] = {
    "business_title": "Telegram Business",
    "business_help": "Connect this bot in Telegram: Settings → Telegram Business → Chatbots. The assistant then "
                     "answers customers in your own chats; write in a chat yourself to take it over.",
    "business_account": "Account",
    "business_may_reply": "May reply",
    "business_may_not_reply": "May not reply",
    "business_chats": "Chats: as chosen in Telegram's Business settings (all, or the ones you selected).",
    "business_state_answering": "Answering",
    "business_state_cannot_reply": "Reading only: Telegram does not allow replies",
    "business_state_disabled": "Turned off in Telegram",
    "business_state_revoked": "Revoked: Telegram no longer accepts this connection",
    "inbox_event_business_owner_wrote": "You wrote in this chat from your Telegram account: the assistant is "
                                        "silent until you release it or the handoff timeout passes.",
    "inbox_event_business_edited": "The customer edited a message in Telegram.",
    "inbox_event_business_deleted": "The customer deleted a message in Telegram.",
}
RU: dict[str, str] = {
    "business_title": "Telegram для бизнеса",
    "business_help": "Подключите этого бота в Telegram: Настройки → Telegram для бизнеса → Чат-боты. Тогда "
                     "ассистент отвечает клиентам в ваших личных чатах; напишите в чат сами, чтобы перехватить его.",
    "business_account": "Аккаунт",
    "business_may_reply": "Может отвечать",
    "business_may_not_reply": "Не может отвечать",
    "business_chats": "Чаты: как выбрано в настройках Telegram для бизнеса (все или выбранные вами).",
    "business_state_answering": "Отвечает",
    "business_state_cannot_reply": "Только чтение: Telegram не разрешает отвечать",
    "business_state_disabled": "Выключен в Telegram",
    "business_state_revoked": "Отозван: Telegram больше не принимает это подключение",
    "inbox_event_business_owner_wrote": "Вы написали в этот чат из своего аккаунта Telegram: ассистент молчит, "
                                        "пока вы не вернёте диалог или не истечёт время ожидания оператора.",
    "inbox_event_business_edited": "Клиент изменил сообщение в Telegram.",
    "inbox_event_business_deleted": "Клиент удалил сообщение в Telegram.",
}
