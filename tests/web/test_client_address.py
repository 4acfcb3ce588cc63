"""The client address used by sign-in limits and the session list: X-Forwarded-For counts only
through the configured number of trusted proxies, never when a client sends it directly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from reflex.app import EventNamespace
from reflex_base import constants
from reflex_base.config import get_config

import chatai.chatai  # noqa: F401 - installs the session-cookie patch on the namespace, as in the app
from chatai.settings import PROJECT_ROOT
from chatai.web import session_cookie


def _client_ip(peer: str, forwarded_for: str = "") -> str:
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    environ = {"asgi.scope": {"client": (peer, 50000), "headers": headers}}
    data = EventNamespace._build_static_router_data(None, "sid-test", environ)
    session_cookie.forget("sid-test")
    return data[constants.RouteVar.CLIENT_IP]


@pytest.fixture
def hops(monkeypatch):
    def set_hops(n: int) -> None:
        monkeypatch.setattr(get_config(), "trusted_proxy_hops", n)
    return set_hops


def test_header_sent_directly_by_a_client_is_ignored(hops):
    hops(0)
    assert _client_ip("203.0.113.9", "1.2.3.4") == "203.0.113.9"


def test_one_trusted_proxy_gives_the_address_it_saw(hops):
    hops(1)
    # nginx overwrites the header with its peer; with $proxy_add_x_forwarded_for a client's own
    # entries stay on the left and are still not taken.
    assert _client_ip("127.0.0.1", "198.51.100.4") == "198.51.100.4"
    assert _client_ip("127.0.0.1", "6.6.6.6, 198.51.100.4") == "198.51.100.4"


def test_rxconfig_takes_the_hops_from_the_setting():
    code = "from reflex_base.config import get_config; print(get_config().trusted_proxy_hops)"
    env = {**os.environ, "TRUSTED_PROXY_HOPS": "1"}
    env.pop("REFLEX_TRUSTED_PROXY_HOPS", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "1", out.stderr
    env["TRUSTED_PROXY_HOPS"] = "0"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "0", out.stderr


def test_deploy_trusts_exactly_nginx():
    nginx = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    unit = (PROJECT_ROOT / "deploy" / "chatai-web.service").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "Environment=TRUSTED_PROXY_HOPS=1" in unit
