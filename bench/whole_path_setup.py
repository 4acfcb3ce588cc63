"""Set-up of the whole-path bench (bench/whole_path.py) through the services: the businesses (owners, each
with its own balance and sign-in), their assistants and knowledge, the bots at the fake Telegram, and the
runners' start so that several share the bots.

With M businesses, bot i belongs to business i % M and answers for the shop type i % 3 of
bench/russian_businesses.py (an assistant of that type is created in that business when its first bot needs
it, its files uploaded and ingested); one business (the default) has the three assistants, as before.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

OWNER_EMAIL = "loadowner@bench.example.com"
OWNER_PASSWORD = "Quiet-lantern-4827-river"


def owner_email(business: int, businesses: int) -> str:
    return OWNER_EMAIL if businesses == 1 else f"loadowner{business}@bench.example.com"


def _ctl(url: str, action: str, body: dict[str, Any] | None = None) -> Any:
    return httpx.post(f"{url}/_ctl/{action}", json=body or {}, timeout=120).json()


async def actl(url: str, action: str, body: dict[str, Any] | None = None) -> Any:
    return await asyncio.to_thread(_ctl, url, action, body)


@dataclass
class Tenant:
    owner_ids: list[Any]  # one per business
    emails: list[str]
    bot_ids: list[Any]
    bot_owners: list[int]  # bot index -> business index
    tokens: list[str]
    bot_sets: list[int]  # bot index -> question set index
    question_sets: list[list[str]]
    chunks: int
    assistants: int

    @property
    def owner_id(self) -> Any:
        return self.owner_ids[0]


async def _create_owner(email: str) -> Any:
    from chatai.db.models import MICRO
    from chatai.db.session import async_session
    from chatai.services import accounts, billing

    async with async_session() as s:
        owner = await accounts.create_user(s, email=email, password=OWNER_PASSWORD)
        await billing.open_account(s, user_id=owner.id, welcome=False)
        await billing.credit(s, account_id=owner.id, amount_micros=10_000_000 * MICRO, kind="adjustment",
                             key=f"bench:{owner.id}", reason="bench balance")
        await s.commit()
        return owner.id


async def set_up_tenant(telegram_url: str, bots: int, businesses: int = 1) -> Tenant:
    import sqlalchemy as sa

    from bench.knowledge_files import render
    from bench.russian_businesses import BUSINESSES
    from chatai.db.session import async_session
    from chatai.rag.worker import process_pending
    from chatai.services import assistants, knowledge
    from chatai.services import bots as bot_services
    from tests.fakes.telegram_server import make_token

    if bots < businesses:
        raise SystemExit(f"--businesses {businesses} needs at least as many bots (--bots {bots})")
    emails = [owner_email(m, businesses) for m in range(businesses)]
    owner_ids = [await _create_owner(email) for email in emails]
    bot_owners = [i % businesses for i in range(bots)]
    bot_sets = [i % len(BUSINESSES) for i in range(bots)]
    wanted = sorted({(bot_owners[i], bot_sets[i]) for i in range(bots)} if businesses > 1
                    else {(0, kind) for kind in range(len(BUSINESSES))})
    assistant_ids: dict[tuple[int, int], Any] = {}
    for owner, kind in wanted:
        business = BUSINESSES[kind]
        async with async_session() as s:
            assistant = await assistants.create_assistant(
                s, owner_id=owner_ids[owner], name=business.name.capitalize(), score_threshold=0.0,
                handoff_enabled=False, handoff_on_low_confidence=False)
            assistant_ids[(owner, kind)] = assistant.id
            for file in business.files:
                await knowledge.upload_document(s, owner_id=owner_ids[owner], assistant_id=assistant.id,
                                                filename=file.filename, data=render(file))
    await process_pending()
    async with async_session() as s:
        chunks = int((await (await s.connection()).execute(sa.text("SELECT count(*) FROM chunks"))).scalar_one())
    tokens = [make_token(30_000_000 + i) for i in range(bots)]
    await actl(telegram_url, "add_bots", {"bots": [[t, f"shop{i}_bot"] for i, t in enumerate(tokens)]})
    bot_ids = []
    for i, token in enumerate(tokens):
        async with async_session() as s:
            bot = await bot_services.connect_bot(s, owner_id=owner_ids[bot_owners[i]],
                                                 assistant_id=assistant_ids[(bot_owners[i], bot_sets[i])],
                                                 token=token)
            bot_ids.append(bot.id)
    return Tenant(owner_ids=owner_ids, emails=emails, bot_ids=bot_ids, bot_owners=bot_owners, tokens=tokens,
                  bot_sets=bot_sets, question_sets=[[q for q, _ in b.questions] for b in BUSINESSES],
                  chunks=chunks, assistants=len(assistant_ids))


async def session_cookies(tenant: Tenant, tabs: int) -> list[str]:
    """The Cookie header of `tabs` signed-in tabs spread evenly over the businesses (tab j shows business
    j % M): one sign-in per business through the service the sign-in page calls (its token is what
    /auth/session puts into the HttpOnly cookie), shared by that business's tabs as one browser's tabs share it."""
    from chatai.db.session import async_session
    from chatai.services import accounts
    from chatai.web.session_cookie import COOKIE_NAME

    cookies = []
    for email in tenant.emails[:max(1, min(tabs, len(tenant.emails)))]:
        async with async_session() as s:
            token = await accounts.sign_in(s, email=email, password=OWNER_PASSWORD, client="bench")
            await s.commit()
        cookies.append(f"{COOKIE_NAME}={token}")
    return [cookies[j % len(cookies)] for j in range(tabs)]


async def clear_runner_keys() -> None:
    from chatai.cache import get_redis

    redis = get_redis()
    keys = [k async for k in redis.scan_iter("chatai:bots:*")]
    if keys:
        await redis.delete(*keys)


async def set_bots_running(tenant: Tenant, running: bool) -> None:
    """Pause or resume every bot through its owner's services (as the dashboard's buttons do)."""
    from chatai.db.session import async_session
    from chatai.services import bots as bot_services

    for bot_id, owner in zip(tenant.bot_ids, tenant.bot_owners, strict=True):
        async with async_session() as s:
            if running:
                await bot_services.resume_bot(s, owner_id=tenant.owner_ids[owner], bot_id=bot_id)
            else:
                await bot_services.pause_bot(s, owner_id=tenant.owner_ids[owner], bot_id=bot_id)


async def start_runners_sharing(stack: Any, tenant: Tenant, n: int) -> None:
    """Start n runners so that they share the bots. A runner takes every free bot it prefers among the live
    runners it knows; the first to start knows only itself and takes them all, and bots never move to a runner
    that joins later. So with several runners the bots are paused first and resumed once every runner has seen
    the others (their heartbeat, a third of the 15 s lease, refreshes the list)."""
    from chatai.bots.ownership import RUNNERS_KEY
    from chatai.cache import get_redis

    if n > 1:
        await set_bots_running(tenant, False)
    stack.start_runners(n)
    if n > 1:
        redis = get_redis()
        deadline = time.monotonic() + 60
        while await redis.zcard(RUNNERS_KEY) < n and time.monotonic() < deadline:  # noqa: ASYNC110 - Redis
            await asyncio.sleep(0.2)
        await asyncio.sleep(6.0)
        await set_bots_running(tenant, True)


async def bots_per_runner(tenant: Tenant) -> list[int]:
    """Bots held per runner, from the leases in Redis (the bots table's runner_id can lag behind)."""
    from chatai.bots.ownership import LEASE_PREFIX
    from chatai.cache import get_redis

    holders = await get_redis().mget([f"{LEASE_PREFIX}{bot_id}" for bot_id in tenant.bot_ids])
    counts: dict[str, int] = {}
    for holder in holders:
        counts[str(holder)] = counts.get(str(holder), 0) + 1
    return sorted(counts.values(), reverse=True)


async def wait_polling(telegram_url: str, bots: int, timeout: float = 120) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = await actl(telegram_url, "polling")
        if state["polling"] >= bots:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"only {state['polling']}/{bots} bots polling after {timeout} s")
