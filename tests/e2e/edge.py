"""The app as a scaled-out server install runs it, for tests/e2e/test_nginx.py and test_scale_out.py (one
pytest session, one app build): Debian's nginx with the project's site (deploy/nginx.conf, loopback ports
and a self-signed certificate made here) in front of two Reflex backend workers that share dashboard state
through Redis, against PostgreSQL and Redis reached by URL (a second embedded PostgreSQL and a second
redis-server started here stand in for external ones).

`external_servers`, `front` and `front_context` are session fixtures made available to every e2e test by
tests/e2e/conftest.py (one instance per session); `app_env` is the override each of the two files imports:
it must stay a per-file override, since the other browser tests run the plain app of the conftest.
Reflex bakes PUBLIC_URL into the frontend build, so a session whose app was started by another browser
test first cannot run these: `front` skips them there with that reason (`make test` gives them a session
of their own).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from tests.waits import PATIENCE_MS

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
# Inside the project (embedded PostgreSQL as root must reach its data dir), short for the redis socket.
STAND_IN = ROOT / ".data" / f"scale-{os.getpid()}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HTTPS_PORT = _free_port()
HTTP_PORT = _free_port()
ORIGIN = f"https://127.0.0.1:{HTTPS_PORT}"


@pytest.fixture(scope="session")
def external_servers() -> Iterator[dict[str, str]]:
    """A second PostgreSQL and Redis, migrated with `python -m chatai db upgrade`: the app sees only URLs. The
    roles are split as README "Database roles" has it: the DBA creates the app's role, migrations run as the
    owner (DATABASE_OWNER_URL), the app connects as its role (DATABASE_URL)."""
    import sqlalchemy as sa

    from chatai.db.roles import create_app_role
    from chatai.db.session import EMBEDDED_APP_ROLE
    from chatai.embedded import postgres_url, redis_url, start_postgres, start_redis, stop_postgres, stop_redis, wipe

    pgdata, redis_dir = STAND_IN / "pg", STAND_IN / "redis"
    start_postgres(pgdata)
    start_redis(redis_dir, redis_dir / "r.sock")
    try:
        dba = sa.create_engine(postgres_url(pgdata), isolation_level="AUTOCOMMIT")
        with dba.connect() as conn:
            create_app_role(conn, EMBEDDED_APP_ROLE)
        dba.dispose()
        urls = {"DATABASE_OWNER_URL": postgres_url(pgdata),
                "DATABASE_URL": postgres_url(pgdata, user=EMBEDDED_APP_ROLE),
                "REDIS_URL": redis_url(redis_dir / "r.sock")}
        migrated = subprocess.run([sys.executable, "-m", "chatai", "db", "upgrade"], cwd=ROOT,
                                  env={**os.environ, **urls}, capture_output=True, text=True, timeout=300)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        yield urls
    finally:
        stop_redis(redis_dir)
        stop_postgres(pgdata)
        wipe(STAND_IN)


@pytest.fixture(scope="session")
def app_env(app_env: dict[str, str], external_servers: dict[str, str]) -> dict[str, str]:
    """The conftest's environment (bots in their own runner already) with two web workers on the stand-in
    servers (Reflex's state manager is redis only through REFLEX_REDIS_URL), the public URL at nginx and
    one trusted proxy hop (as the chatai-web unit sets it)."""
    return {**app_env, **external_servers, "REFLEX_REDIS_URL": external_servers["REDIS_URL"],
            "GRANIAN_WORKERS": str(WORKERS), "PUBLIC_URL": ORIGIN, "TRUSTED_PROXY_HOPS": "1"}


@pytest.fixture(scope="session")
def app_db(external_servers: dict[str, str]):
    """An engine on the app's database (the stand-in, not the test run's own), as the app's role."""
    import sqlalchemy as sa

    engine = sa.create_engine(external_servers["DATABASE_URL"])
    yield engine
    engine.dispose()


def event_url_built_into(app_url: str) -> str:
    """The websocket URL the app's frontend build connects to (Reflex's env module, served as an asset)."""
    with urllib.request.urlopen(f"{app_url}/", timeout=10) as response:  # noqa: S310 - loopback
        asset = re.search(r"/assets/reflex-env-[\w-]+\.js", response.read().decode())
    assert asset, "no reflex-env module in the app's page"
    with urllib.request.urlopen(f"{app_url}{asset.group(0)}", timeout=10) as response:  # noqa: S310 - loopback
        event = re.search(r"EVENT:\s*[`'\"]([^`'\"]+)", response.read().decode())
    assert event, "no EVENT URL in the app's env module"
    return event.group(1)


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


def site_config(app_url: str, cert: Path, key: Path, folder: Path) -> str:
    """deploy/nginx.conf with loopback ports, this test's certificate, log files and the app's port; every
    swap must hit, so a change to the site file cannot make this test silently run something else."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    swaps = [
        ("listen 80;", f"listen 127.0.0.1:{HTTP_PORT};", 1),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{HTTPS_PORT} ssl http2;", 1),
        ("https://$host$request_uri", f"https://$host:{HTTPS_PORT}$request_uri", 1),
        ("/etc/letsencrypt/live/chatai.example.com/fullchain.pem", str(cert), 1),
        ("/etc/letsencrypt/live/chatai.example.com/privkey.pem", str(key), 1),
        ("/var/log/chatai/nginx-access.log", str(folder / "access.log"), 1),
        ("/var/log/chatai/nginx-error.log", str(folder / "error.log"), 1),
        ("http://127.0.0.1:3000;", f"{app_url};", 5),
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


@pytest.fixture(scope="session")
def front(app_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    """nginx running the project's site in front of the session's app."""
    from tests.ops.debian import debian_binary

    built_for = event_url_built_into(app_url)
    if not built_for.startswith(f"wss://127.0.0.1:{HTTPS_PORT}/"):
        pytest.skip(f"the session's app was built for {built_for} by an earlier browser test (Reflex bakes "
                    "PUBLIC_URL into the build): run tests/e2e/test_nginx.py and tests/e2e/test_scale_out.py "
                    "in a session of their own")
    nginx = debian_binary("nginx", "nginx-light")
    folder = tmp_path_factory.mktemp("nginx")
    cert, key = _self_signed_certificate(folder)
    site = folder / "site.conf"
    site.write_text(site_config(app_url, cert, key, folder))
    config = folder / "nginx.conf"
    config.write_text(_main_config(folder, site))
    checked = subprocess.run([nginx, "-t", "-p", str(folder), "-c", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([nginx, "-p", str(folder), "-c", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    front = Front(ORIGIN, cert, folder)
    try:
        deadline = time.monotonic() + PATIENCE_MS / 1000  # a start-up bound, generous for a busy machine
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


@pytest.fixture
def front_context(front: Front, browser):
    """A browser context whose relative URLs go to nginx (HTTPS, the test's self-signed certificate)."""
    context = browser.new_context(base_url=front.origin, ignore_https_errors=True,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PATIENCE_MS)
    yield context
    context.close()
