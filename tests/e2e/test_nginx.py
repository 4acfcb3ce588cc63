"""The server install's front door: Debian's nginx running the project's site (deploy/nginx.conf, with
loopback ports and a self-signed certificate made here) in front of the production app, scaled out as on a
server (two web workers on Redis, PostgreSQL and Redis by URL: tests/e2e/edge.py), and a real browser going
through it over HTTPS: HTTP redirected to HTTPS, sign-up and sign-in (the mailed link built from PUBLIC_URL
comes back through nginx), Reflex's websocket proxied (wss through nginx, live updates pushed from outside
arrive), a file upload just under MAX_UPLOAD_MB through nginx, and the Telegram webhook path with and
without its secret header.

The app is the session's `app_url`, built for the nginx origin (Reflex bakes PUBLIC_URL into the frontend);
tests/e2e/test_scale_out.py runs on the same app in the same session. In a session whose app another browser
test started first, both files are skipped with that reason (`make test` gives them a session of their own).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, create_assistant, open_page, sign_up
from tests.e2e.edge import HTTP_PORT, HTTPS_PORT, ORIGIN, app_env  # noqa: F401 - app_env: this file's app
from tests.fakes.telegram_updates import text_update

WEBHOOK_SECRET = "nginx-test-webhook-secret-" + uuid.uuid4().hex  # noqa: S105 - made up for this test


def test_http_redirects_and_https_carries_the_headers(front, app_url):
    plain = urllib.request.Request(f"http://127.0.0.1:{HTTP_PORT}/signin?next=/dashboard")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as redirected:
        urllib.request.build_opener(NoRedirect).open(plain, timeout=10)
    assert redirected.value.code == 301
    assert redirected.value.headers["Location"] == f"{ORIGIN}/signin?next=/dashboard"

    status, headers, _ = front.request("/signin")
    assert status == 200
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]

    status, _, body = front.request("/health")
    assert status == 200
    # Relayed by nginx, the app sees an outside client: the public ok/down report, not the loopback details.
    from chatai.health import public_report

    with urllib.request.urlopen(f"{app_url}/health", timeout=10) as direct:  # noqa: S310 - loopback
        details = json.loads(direct.read())
    assert json.loads(body) == public_report(details) != details
    assert front.request("/metrics")[0] == 404
    # Only uploads may be big: a 2 MB body anywhere else is refused by nginx before it reaches the app.
    status, _, body = front.request("/telegram/webhook/00000000-0000-0000-0000-000000000000", method="POST",
                                    body=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert status == 413 and b"nginx" in body


def _webhook_bot(app_db, email: str) -> tuple[uuid.UUID, int]:
    """A webhook-mode bot of this owner's assistant, paused so the polling runner leaves it alone (the
    webhook route accepts updates for it all the same: Telegram would deliver them)."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from chatai.db.models import Assistant, Bot, User
    from chatai.security import encrypt_secret, mask_secret
    from tests.fakes.telegram_server import make_token

    telegram_id = 9_000_000 + uuid.uuid4().int % 1_000_000
    token = make_token(telegram_id)
    with Session(app_db, expire_on_commit=False) as s:
        owner = s.execute(sa.select(User).where(User.email == email)).scalars().one()
        assistant = s.execute(sa.select(Assistant).where(Assistant.owner_id == owner.id)).scalars().one()
        bot = Bot(assistant_id=assistant.id, owner_id=owner.id, telegram_bot_id=telegram_id,
                  username=f"edge{telegram_id}_bot", token_encrypted=encrypt_secret(token),
                  token_hint=mask_secret(token), mode="webhook", webhook_secret=encrypt_secret(WEBHOOK_SECRET),
                  desired_state="paused", status="paused")
        s.add(bot)
        s.commit()
        return bot.id, telegram_id


def test_browser_through_nginx_signs_in_and_gets_live_updates_over_wss(front, front_context, app_db):
    page = front_context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    email = f"edge-{uuid.uuid4().hex[:8]}@example.com"
    sign_up(page, email)  # the verification link comes from PUBLIC_URL: through nginx as well
    assert page.url.startswith(f"{ORIGIN}/dashboard")
    session_cookies = [c for c in front_context.cookies() if c["httpOnly"]]
    assert session_cookies and all(c["secure"] for c in session_cookies)
    assert sockets and all(url.startswith(f"wss://127.0.0.1:{HTTPS_PORT}/_event") for url in sockets)
    create_assistant(page, "Edge helper")

    bot_id, _ = _webhook_bot(app_db, email)
    open_page(page, "/dashboard/inbox")
    update = json.dumps(text_update("Hello through nginx", chat_id=5151, first_name="Nadia", update_id=77)).encode()
    path = f"/telegram/webhook/{bot_id}"
    json_type = {"Content-Type": "application/json"}
    assert front.request(path, method="POST", body=update, headers=json_type)[0] == 403
    wrong = {**json_type, "X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}
    assert front.request(path, method="POST", body=update, headers=wrong)[0] == 403
    right = {**json_type, "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    status, _, body = front.request(path, method="POST", body=update, headers=right)
    assert (status, json.loads(body)) == (200, {"ok": True})

    # Pushed to the open tab over the proxied websocket: no reload.
    expect(page.locator(".dialog-item", has_text="Nadia")).to_be_visible()
    page.locator(".dialog-item", has_text="Nadia").click()
    expect(page.locator("#transcript")).to_contain_text("Hello through nginx")
    log = front.access_log()
    assert re.search(r'"GET /_event/\S* HTTP/1\.1" 101 ', log), "no websocket upgrade went through nginx"
    assert re.search(rf'"POST /telegram/webhook/{bot_id} HTTP/\S+" 200 ', log)


def _nginx_body_limit() -> int:
    """client_max_body_size of deploy/nginx.conf's upload location, in bytes."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    found = re.search(r"location = /_upload \{[^}]*?client_max_body_size\s+(\d+)([kKmMgG]?);", site)
    assert found, "deploy/nginx.conf's /_upload location sets no client_max_body_size (nginx refuses uploads)"
    return int(found.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[found.group(2).lower()]


# With two web workers an upload may reach the worker that does not hold the tab's WebSocket: its handler
# must act as the request's own cookie there (session_cookie.upload_session; this test found it running
# signed out once). Each upload lands on either worker: four of them all miss the other worker 1 time in 16.
def test_upload_just_under_the_limit_goes_through_nginx_and_is_ingested(front, front_context, tmp_path):
    from chatai.settings import get_settings
    from chatai.web.http_guards import max_upload_body_bytes

    # The rule written beside client_max_body_size: nginx lets through every upload request the app accepts.
    assert _nginx_body_limit() >= max_upload_body_bytes()

    page = front_context.new_page()
    sign_up(page, f"upload-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "Big file helper")
    open_page(page, "/dashboard/knowledge")
    # 64 KB under MAX_UPLOAD_MB (the browser's own check lets it go): ten times nginx's default limit.
    # Mostly blank lines, so that the size is real on the wire while ingestion stays a few passages.
    text = "Our bakery on Elm Street bakes rye bread with caraway seeds every Tuesday.\n\n"
    near_limit = tmp_path / "near-limit.txt"
    size = get_settings().max_upload_bytes - 64 * 1024
    near_limit.write_text(text + "\n" * (size - 2 * len(text)) + text)
    assert near_limit.stat().st_size == size
    page.locator("#kb_upload input[type=file]").set_input_files(str(near_limit))

    row = page.locator(".document-row", has_text="near-limit.txt")
    expect(row).to_have_attribute("data-status", "ready", timeout=120_000)
    expect(page.locator(".upload-error")).to_have_count(0)
    for n in range(3):
        small = tmp_path / f"small-{n}.txt"
        small.write_text(f"Opening hours of shop {n}: nine to five.")
        page.locator("#kb_upload input[type=file]").set_input_files(str(small))
        expect(page.locator(".document-row", has_text=small.name)).to_have_attribute("data-status", "ready")
    expect(page.locator(".upload-error")).to_have_count(0)
    assert "/dashboard/knowledge" in page.url  # never sent to sign in
    assert re.search(r'"POST /_upload HTTP/\S+" 200 ', front.access_log()), "the upload did not go through nginx"


def _widget_owner(app_db, site: str) -> uuid.UUID:
    """An owner whose assistant's website chat is on for `site` (as `python -m chatai widget enable` sets it)."""
    from sqlmodel import Session

    from chatai.db.models import Assistant, User
    from chatai.widget.models import WidgetSettings

    with Session(app_db, expire_on_commit=False) as s:
        user = User(email=f"widget-{uuid.uuid4().hex[:8]}@example.com", password_hash="-")
        s.add(user)
        s.flush()
        assistant = Assistant(owner_id=user.id, name="Widget through nginx")
        s.add(assistant)
        s.flush()
        s.add(WidgetSettings(assistant_id=assistant.id, owner_id=user.id, enabled=True, allowed_sites=[site]))
        s.commit()
        return assistant.id


def test_widget_stream_passes_nginx_unbuffered_and_live_across_workers(front, app_db):
    """The visitor's SSE streams through nginx: a message is answered on its own stream; the events stream's
    first event arrives while it stays open (nothing buffered); a message posted as another request (which
    may land on the other web worker) arrives on the events stream live (Redis between the workers)."""
    import http.client

    assistant_id = _widget_owner(app_db, "127.0.0.1")
    status, headers, body = front.request(f"/widget/frame/{assistant_id}", headers={"Referer": "https://127.0.0.1/"})
    assert status == 200
    assert "frame-ancestors https://127.0.0.1 http://127.0.0.1" in headers["Content-Security-Policy"]
    json_headers = {"Origin": ORIGIN, "Content-Type": "application/json"}
    status, _, body = front.request(f"/widget/api/{assistant_id}/session", method="POST", headers=json_headers,
                                    body=json.dumps({"site": "127.0.0.1", "new": True}).encode())
    assert status == 200, body
    token = json.loads(body)["token"]
    visitor_headers = {**json_headers, "Authorization": f"Bearer {token}"}

    def send(text: str) -> tuple[int, dict, bytes]:
        return front.request(f"/widget/api/{assistant_id}/messages", method="POST", headers=visitor_headers,
                             body=json.dumps({"text": text, "client_message_id": uuid.uuid4().hex,
                                              "new": True}).encode())

    # The first message starts the conversation (none exists before it). Asking for a person needs no model:
    # the conversation service answers with the waiting notice, on this message's own stream.
    status, headers, body = send("Talk to a person")
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert b"event: final" in body and b"They will answer you here soon." in body
    status, _, body = front.request(f"/widget/api/{assistant_id}/session", method="POST", headers=json_headers,
                                    body=json.dumps({"site": "127.0.0.1", "token": token}).encode())
    session = json.loads(body)
    assert session["dialog"] and session["messages"][0]["text"] == "Talk to a person"
    from tests.waits import PATIENCE

    connection = http.client.HTTPSConnection("127.0.0.1", HTTPS_PORT, context=front.tls, timeout=PATIENCE)
    try:
        connection.request("GET", f"/widget/api/{assistant_id}/events?dialog={session['dialog']}"
                                   f"&after={urllib.parse.quote(session['cursor'])}",
                           headers={"Origin": ORIGIN, "Authorization": f"Bearer {token}"})
        stream = connection.getresponse()
        assert stream.status == 200
        assert b"event: ready" in stream.fp.readline() + stream.fp.readline()  # open stream, first event here
        # The dialog waits for a person: the next message is stored (the AI stays silent) and goes out live.
        status, _, body = front.request(
            f"/widget/api/{assistant_id}/messages", method="POST", headers=visitor_headers,
            body=json.dumps({"text": "Still there, a person please", "client_message_id": uuid.uuid4().hex,
                             "dialog": session["dialog"]}).encode())
        assert status == 200, body
        received = b""
        while b"Still there, a person please" not in received:  # the other stream, live
            received += stream.fp.readline()
        assert b'"role":"user"' in received
    finally:
        connection.close()
