"""Times, money and sizes in a person's terms: the one place the dashboard, the admin panel, exports and mails
turn stored values (UTC timestamps, micro-units, bytes) into text.

Why one module: times were shown in UTC with no label (19:05 in Moscow read 16:05) and money as `250.00 RUB`
in both languages; each page formatting its own way is how that happened. Imports nothing from the app, so
services (mails, CSV) and the web layer use the same functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MICRO = 1_000_000
DEFAULT_TIME_ZONE = {"ru": "Europe/Moscow", "en": "UTC"}  # when the browser says nothing usable
SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€"}
_NBSP = "\u00a0"  # Russian groups thousands and puts the sign after the amount, never split over two lines
_MINUS = "−"

TIME_FORMAT = "%Y-%m-%d %H:%M"
TIME_FORMAT_SECONDS = "%Y-%m-%d %H:%M:%S"


# --- time zones ----------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted (the settings page offers them)."""
    return tuple(sorted(available_timezones()))


def is_time_zone(name: str) -> bool:
    return bool(name) and name in time_zone_names()


def time_zone_or_default(name: str | None, locale: str) -> str:
    """`name` when it is a real zone (what a browser reports), else the locale's default."""
    name = (name or "").strip()
    return name if is_time_zone(name) else DEFAULT_TIME_ZONE.get(locale, "UTC")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: datetime, time_zone: str) -> datetime:
    """A stored timestamp in the zone (naive values are UTC, as the database stores them)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_zone(time_zone))


def format_time(value: datetime | None, time_zone: str, *, seconds: bool = False) -> str:
    """'2026-12-05 19:05' in the zone ('' for no time). The zone is the owner's own, named once on the page
    (`zone_label`), not after every time."""
    if value is None:
        return ""
    return local_time(value, time_zone).strftime(TIME_FORMAT_SECONDS if seconds else TIME_FORMAT)


def format_day(value: datetime, time_zone: str) -> str:
    return local_time(value, time_zone).strftime("%Y-%m-%d")


def zone_label(time_zone: str, at: datetime | None = None) -> str:
    """'Europe/Moscow (UTC+03:00)': which clock the page's times are on."""
    offset = local_time(at or datetime.now(UTC), time_zone).strftime("%z") or "+0000"
    return f"{time_zone or 'UTC'} (UTC{offset[:3]}:{offset[3:]})"


# --- money -----------------------------------------------------------------------------------------------


def _units(micros: int) -> Decimal:
    return (Decimal(micros) / MICRO).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def format_number(micros: int, locale: str) -> str:
    """The amount without a currency: '1 250,00' in Russian, '1,250.00' in English."""
    units = _units(abs(micros))
    plain = f"{units:,.2f}"
    if locale == "ru":
        plain = plain.replace(",", _NBSP).replace(".", ",")
    return (_MINUS if micros < 0 and units else "") + plain


def format_money(micros: int, currency: str, locale: str) -> str:
    """'250,00 ₽' in Russian, '₽250.00' in English (a currency without a sign: 'KZT 250.00' / '250,00 KZT')."""
    number = format_number(micros, locale)
    sign, digits = (number[0], number[1:]) if number.startswith(_MINUS) else ("", number)
    symbol = SYMBOLS.get(currency.upper(), currency.upper())
    if locale == "ru":
        return f"{sign}{digits}{_NBSP}{symbol}"
    return f"{sign}{symbol}{digits}" if symbol in SYMBOLS.values() else f"{sign}{symbol}{_NBSP}{digits}"


# --- sizes -----------------------------------------------------------------------------------------------

_SIZE_UNITS = {"en": ("B", "KB", "MB", "GB"), "ru": ("Б", "КБ", "МБ", "ГБ")}


def format_size(n: int, locale: str) -> str:
    """'389 B', '2 KB', '1.5 MB' ('389 Б', '2 КБ', '1,5 МБ'): a small file is never '0 KB'."""
    units = _SIZE_UNITS.get(locale, _SIZE_UNITS["en"])
    if n < 1024:
        return f"{max(n, 0)}{_NBSP}{units[0]}"
    value, unit = n / 1024, 1
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    number = f"{value:.0f}" if unit == 1 else f"{value:.1f}"
    if locale == "ru":
        number = number.replace(".", ",")
    return f"{number}{_NBSP}{units[unit]}"
