"""Server-sent events: the widget's transport (README "Website chat widget" says why SSE).

A stream is a plain long HTTP response, so it passes through nginx (with buffering off for these paths,
deploy/nginx.conf) and any corporate proxy that passes HTTP; the visitor's messages go up as ordinary
POSTs, which is what makes a client message id and its deduplication simple."""

from __future__ import annotations

import json
from typing import Any

STREAM_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
    "Content-Type": "text/event-stream; charset=utf-8",
}
KEEPALIVE_SECONDS = 20.0  # under every common proxy's idle timeout (nginx proxy_read_timeout: 60 s)


def event(name: str, data: Any, *, event_id: str = "") -> bytes:
    lines = [f"event: {name}"]
    if event_id:
        lines.append(f"id: {event_id}")
    # json.dumps never writes a raw newline, so one data line is always one event line.
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


KEEPALIVE = b": keepalive\n\n"
