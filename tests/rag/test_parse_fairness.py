"""Parsing is fair across owners, and the parse children's memory together is bounded.

Once, one owner's six ~7 MB DOCX files (document.xml 100 MB each, ratio 16) held all four parse children
of the process for minutes, and another owner's one-line .txt took 206 s (issue 19). Now an owner holds at
most its share of the parse slots and always leaves one to the others, and such files are refused by the
text cap after a fraction of their XML. Asserted by slots and ordering, never by seconds.
"""

from __future__ import annotations

import asyncio

import psutil
import pytest
from sqlalchemy import select

from chatai.db.models import Document
from chatai.db.session import async_session
from chatai.rag.limits import Limits
from chatai.rag.parse_process import parse_slots
from chatai.rag.parse_slots import FairSlots, slot_counts
from chatai.services import knowledge
from chatai.services.knowledge import UploadError
from chatai.settings import get_settings
from tests.factories import make_tenant
from tests.rag.hostile_files import dense_text_docx

# --- the policy, with plain asyncio (no processes) --------------------------------------------------------


class _Parses:
    """Parses that hold their slot until told to finish, recording the order they started in."""

    def __init__(self, slots: FairSlots) -> None:
        self.slots = slots
        self.started: list[str] = []
        self.finish: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def ask(self, owner: str, name: str) -> None:
        self.finish[name] = asyncio.Event()

        async def parse() -> None:
            async with self.slots.hold(owner):
                self.started.append(name)
                await self.finish[name].wait()

        self.tasks[name] = asyncio.create_task(parse())

    async def settle(self) -> None:
        for _ in range(5):  # let every woken task run up to its next wait
            await asyncio.sleep(0)

    async def done(self, name: str) -> None:
        self.finish[name].set()
        await self.tasks[name]
        await self.settle()


async def test_an_owner_never_holds_more_than_its_share_and_a_newcomer_starts_at_once():
    parses = _Parses(FairSlots(slots=3, share=2))
    for i in range(6):
        parses.ask("a", f"a{i}")
    await parses.settle()
    assert parses.started == ["a0", "a1"]  # a's share; the third slot stays free for the others
    assert parses.slots.waiting() == {"a": 4}
    parses.ask("b", "b0")
    await parses.settle()
    assert parses.started == ["a0", "a1", "b0"]
    b_grant = parses.slots.grants[-1]
    assert (b_grant.owner, b_grant.queued, b_grant.running, b_grant.waiting) == ("b", False, {"a": 2, "b": 1},
                                                                                  {"a": 4})
    parses.ask("c", "c0")  # every slot busy: c waits...
    await parses.settle()
    await parses.done("a0")  # ...and takes the next free slot before a's older requests
    assert parses.started[-1] == "c0"
    await parses.done("b0")
    assert parses.started[-1] == "a2"  # a is below its share again
    assert max(sum(g.running.values()) for g in parses.slots.grants) == 3
    assert max(g.running.get("a", 0) for g in parses.slots.grants) == 2
    for name in ("a1", "c0", "a2", "a3", "a4", "a5"):
        await parses.done(name)
    assert parses.slots.running == {} and parses.slots.waiting() == {}


async def test_after_a_slot_frees_the_least_recently_served_owner_goes_first():
    parses = _Parses(FairSlots(slots=2, share=1))
    parses.ask("a", "a0")
    parses.ask("b", "b0")
    parses.ask("a", "a1")
    parses.ask("a", "a2")
    await parses.settle()
    parses.ask("c", "c0")  # asked after a1 and a2
    await parses.settle()
    await parses.done("a0")
    assert parses.started == ["a0", "b0", "c0"]  # c was never served; a just was
    await parses.done("b0")
    assert parses.started[-1] == "a1"
    for name in ("c0", "a1", "a2"):
        await parses.done(name)
    assert parses.started == ["a0", "b0", "c0", "a1", "a2"]


async def test_a_cancelled_waiter_gives_up_its_place_and_no_slot_leaks():
    slots = FairSlots(slots=1, share=1)
    parses = _Parses(slots)
    parses.ask("a", "a0")
    parses.ask("b", "b0")
    await parses.settle()
    parses.tasks["b0"].cancel()  # e.g. the upload request went away
    await asyncio.gather(parses.tasks["b0"], return_exceptions=True)
    assert slots.waiting() == {}
    await parses.done("a0")
    assert slots.running == {} and parses.started == ["a0"]
    parses.ask("c", "c0")
    await parses.settle()
    assert parses.started == ["a0", "c0"]
    await parses.done("c0")


async def test_an_owners_queue_is_bounded_and_the_refusal_names_the_limit(monkeypatch):
    from chatai.rag.parse_process import parse_isolated
    from chatai.rag.parsing import ParseError

    monkeypatch.setenv("PARSE_QUEUE_PER_OWNER", "1")
    get_settings.cache_clear()
    try:
        outcomes = await asyncio.gather(*(parse_isolated(f"n{i}.txt", b"Some text.", owner="a") for i in range(3)),
                                        parse_isolated("b.txt", b"Other text.", owner="b"),
                                        return_exceptions=True)
        # a's first runs, its second waits, its third would be a second waiting file: refused. b is not held up.
        assert [type(o).__name__ for o in outcomes] == ["ParseOutcome", "ParseOutcome", "ParseError", "ParseOutcome"]
        refusal = outcomes[2]
        assert isinstance(refusal, ParseError) and refusal.code == "over_limit"
        assert refusal.message == ("1 of your files are already waiting to be read (limit 1); upload this one again "
                                   "when they are done.")
        # The ingestion worker (no owner) is never refused: its lanes bound its queue.
        ingest = await asyncio.gather(*(parse_isolated(f"i{i}.txt", b"Some text.") for i in range(3)))
        assert len(ingest) == 3
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_slots_are_bounded_by_the_children_memory_and_leave_one_to_the_others(monkeypatch):
    # The defaults: 4 at most, but 2048 MB of children at 1024 MB each fit 2; one owner holds 1 of them.
    s = get_settings()
    defaults = slot_counts(concurrency=s.parse_concurrency, memory_total_mb=s.parse_memory_total_mb,
                           memory_mb=s.parse_memory_mb, per_owner=s.parse_per_owner)
    assert defaults == (2, 1)
    assert slot_counts(concurrency=4, memory_total_mb=8192, memory_mb=1024, per_owner=2) == (4, 2)
    assert slot_counts(concurrency=8, memory_total_mb=3072, memory_mb=512, per_owner=8) == (6, 5)  # one left
    assert slot_counts(concurrency=4, memory_total_mb=1024, memory_mb=1024, per_owner=2) == (1, 1)
    assert slot_counts(concurrency=4, memory_total_mb=500, memory_mb=1024, per_owner=1) == (1, 1)
    # A total below one child's limit lowers that child's limit: the sum stays under the total.
    monkeypatch.setenv("PARSE_MEMORY_TOTAL_MB", "500")
    get_settings.cache_clear()
    try:
        assert Limits.from_settings().memory_mb == 500
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


# --- the real thing: upload_document, parse children, two owners -----------------------------------------


def _parse_children() -> list[psutil.Process]:
    children = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "chatai.rag.parse_process" in " ".join(child.cmdline()):
                children.append(child)
        except psutil.Error:
            continue
    return children


async def _upload(tenant, name: str, data: bytes) -> Document:
    async with async_session() as s:
        return await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                               filename=name, data=data)


HOSTILE_FILES = 6


async def test_another_owners_txt_is_parsed_while_one_owners_hostile_files_hold_their_share(db):
    hostile_files = HOSTILE_FILES
    attacker, other = await make_tenant("attacker@example.com"), await make_tenant("other@example.com")
    data = dense_text_docx()
    slots = parse_slots()
    assert (slots.slots, slots.share) == (2, 1)
    attacker_key, other_key = str(attacker.owner_id), str(other.owner_id)
    hostile = [asyncio.create_task(_upload(attacker, f"manual-{i}.docx", data)) for i in range(hostile_files)]
    children_seen: list[list[psutil.Process]] = []
    try:
        # Until the attacker holds its share and has files queued behind it (a hang guard, not a timing).
        for _ in range(6000):
            if slots.running.get(attacker_key) == 1 and slots.waiting().get(attacker_key, 0) >= 1:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail(f"the attacker's files never queued: {slots.running} {slots.waiting()}")
        children_seen.append(_parse_children())
        small = await _upload(other, "hours.txt", b"We are open from 9 to 18 on weekdays.")
        children_seen.append(_parse_children())
        outcomes = await asyncio.gather(*hostile, return_exceptions=True)
    finally:
        for task in hostile:
            task.cancel()
        await asyncio.gather(*hostile, return_exceptions=True)

    # The other owner's file started at once: it never queued, the attacker holding its share and more
    # of its files waiting at that moment; and it was parsed before the attacker's last file started.
    grants = list(slots.grants)
    other_grant = next(i for i, g in enumerate(grants) if g.owner == other_key)
    assert grants[other_grant].queued is False
    assert grants[other_grant].running.get(attacker_key) == 1
    assert grants[other_grant].waiting.get(attacker_key, 0) >= 1
    attacker_grants = [i for i, g in enumerate(grants) if g.owner == attacker_key]
    assert len(attacker_grants) == hostile_files and other_grant < attacker_grants[-1]
    # The attacker never held more than its share, and never more than the slots ran at once.
    assert max(g.running.get(attacker_key, 0) for g in grants) == 1
    assert max(sum(g.running.values()) for g in grants) <= 2
    # Every hostile file refused by the text cap (not the CPU or memory limit), early; the .txt stored.
    assert all(isinstance(o, UploadError) for o in outcomes), outcomes
    assert {o.message for o in outcomes} == {"The file holds more than 12,000,000 characters of text (limit "
                                             "12,000,000 characters); split it into smaller files."}
    assert all(o.stats["bytes_read"] < 25 * 1048576 for o in outcomes)
    async with async_session() as s:
        stored = (await s.execute(select(Document.filename))).scalars().all()
    assert stored == ["hours.txt"] and small.filename == "hours.txt"
    # The children alive together never exceeded the slots, each limited to its part of the total.
    child_limit = Limits.from_settings().memory_mb * 1048576
    assert 2 * child_limit <= get_settings().parse_memory_total_mb * 1048576
    assert any(children_seen)  # the sampling saw the attacker's children at work
    for children in children_seen:
        assert len(children) <= 2
        for child in children:
            try:
                address_space = child.rlimit(psutil.RLIMIT_AS)[0]
            except psutil.Error:
                continue  # already gone
            assert address_space in (child_limit, psutil.RLIM_INFINITY)  # infinity: not limited itself yet
