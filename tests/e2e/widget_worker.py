"""A second web worker for the widget's streaming browser test, answering with an LLM.

The session's app (tests/e2e/conftest.py) runs without an LLM, and the LLM is the process's setting
(OPENAI_BASE_URL), not an assistant's: pointing the shared app at a model would change every other browser
test. So the test that watches an answer stream starts this worker beside it: the app's production HTTP
routes (chatai.web.api.with_api_routes: the widget's loader, panel page and visitor API, guards and headers
included; the Reflex pages are not on a visitor's path), one granian process on its own loopback port, on
the run's database and Redis, with OPENAI_BASE_URL pointed at the fake OpenAI-compatible server on
127.0.0.1. Its own PUBLIC_URL makes it the origin the snippet loads from; no frontend build is needed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def app():  # noqa: ANN201 - granian --factory target
    from chatai.web.api import with_api_routes

    async def not_here(scope, receive, send):  # noqa: ANN001 - no Reflex behind this worker
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return with_api_routes(not_here)


@dataclass
class Worker:
    url: str
    proc: subprocess.Popen


@contextmanager
def llm_settings(base_url: str) -> Iterator[None]:
    """This process's settings pointed at the fake LLM (its embeddings too) for the block, then restored."""
    from chatai.llm.client import reset_openai_client
    from chatai.settings import get_settings

    saved = {name: os.environ.get(name) for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    os.environ.update({"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-test"})
    get_settings.cache_clear()
    reset_openai_client()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        reset_openai_client()


def seed_shop(*, site: str, document: str, llm_base_url: str) -> uuid.UUID:
    """An owner with money on the account and an assistant whose knowledge is `document` (embedded by the fake
    LLM's embeddings, as the worker will embed questions), its website channel on for `site`."""
    from chatai.db.models import MICRO
    from chatai.db.session import async_session, reset_engines
    from chatai.rag.worker import process_pending
    from chatai.services import billing, knowledge
    from chatai.widget.store import save_widget
    from tests.factories import make_tenant

    async def go() -> uuid.UUID:
        tenant = await make_tenant(f"stream-{uuid.uuid4().hex[:8]}@example.com", name="Bakery helper")
        async with async_session() as s:
            await save_widget(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, enabled=True,
                              allowed_sites=[site])
            await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                            filename="bakery.md", data=document.encode())
            await billing.ensure_account(s, user_id=tenant.owner_id)
            await billing.credit(s, account_id=tenant.owner_id, amount_micros=100 * MICRO, kind="adjustment",
                                 key=f"test:{tenant.owner_id}", reason="test balance")
            await s.commit()
        await process_pending()
        reset_engines()
        return tenant.assistant_id

    with llm_settings(llm_base_url), ThreadPoolExecutor(1) as pool:  # sync Playwright holds this thread's loop
        return pool.submit(asyncio.run, go()).result()


@contextmanager
def widget_worker(*, llm_base_url: str, log: Path) -> Iterator[Worker]:
    from chatai.cli.app import reflex_environment
    from tests.e2e.conftest import _free_port, _stop_group, wait_for_app

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = reflex_environment()
    env.update({"PUBLIC_URL": url, "RUN_BOTS_IN_WEB": "false", "OPENAI_BASE_URL": llm_base_url,
                "OPENAI_API_KEY": "sk-test"})
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host",
                                 "127.0.0.1", "--port", str(port), "--workers", "1", "--no-ws",
                                 "tests.e2e.widget_worker:app"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_app(f"{url}/widget/loader.js", proc, log)
        yield Worker(url, proc)
    finally:
        _stop_group(proc)
