"""What a bot's status and its event log say when something goes wrong or right again: sentences for the
owner (stored in English, shown translated by web/texts/bot_events.py), never exception text."""

REVOKED = ("Telegram rejected the token (401 Unauthorized): it was revoked or replaced in @BotFather. "
           "Paste the new token to restart the bot.")
CONFLICT = ("Another program is receiving this bot's updates (409 Conflict). Stop it, or disconnect the bot "
            "there; retrying.")
TELEGRAM_UNREACHABLE = "Cannot reach Telegram; retrying."
DATABASE_UNREACHABLE = "The database cannot be reached; retrying."
INTERNAL_ERROR = "An internal error interrupted the bot; retrying. The bot runner's log has the details."
STORE_RETRYING = "A message could not be stored (attempt {n} of {limit}); retrying, then it will be skipped."
RECOVERED = "The bot is running again."
STORE_SKIPPED = "Message {update_id} could not be stored after {n} attempts and was skipped."
ANSWER_SKIPPED = "Message {update_id} could not be answered after {n} attempts and was skipped."
