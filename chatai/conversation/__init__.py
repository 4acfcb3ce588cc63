"""One conversation pipeline for every channel (Telegram, the website widget, the dashboard playground,
Telegram Business).

The steps of answering a customer's message live here, once (pipeline.py): store (store.py and the
channel's own idempotent store), the handoff check, the charge (charging.py), generating (whole or
streamed), the "taken over meanwhile" check, delivery, settling the charge and the live event. A channel
(channel.py) supplies only how a reply reaches the customer, what counts as delivered, how "typing" shows,
and the customer's language and identity. No Reflex or Telegram import here: channels adapt to those.
"""
