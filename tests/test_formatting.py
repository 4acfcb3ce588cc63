"""chatai/formatting.py: times on the owner's clock, money and sizes per locale (the walk saw 19:05 in Moscow
shown as 16:05, `250.00 RUB` in Russian and a 389-byte file as "0 KB")."""

from __future__ import annotations

from datetime import UTC, datetime

from chatai.formatting import (
    format_money,
    format_size,
    format_time,
    is_time_zone,
    time_zone_or_default,
    zone_label,
)
from chatai.user_agents import describe_user_agent

NBSP = "\u00a0"


def test_a_moscow_evening_is_shown_on_the_moscow_clock():
    at = datetime(2026, 12, 5, 16, 5, tzinfo=UTC)
    assert format_time(at, "Europe/Moscow") == "2026-12-05 19:05"
    assert format_time(at, "UTC") == "2026-12-05 16:05"
    assert format_time(at, "America/New_York", seconds=True) == "2026-12-05 11:05:00"
    assert format_time(datetime(2026, 12, 5, 23, 30, tzinfo=UTC), "Asia/Vladivostok") == "2026-12-06 09:30"
    assert format_time(None, "Europe/Moscow") == ""


def test_a_naive_stored_time_counts_as_utc_and_an_unknown_zone_as_utc():
    assert format_time(datetime(2026, 12, 5, 16, 5), "Europe/Moscow") == "2026-12-05 19:05"  # noqa: DTZ001
    assert format_time(datetime(2026, 12, 5, 16, 5, tzinfo=UTC), "Mars/Olympus") == "2026-12-05 16:05"


def test_zone_label_names_the_zone_and_its_offset():
    assert zone_label("Europe/Moscow") == "Europe/Moscow (UTC+03:00)"
    assert zone_label("America/St_Johns", datetime(2026, 1, 1, tzinfo=UTC)) == "America/St_Johns (UTC-03:30)"


def test_time_zone_from_the_browser_else_the_languages_default():
    assert time_zone_or_default("Asia/Yekaterinburg", "ru") == "Asia/Yekaterinburg"
    assert time_zone_or_default("", "ru") == "Europe/Moscow"
    assert time_zone_or_default("Not/AZone", "en") == "UTC"
    assert time_zone_or_default(None, "en") == "UTC"
    assert is_time_zone("Europe/Berlin") and not is_time_zone("") and not is_time_zone("../etc/passwd")


def test_money_in_russian_and_english():
    assert format_money(250_000_000, "RUB", "ru") == f"250,00{NBSP}₽"
    assert format_money(250_000_000, "RUB", "en") == "₽250.00"
    assert format_money(1_234_567_890, "RUB", "ru") == f"1{NBSP}234,57{NBSP}₽"
    assert format_money(1_234_567_890, "USD", "en") == "$1,234.57"
    assert format_money(-5_000_000, "RUB", "ru") == f"−5,00{NBSP}₽"
    assert format_money(-5_000_000, "RUB", "en") == "−₽5.00"
    assert format_money(0, "RUB", "en") == "₽0.00"
    assert format_money(7_500_000, "KZT", "en") == f"KZT{NBSP}7.50"
    assert format_money(7_500_000, "KZT", "ru") == f"7,50{NBSP}KZT"


def test_sizes_never_round_a_small_file_to_zero():
    assert format_size(389, "en") == f"389{NBSP}B"
    assert format_size(389, "ru") == f"389{NBSP}Б"
    assert format_size(0, "en") == f"0{NBSP}B"
    assert format_size(2048, "en") == f"2{NBSP}KB"
    assert format_size(1536 * 1024, "ru") == f"1,5{NBSP}МБ"
    assert format_size(10 * 1024 * 1024, "en") == f"10.0{NBSP}MB"


def test_user_agents_named_by_browser_and_system():
    chrome_windows = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/131.0.0.0 Safari/537.36")
    edge = chrome_windows + " Edg/131.0.0.0"
    safari_iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                     "Version/18.1 Mobile/15E148 Safari/604.1")
    firefox_linux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    yandex_android = ("Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/128.0.0.0 YaBrowser/24.10.4.51.00 SA/3 Mobile Safari/537.36")
    safari_mac = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                  "Version/18.1 Safari/605.1.15")
    assert describe_user_agent(chrome_windows) == ("Chrome", "Windows")
    assert describe_user_agent(edge) == ("Edge", "Windows")
    assert describe_user_agent(safari_iphone) == ("Safari", "iOS")
    assert describe_user_agent(firefox_linux) == ("Firefox", "Linux")
    assert describe_user_agent(yandex_android) == ("Yandex Browser", "Android")
    assert describe_user_agent(safari_mac) == ("Safari", "macOS")
    assert describe_user_agent("curl/8.5.0") == ("", "")
    assert describe_user_agent("") == ("", "")
