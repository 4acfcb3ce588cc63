"""The inbox tools a support team expects (issue 23): internal notes in a transcript, labels on dialogs,
canned replies, the customer card and who is typing or holds a dialog.

Services only (no Reflex, no Telegram): every function takes the business (`owner_id`) and touches only
that business's rows, refusing anything else with `ToolsError("not_found")` so a caller never learns
whose a foreign id is. The web adapter is chatai/web/state/inbox_tools.py.
"""

from __future__ import annotations


class ToolsError(ValueError):
    """A refusal with a stable code (the web layer turns it into a sentence: chatai/web/texts/inbox_tools.py)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
