"""A person who takes a dialog while its answer is produced keeps it: the AI's reply is saved, never sent.
Who holds the dialog is read by the statement saving the reply (one round trip fewer before every answer
is sent: issue 24's webhook reply overhead), and read on its own only for a reply saved before a crash."""

from __future__ import annotations

import sqlalchemy as sa

from chatai.conversation import playground
from chatai.db.models import Dialog
from chatai.db.session import async_session, get_async_engine
from chatai.services import dialogs
from tests.bots.conftest import FakeBrain
from tests.sql_statements import counted_statements


async def _set_status(dialog_id, status: str) -> None:
    async with async_session() as s:
        await s.execute(sa.update(Dialog).where(Dialog.id == dialog_id).values(status=status))
        await s.commit()


async def test_a_dialog_taken_while_the_answer_is_produced_gets_no_ai_reply(tenant):
    dialog_id, first = await playground.ask(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                            question="Hi", language="en", answer_fn=FakeBrain())
    assert first.status == "answered"
    brain = FakeBrain()

    async def taken_meanwhile(**kwargs):
        await _set_status(dialog_id, "human")  # an operator takes the dialog while the model writes
        return await brain(**kwargs)

    with counted_statements() as statements:
        _, outcome = await playground.ask(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                          question="Where is my order?", language="en", dialog_id=dialog_id,
                                          answer_fn=taken_meanwhile)
    assert outcome.status == "taken_over" and outcome.text == "Answer to: Where is my order?"
    assert len(brain.calls) == 1
    # the save read the holder; no separate read of the dialog's status followed it
    saves = [s for s in statements if "INSERT INTO messages" in s and "RETURNING (SELECT status FROM dialogs" in s]
    assert len(saves) == 1 and not [s for s in statements if s.lstrip().startswith("SELECT dialogs.status")]


async def test_saving_a_reply_sees_who_holds_the_dialog(tenant):
    dialog_id, _ = await playground.ask(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        question="Hi", language="en", answer_fn=FakeBrain())
    turn = dialogs.Pending(bot_id=None, update_id=None, dialog_id=dialog_id, owner_id=tenant.owner_id, chat_id=0,
                           kind="text", text="Hi", language="en", telegram_message_id=None,
                           received_at=None, history=[])
    seen = {}
    async with get_async_engine().connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for status in ("ai", "human", "waiting"):
            await _set_status(dialog_id, status)
            _reply_id, seen[status] = await dialogs.save_reply(conn, pending=turn, text=status,
                                                                             answered_by="llm")
    assert seen == {"ai": False, "human": True, "waiting": True}
