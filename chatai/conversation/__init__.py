"""One conversation pipeline for every channel (Telegram, the website widget, the dashboard playground,
Telegram Business).

The steps of answering a customer's message live here, once (pipeline.py): store (store.py and the
channel's own idempotent store), the handoff check, the charge (charging.py), generating (whole or
streamed), the "taken over meanwhile" check, delivery, settling the charge and the live event. A channel
(channel.py) supplies only how a reply reaches the customer, what counts as delivered, how "typing" shows,
and the customer's language and identity. No Reflex or Telegram import here: channels adapt to those.

Plugging in a channel (the widget, say):
1. store: `store.open_dialog(session, owner_id=, assistant_id=, channel="web", ...)` once per visitor
   conversation, then `store.record_turn(...)` per message (deduplicate client message ids before it);
2. a class with the `channel.Channel` shape: `charge_key` (e.g. "web:<client message id>": the same key for a
   retried message), `stream` (SSE: push the text so far), `deliver` (the final reply; None when the
   visitor is gone for good), `delivered` / `dropped` (bookkeeping, may do nothing);
3. `Conversation(session=, db=, answer_fn=rag.answer.stream_answer, assistant=).respond(channel, turn,
   assistant_id=)` -> an `Outcome` (playground.conversation() builds one on the web process's pools).
Operator replies, release and timeout notices are stored by services/handoff.py and published on Redis
(dialogs.DIALOG_EVENTS_CHANNEL); a channel without a bot shows them from there. The charge of a channel
without Telegram updates is settled by the pipeline; the runners' sweep releases it only after 15 minutes
(services/charges.settle_stale). tests/conversation/test_channels.py runs one script through every channel.
"""
