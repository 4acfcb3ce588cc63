"""A stored webhook update, carried from the web worker that stored it to the runner that answers it.

Why: in webhook mode the web worker persists the update (`dialogs.record_incoming`, which also reads the
dialog's recent history) and the owning runner answers. Telling the runner only "bot X owes answers" made it
read the same rows back (an ORM session, the pending query, a history query per update): twice the database
work of polling and most of the runner's CPU per answer. The command now carries what record_incoming
returned, so the runner answers exactly as after a poll. The database stays the truth: a lost command is
answered by the runner's sweep of 'received' updates, and a worker answers an update once whichever way it
came (BotWorker.take_delivered skips what is in flight or done). Customers' text crosses Redis pub/sub here
in passing (never stored there, never logged).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from chatai.services.dialogs import Pending


def encode(pending: Pending) -> dict[str, Any]:
    """A fresh update's Pending as JSON-ready values (no saved reply: that exists only for a recovered one)."""
    return {"update_id": pending.update_id, "dialog_id": str(pending.dialog_id), "owner_id": str(pending.owner_id),
            "chat_id": pending.chat_id, "kind": pending.kind, "text": pending.text, "language": pending.language,
            "telegram_message_id": pending.telegram_message_id, "received_at": pending.received_at.isoformat(),
            "history": [list(item) for item in pending.history], "channel": pending.channel,
            "business_connection_id": pending.business_connection_id}


def decode(bot_id: uuid.UUID, data: dict[str, Any]) -> Pending:
    """Raises ValueError, KeyError or TypeError on anything malformed (the caller falls back to the database)."""
    return Pending(bot_id=bot_id, update_id=int(data["update_id"]), dialog_id=uuid.UUID(data["dialog_id"]),
                   owner_id=uuid.UUID(data["owner_id"]), chat_id=int(data["chat_id"]), kind=str(data["kind"]),
                   text=str(data["text"]), language=str(data["language"]),
                   telegram_message_id=(int(data["telegram_message_id"])
                                        if data["telegram_message_id"] is not None else None),
                   received_at=datetime.fromisoformat(data["received_at"]),
                   history=[(str(role), str(text)) for role, text in data["history"]],
                   # a business chat is answered through the owner's account (bots/business.py)
                   channel=str(data.get("channel") or "telegram"),
                   business_connection_id=str(data.get("business_connection_id") or ""))
