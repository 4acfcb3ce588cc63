"""Parse and chunk an uploaded file in a child process with memory and CPU-time limits.

Why a process: a file that gets past the checks in limits.py can still make a parser allocate gigabytes
or loop for minutes. In a child with RLIMIT_AS / RLIMIT_CPU that costs only the child: it fails (or is
killed), the file gets an error sentence naming the limit, and the app's memory stays where it was
(parsing in the app once grew it from 441 MB to 2.5 GB for good).

Protocol: the parent writes one JSON header line (file name, limits) and the raw bytes to the child's
stdin; the child answers with one JSON object on stdout. JSON, not pickle, so even a child subverted by
a hostile file cannot make the parent run code. A fresh `python -m` child costs ~0.1-0.2 s (the parser
libraries import lazily), small next to parsing and embedding.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from chatai.rag.chunking import ChunkDraft
from chatai.rag.limits import READER_CRASHED, LimitExceeded, Limits, out_of_memory, out_of_time, too_many_waiting
from chatai.rag.parse_slots import FairSlots, QueueFull, slot_counts
from chatai.rag.parsing import ParseError
from chatai.textsafe import db_safe

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAX_OUTPUT_BYTES = 64 * 1024 * 1024  # chunks are capped, so a real answer is far smaller
STDERR_TAIL = 4096
# The owner key of parses with no owner given: the ingestion worker's, which is fair across owners itself
# (worker.py); its parses share one owner's share here so that uploads always find a slot.
INGEST_OWNER = "ingest-worker"

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FairSlots] = weakref.WeakKeyDictionary()


@dataclass
class ParseOutcome:
    kind: str
    page_count: int
    qa_pairs: list[tuple[str, str]] | None = None  # set for a question/answer CSV
    chunk_count: int = 0
    chunks: list[ChunkDraft] = field(default_factory=list)  # empty unless asked for


def parse_slots() -> FairSlots:
    """This event loop's parse slots, sized from the settings (rebuilt when they change while idle)."""
    from chatai.settings import get_settings

    s = get_settings()
    slots, share = slot_counts(concurrency=s.parse_concurrency, memory_total_mb=s.parse_memory_total_mb,
                               memory_mb=min(s.parse_memory_mb, s.parse_memory_total_mb),
                               per_owner=s.parse_per_owner)
    loop = asyncio.get_running_loop()
    current = _slots.get(loop)
    wanted = (slots, share, s.parse_queue_per_owner)
    if current is None or ((current.slots, current.share, current.max_waiting) != wanted and not current.busy):
        current = _slots[loop] = FairSlots(slots, share, max_waiting=s.parse_queue_per_owner)
    return current


async def parse_isolated(filename: str, data: bytes, *, limits: Limits | None = None, with_chunks: bool = True,
                         owner: str | None = None) -> ParseOutcome:
    """Parse and chunk in a limited child, in one of `owner`'s fair share of the parse slots. Raises
    ParseError (with a sentence) for every failure, including the child running out of memory or CPU time
    or dying."""
    limits = limits or Limits.from_settings()
    header = json.dumps({"filename": filename, "limits": limits.to_dict(), "with_chunks": with_chunks})
    try:
        # The ingestion worker's lanes bound its own queue; an owner's uploads are bounded here.
        async with parse_slots().hold(owner or INGEST_OWNER, bounded=owner is not None):
            returncode, out, err = await _run_child(header.encode() + b"\n" + data, limits)
    except QueueFull as exc:
        raise ParseError("over_limit", too_many_waiting(exc.limit)) from exc
    if returncode == 0:
        try:
            answer = json.loads(out)
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            return _outcome(answer)
    raise ParseError(*_explain_death(returncode, err, limits))


async def _run_child(request: bytes, limits: Limits) -> tuple[int | None, bytes, bytes]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(PROJECT_ROOT),
           "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}  # no secrets in a process fed hostile bytes
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatai.rag.parse_process", cwd=str(PROJECT_ROOT), env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        # CPU time is enforced by the child's RLIMIT_CPU; this wall-clock bound only catches a child that
        # waits for something instead of computing (2 busy cores can slow an honest one down by ~3x).
        async with asyncio.timeout(limits.cpu_seconds * 3 + 30):
            out, err = await _exchange(proc, request)
        return await proc.wait(), out, err
    except TimeoutError:
        log.warning("parse child %s ran out of wall-clock time: killed", proc.pid)
        return -signal.SIGXCPU, b"", b""
    finally:
        if proc.returncode is None:  # cancelled, timed out or failed: never leave the child running
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(proc.wait())


async def _exchange(proc: asyncio.subprocess.Process, request: bytes) -> tuple[bytes, bytes]:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None

    async def write() -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the child may die early
            proc.stdin.write(request)  # type: ignore[union-attr]
            await proc.stdin.drain()  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]

    async def read_out() -> bytes:
        out = bytearray()
        while chunk := await proc.stdout.read(1 << 20):  # type: ignore[union-attr]
            out += chunk
            if len(out) > MAX_OUTPUT_BYTES:
                proc.kill()
                return b""
        return bytes(out)

    async def read_err() -> bytes:
        tail = bytearray()
        while chunk := await proc.stderr.read(1 << 16):  # type: ignore[union-attr]
            tail = (tail + chunk)[-STDERR_TAIL:]
        return bytes(tail)

    _, out, err = await asyncio.gather(write(), read_out(), read_err())
    return out, err


def _outcome(answer: dict) -> ParseOutcome:
    if not answer.get("ok"):
        stats = answer.get("stats") if isinstance(answer.get("stats"), dict) else {}
        raise ParseError(str(answer.get("code") or "corrupt"), db_safe(str(answer.get("message") or READER_CRASHED)),
                         {str(k): int(v) for k, v in stats.items() if isinstance(v, int)})
    pairs = answer.get("qa_pairs")
    return ParseOutcome(
        kind=str(answer["kind"]), page_count=int(answer["page_count"]),
        qa_pairs=None if pairs is None else [(db_safe(q), db_safe(a)) for q, a in pairs],
        chunk_count=int(answer["chunk_count"]),
        # The child already made the text storable; doing it again here costs little and trusts nothing.
        chunks=[ChunkDraft(int(c[0]), db_safe(c[1]), db_safe(c[2]), int(c[3])) for c in answer.get("chunks", [])],
    )


def _explain_death(returncode: int | None, err: bytes, limits: Limits) -> tuple[str, str]:
    """The sentence for a child that gave no answer: killed by its CPU limit, out of memory, or crashed."""
    last_line = err.strip().splitlines()[-1:] or [b""]
    log.warning("parse child failed (exit %s): %s", returncode, last_line[0][:200].decode(errors="replace"))
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return "over_limit", out_of_time(limits.cpu_seconds)
    if b"MemoryError" in err or b"memory" in err.lower():
        return "over_limit", out_of_memory(limits.memory_mb)
    return "corrupt", READER_CRASHED


# --- the child -------------------------------------------------------------------------------------


def _limit_self(limits: Limits) -> None:
    import resource

    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # SIGXCPU at the soft limit ends the process; the hard limit (SIGKILL) is the backstop.
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _answer(filename: str, data: bytes, limits: Limits, with_chunks: bool) -> dict:
    from chatai.rag.chunking import chunk_blocks
    from chatai.rag.parsing import parse_document

    try:
        parsed = parse_document(filename, data, limits)
        chunks = [] if parsed.qa_pairs is not None else chunk_blocks(parsed.blocks, max_chunks=limits.max_chunks)
    except ParseError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message, "stats": exc.stats}
    except LimitExceeded as exc:
        return {"ok": False, "code": "over_limit", "message": str(exc), "stats": exc.stats}
    return {"ok": True, "kind": parsed.kind, "page_count": parsed.page_count, "qa_pairs": parsed.qa_pairs,
            "chunk_count": len(chunks),
            "chunks": [[c.position, c.section, c.text, c.token_count] for c in chunks] if with_chunks else []}


def main() -> int:
    header = json.loads(sys.stdin.buffer.readline())
    limits = Limits(**header["limits"])
    _limit_self(limits)
    data = sys.stdin.buffer.read()
    try:
        answer = _answer(str(header["filename"]), data, limits, bool(header["with_chunks"]))
    except MemoryError:
        answer = None  # leave the except block first: its traceback still holds the big objects
    except Exception as exc:  # noqa: BLE001 - a parser bug is this file's failure, not the app's
        answer = {"ok": False, "code": "corrupt", "message": f"The file could not be read ({type(exc).__name__})."}
    if answer is None:
        answer = {"ok": False, "code": "over_limit", "message": out_of_memory(limits.memory_mb)}
    sys.stdout.buffer.write(json.dumps(answer).encode())
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
