"""Telegram group chats: the assistant's switch (bots/group_chats.py has the policy)."""

from __future__ import annotations

EN: dict[str, str] = {
    "group_chats_answer": "Answer in Telegram group chats",
    "group_chats_help": "Off: the bot answers private chats only. On: in a group it answers only messages that "
                        "mention it (@name), reply to it or use a /command@name; other group messages are "
                        "ignored and cost nothing.",
}
RU: dict[str, str] = {
    "group_chats_answer": "Отвечать в групповых чатах Telegram",
    "group_chats_help": "Выключено: бот отвечает только в личных чатах. Включено: в группе он отвечает только на "
                        "сообщения, где его упомянули (@имя), ответили на его сообщение или написали "
                        "/команда@имя; остальные сообщения группы не обрабатываются и ничего не стоят.",
}
