"""The server install's front door: Debian's nginx running the project's site (deploy/nginx.conf, with
loopback ports and a self-signed certificate made here) in front of the production app, and a real
browser going through it over HTTPS: HTTP redirected to HTTPS, sign-up and sign-in (the mailed link built
from PUBLIC_URL comes back through nginx), Reflex's websocket proxied (wss through nginx, live updates
pushed from outside arrive), and the Telegram webhook path with and without its secret header.

The app is the session's `app_url`, started here with PUBLIC_URL = the nginx origin: Reflex bakes that
URL into the frontend build, so a session whose app was already started for its plain origin (another
browser test ran first) cannot show the websocket through nginx, and this file is skipped there with that
reason (`make test` runs it in a session of its own).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, create_assistant, open_page, sign_up
from tests.fakes.telegram_server import text_update


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HTTPS_PORT = _free_port()
HTTP_PORT = _free_port()
ORIGIN = f"https://127.0.0.1:{HTTPS_PORT}"
WEBHOOK_SECRET = "nginx-test-webhook-secret-" + uuid.uuid4().hex  # noqa: S105 - made up for this test


@pytest.fixture(scope="session")
def app_env(app_env: dict[str, str]) -> dict[str, str]:
    """The conftest's environment, with the public URL at nginx and one trusted proxy hop (as the
    chatai-web unit sets it)."""
    return {**app_env, "PUBLIC_URL": ORIGIN, "TRUSTED_PROXY_HOPS": "1"}


def _event_url_built_into(app_url: str) -> str:
    """The websocket URL the app's frontend build connects to (Reflex's env module, served as an asset)."""
    with urllib.request.urlopen(f"{app_url}/", timeout=10) as response:  # noqa: S310 - loopback
        asset = re.search(r"/assets/reflex-env-[\w-]+\.js", response.read().decode())
    assert asset, "no reflex-env module in the app's page"
    with urllib.request.urlopen(f"{app_url}{asset.group(0)}", timeout=10) as response:  # noqa: S310 - loopback
        event = re.search(r"EVENT:\s*[`'\"]([^`'\"]+)", response.read().decode())
    assert event, "no EVENT URL in the app's env module"
    return event.group(1)


def _nginx_binary() -> str:
    """Debian's nginx, installed when missing and we may (root), like the Makefile installs chromium."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("nginx is not installed and this is not root: run 'sudo apt-get install nginx-light'")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], env=env, capture_output=True,
                             text=True, timeout=600)
    if install.returncode != 0:
        update = subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        install = subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], env=env, capture_output=True,
                                 text=True, timeout=600)
        if update.returncode != 0 or install.returncode != 0:
            pytest.skip(f"nginx could not be installed with apt-get: {install.stderr.strip()[-300:]}")
    return shutil.which("nginx") or "/usr/sbin/nginx"


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def _site(app_url: str, cert: Path, key: Path) -> str:
    """deploy/nginx.conf with loopback ports, this test's certificate and the app's port; every swap must
    hit, so a change to the site file cannot make this test silently run something else."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    swaps = [
        ("listen 80;", f"listen 127.0.0.1:{HTTP_PORT};", 1),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{HTTPS_PORT} ssl http2;", 1),
        ("https://$host$request_uri", f"https://$host:{HTTPS_PORT}$request_uri", 1),
        ("/etc/letsencrypt/live/chatai.example.com/fullchain.pem", str(cert), 1),
        ("/etc/letsencrypt/live/chatai.example.com/privkey.pem", str(key), 1),
        ("http://127.0.0.1:3000;", f"{app_url};", 3),
    ]
    for old, new, count in swaps:
        assert site.count(old) == count, f"deploy/nginx.conf no longer has {count} x {old!r}"
        site = site.replace(old, new)
    return site


def _main_config(folder: Path, site: Path) -> str:
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    return f"""
# Root's workers: they buffer to temp files under this test's folder, which only root may enter.
user root;
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {folder}/access.log;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {site};
}}
"""


class Front:
    def __init__(self, origin: str, cert: Path, folder: Path) -> None:
        self.origin = origin
        self.folder = folder
        self.tls = ssl.create_default_context(cafile=str(cert))  # verified against the test's certificate

    def request(self, path: str, *, method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
        req = urllib.request.Request(self.origin + path, data=body, method=method,  # noqa: S310 - https
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=20) as response:  # noqa: S310 - loopback
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def access_log(self) -> str:
        return (self.folder / "access.log").read_text()


@pytest.fixture(scope="module")
def front(app_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    built_for = _event_url_built_into(app_url)
    if not built_for.startswith(f"wss://127.0.0.1:{HTTPS_PORT}/"):
        pytest.skip(f"the session's app was built for {built_for} by an earlier browser test (Reflex bakes "
                    "PUBLIC_URL into the build): run tests/e2e/test_nginx.py in a session of its own")
    nginx = _nginx_binary()
    folder = tmp_path_factory.mktemp("nginx")
    cert, key = _self_signed_certificate(folder)
    site = folder / "site.conf"
    site.write_text(_site(app_url, cert, key))
    config = folder / "nginx.conf"
    config.write_text(_main_config(folder, site))
    checked = subprocess.run([nginx, "-t", "-p", str(folder), "-c", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([nginx, "-p", str(folder), "-c", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    front = Front(ORIGIN, cert, folder)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"nginx exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            try:
                if front.request("/ping")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        yield front
    finally:
        proc.send_signal(signal.SIGTERM)  # fast shutdown of this nginx only (its own master process)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


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


def _webhook_bot(email: str) -> tuple[uuid.UUID, int]:
    """A webhook-mode bot of this owner's assistant, paused so the polling runner leaves it alone (the
    webhook route accepts updates for it all the same: Telegram would deliver them)."""
    import sqlalchemy as sa

    from chatai.db.models import Assistant, Bot, User
    from chatai.db.session import session_scope
    from chatai.security import encrypt_secret, mask_secret
    from tests.fakes.telegram_server import make_token

    telegram_id = 9_000_000 + uuid.uuid4().int % 1_000_000
    token = make_token(telegram_id)
    with session_scope() as s:
        owner = s.execute(sa.select(User).where(User.email == email)).scalars().one()
        assistant = s.execute(sa.select(Assistant).where(Assistant.owner_id == owner.id)).scalars().one()
        bot = Bot(assistant_id=assistant.id, owner_id=owner.id, telegram_bot_id=telegram_id,
                  username=f"edge{telegram_id}_bot", token_encrypted=encrypt_secret(token),
                  token_hint=mask_secret(token), mode="webhook", webhook_secret=encrypt_secret(WEBHOOK_SECRET),
                  desired_state="paused", status="paused")
        s.add(bot)
        s.commit()
        return bot.id, telegram_id


def test_browser_through_nginx_signs_in_and_gets_live_updates_over_wss(front, browser):
    context = browser.new_context(base_url=ORIGIN, ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        email = f"edge-{uuid.uuid4().hex[:8]}@example.com"
        sign_up(page, email)  # the verification link comes from PUBLIC_URL: through nginx as well
        assert page.url.startswith(f"{ORIGIN}/dashboard")
        session_cookies = [c for c in context.cookies() if c["httpOnly"]]
        assert session_cookies and all(c["secure"] for c in session_cookies)
        assert sockets and all(url.startswith(f"wss://127.0.0.1:{HTTPS_PORT}/_event") for url in sockets)
        create_assistant(page, "Edge helper")

        bot_id, _ = _webhook_bot(email)
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
        expect(page.locator(".dialog-item", has_text="Nadia")).to_be_visible(timeout=10_000)
        page.locator(".dialog-item", has_text="Nadia").click()
        expect(page.locator("#transcript")).to_contain_text("Hello through nginx")
        log = front.access_log()
        assert re.search(r'"GET /_event/\S* HTTP/1\.1" 101 ', log), "no websocket upgrade went through nginx"
        assert re.search(rf'"POST /telegram/webhook/{bot_id} HTTP/\S+" 200 ', log)
    finally:
        context.close()
