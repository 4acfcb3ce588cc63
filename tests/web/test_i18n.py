import re
from pathlib import Path

from chatai.web.i18n import EN, RU, text

WEB = Path("chatai/web")
SERVICES = Path("chatai/services")
# Ways a page names a text key: t("k"), text(locale, "k"), tr["k"], self._tr("k"), confirm_action(...,
# title_key="k"), _labeled("k", ..., "help_k"), page_header("k", "k2"), stat_card("k", ...), empty_state(icon, "k").
KEY_PATTERNS = (
    r'\bt\(\s*"([a-z0-9_]+)"\s*\)',
    r'\btext\(\s*[\w.()]+\s*,\s*"([a-z0-9_]+)"',
    r'\btr\["([a-z0-9_]+)"\]',
    r'\b_tr\(\s*"([a-z0-9_]+)"',
    r'\b(?:(?:title|loss|action|label|help|subtitle|text)_key|heading|submit|other_question|other_label)\s*=\s*"([a-z0-9_]+)"',
    r'\bpage_header\(\s*"([a-z0-9_]+)"\s*,\s*"([a-z0-9_]+)"',
    r'\b(?:stat_card|_labeled|_step)\(\s*(?:\d+\s*,\s*)?"([a-z0-9_]+)"',
    r'\bempty_state\(\s*"[a-z0-9-]+"\s*,\s*"([a-z0-9_]+)"',
    r'"(first_hour_[a-z0-9_]+)"',
    r'\(\s*"(nav_[a-z_]+|stat_[a-z_]+)"',
)
# Words that are the same in both languages.
SAME_IN_RUSSIAN = {"app_name"}


def _keys_used_by_the_ui() -> set[str]:
    used: set[str] = set()
    for path in WEB.rglob("*.py"):
        source = path.read_text()
        for pattern in KEY_PATTERNS:
            for match in re.findall(pattern, source):
                used |= set(match) if isinstance(match, tuple) else {match}
    return used


def _codes_raised(exception: str) -> set[str]:
    source = "\n".join(p.read_text() for p in SERVICES.rglob("*.py"))
    return set(re.findall(exception + r'\(\s*"([a-z_]+)"', source))


def test_every_english_text_has_a_russian_translation():
    assert set(EN) - set(RU) == set()


def test_no_russian_text_is_left_in_english():
    assert {k for k in EN if RU[k] == EN[k]} - SAME_IN_RUSSIAN == set()


def test_the_key_walk_finds_the_keys_pages_use():
    used = _keys_used_by_the_ui()
    # One of each way of naming a key, so a broken pattern cannot make the next test pass vacuously.
    assert {"sign_in", "knowledge_title", "first_hour_loss_document", "no_documents", "first_hour_style_help",
            "stat_bots"} <= used


def test_every_key_used_by_the_ui_exists_in_both_languages():
    used = _keys_used_by_the_ui()
    assert used - set(EN) == set()
    assert used - set(RU) == set()


def test_every_account_error_a_service_raises_is_a_sentence():
    from chatai.services.passwords import password_problem  # noqa: F401 - its codes are AccountError codes too
    from chatai.web.pages.admin_users import ERRORS as ADMIN_ERRORS

    source = (Path("chatai/services/passwords.py")).read_text()
    codes = _codes_raised("AccountError") | set(re.findall(r'return "(password_[a-z_]+)"', source))
    assert codes, "no codes found: the pattern is wrong"
    untranslated = {c for c in codes if f"err_{c}" not in EN and c not in ADMIN_ERRORS}
    assert untranslated == set()
    assert {ADMIN_ERRORS[c] for c in ADMIN_ERRORS} - set(RU) == set()


def test_every_bot_upload_and_billing_error_code_has_a_sentence():
    from chatai.web.texts.first_hour import BOT_CODES, UPLOAD_CODES

    assert _codes_raised("BotError") - set(BOT_CODES) == set()
    assert _codes_raised("UploadError") - set(UPLOAD_CODES) - {"too_large"} == set()
    billing = _codes_raised("BillingError")
    assert billing
    owner_facing = {"amount_too_small", "amount_too_large", "invalid_amount", "provider_error", "promo_invalid",
                    "promo_expired", "promo_exhausted", "promo_used", "payments_not_configured"}
    assert {f"billing_err_{c}" for c in owner_facing} - set(RU) == set()


def test_an_untranslated_error_code_is_never_shown_as_a_code():
    assert text("en", "err_no_such_code_anywhere") == EN["err_generic"]
    assert text("ru", "err_no_such_code_anywhere") == RU["err_generic"]


def test_text_formats_parameters():
    assert "30" in text("ru", "err_rate_limited", n=30)
