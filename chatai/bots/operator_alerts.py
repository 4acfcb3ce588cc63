"""The runner's loop of the operator chat (issue 22 part 1): alerts and the customer's words, pushed to
operators' Telegram chats as the dialogs change.

It listens to the inbox's live events (services/dialogs.DIALOG_EVENTS_CHANNEL, the same Redis events the
dashboard gets), so whatever moved a dialog (a customer asking for a person, the AI not knowing, a zero
balance, the dashboard) reaches Telegram too:
- a dialog starts 'waiting': after ALERT_GATHER seconds (to gather a burst) every operator of the owner
  linked through a bot this runner runs gets the dialogs that started waiting since its last alert: one
  alert each with the buttons, or one summary when there are more than SUMMARY_OVER, or when the operator
  already got MAX_ALERTS_PER_MINUTE alerts. The owner's notification setting ("a dialog is waiting for a
  person") and quiet hours are respected: what falls in them is skipped, not sent later;
- a customer's message in a dialog a Telegram operator holds: forwarded to the holder's chat (a reply to it
  answers the customer);
- a held dialog going back to the AI from elsewhere (dashboard, timeout): the holder is told.
Each runner sends only through the bots it runs (and only while it holds their leases), so exactly one
runner alerts each operator. Nothing is lost: a message Telegram did not take (network, 5xx, 429) leaves its
cursor (alerted_until, forwarded_until) where it was and is sent by a later round, after a backoff that obeys
retry_after, up to MAX_SEND_ATTEMPTS rounds (then given up, with an event in the bot's log); what went out is
never sent again (the alerts sent are remembered per dialog). A 403 (the operator blocked the bot) unlinks
the operator with an event for the owner. A sweep every few seconds finds what no live event brought (rounds
due for a retry, a runner that died, stored operator updates nobody handled: operator_updates.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from datetime import timedelta
from typing import TYPE_CHECKING

from chatai.bots import operator_chat, operator_updates
from chatai.bots.contracts import LeaseLost
from chatai.bots.logsafe import describe
from chatai.bots.operator_chat import CALLBACK_RELEASE, CALLBACK_TAKE, inbox_link, refused_logged, say, send
from chatai.cache import get_redis
from chatai.cancellation import cancel_and_wait
from chatai.db.models import utcnow
from chatai.services import bot_events, notifications, operator_holds, operator_links
from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL

if TYPE_CHECKING:
    from chatai.bots.contracts import Runner, Worker
    from chatai.db.operator_models import TelegramOperator

log = logging.getLogger(__name__)

ALERT_GATHER = 1.0
SUMMARY_OVER = 3
MAX_ALERTS_PER_MINUTE = 6
HELD_REFRESH = 30.0
MAX_SEND_ATTEMPTS = 6  # rounds of one alert (or forwarded message) that Telegram did not take, then given up
MAX_BACKOFF = 60.0  # seconds between two rounds at most (a longer retry_after is obeyed as it is)
MIN_SWEEP_INTERVAL = 0.2
# Sentences of the bot's event log (stored in English, shown in the owner's language: texts/bot_events.py).
OPERATOR_BLOCKED = ("Operator {who} blocked the bot in Telegram, so the account was unlinked and gets no more "
                    "alerts. A new link from the dashboard adds it again.")
ALERTS_GIVEN_UP = ("Telegram did not take the alerts for operator {who} after {n} attempts; they were given up. "
                   "The waiting dialogs are in the inbox.")


class OperatorAlerts:
    def __init__(self, runner: Runner, *, gather: float = ALERT_GATHER) -> None:
        self.runner = runner
        self.gather = gather
        self._due: set[uuid.UUID] = set()  # owners whose alerts are being gathered
        self._held: set[uuid.UUID] = set()  # dialogs a Telegram operator holds (refreshed; events keep it current)
        self._held_loaded = 0.0
        self._forwarding: dict[uuid.UUID, bool] = {}  # dialog -> asked again while forwarding
        self._sent: dict[uuid.UUID, deque[float]] = {}  # operator -> when its last alerts went out
        self._owner_locks: dict[uuid.UUID, asyncio.Lock] = {}  # one alert round per owner at a time
        # operator -> (failed rounds in a row, monotonic time before which no round is tried): backoff
        self._retry: dict[uuid.UUID, tuple[int, float]] = {}
        self._forward_failures: dict[uuid.UUID, int] = {}  # dialog -> forwarding rounds failed in a row
        self._tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        self._spawn(self._sweep_loop())
        try:
            await self._listen()
        finally:
            await cancel_and_wait(self._tasks, what="operator alerts")

    def _spawn(self, coro) -> None:  # noqa: ANN001
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _listen(self) -> None:
        while True:
            pubsub = get_redis().pubsub()
            try:
                await pubsub.subscribe(DIALOG_EVENTS_CHANNEL, operator_links.OPERATORS_CHANNEL,
                                       operator_updates.OPERATOR_UPDATES_CHANNEL)
                await self._refresh_held()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        event = json.loads(message["data"])
                        channel = message.get("channel")
                        channel = channel.decode() if isinstance(channel, bytes) else channel
                        if channel == operator_links.OPERATORS_CHANNEL:
                            operator_chat.forget_operators(uuid.UUID(event["bot_id"]))
                        elif channel == operator_updates.OPERATOR_UPDATES_CHANNEL:  # webhook mode: stored
                            self._spawn(operator_updates.on_nudge(self.runner, event))
                        else:
                            await self._on_event(event)
                    except (ValueError, KeyError, TypeError):
                        continue
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - resubscribe; alerts in between are covered by the next one
                log.warning("operator chat lost the live events; resubscribing", exc_info=True)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _on_event(self, event: dict[str, str]) -> None:
        dialog_id = uuid.UUID(event["dialog_id"])
        if event.get("type") == "status":
            status = event.get("status")
            if status == "waiting":
                self.alert_soon(uuid.UUID(event["owner_id"]))
            elif status == "human":
                self._held.add(dialog_id)  # maybe by Telegram: forwarding checks the hold itself
            elif dialog_id in self._held:
                self._held.discard(dialog_id)
                self._spawn(self._released_elsewhere(dialog_id))
        elif event.get("type") == "message" and event.get("role") == "user":
            if time.monotonic() - self._held_loaded > HELD_REFRESH:
                await self._refresh_held()
            if dialog_id in self._held:
                self.forward_soon(dialog_id)

    async def _refresh_held(self) -> None:
        import sqlalchemy as sa

        from chatai.db.operator_models import OperatorHold

        async with self.runner.session() as session:
            self._held = set((await session.execute(sa.select(OperatorHold.dialog_id))).scalars())
        self._held_loaded = time.monotonic()

    # --- the safety net: what no event or nudge brought ----------------------------------------------------

    async def _sweep_loop(self) -> None:
        interval = max(MIN_SWEEP_INTERVAL, self.runner.reconcile_interval)
        while True:
            await asyncio.sleep(interval)
            try:
                await operator_updates.sweep(self.runner)
                await self.sweep_owed_alerts()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                log.warning("operator chat sweep failed: %s", describe(exc))

    async def sweep_owed_alerts(self) -> None:
        """Alert rounds for owners whose operators miss an alert (a failed send due for its retry, a runner
        that died before sending; dialogs still inside the gathering window are left to their round), and
        forwards for holders who miss a customer's message."""
        workers = self.runner.running_workers()
        if not workers:
            return
        before = utcnow() - timedelta(seconds=2 * self.gather)
        async with self.runner.session() as session:
            owners = await operator_holds.owners_owing_alerts(session, bot_ids=list(workers), before=before)
        for owner_id in owners:
            self.alert_soon(owner_id)
        async with self.runner.session() as session:
            unforwarded = await operator_holds.dialogs_owing_forwards(session, bot_ids=list(workers))
        for dialog_id in unforwarded:
            if dialog_id not in self._forward_failures:  # one being retried keeps its own backoff
                self.forward_soon(dialog_id)

    # --- alerts ------------------------------------------------------------------------------------------

    def alert_soon(self, owner_id: uuid.UUID) -> None:
        if owner_id in self._due:
            return  # already gathering this owner's burst
        self._due.add(owner_id)
        self._spawn(self._alert_later(owner_id))

    async def _alert_later(self, owner_id: uuid.UUID) -> None:
        try:
            await asyncio.sleep(self.gather)
        finally:
            self._due.discard(owner_id)
        try:
            lock = self._owner_locks.setdefault(owner_id, asyncio.Lock())
            async with lock:  # a round still sending (paced per chat) must not be repeated by the next one
                await self.alert(owner_id)
            if not lock.locked():
                self._owner_locks.pop(owner_id, None)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - alerts are at most once: the inbox (and its mail) still shows them
            log.warning("operator alerts for an owner failed", exc_info=True)

    async def alert(self, owner_id: uuid.UUID) -> int:
        """Alert this runner's operators of the owner about what started waiting since their last alert;
        returns the number of messages sent."""
        workers = self.runner.running_workers()
        if not workers:
            return 0
        async with self.runner.session() as session:
            operators = await operator_holds.operators_of_owner(session, owner_id=owner_id, bot_ids=list(workers))
            if not operators:
                return 0
            wanted = (await notifications.get_preferences(session, user_id=owner_id)).handoff_waiting
            quiet = await operator_links.get_quiet_hours(session, owner_id=owner_id)
        now = utcnow()
        if not wanted or quiet.active(now):
            async with self.runner.session() as session:
                for operator in operators:  # skipped, not postponed: a pile at 7:00 helps nobody
                    await operator_holds.set_alerted_until(session, operator_id=operator.id, until=now)
            return 0
        locale = await operator_chat.owner_locale(workers[operators[0].bot_id], owner_id)
        sent = 0
        for operator in operators:
            sent += await self._alert_operator(workers[operator.bot_id], operator, locale)
        return sent

    async def _alert_operator(self, worker: Worker, operator: TelegramOperator, locale: str) -> int:
        """Send the operator what they were not alerted about; the cursor (alerted_until) moves only once
        all of it went out or was given up, so a failed alert is sent by a later round (after a backoff that
        obeys retry_after: the sweep) and one that went out is never sent again (alerted_already)."""
        retry = self._retry.get(operator.id)
        if retry is not None and time.monotonic() < retry[1]:
            return 0  # backing off: the sweep brings the round back when it is due
        async with self.runner.session() as session:
            waiting = await operator_holds.waiting_since(session, owner_id=operator.owner_id,
                                                         since=operator.alerted_until)
            done = await operator_holds.alerted_already(session, operator_id=operator.id, waiting=waiting)
        if not waiting:
            return 0
        owed = [dialog for dialog in waiting if dialog.id not in done]
        recent = self._sent.setdefault(operator.id, deque())
        while recent and time.monotonic() - recent[0] > 60:
            recent.popleft()
        sent = 0
        try:
            if len(owed) > SUMMARY_OVER or (owed and len(recent) + len(owed) > MAX_ALERTS_PER_MINUTE):
                keyboard = [[{"text": say(locale, "opchat_open"), "url": inbox_link()}]]
                with refused_logged(worker):
                    summary = say(locale, "opchat_summary", n=len(owed))
                    await operator_chat.deliver(worker, operator.chat_id, summary, keyboard)
                    sent = 1
            else:
                for dialog in owed:
                    with refused_logged(worker):
                        message_id = await operator_chat.deliver(worker, operator.chat_id,
                                                                 _alert_text(locale, dialog),
                                                                 _buttons(locale, dialog.id))
                        sent += 1
                        async with self.runner.session() as session:
                            await operator_holds.remember_chat_message(
                                session, operator_id=operator.id, telegram_message_id=message_id,
                                dialog_id=dialog.id)
        except LeaseLost:
            return sent  # the cursor stays: the runner holding the bot now sends the rest
        except operator_chat.OperatorBlocked:
            await self._unlink_blocked(worker, operator)
            return sent
        except operator_chat.SendLater as exc:
            if not await self._failed_round(worker, operator, exc.retry_after):
                return sent
        finally:
            recent.extend([time.monotonic()] * sent)
        self._retry.pop(operator.id, None)
        async with self.runner.session() as session:
            await operator_holds.set_alerted_until(session, operator_id=operator.id, until=waiting[-1].handoff_at)
        return sent

    async def _failed_round(self, worker: Worker, operator: TelegramOperator, retry_after: float) -> bool:
        """Count a round Telegram did not take and schedule the next one; True when it is given up."""
        failures = self._retry.get(operator.id, (0, 0.0))[0] + 1
        if failures >= MAX_SEND_ATTEMPTS:
            self._retry.pop(operator.id, None)
            log.warning("bot %s: alerts for an operator given up after %d rounds", worker.id, failures)
            await self._event(worker, "operator_alert_failed", ALERTS_GIVEN_UP.format(who=_name(operator),
                                                                                     n=failures))
            return True
        delay = self._backoff(failures, retry_after)
        self._retry[operator.id] = (failures, time.monotonic() + delay)
        log.info("bot %s: an operator alert is retried in %.1f s (round %d)", worker.id, delay, failures)
        return False

    def _backoff(self, failures: int, retry_after: float) -> float:
        """Seconds before the next round after `failures` failed ones in a row: doubling up to MAX_BACKOFF, never
        sooner than Telegram's retry_after."""
        return max(retry_after, min(MAX_BACKOFF, self.runner.backoff_base * 2 ** (failures - 1)))

    async def _unlink_blocked(self, worker: Worker, operator: TelegramOperator) -> None:
        """403: the operator blocked the bot. Retrying cannot help: unlink the account and tell the owner."""
        self._retry.pop(operator.id, None)
        try:
            async with self.runner.session() as session:
                await operator_links.unlink(session, owner_id=operator.owner_id, operator_id=operator.id)
        except operator_links.OperatorLinkError:
            return  # unlinked meanwhile (by the owner, or by another round)
        operator_chat.forget_operators(worker.id)
        log.info("bot %s: an operator blocked the bot and was unlinked", worker.id)
        await self._event(worker, "operator_unlinked", OPERATOR_BLOCKED.format(who=_name(operator)))

    async def _event(self, worker: Worker, kind: str, message: str) -> None:
        try:
            async with self.runner.db() as conn:
                await bot_events.record(conn, bot_id=worker.id, owner_id=worker.record.owner_id, kind=kind,
                                        message=message)
        except Exception as exc:  # noqa: BLE001 - the log line above stays
            log.warning("bot %s: %s event not recorded: %s", worker.id, kind, describe(exc))

    # --- the customer's messages to the holder ------------------------------------------------------------------

    def forward_soon(self, dialog_id: uuid.UUID) -> None:
        if dialog_id in self._forwarding:
            self._forwarding[dialog_id] = True  # the running forward looks once more
            return
        self._forwarding[dialog_id] = False
        self._spawn(self._forward(dialog_id))

    async def _forward(self, dialog_id: uuid.UUID) -> None:
        try:
            while True:
                self._forwarding[dialog_id] = False
                await self.forward(dialog_id)
                if not self._forwarding.get(dialog_id):
                    return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the next message forwards what is left
            log.warning("customer messages not forwarded to the operator", exc_info=True)
        finally:
            self._forwarding.pop(dialog_id, None)

    async def forward(self, dialog_id: uuid.UUID) -> int:
        """Send the holder the customer's messages it has not seen (only through a bot run here)."""
        async with self.runner.session() as session:
            pending = await operator_holds.to_forward(session, dialog_id=dialog_id)
        if pending is None or not pending.messages:
            return 0
        worker = self.runner.running_workers().get(pending.operator.bot_id)
        if worker is None:
            return 0
        locale = await operator_chat.owner_locale(worker, pending.operator.owner_id)
        customer = pending.user_name or say(locale, "opchat_customer")
        sent = 0
        for _message_id, text, created_at in pending.messages:
            try:
                with refused_logged(worker):  # refused as it is: that one is passed over
                    telegram_id = await operator_chat.deliver(
                        worker, pending.operator.chat_id, say(locale, "opchat_forward", customer=customer, text=text))
                    sent += 1
                    async with self.runner.session() as session:
                        await operator_holds.remember_chat_message(session, operator_id=pending.operator.id,
                                                                   telegram_message_id=telegram_id,
                                                                   dialog_id=dialog_id)
            except operator_chat.OperatorBlocked:
                await self._unlink_blocked(worker, pending.operator)
                return sent
            except operator_chat.SendLater as exc:
                failures = self._forward_failures[dialog_id] = self._forward_failures.get(dialog_id, 0) + 1
                if failures < MAX_SEND_ATTEMPTS:  # the cursor stays: the next round sends it
                    delay = self._backoff(failures, exc.retry_after)
                    self._spawn(self._forward_after(dialog_id, delay))
                    return sent
                log.warning("bot %s: a customer message not forwarded after %d rounds", worker.id, failures)
            self._forward_failures.pop(dialog_id, None)
            async with self.runner.session() as session:
                await operator_holds.set_forwarded_until(session, dialog_id=dialog_id, until=created_at)
        return sent

    async def _forward_after(self, dialog_id: uuid.UUID, delay: float) -> None:
        await asyncio.sleep(delay)
        self.forward_soon(dialog_id)

    async def _released_elsewhere(self, dialog_id: uuid.UUID) -> None:
        """A held dialog went back to the AI without its Telegram holder (dashboard, timeout): tell them."""
        import sqlalchemy as sa

        from chatai.db.models import Dialog, Message
        from chatai.db.operator_models import OperatorHold, TelegramOperator

        try:
            async with self.runner.session() as session:
                row = (await session.execute(
                    sa.select(TelegramOperator, Dialog.user_name)
                    .join(OperatorHold, OperatorHold.operator_id == TelegramOperator.id)
                    .join(Dialog, Dialog.id == OperatorHold.dialog_id)
                    .where(OperatorHold.dialog_id == dialog_id, Dialog.status != "human"))).first()
                session.expunge_all()  # plain values from here on (a rollback would expire them)
                await session.rollback()
            if row is None:
                return
            operator, user_name = row
            worker = self.runner.running_workers().get(operator.bot_id)
            if worker is None:
                return
            async with self.runner.session() as session:
                if not await operator_holds.drop_stale_holds(session, dialog_id=dialog_id):
                    return  # another runner's listener got there first
            async with self.runner.session() as session:  # why: the dashboard released it, or nobody answered
                last = await session.scalar(sa.select(Message.text).where(Message.dialog_id == dialog_id,
                                                                         Message.role == "system")
                                            .order_by(Message.created_at.desc()).limit(1))
            key = "opchat_timed_out" if last == "timed_out" else "opchat_released_elsewhere"
            locale = await operator_chat.owner_locale(worker, operator.owner_id)
            await send(worker, operator.chat_id, say(locale, key, customer=user_name or say(locale, "opchat_customer")))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - informational
            log.warning("operator not told about a release", exc_info=True)


def _name(operator: TelegramOperator) -> str:
    return operator.name or (f"@{operator.username}" if operator.username else str(operator.telegram_user_id))


def _alert_text(locale: str, dialog: operator_holds.WaitingDialog) -> str:
    customer = dialog.user_name or say(locale, "opchat_customer")
    lines = [say(locale, "opchat_alert", customer=customer, bot=dialog.bot_username or "-")]
    if dialog.recent:
        lines += ["", say(locale, "opchat_recent")]
        lines += [f"{say(locale, f'opchat_role_{role}')}: {text[:500]}" for role, text in dialog.recent]
    return "\n".join(lines)


def _buttons(locale: str, dialog_id: uuid.UUID) -> list[list[dict[str, str]]]:
    return [[{"text": say(locale, "opchat_take"), "callback_data": f"{CALLBACK_TAKE}{dialog_id}"},
             {"text": say(locale, "opchat_return"), "callback_data": f"{CALLBACK_RELEASE}{dialog_id}"}],
            [{"text": say(locale, "opchat_open"), "url": inbox_link(dialog_id)}]]


async def run(runner: Runner) -> None:
    """Started by the runner with its other loops (see the module docstring)."""
    await OperatorAlerts(runner, gather=getattr(runner, "operator_alert_gather", ALERT_GATHER)).run()
