"""Which sites may embed an assistant's widget: the owner's list of host names, checked against the
embedding page's origin. Nothing is allowed until the owner adds a site; loopback names only when the
owner adds them explicitly (a wildcard never matches them)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_SITES = 50
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


class BadSite(ValueError):
    """An entry that is not a host name; `entry` is what the owner typed."""

    def __init__(self, entry: str) -> None:
        super().__init__(entry)
        self.entry = entry


def normalize_site(entry: str) -> str:
    """'https://Shop.Example.com/path' -> 'shop.example.com'; '*.example.com' stays a wildcard.
    Raises BadSite for anything that is not a host name (a port is dropped: sites are matched by host)."""
    raw = (entry or "").strip().lower()
    if "://" in raw:
        raw = urlsplit(raw).hostname or ""
    raw = raw.split("/", 1)[0].rstrip(".")
    if raw.count(":") == 1:
        raw = raw.split(":", 1)[0]
    if not raw or not _HOST.match(raw) or (raw.startswith("*.") and "." not in raw[2:]):
        raise BadSite(entry)
    if _IPV4.match(raw) and any(int(part) > 255 for part in raw.split(".")):
        raise BadSite(entry)
    return raw


def normalize_sites(entries: list[str]) -> list[str]:
    """Each entry normalized, duplicates dropped, order kept; BadSite for the first bad one."""
    seen: list[str] = []
    for entry in entries:
        if not entry.strip():
            continue
        site = normalize_site(entry)
        if site not in seen:
            seen.append(site)
    if len(seen) > MAX_SITES:
        raise BadSite(seen[MAX_SITES])
    return seen


def host_of(origin_or_url: str) -> str:
    """The host of an Origin header or a URL ('' when there is none, e.g. Origin: null)."""
    try:
        return (urlsplit((origin_or_url or "").strip()).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def site_allowed(host: str, allowed: list[str]) -> bool:
    """True when `host` is on the list: exactly, or under a '*.example.com' entry (subdomains only, never
    example.com itself unless listed, never a loopback name)."""
    host = (host or "").lower().rstrip(".")
    if not host:
        return False
    for site in allowed:
        if site.startswith("*."):
            if host.endswith(site[1:]) and host != site[2:]:
                return True
        elif host == site:
            return True
    return False


def frame_ancestors(allowed: list[str]) -> str:
    """The CSP frame-ancestors source list for these sites (both schemes: an owner's site may still be on
    http during setup; loopback names are only here when listed). 'none' when the list is empty."""
    if not allowed:
        return "'none'"
    sources = []
    for site in allowed:
        sources.extend([f"https://{site}", f"http://{site}"])
        if not site.startswith("*."):
            sources.extend([f"https://{site}:*", f"http://{site}:*"])
    return " ".join(sources)
