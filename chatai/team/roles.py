"""Who may do what in a business: the one table every page and handler asks (through
chatai/web/state/access.py). Pure data, no I/O, so the rules read in one screen and tests walk them.

operator: the inbox (notes, labels on a dialog, saved replies, the customer card, assignment), analytics, the
          knowledge base read-only and the playground; not the business's label set or saved replies, the
          website widget, nor who of the team gets alerts in Telegram.
manager:  everything but billing, the team and deleting the account.
owner:    everything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

ROLES = ("owner", "manager", "operator")

INBOX = "inbox"
ANALYTICS = "analytics"
KB_READ = "kb_read"
KB_WRITE = "kb_write"
ASSISTANTS = "assistants"
BOTS = "bots"
BILLING = "billing"
TEAM = "team"
INBOX_SETUP = "inbox_setup"  # the business's label set and saved replies (operators use them, managers keep them)
WIDGET = "widget"  # the website widget's settings: allowed sites, appearance
OPERATOR_ALERTS = "operator_alerts"  # linking people's Telegram accounts for alerts and replies (operator chat)

CAPABILITIES: dict[str, frozenset[str]] = {
    INBOX: frozenset(ROLES),
    ANALYTICS: frozenset(ROLES),
    KB_READ: frozenset(ROLES),
    KB_WRITE: frozenset({"owner", "manager"}),
    ASSISTANTS: frozenset({"owner", "manager"}),
    BOTS: frozenset({"owner", "manager"}),
    BILLING: frozenset({"owner"}),
    TEAM: frozenset({"owner"}),
    INBOX_SETUP: frozenset({"owner", "manager"}),
    WIDGET: frozenset({"owner", "manager"}),
    OPERATOR_ALERTS: frozenset({"owner", "manager"}),
}


def allowed(role: str, capability: str) -> bool:
    return role in CAPABILITIES.get(capability, frozenset())


@dataclass(frozen=True)
class Access:
    """Who is asking, for which business, with which role: what every dashboard handler works with."""

    user_id: uuid.UUID
    email: str
    business_id: uuid.UUID
    role: str  # owner | manager | operator
    time_zone: str = "UTC"  # the person's own clock for times shown to them (their time zone card)

    def can(self, capability: str) -> bool:
        return allowed(self.role, capability)

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"
