import re
from pathlib import Path

from chatai.web.i18n import EN, RU, text


def test_every_english_text_has_a_russian_translation():
    assert set(EN) - set(RU) == set()


def test_every_key_used_by_the_ui_exists():
    used: set[str] = set()
    for path in Path("chatai/web").rglob("*.py"):
        source = path.read_text()
        used |= set(re.findall(r'\bt\("([a-z_]+)"\)', source))
        used |= set(re.findall(r'\(\s*"(nav_[a-z_]+|stat_[a-z_]+)"', source))
    assert used, "no keys found: the pattern is wrong"
    assert used - set(EN) == set()


def test_text_formats_parameters():
    assert "30" in text("ru", "err_rate_limited", n=30)
