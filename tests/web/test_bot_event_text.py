"""Every sentence the bot runner and the services store in English about a bot (its last error, its event
log) reads in Russian on a Russian page, values included; an unknown sentence stays as it is."""

import re
import string

from chatai.bots import bot_sentences
from chatai.services import admin, bots
from chatai.web.texts.bot_events import bot_event_text


def _stored_sentences() -> list[str]:
    constants = [bot_sentences.REVOKED, bot_sentences.CONFLICT, bot_sentences.TELEGRAM_UNREACHABLE,
                 bot_sentences.DATABASE_UNREACHABLE, bot_sentences.INTERNAL_ERROR, bot_sentences.STORE_RETRYING,
                 bot_sentences.RECOVERED, bot_sentences.STORE_SKIPPED, bot_sentences.ANSWER_SKIPPED]
    constants += [message for _kind, message in bots._EVENTS.values()]
    constants += [action[-1] for action in admin._BOT_ACTIONS.values()]
    # As stored: placeholders filled with numbers.
    return [template.format(**{name: 7 + i for i, (_, name, _, _) in enumerate(string.Formatter().parse(template))
                               if name}) for template in constants]


def test_every_stored_bot_sentence_reads_in_russian_with_its_values():
    for english in _stored_sentences():
        russian = bot_event_text("ru", english)
        assert russian != english and re.search("[а-яё]", russian), english
        assert re.findall(r"\d+", russian) == re.findall(r"\d+", english) or "401" in english or "409" in english
        assert bot_event_text("en", english) == english


def test_skipped_message_reads_naturally():
    skipped = bot_sentences.ANSWER_SKIPPED.format(update_id=42, n=3)
    assert bot_event_text("ru", skipped) == "Сообщение 42 пропущено: на него не удалось ответить (попыток: 3)."
    assert bot_event_text("ru", "Paused by the owner.") == "Приостановлен владельцем."


def test_an_unknown_sentence_is_shown_as_stored():
    assert bot_event_text("ru", "Something new happened.") == "Something new happened."
