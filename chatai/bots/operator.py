"""The runner's side of the handoff to a person (the rules live in services/handoff.py).

- Sends what people write to end users: operator replies and the notices of release and timeout, all
  stored 'pending' by the service. Only the runner owning the bot sends, through the bot's own rate
  limits (BotWorker.send_parts, its Throttle), in order per dialog. A nudge on Redis (DELIVERY_CHANNEL)
  sends at once; a sweep of 'pending' rows every few seconds is the safety net (a lost nudge, a restart).
- Times out handoffs: dialogs of this runner's bots waiting (or held by a silent operator) past their
  assistant's handoff timeout go back to the AI. The clock is in the database, so a restart loses nothing.
- Answers the questions a top-up handed back (services/topup_resume.py): claimed on a nudge
  (RESUME_CHANNEL) and by the sweep, then answered by the bot's worker like any owed update.
(Moving a dialog to 'waiting' when the customer asks for a person or the assistant does not know is the
conversation pipeline's step: chatai/conversation/pipeline.py.)

Started by the runner (one line in BotRunner.start); stopped with the runner's other loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import TYPE_CHECKING

from telegram.error import InvalidToken

from chatai.bots.contracts import LeaseLost
from chatai.bots.telegram_format import plain
from chatai.cache import get_redis
from chatai.services import handoff, handoff_delivery, topup_resume

if TYPE_CHECKING:
    from chatai.bots.contracts import Runner

log = logging.getLogger(__name__)

MIN_SWEEP_INTERVAL = 0.2


class OperatorDesk:
    """Delivery and timeouts for the bots of one runner."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._busy: set[uuid.UUID] = set()  # dialogs being delivered right now (one sender per dialog)
        self._again: set[uuid.UUID] = set()  # ...and asked for again meanwhile
        self._tasks: set[asyncio.Task] = set()

    @property
    def interval(self) -> float:
        return max(MIN_SWEEP_INTERVAL, self.runner.reconcile_interval)

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="operator-listen")
        try:
            while True:
                try:
                    await self.sweep()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the next sweep retries
                    log.warning("handoff sweep failed", exc_info=True)
                await asyncio.sleep(self.interval)
        finally:
            listener.cancel()
            for task in [listener, *self._tasks]:
                task.cancel()
            await asyncio.gather(listener, *self._tasks, return_exceptions=True)

    async def sweep(self) -> None:
        """Timeouts due, messages no runner will send, messages this runner owes."""
        bots = list(self.runner.running_workers())
        async with self.runner.session() as session:
            due = await handoff.due_timeouts(session, bot_ids=bots)
        for dialog_id in due:
            async with self.runner.session() as session:
                if await handoff.time_out(session, dialog_id=dialog_id):
                    log.info("handoff of dialog %s timed out: back to the AI", dialog_id)
        async with self.runner.session() as session:
            events = await handoff_delivery.fail_stranded(session)
        if events:
            await handoff.publish_events(events)
        if not bots:
            return
        async with self.runner.session() as session:
            owed = await handoff_delivery.pending_outgoing(session, bot_ids=bots)
        for dialog_id, bot_id in dict.fromkeys((o.dialog_id, o.bot_id) for o in owed):
            self.deliver_soon(bot_id, dialog_id)
        await self.answer_resumed(bots)

    async def answer_resumed(self, bot_ids: list[uuid.UUID]) -> None:
        """Claim the questions a top-up handed back to these bots and answer them (services/topup_resume.py);
        a claimed question is an ordinary owed update, so a failure here is retried by the recovery sweep."""
        async with self.runner.db() as conn:
            claimed = await topup_resume.claim(conn, bot_ids=bot_ids)
        for bot_id, update_ids in claimed.items():
            worker = self.runner.workers.get(bot_id)
            if worker is not None:
                log.info("bot %s: answering %d question(s) left waiting by a zero balance", bot_id, len(update_ids))
                await worker.answer_again(update_ids)

    def _answer_resumed_soon(self, bot_id: uuid.UUID) -> None:
        task = asyncio.create_task(self.answer_resumed([bot_id]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self) -> None:
        while True:
            pubsub = get_redis().pubsub()
            try:
                await pubsub.subscribe(handoff.DELIVERY_CHANNEL, topup_resume.RESUME_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    channel = message.get("channel")
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    resume = channel == topup_resume.RESUME_CHANNEL
                    try:
                        data = json.loads(message["data"])
                        bot_id = uuid.UUID(data["bot_id"])
                        dialog_id = None if resume else uuid.UUID(data["dialog_id"])
                    except (ValueError, KeyError, TypeError):
                        continue
                    if bot_id not in self.runner.workers:
                        continue
                    if dialog_id is None:
                        self._answer_resumed_soon(bot_id)
                    else:
                        self.deliver_soon(bot_id, dialog_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the sweep covers what is missed meanwhile
                log.warning("handoff delivery channel lost; resubscribing", exc_info=True)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def deliver_soon(self, bot_id: uuid.UUID, dialog_id: uuid.UUID) -> None:
        if dialog_id in self._busy:
            self._again.add(dialog_id)  # the running delivery looks once more before it ends
            return
        self._busy.add(dialog_id)
        task = asyncio.create_task(self._deliver_dialog(bot_id, dialog_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_dialog(self, bot_id: uuid.UUID, dialog_id: uuid.UUID) -> None:
        """Send the dialog's pending messages in order; stop at the first that must wait (the next sweep)."""
        try:
            while True:
                self._again.discard(dialog_id)
                async with self.runner.session() as session:
                    owed = await handoff_delivery.pending_outgoing(session, bot_ids=[bot_id], dialog_id=dialog_id)
                for item in owed:
                    if not await self._send(item):
                        return
                if dialog_id not in self._again:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - stays pending: the next sweep retries
            log.warning("delivery for dialog %s failed; retrying later", dialog_id, exc_info=True)
        finally:
            self._busy.discard(dialog_id)
            self._again.discard(dialog_id)

    async def _send(self, item: handoff_delivery.Outgoing) -> bool:
        """One message; True when it is settled (sent or failed for good), False to retry later."""
        worker = self.runner.workers.get(item.bot_id)
        if worker is None or (worker.status != "running" and not worker.failed):
            return False  # not here (any more), or starting: the owner's sweep or the deadline settles it
        telegram_message_id: int | None = None
        failure = "bot_stopped" if worker.failed else ""
        if not failure:
            try:
                telegram_message_id = await worker.send_parts(item.chat_id, plain(item.text),
                                                              business_connection_id=item.business_connection_id)
            except LeaseLost:
                return False
            except InvalidToken:
                failure = "bot_stopped"
            except Exception as exc:  # noqa: BLE001 - Telegram unreachable: retried until DELIVERY_DEADLINE
                log.warning("message %s not sent yet: %s", item.message_id, type(exc).__name__)
                return False
            if telegram_message_id is None and not failure:
                failure = "blocked"
        async with self.runner.session() as session:
            if failure:
                changed = await handoff_delivery.mark_failed(session, message_id=item.message_id,
                                                             dialog_id=item.dialog_id, reason=failure)
            else:
                await handoff_delivery.mark_sent(session, message_id=item.message_id,
                                        telegram_message_id=telegram_message_id or 0)
                changed = True
        if changed:
            await handoff.publish_events([handoff.message_event(
                dialog_id=item.dialog_id, owner_id=item.owner_id, role=item.role, message_id=item.message_id,
                delivery_status="failed" if failure else "sent")])
        return True


async def run(runner: Runner) -> None:
    """The runner's loop for handoffs (see the module docstring)."""
    await OperatorDesk(runner).run()
