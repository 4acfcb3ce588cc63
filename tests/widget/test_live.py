"""The visitor's live stream: a take-over, an operator's reply from the inbox (with the operator's name) and
the release notice reach an open panel through Redis, in the visitor's language."""

import uuid

from chatai.db.models import Dialog, User
from chatai.db.session import async_session
from chatai.services import handoff
from tests.widget.conftest import enable_widget, open_stream, start_session, started_conversation


async def _visitor(client, tenant, lang="en"):
    return await started_conversation(client, tenant.assistant_id, lang=lang)


async def test_take_over_operator_reply_and_release_reach_the_open_panel(tenant, client):
    await enable_widget(tenant, operator_name="Anna")
    visitor = await _visitor(client, tenant)
    dialog_id = uuid.UUID(visitor["dialog"])
    path = f"/widget/api/{tenant.assistant_id}/events?dialog={dialog_id}&after={visitor['cursor']}"
    async with open_stream("GET", path, token=visitor["token"]) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["x-accel-buffering"] == "no"
        await stream.next_event("ready")

        async with async_session() as session:
            await handoff.take_over(session, owner_id=tenant.owner_id, dialog_id=dialog_id,
                                    operator_id=tenant.owner_id)
        _, joined = await stream.next_event("message")
        assert joined["text"] == "Anna joined the chat."
        async with async_session() as session:
            await handoff.send_operator_message(session, owner_id=tenant.owner_id, dialog_id=dialog_id,
                                                operator_id=tenant.owner_id, text="Hello, **I can help**.")
        _, reply = await stream.next_event("message")
        assert (reply["role"], reply["name"], reply["text"]) == ("operator", "Anna", "Hello, **I can help**.")

        async with async_session() as session:
            await handoff.release(session, owner_id=tenant.owner_id, dialog_id=dialog_id, operator_id=tenant.owner_id)
        _, released = await stream.next_event("message")
        assert released["text"] == "You're back with the AI assistant: I'll answer your questions from here."
        assert (await stream.next_event("status"))[1] == {"status": "ai"}


async def test_a_reconnecting_panel_gets_only_what_it_missed_in_russian(tenant, client):
    visitor = await _visitor(client, tenant, lang="ru")
    dialog_id = uuid.UUID(visitor["dialog"])
    async with async_session() as session:
        await handoff.take_over(session, owner_id=tenant.owner_id, dialog_id=dialog_id, operator_id=tenant.owner_id)
        await handoff.send_operator_message(session, owner_id=tenant.owner_id, dialog_id=dialog_id,
                                            operator_id=tenant.owner_id, text="Первый ответ")
    # A reload: the conversation so far comes with the session, and its cursor.
    reloaded = (await start_session(client, tenant.assistant_id, token=visitor["token"], lang="ru")).json()
    async with async_session() as session:
        email = (await session.get(User, tenant.owner_id)).email
    assert [m["text"] for m in reloaded["messages"]] == ["Hello", f"{email.split('@')[0]} подключился к чату.",
                                                          "Первый ответ"]  # no operator name set: the e-mail's
    async with async_session() as session:
        await handoff.send_operator_message(session, owner_id=tenant.owner_id, dialog_id=dialog_id,
                                            operator_id=tenant.owner_id, text="Второй ответ")
    path = f"/widget/api/{tenant.assistant_id}/events?lang=ru&dialog={dialog_id}&after={reloaded['cursor']}"
    async with open_stream("GET", path, token=visitor["token"]) as stream:
        await stream.next_event("ready")
        _, missed = await stream.next_event("message")
        assert missed["text"] == "Второй ответ"
    async with async_session() as session:
        assert (await session.get(Dialog, dialog_id)).channel == "web"


async def test_a_handoff_timeout_reaches_the_panel_as_a_notice(tenant, client):
    """Web dialogs have no bot: every runner's timeout sweep covers them (dialogs of no bot), and the notice
    reaches the open panel like the release one."""
    from datetime import timedelta

    from chatai.db.models import utcnow

    visitor = await _visitor(client, tenant)
    dialog_id = uuid.UUID(visitor["dialog"])
    async with async_session() as session:
        await handoff.take_over(session, owner_id=tenant.owner_id, dialog_id=dialog_id, operator_id=tenant.owner_id)
    later = utcnow() + timedelta(hours=2)
    path = f"/widget/api/{tenant.assistant_id}/events?dialog={dialog_id}&after={visitor['cursor']}"
    async with open_stream("GET", path, token=visitor["token"]) as stream:
        await stream.next_event("ready")
        await stream.next_event("message")  # joined
        async with async_session() as session:
            assert dialog_id in await handoff.due_timeouts(session, bot_ids=[], now=later)
            assert await handoff.time_out(session, dialog_id=dialog_id, now=later)
        _, notice = await stream.next_event("message")
        assert notice["role"] == "system" and notice["text"].startswith("Sorry, no one is free to answer right now.")
        assert (await stream.next_event("status"))[1] == {"status": "ai"}
