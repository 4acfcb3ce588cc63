"""Storing the files of one upload request so that a closed tab loses none that arrived.

Why: the upload handler stored the files one by one (each is parsed in a child process first, seconds for a
PDF), inside the upload request. Closing the tab ended the request, the handler was cancelled, and the files
not stored yet were lost with no error anywhere (5 dropped, 3 stored). Once the request's body has arrived
the files are read into memory and stored by a task of their own, which the request's end does not cancel:
every file the server received completely is stored (or refused with its reason), each in its own
transaction, so none is half-stored. A file the browser never finished sending never reached the handler
(Reflex refuses an incomplete body), so it is not stored at all.

The price: the accepted files of one request are in memory together while they are stored (at most
MAX_UPLOAD_FILES x MAX_UPLOAD_MB; the upload guard caps the request).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from chatai.db.session import async_session
from chatai.services import assistants as assistants_svc
from chatai.services import knowledge as kb

log = logging.getLogger(__name__)

# Strong references to running stores: asyncio keeps only weak ones, and the handler that started a store
# may be gone (its request ended) before the store is.
_RUNNING: set[asyncio.Task] = set()


@dataclass(frozen=True)
class ReceivedFile:
    name: str
    data: bytes


@dataclass(frozen=True)
class StoreOutcome:
    """One file's fate: stored (error None), refused with the service's UploadError, or not found (the
    assistant was deleted meanwhile, or is not this owner's)."""

    name: str
    error: kb.UploadError | None = None
    not_found: bool = False


async def _store_all(owner_id: uuid.UUID, assistant_id: uuid.UUID, files: list[ReceivedFile]) -> list[StoreOutcome]:
    outcomes: list[StoreOutcome] = []
    for file in files:
        try:
            async with async_session() as session:
                await kb.upload_document(session, owner_id=owner_id, assistant_id=assistant_id, filename=file.name,
                                         data=file.data)
        except kb.UploadError as exc:
            outcomes.append(StoreOutcome(file.name, error=exc))
        except assistants_svc.NotFound:
            outcomes.append(StoreOutcome(file.name, not_found=True))
        except Exception:  # noqa: BLE001 - one file's failure must not lose the files after it
            log.exception("storing the uploaded file %r failed", file.name)
            outcomes.append(StoreOutcome(file.name, error=kb.UploadError("corrupt", file.name,
                                                                         "The file could not be stored.")))
        else:
            outcomes.append(StoreOutcome(file.name))
    return outcomes


def start_storing(*, owner_id: uuid.UUID, assistant_id: uuid.UUID,
                  files: list[ReceivedFile]) -> asyncio.Task[list[StoreOutcome]]:
    """Starts storing now, in a task the caller's cancellation does not reach (await it with
    `asyncio.shield`, or not at all: it finishes either way)."""
    task = asyncio.get_running_loop().create_task(_store_all(owner_id, assistant_id, files))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task
