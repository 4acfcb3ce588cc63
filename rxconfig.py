"""Reflex configuration. Ports and URLs come from chatai.settings (the one settings object)."""

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from chatai.settings import PROJECT_ROOT, get_settings

_settings = get_settings()
_bun = PROJECT_ROOT / ".tools" / "node_modules" / ".bin" / "bun"

config = rx.Config(
    app_name="chatai",
    # Production mode serves the built frontend, the API and the websocket on one port.
    frontend_port=_settings.port,
    backend_port=_settings.port,
    api_url=_settings.public_url,
    backend_host=_settings.host,
    deploy_url=_settings.public_url,
    # The client address (sign-in limits, session list) comes from X-Forwarded-For only through this
    # many trusted proxies; 0 uses the socket's peer and ignores a header any client could send.
    trusted_proxy_hops=_settings.trusted_proxy_hops,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # bun comes from the npm registry into .tools (make installs it): Reflex must never download it.
    **({"bun_path": _bun} if _bun.exists() else {}),
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", gray_color="slate",
                                                         radius="medium"))],
)
