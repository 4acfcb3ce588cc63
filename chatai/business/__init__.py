"""Telegram Business (issue 22 part 2): the assistant answers customers in the owner's own Telegram account.

models.py: the connections Telegram reports; store.py: what a business update does to the database
(connections, the customer's messages, the owner's own messages as a takeover, edits and deletions);
the channel itself (how a reply reaches a business chat) is chatai/bots/business.py.
"""
