"""Texts of email: verification banner, check-your-inbox, forgot / reset password, notification settings."""

EN: dict[str, str] = {
    "mail_verify_banner": "Confirm your email address: we sent a link to {email}. Until then you cannot connect "
                          "a Telegram bot.",
    "mail_verify_resend": "Send the link again",
    "mail_verify_resent": "A new link is on its way. Check your inbox (and the spam folder).",
    "mail_check_inbox_title": "Check your inbox",
    "mail_check_inbox": "We sent a message to {email}. Open the link in it to confirm your address, then sign in.",
    "mail_forgot_link": "Forgot password?",
    "mail_forgot_title": "Reset your password",
    "mail_forgot_intro": "Enter your account's email. We will send a link to choose a new password.",
    "mail_forgot_submit": "Send the link",
    "mail_forgot_sent": "If an account exists for {email}, a link to reset its password is on its way. It works "
                        "once, within 1 hour.",
    "mail_forgot_off": "Email is not set up on this server, so a password cannot be reset by email. Ask your "
                       "administrator to set a new one for you.",
    "mail_back_to_signin": "Back to sign in",
    "mail_reset_title": "Choose a new password",
    "mail_reset_password": "New password",
    "mail_reset_submit": "Set the new password",
    "mail_notice_email_verified": "Your email address is confirmed. Sign in to continue.",
    "mail_notice_email_link_invalid": "This link is no longer valid: it was already used or has expired. Sign in "
                                      "and send a new one from the banner.",
    "mail_notice_password_reset": "Your password has been changed and every session signed out. Sign in with "
                                  "the new password.",
    "mail_prefs_title": "Email notifications",
    "mail_prefs_subtitle": "What we email you about.",
    "mail_prefs_off": "Email is not set up on this server: notifications appear only in the dashboard.",
    "mail_pref_handoff_waiting": "A conversation is waiting for a person",
    "mail_pref_balance_low": "The balance is running low",
    "mail_pref_balance_zero": "The balance has run out",
    "mail_pref_payment_received": "A payment was received",
    "mail_pref_bot_error": "A bot has been in error for more than 5 minutes",
    "mail_admin_off": "Email is off: SMTP_HOST is not set. New owners are not asked to confirm their address, "
                      "and forgotten passwords are reset with `python -m chatai users reset-password`.",
    "err_mail_off": "Email is not set up on this server. Ask your administrator to reset your password.",
    "err_mail_resend_rate_limited": "A link was sent several times already. Try again in {n} seconds.",
    "err_mail_reset_link_invalid": "This reset link is not valid: it was already used, has expired, or was "
                                   "replaced by a newer one. Ask for a new link.",
    "err_email_unverified": "Confirm your email address first: open the link we sent you (or send a new one from "
                            "the banner at the top), then connect the bot.",
}

RU: dict[str, str] = {
    "mail_verify_banner": "Подтвердите адрес электронной почты: мы отправили ссылку на {email}. До подтверждения "
                          "нельзя подключить Telegram-бота.",
    "mail_verify_resend": "Отправить ссылку ещё раз",
    "mail_verify_resent": "Новая ссылка отправлена. Проверьте почту (и папку «Спам»).",
    "mail_check_inbox_title": "Проверьте почту",
    "mail_check_inbox": "Мы отправили письмо на {email}. Откройте ссылку в нём, чтобы подтвердить адрес, затем "
                        "войдите.",
    "mail_forgot_link": "Забыли пароль?",
    "mail_forgot_title": "Восстановление пароля",
    "mail_forgot_intro": "Укажите почту аккаунта. Мы пришлём ссылку, чтобы задать новый пароль.",
    "mail_forgot_submit": "Отправить ссылку",
    "mail_forgot_sent": "Если аккаунт с адресом {email} существует, ссылка для сброса пароля уже в пути. Она "
                        "действует один раз, 1 час.",
    "mail_forgot_off": "На этом сервере не настроена почта, поэтому сбросить пароль по email нельзя. Попросите "
                       "администратора задать вам новый пароль.",
    "mail_back_to_signin": "Вернуться ко входу",
    "mail_reset_title": "Новый пароль",
    "mail_reset_password": "Новый пароль",
    "mail_reset_submit": "Сохранить пароль",
    "mail_notice_email_verified": "Адрес подтверждён. Войдите, чтобы продолжить.",
    "mail_notice_email_link_invalid": "Ссылка больше не действует: её уже использовали или срок истёк. Войдите и "
                                      "отправьте новую из баннера.",
    "mail_notice_password_reset": "Пароль изменён, все сеансы завершены. Войдите с новым паролем.",
    "mail_prefs_title": "Уведомления по почте",
    "mail_prefs_subtitle": "О чём мы пишем вам на почту.",
    "mail_prefs_off": "На этом сервере не настроена почта: уведомления видны только в панели.",
    "mail_pref_handoff_waiting": "Диалог ждёт оператора",
    "mail_pref_balance_low": "Баланс заканчивается",
    "mail_pref_balance_zero": "Баланс исчерпан",
    "mail_pref_payment_received": "Платёж получен",
    "mail_pref_bot_error": "Бот в ошибке больше 5 минут",
    "mail_admin_off": "Почта выключена: не задан SMTP_HOST. Новых владельцев не просят подтвердить адрес, а "
                      "забытые пароли сбрасываются командой `python -m chatai users reset-password`.",
    "err_mail_off": "На этом сервере не настроена почта. Попросите администратора сбросить вам пароль.",
    "err_mail_resend_rate_limited": "Ссылку уже отправляли несколько раз. Попробуйте через {n} с.",
    "err_mail_reset_link_invalid": "Ссылка для сброса недействительна: её уже использовали, срок истёк или "
                                   "есть более новая. Запросите новую ссылку.",
    "err_email_unverified": "Сначала подтвердите адрес почты: откройте ссылку из письма (или отправьте новую из "
                            "баннера вверху), затем подключите бота.",
}
