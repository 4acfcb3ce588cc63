"""The first hour of a business owner (issue 13): upload refusals, service errors as sentences, plain words
for the assistant settings, confirmations, the 404 page, tab titles, and the Russian for what was English.

Services raise errors with a stable code and an English message; the helpers below turn them into the
owner's language (the English message stays the English text: it is the most specific)."""

from __future__ import annotations

import re

from chatai.web.texts.ingest import document_error

EN: dict[str, str] = {
    # sizes and upload refusals
    "first_hour_mb": "MB",
    "first_hour_upload_too_large": "{name} is {size}, over the {limit} MB limit: it was not uploaded.",
    "first_hour_upload_unsupported_type": "This file type is not supported; upload PDF, DOCX, TXT, MD, HTML or CSV.",
    "first_hour_upload_too_large_server": "The file is over the upload limit.",
    "first_hour_upload_empty": "The file contains no text.",
    "first_hour_upload_corrupt": "The file is damaged or not what its extension says.",
    "first_hour_upload_encrypted": "The PDF is password-protected; remove the password and upload again.",
    "first_hour_upload_no_text_layer": "This looks like a scanned PDF with no text layer; upload one with "
                                       "selectable text, or a DOCX/TXT version.",
    "first_hour_upload_duplicate": "This file was already uploaded to this assistant.",
    "first_hour_upload_bad_name": "The file has no name.",
    # Q&A pairs
    "first_hour_err_qa_empty": "Write both a question and an answer.",
    "first_hour_err_qa_too_long": "The question or the answer is too long.",
    # assistant settings errors
    "first_hour_err_name": "Give the assistant a name of 1 to 120 characters.",
    "first_hour_err_temperature": "Creativity must be between 0 and 2.",
    "first_hour_err_top_k": "Passages per answer must be between 1 and 50.",
    "first_hour_err_threshold": "Thresholds must be between 0 and 1.",
    "first_hour_err_language": "Choose a language from the list.",
    "first_hour_err_certainty": "Choose how sure the assistant must be from the list.",
    "first_hour_err_handoff_timeout": "The hand-back time must be 1 to 1440 minutes.",
    "first_hour_err_number": "One of the numbers is not a number; check the advanced settings.",
    # bot errors (connect, replace token) and a bot's last error
    "first_hour_bot_bad_format": "This does not look like a bot token. Copy the whole token from @BotFather.",
    "first_hour_bot_invalid_token": "Telegram rejected this token. Copy it again from @BotFather.",
    "first_hour_bot_telegram_unreachable": "Cannot reach Telegram right now. Try again in a minute.",
    "first_hour_bot_telegram_error": "Telegram refused the request. Try again in a minute.",
    "first_hour_bot_already_connected": "This bot is already connected to an assistant.",
    "first_hour_bot_different_bot": "This token belongs to a different bot.",
    "first_hour_bot_admin_paused": "A platform administrator paused this bot. Contact support to resume it.",
    "first_hour_bot_email_unverified": "Confirm your email address first: open the link we sent you.",
    "first_hour_bot_revoked": "Telegram rejected the token: it was revoked or replaced in @BotFather. "
                              "Paste the new token to restart the bot.",
    "first_hour_bot_conflict": "Another program is receiving this bot's updates. Stop it; retrying.",
    "first_hour_bot_unreachable": "Cannot reach Telegram; retrying.",
    "first_hour_bot_database": "The database cannot be reached; retrying.",
    "first_hour_bot_internal": "An internal error interrupted the bot; retrying.",
    "first_hour_bot_details": "Details",
    "first_hour_bot_mode": "Receives messages by",
    "first_hour_bot_mode_polling": "polling",
    "first_hour_bot_mode_webhook": "webhook",
    "first_hour_bots_go_create": "Create an assistant",
    # assistant dialog in plain words
    "first_hour_style": "Answer style",
    "first_hour_style_help": "How closely the assistant sticks to your documents.",
    "first_hour_style_strict": "Strict: only what the documents say",
    "first_hour_style_balanced": "Balanced (recommended)",
    "first_hour_style_creative": "Creative: freer wording",
    "first_hour_style_custom": "Custom (advanced settings below)",
    "first_hour_advanced": "Advanced",
    "first_hour_help_system_prompt": "Who the assistant is and how it talks, e.g. \"You are the support of a "
                                     "flower shop. Be brief and friendly.\"",
    "first_hour_help_greeting": "The first message a customer sees after pressing Start.",
    "first_hour_help_language": "The language of the answers.",
    "first_hour_help_top_k": "How many passages of your documents the assistant reads before answering.",
    "first_hour_help_score_threshold": "Passages less similar to the question than this are ignored "
                                       "(higher = stricter).",
    "first_hour_help_qa_threshold": "How similar a question must be to a Q&A pair to send its answer word "
                                    "for word.",
    "first_hour_help_temperature": "0 = always the same wording, higher = freer wording.",
    "first_hour_help_model": "Leave empty unless you know which AI model you want.",
    "first_hour_help_handoff_timeout": "After a person took over, the AI answers again after this time.",
    # confirmations
    "first_hour_confirm_delete_document": "Delete this document?",
    "first_hour_loss_document": "Its passages leave the knowledge base: the assistant will no longer answer "
                                "from it. The file cannot be recovered.",
    "first_hour_confirm_delete_qa": "Delete this Q&A pair?",
    "first_hour_loss_qa": "The assistant will no longer give this answer to this question.",
    "first_hour_confirm_disconnect_bot": "Disconnect this bot?",
    "first_hour_loss_bot": "The bot stops answering customers in Telegram and its token is forgotten; its "
                           "conversations stay in the inbox.",
    "first_hour_confirm_block_user": "Block this user?",
    "first_hour_loss_user": "They are signed out everywhere and cannot sign in; their bots stop answering "
                            "until you unblock them.",
    "first_hour_confirm_delete_assistant": "Delete this assistant?",
    "first_hour_loss_assistant": "Its knowledge base (documents and Q&A pairs) and its bots are deleted too. "
                                 "This cannot be undone.",
    # 404, titles, overview
    "first_hour_404_title": "Page not found",
    "first_hour_404_text": "There is no page at this address. It may have moved, or the link is mistyped.",
    "first_hour_404_back": "Back to the dashboard",
    "first_hour_step_done": "Done",
    # admin health, roles
    "first_hour_health_database": "Database",
    "first_hour_health_redis": "Redis (cache and events)",
    "first_hour_health_bot_runner": "Bot runner",
    "first_hour_health_ok": "ok",
    "first_hour_health_degraded": "degraded",
    "first_hour_health_down": "down",
    "first_hour_role_admin": "admin",
    "first_hour_role_owner": "owner",
    "first_hour_email_placeholder": "email",
    "first_hour_debug_vector": "meaning #{rank} (cos {cos})",
    "first_hour_debug_fts": "words #{rank} ({matched}/{total} words)",
    "first_hour_debug_score": "score {score}",
    "first_hour_qa_document": "Q&A",
    "first_hour_page": "Page {n}",
    "first_hour_menu": "Menu",
    # tab titles
    "first_hour_title_signin": "Sign in",
    "first_hour_title_signup": "Sign up",
    "first_hour_title_forgot": "Reset password",
    "first_hour_title_reset": "New password",
    "first_hour_title_overview": "Overview",
    "first_hour_title_assistants": "Assistants",
    "first_hour_title_knowledge": "Knowledge base",
    "first_hour_title_bots": "Bots",
    "first_hour_title_inbox": "Inbox",
    "first_hour_title_billing": "Billing",
    "first_hour_title_settings": "Settings",
    "first_hour_title_admin": "Admin",
    "first_hour_title_admin_users": "Users · Admin",
    "first_hour_title_admin_account": "Account · Admin",
    "first_hour_title_admin_billing": "Prices · Admin",
    "first_hour_title_admin_bots": "Bots · Admin",
    "first_hour_title_admin_audit": "Audit · Admin",
    "first_hour_title_404": "Page not found",
}

RU: dict[str, str] = {
    "first_hour_mb": "МБ",
    "first_hour_upload_too_large": "Файл {name} весит {size} — больше предела {limit} МБ; он не загружен.",
    "first_hour_upload_unsupported_type": "Этот тип файлов не поддерживается; загрузите PDF, DOCX, TXT, MD, HTML "
                                          "или CSV.",
    "first_hour_upload_too_large_server": "Файл больше допустимого размера.",
    "first_hour_upload_empty": "В файле нет текста.",
    "first_hour_upload_corrupt": "Файл повреждён или не соответствует своему расширению.",
    "first_hour_upload_encrypted": "PDF защищён паролем; снимите пароль и загрузите снова.",
    "first_hour_upload_no_text_layer": "Похоже, это отсканированный PDF без текстового слоя; загрузите PDF с "
                                       "выделяемым текстом или версию в DOCX/TXT.",
    "first_hour_upload_duplicate": "Этот файл уже загружен для этого ассистента.",
    "first_hour_upload_bad_name": "У файла нет имени.",
    "first_hour_err_qa_empty": "Заполните и вопрос, и ответ.",
    "first_hour_err_qa_too_long": "Вопрос или ответ слишком длинный.",
    "first_hour_err_name": "Дайте ассистенту название длиной от 1 до 120 символов.",
    "first_hour_err_temperature": "Творчество должно быть от 0 до 2.",
    "first_hour_err_top_k": "Фрагментов на ответ — от 1 до 50.",
    "first_hour_err_threshold": "Пороги должны быть от 0 до 1.",
    "first_hour_err_language": "Выберите язык из списка.",
    "first_hour_err_certainty": "Выберите из списка, насколько уверенно должен отвечать помощник.",
    "first_hour_err_handoff_timeout": "Время возврата — от 1 до 1440 минут.",
    "first_hour_err_number": "Одно из значений — не число; проверьте дополнительные настройки.",
    "first_hour_bot_bad_format": "Это не похоже на токен бота. Скопируйте токен из @BotFather целиком.",
    "first_hour_bot_invalid_token": "Telegram отклонил этот токен. Скопируйте его из @BotFather ещё раз.",
    "first_hour_bot_telegram_unreachable": "Сейчас нет связи с Telegram. Повторите через минуту.",
    "first_hour_bot_telegram_error": "Telegram отклонил запрос. Повторите через минуту.",
    "first_hour_bot_already_connected": "Этот бот уже подключён к ассистенту.",
    "first_hour_bot_different_bot": "Этот токен принадлежит другому боту.",
    "first_hour_bot_admin_paused": "Администратор платформы приостановил этого бота. Обратитесь в поддержку.",
    "first_hour_bot_email_unverified": "Сначала подтвердите адрес почты: откройте ссылку из нашего письма.",
    "first_hour_bot_revoked": "Telegram отклонил токен: его отозвали или заменили в @BotFather. "
                              "Вставьте новый токен, чтобы перезапустить бота.",
    "first_hour_bot_conflict": "Обновления этого бота получает другая программа. Остановите её; повторяем.",
    "first_hour_bot_unreachable": "Нет связи с Telegram; повторяем.",
    "first_hour_bot_database": "База данных недоступна; повторяем.",
    "first_hour_bot_internal": "Внутренняя ошибка прервала работу бота; повторяем.",
    "first_hour_bot_details": "Подробности",
    "first_hour_bot_mode": "Получает сообщения через",
    "first_hour_bot_mode_polling": "опрос (polling)",
    "first_hour_bot_mode_webhook": "вебхук",
    "first_hour_bots_go_create": "Создать ассистента",
    "first_hour_style": "Стиль ответов",
    "first_hour_style_help": "Насколько строго ассистент держится ваших документов.",
    "first_hour_style_strict": "Строгий: только то, что есть в документах",
    "first_hour_style_balanced": "Сбалансированный (рекомендуем)",
    "first_hour_style_creative": "Творческий: свободнее в формулировках",
    "first_hour_style_custom": "Свой (дополнительные настройки ниже)",
    "first_hour_advanced": "Дополнительно",
    "first_hour_help_system_prompt": "Кто такой ассистент и как он говорит, например: «Ты — поддержка "
                                     "цветочного магазина. Отвечай кратко и дружелюбно».",
    "first_hour_help_greeting": "Первое сообщение, которое клиент видит после нажатия «Старт».",
    "first_hour_help_language": "Язык ответов.",
    "first_hour_help_top_k": "Сколько фрагментов ваших документов ассистент читает перед ответом.",
    "first_hour_help_score_threshold": "Фрагменты, менее похожие на вопрос, не учитываются (выше — строже).",
    "first_hour_help_qa_threshold": "Насколько вопрос должен совпадать с парой вопрос-ответ, чтобы отправить "
                                    "её ответ дословно.",
    "first_hour_help_temperature": "0 — всегда одинаковые формулировки, больше — свободнее.",
    "first_hour_help_model": "Оставьте пустым, если не знаете, какая модель ИИ нужна.",
    "first_hour_help_handoff_timeout": "После того как ответил человек, ИИ снова отвечает через это время.",
    "first_hour_confirm_delete_document": "Удалить документ?",
    "first_hour_loss_document": "Его фрагменты уйдут из базы знаний: ассистент больше не будет отвечать по "
                                "нему. Файл не восстановить.",
    "first_hour_confirm_delete_qa": "Удалить пару вопрос-ответ?",
    "first_hour_loss_qa": "Ассистент больше не будет давать этот ответ на этот вопрос.",
    "first_hour_confirm_disconnect_bot": "Отключить бота?",
    "first_hour_loss_bot": "Бот перестанет отвечать клиентам в Telegram, его токен будет забыт; диалоги "
                           "останутся в разделе «Диалоги».",
    "first_hour_confirm_block_user": "Заблокировать пользователя?",
    "first_hour_loss_user": "Все его сеансы завершатся, войти он не сможет; его боты перестанут отвечать, "
                            "пока вы его не разблокируете.",
    "first_hour_confirm_delete_assistant": "Удалить ассистента?",
    "first_hour_loss_assistant": "Его база знаний (документы и пары вопрос-ответ) и его боты тоже будут "
                                 "удалены. Это необратимо.",
    "first_hour_404_title": "Страница не найдена",
    "first_hour_404_text": "По этому адресу страницы нет. Возможно, она переехала или в ссылке опечатка.",
    "first_hour_404_back": "Вернуться в кабинет",
    "first_hour_step_done": "Готово",
    "first_hour_health_database": "База данных",
    "first_hour_health_redis": "Redis (кэш и события)",
    "first_hour_health_bot_runner": "Запуск ботов",
    "first_hour_health_ok": "в порядке",
    "first_hour_health_degraded": "с перебоями",
    "first_hour_health_down": "недоступно",
    "first_hour_role_admin": "администратор",
    "first_hour_role_owner": "владелец",
    "first_hour_email_placeholder": "эл. почта",
    "first_hour_debug_vector": "по смыслу №{rank} (cos {cos})",
    "first_hour_debug_fts": "по словам №{rank} (совпало слов: {matched} из {total})",
    "first_hour_debug_score": "оценка {score}",
    "first_hour_qa_document": "Вопрос-ответ",
    "first_hour_page": "Стр. {n}",
    "first_hour_menu": "Меню",
    "first_hour_title_signin": "Вход",
    "first_hour_title_signup": "Регистрация",
    "first_hour_title_forgot": "Сброс пароля",
    "first_hour_title_reset": "Новый пароль",
    "first_hour_title_overview": "Обзор",
    "first_hour_title_assistants": "Ассистенты",
    "first_hour_title_knowledge": "База знаний",
    "first_hour_title_bots": "Боты",
    "first_hour_title_inbox": "Диалоги",
    "first_hour_title_billing": "Оплата",
    "first_hour_title_settings": "Настройки",
    "first_hour_title_admin": "Админка",
    "first_hour_title_admin_users": "Пользователи · Админка",
    "first_hour_title_admin_account": "Аккаунт · Админка",
    "first_hour_title_admin_billing": "Цены · Админка",
    "first_hour_title_admin_bots": "Боты · Админка",
    "first_hour_title_admin_audit": "Аудит · Админка",
    "first_hour_title_404": "Страница не найдена",
}

UPLOAD_CODES = ("unsupported_type", "empty", "corrupt", "encrypted", "no_text_layer", "duplicate", "bad_name")
BOT_CODES = ("bad_format", "invalid_token", "telegram_unreachable", "telegram_error", "already_connected",
             "different_bot", "admin_paused", "email_unverified")


def _t(locale: str, key: str) -> str:
    return (RU if locale == "ru" else EN)[key]


def upload_error(locale: str, *, code: str, filename: str, message: str) -> str:
    """A refused upload, by file name, in the owner's language."""
    if locale == "en":
        sentence = message
    elif code == "over_limit":
        sentence = document_error(locale, message)
    elif code == "too_large":
        sentence = _t(locale, "first_hour_upload_too_large_server")
    elif code in UPLOAD_CODES:
        sentence = _t(locale, f"first_hour_upload_{code}")
    else:
        sentence = message
    return f"{filename}: {sentence}"


def bot_error(locale: str, *, code: str, message: str) -> str:
    """A refused bot connection or token change (services.bots.BotError)."""
    if locale == "en" or code not in BOT_CODES:
        return message
    return _t(locale, f"first_hour_bot_{code}")


_ASSISTANT_ERRORS = (("name ", "first_hour_err_name"), ("temperature", "first_hour_err_temperature"),
                     ("top_k", "first_hour_err_top_k"), ("score_threshold", "first_hour_err_threshold"),
                     ("qa_direct_threshold", "first_hour_err_threshold"), ("language", "first_hour_err_language"),
                     ("handoff timeout", "first_hour_err_handoff_timeout"),
                     ("answer_certainty", "first_hour_err_certainty"))


def assistant_error(locale: str, exc: ValueError) -> str:
    """services.assistants raises ValueError with a field-naming English message; a number field that is
    not a number fails in float()/int() before that. Either way the owner reads a sentence."""
    message = str(exc)
    for prefix, key in _ASSISTANT_ERRORS:
        if message.startswith(prefix):
            return _t(locale, key)
    return _t(locale, "first_hour_err_number")


def section_label(locale: str, section: str) -> str:
    """A passage's section as an owner reads it: a PDF's "Page 3" (rag/parsing.py stores it in English, and
    the same words go to customers in answers) in the owner's language; headings are the document's own."""
    found = re.fullmatch(r"Page (\d+)", section)
    return _t(locale, "first_hour_page").format(n=found.group(1)) if found else section


def qa_error(locale: str, exc: ValueError) -> str:
    return _t(locale, "first_hour_err_qa_empty" if re.search(r"empty", str(exc)) else "first_hour_err_qa_too_long")
