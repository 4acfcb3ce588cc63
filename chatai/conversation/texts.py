"""What the pipeline itself says to a customer, in the customer's language (not dashboard UI: the end user
reads these in Telegram, the widget or the playground)."""

from __future__ import annotations

TEXTS = {
    "greeting": {
        "en": "Hello! I'm {name}. Ask me a question and I'll answer from our documentation.",
        "ru": "Здравствуйте! Я {name}. Задайте вопрос — я отвечу по нашей документации.",
    },
    "text_only": {
        "en": "Sorry, I can only read text messages. Please type your question.",
        "ru": "Извините, я понимаю только текстовые сообщения. Пожалуйста, напишите вопрос текстом.",
    },
    "fallback": {
        "en": "Sorry, I can't answer right now. Please try again in a minute.",
        "ru": "Извините, сейчас я не могу ответить. Пожалуйста, попробуйте через минуту.",
    },
    "unavailable": {
        "en": "This assistant is not available right now.",
        "ru": "Этот помощник сейчас недоступен.",
    },
}


def user_language(code: str | None) -> str:
    """A client's language code ('ru', 'ru-RU', 'en-GB', None) -> the languages we speak."""
    return "ru" if (code or "").lower().startswith("ru") else "en"


def text_for(key: str, language: str, **fmt: str) -> str:
    return TEXTS[key][language if language in TEXTS[key] else "en"].format(**fmt)
