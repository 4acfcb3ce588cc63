"""A User-Agent header as the browser and system a person recognises ("Chrome", "Windows"), for the sessions
list. Only names, never versions: enough to tell "my laptop" from "someone else's phone". Order matters:
Edge and Opera say "Chrome" too, every Chromium says "Safari", Android says "Linux", iOS says "Mac OS X"."""

from __future__ import annotations

import re

_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/|\bOpera\b")),
    ("Yandex Browser", re.compile(r"\bYaBrowser/")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Firefox", re.compile(r"\bFirefox/|\bFxiOS/")),
    ("Chrome", re.compile(r"\bChrome/|\bCriOS/|\bChromium/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*\bSafari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"\bAndroid\b")),
    ("iOS", re.compile(r"\b(iPhone|iPad|iPod)\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
)


def describe_user_agent(user_agent: str) -> tuple[str, str]:
    """(browser, system); '' for a part not recognised (the page then says what it does know)."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent or "")), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent or "")), "")
    return browser, system
