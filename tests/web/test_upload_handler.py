"""The knowledge page's upload handler as it runs with several web workers: it acts as the upload request's
own session (never the tab's socket session, which the worker running it may not know), and it chains no
event (a chained event would run on the upload's worker, where the tab's session is unknown); the tab starts
its progress poll itself when `uploads_done` changes."""

from __future__ import annotations

import asyncio
import io

import pytest
from reflex.istate.data import SessionData
from sqlalchemy import select

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Document
from chatai.db.session import async_session
from chatai.services import accounts, assistants
from chatai.web import session_cookie
from chatai.web.state.auth import AuthState
from chatai.web.state.knowledge import KnowledgeState
from tests.web.clients import signed_in_root


class _File:
    """As Reflex hands a file to the handler: its name, its size as received, and read()."""

    def __init__(self, name: str, data: bytes, size: int | None = None) -> None:
        self.name = name
        self.size = len(data) if size is None else size
        self._data = io.BytesIO(data)
        self.reads = 0

    async def read(self) -> bytes:
        self.reads += 1
        return self._data.read()


@pytest.fixture
async def tab_elsewhere(db):
    """A signed-in owner's knowledge tab, as a worker WITHOUT its socket sees it: no session for its sid."""
    async with async_session() as s:
        token = await accounts.sign_up(s, email="baker@example.com", password="sourdough starter 77")
        user = await accounts.user_for_token(s, token)
        assistant = await assistants.create_assistant(s, owner_id=user.id, name="Bakery")
    root = await signed_in_root("")
    auth = await root.get_state(AuthState)
    auth.rx_router_session = SessionData(session_id="socket-on-another-worker", client_token="tab-9")
    auth.user_email = "baker@example.com"
    state = await root.get_state(KnowledgeState)
    state.assistant_id = str(assistant.id)
    return {"token": token, "state": state, "auth": auth}


async def _run(state: KnowledgeState, files: list) -> list:
    return [event async for event in KnowledgeState.handle_upload.fn(state, files)]


async def test_upload_acts_as_the_request_session_and_chains_nothing(tab_elsewhere):
    state = tab_elsewhere["state"]
    with session_cookie.upload_session("tab-9", tab_elsewhere["token"]):
        chained = await _run(state, [_File("hours.txt", b"We bake from seven to three.")])
    assert [e for e in chained if e is not None] == []  # nothing runs after it on this worker
    assert state.uploads_done == 1 and not state.uploading and state.upload_errors == []
    assert [d["filename"] for d in state.documents] == ["hours.txt"]
    assert tab_elsewhere["auth"].user_email == "baker@example.com"  # the tab was not signed out
    async with async_session() as s:
        assert (await s.execute(select(Document.filename))).scalars().all() == ["hours.txt"]


async def test_upload_without_its_request_session_stores_nothing_and_says_why(tab_elsewhere):
    state = tab_elsewhere["state"]
    await _run(state, [_File("hours.txt", b"We bake from seven to three.")])
    assert state.upload_errors == ["Your session has ended, so the files were not uploaded. Sign in again and "
                                   "upload them."]
    assert state.uploads_done == 0 and tab_elsewhere["auth"].user_email == "baker@example.com"
    async with async_session() as s:
        assert (await s.execute(select(Document.id))).scalars().all() == []


async def test_a_file_over_the_limit_is_refused_without_being_read(tab_elsewhere):
    state = tab_elsewhere["state"]
    big = _File("manual.pdf", b"", size=95 * 1048576)  # as received; its bytes are never asked for
    small = _File("hours.txt", b"We bake from seven to three.")
    with session_cookie.upload_session("tab-9", tab_elsewhere["token"]):
        await _run(state, [big, small])
    assert big.reads == 0 and small.reads == 1
    assert state.upload_errors == ["manual.pdf: The file is 95.0 MB; the limit is 10 MB."]
    assert [d["filename"] for d in state.documents] == ["hours.txt"]


# --- one file over its own limit is refused while it streams (issue 19, Low) ------------------------------

MIB = 1048576
BOUNDARY = "----chataiBoundary7MA4YWxk"


def _part(name: str, size: int, fill: bytes = b"a") -> tuple[bytes, int]:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode()
    return head, size


class _Body:
    """A multipart body streamed in 64 KB pieces, generated as it is read: counts what the server took."""

    def __init__(self, files: list[tuple[str, int]]) -> None:
        self.files = files
        self.sent = 0
        self.total = sum(size for _, size in files)

    async def __aiter__(self):
        piece = 64 * 1024
        for name, size in self.files:
            head, _ = _part(name, size)
            self.sent += len(head)
            yield head
            left = size
            while left:
                chunk = b"a" * min(piece, left)
                left -= len(chunk)
                self.sent += len(chunk)
                yield chunk
            self.sent += 2
            yield b"\r\n"
        yield f"--{BOUNDARY}--\r\n".encode()


class _ReadingApp:
    """Stands in for Reflex: reads the whole body (as its multipart parser does) and answers 200."""

    def __init__(self) -> None:
        self.read = 0

    async def __call__(self, scope, receive, send):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RuntimeError("client went away")
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
async def upload_client(tab_elsewhere):
    import httpx

    from chatai.web import http_guards

    app = _ReadingApp()
    transport = httpx.ASGITransport(app=http_guards.guard_uploads(app))
    headers = {"Reflex-Client-Token": "tab-9", "Cookie": f"{session_cookie.COOKIE_NAME}={tab_elsewhere['token']}",
               "Reflex-Event-Handler": f"{KnowledgeState.get_full_name()}.handle_upload",
               "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
        yield client, app


async def test_a_95_mb_file_is_refused_at_its_own_limit_not_read_whole(upload_client):
    client, app = upload_client
    body = _Body([("notes.txt", 2 * MIB), ("manual.pdf", 95 * MIB)])  # under the 100 MB request limit
    response = await client.post("/_upload", content=body)
    assert response.status_code == 413
    assert response.json()["detail"] == ("manual.pdf is larger than 10 MB, the limit for one file, so the upload "
                                         "was stopped. Split it into smaller files.")
    # Read up to the 10 MB limit of the second file (plus one piece), not its 95 MB.
    assert 12 * MIB < app.read <= 12 * MIB + 256 * 1024
    assert body.sent < 13 * MIB


async def test_files_at_the_limit_pass_and_the_refusal_speaks_russian(upload_client):
    client, app = upload_client
    body = _Body([("a.txt", 10 * MIB), ("b.txt", 10 * MIB)])  # exactly at the per-file limit
    response = await client.post("/_upload", content=body)
    assert response.status_code == 200 and app.read == body.sent + len(f"--{BOUNDARY}--\r\n")
    response = await client.post("/_upload", content=_Body([("большой.docx", 11 * MIB)]),
                                 headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Файл большой.docx больше 10 МБ (предел для одного файла)")


def test_part_sizes_find_boundaries_cut_anywhere():
    from chatai.web.upload_parts import PartSizes, multipart_boundary

    boundary = multipart_boundary(f'multipart/form-data; boundary="{BOUNDARY}"')
    assert boundary == BOUNDARY.encode()
    body = b"".join([_part("one.txt", 0)[0], b"x" * 40, b"\r\n", _part("two.txt", 0)[0], b"y" * 41, b"\r\n",
                     f"--{BOUNDARY}--\r\n".encode()])
    for piece in (1, 2, 3, 7, 16, 4096):  # every way of cutting the delimiter and the headers in two
        parts = PartSizes(boundary, limit=40)
        refused = [parts.feed(body[i:i + piece]) for i in range(0, len(body), piece)]
        assert [r for r in refused if r is not None][:1] == ["two.txt"], piece
        assert (refused.index("two.txt") + 1) * piece >= body.index(b"y" * 41) + 41  # once it passed 40
    parts = PartSizes(boundary, limit=41)
    assert all(parts.feed(body[i:i + 5]) is None for i in range(0, len(body), 5))
    assert parts.read == len(body)


# --- a closed tab loses no file the server received (issue 23) --------------------------------------------


async def test_files_received_are_stored_even_when_the_tab_closes_while_they_are_stored(tab_elsewhere):
    """The walk: 5 files dropped, the tab closed 2 s later, 3 stored and no error anywhere. The request ends
    (the handler is closed at its first yield, as a cancelled request leaves it) before any file is stored:
    every file it had received is stored all the same, each whole."""
    from chatai.services import knowledge_uploads
    from tests.waits import PATIENCE

    state = tab_elsewhere["state"]
    texts = {f"note-{n}.txt": f"Note {n}: we bake rye on day {n} of the week.".encode() for n in range(5)}
    with session_cookie.upload_session("tab-9", tab_elsewhere["token"]):
        handler = KnowledgeState.handle_upload.fn(state, [_File(name, data) for name, data in texts.items()])
        await handler.__anext__()  # the request's body has arrived; storing has begun
        await handler.aclose()  # the tab closed: the request and its handler end here
    await asyncio.wait_for(asyncio.gather(*knowledge_uploads._RUNNING), PATIENCE)
    async with async_session() as s:
        stored = dict((await s.execute(select(Document.filename, Document.size_bytes))).all())
    assert stored == {name: len(data) for name, data in texts.items()}


async def test_the_page_names_the_files_that_arrived_and_when(tab_elsewhere):
    state = tab_elsewhere["state"]
    with session_cookie.upload_session("tab-9", tab_elsewhere["token"]):
        await _run(state, [_File("hours.txt", b"We bake from seven to three."), _File("logo.exe", b"MZ")])
    assert state.upload_received == "Received and queued for indexing: hours.txt."
    assert len(state.upload_errors) == 1 and state.upload_errors[0].startswith("logo.exe")
    [row] = state.documents
    assert row["filename"] == "hours.txt" and row["received"].startswith("Received 20")


async def test_a_drop_while_an_upload_is_in_flight_is_refused_in_words(tab_elsewhere):
    state = tab_elsewhere["state"]
    await KnowledgeState.refuse_drop_while_uploading.fn(state, False)
    assert state.upload_errors == []
    await KnowledgeState.refuse_drop_while_uploading.fn(state, True)
    assert state.upload_errors == ["The previous upload is still being sent, so these files were not taken. Drop "
                                   "them again when it has finished."]
