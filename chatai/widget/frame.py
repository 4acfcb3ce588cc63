"""The files a browser loads: the loader script (on the owner's site), the panel page (in the iframe, with
`Content-Security-Policy: frame-ancestors` = the assistant's allowed sites), its script and style, and the
avatar. The static files live in assets/widget/ and are read once per process."""

from __future__ import annotations

import hashlib
import html
import json
import uuid
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from chatai.db.session import async_session
from chatai.settings import PROJECT_ROOT
from chatai.web.i18n import EN, text
from chatai.widget.sites import frame_ancestors, host_of, site_allowed
from chatai.widget.store import assistant_name, get_widget, public_url

ASSETS = PROJECT_ROOT / "assets" / "widget"
STATIC_FILES = {"loader.js": "text/javascript", "panel.js": "text/javascript", "panel.css": "text/css"}
CACHE_SECONDS = 3600  # the loader is cached by browsers for an hour; an update reaches every site within it
PANEL_TEXT_KEYS = tuple(k for k in EN if k.startswith("widget_panel_"))


@lru_cache
def _static(name: str) -> tuple[bytes, str]:
    body = (ASSETS / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC_FILES:
        return Response("Not found.\n", status_code=404, media_type="text/plain")
    body, etag = _static(name)
    headers = {"Cache-Control": f"public, max-age={CACHE_SECONDS}", "ETag": etag,
               # The loader runs on other sites: they may load it (no credentials are ever involved).
               "Cross-Origin-Resource-Policy": "cross-origin"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=STATIC_FILES[name], headers=headers)


def panel_language(setting: str, accept_language: str) -> str:
    """The widget's language, else the visitor's browser's first choice (ru or en)."""
    if setting in ("en", "ru"):
        return setting
    first = (accept_language or "").split(",", 1)[0].strip().lower()
    return "ru" if first.startswith("ru") else "en"


def refusal_page(language: str, status: int = 403) -> HTMLResponse:
    """A disabled channel, an unknown assistant, a site not on the list: a sentence, never the assistant."""
    sentence = html.escape(text(language, "widget_panel_unavailable"))
    return HTMLResponse(f'<!doctype html><html lang="{language}"><meta charset="utf-8"><title>{sentence}</title>'
                        f'<p>{sentence}</p></html>', status_code=status,
                        headers={"Content-Security-Policy": "default-src 'none'; frame-ancestors *",
                                 "Cache-Control": "no-store"})


def _assistant_id(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.path_params["assistant_id"])
    except ValueError:
        return None


async def panel_page(request: Request) -> Response:
    language = panel_language("auto", request.headers.get("accept-language", ""))
    assistant_id = _assistant_id(request)
    if assistant_id is None:
        return refusal_page(language, 404)
    async with async_session() as session:
        widget = await get_widget(session, assistant_id=assistant_id)
        name = await assistant_name(session, assistant_id) if widget is not None else ""
    if widget is None or not widget.enabled or not widget.allowed_sites:
        return refusal_page(language, 404)
    language = panel_language(widget.language, request.headers.get("accept-language", ""))
    # Browsers send the embedding page's origin as Referer (unless that page forbids referrers: then the
    # frame-ancestors policy below is the check).
    referer = request.headers.get("referer", "")
    if referer and not site_allowed(host_of(referer), widget.allowed_sites):
        return refusal_page(language)
    config = {
        "assistant": str(assistant_id), "api": f"{public_url()}/widget/api/{assistant_id}", "language": language,
        "title": widget.title or name, "accent": widget.accent_color, "position": widget.position,
        "welcome": widget.welcome or text(language, "widget_panel_welcome"),
        "avatar": f"{public_url()}/widget/avatar/{assistant_id}" if widget.avatar else "",
        "texts": {k.removeprefix("widget_panel_"): text(language, k) for k in PANEL_TEXT_KEYS},
    }
    # JSON in a non-executed script element; "<" escaped so no text can close the element.
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    _, css_tag = _static("panel.css")
    _, js_tag = _static("panel.js")
    page = (f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(config["title"])}</title>'
            f'<link rel="stylesheet" href="/widget/panel.css?v={css_tag.strip(chr(34))}">'
            f'<script id="chatai-config" type="application/json">{data}</script>'
            f'<script defer src="/widget/panel.js?v={js_tag.strip(chr(34))}"></script>'
            '</head><body></body></html>')
    csp = "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        "connect-src 'self'", "base-uri 'none'", "form-action 'none'",
        f"frame-ancestors {frame_ancestors(widget.allowed_sites)}",
    ])
    return HTMLResponse(page, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store",
                                       "Referrer-Policy": "no-referrer"})


async def avatar(request: Request) -> Response:
    assistant_id = _assistant_id(request)
    widget = None
    if assistant_id is not None:
        async with async_session() as session:
            widget = await get_widget(session, assistant_id=assistant_id)
    if widget is None or not widget.enabled or not widget.avatar:
        return Response(status_code=404)
    return Response(widget.avatar, media_type=widget.avatar_type,
                    headers={"Cache-Control": "public, max-age=300", "Content-Security-Policy": "default-src 'none'"})


async def loader_config(request: Request) -> Response:
    """What the loader asks before it inserts anything: allowed for this page's origin, or a refusal (and the
    loader then inserts nothing). A simple GET (no preflight): the answer names only the asking origin."""
    origin = request.headers.get("origin", "")
    assistant_id = _assistant_id(request)
    widget = None
    if assistant_id is not None:
        async with async_session() as session:
            widget = await get_widget(session, assistant_id=assistant_id)
    headers = {"Vary": "Origin", "Cache-Control": "no-store"}
    if origin and origin != "null":
        headers["Access-Control-Allow-Origin"] = origin
    if widget is None or not widget.enabled or not site_allowed(host_of(origin), widget.allowed_sites):
        return JSONResponse({"allowed": False}, status_code=403, headers=headers)
    return JSONResponse({"allowed": True, "position": widget.position, "accent": widget.accent_color,
                         "frame": f"{public_url()}/widget/frame/{assistant_id}"}, headers=headers)
