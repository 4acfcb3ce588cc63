"""The pipeline's pacing of streamed text (pipeline._streamed): pushes at most every `interval`, and when the
model pauses, the words it already wrote are pushed anyway (they were hidden until its next words before:
the browser test of the widget saw only the first word while the model paused). Order of events only: the
model here holds its stream until the test releases it."""

from __future__ import annotations

import asyncio

import pytest

from chatai.conversation.pipeline import _streamed
from tests.waits import PATIENCE


class RecordingStream:
    interval = 0.05

    def __init__(self) -> None:
        self.pushes: list[str] = []
        self.pushed = asyncio.Event()
        self.started = self.finished = False

    async def start(self) -> None:
        self.started = True

    async def push(self, text: str) -> None:
        self.pushes.append(text)
        self.pushed.set()

    async def finish(self) -> None:
        self.finished = True


class HeldModel:
    """Writes some words at once, then holds until released; records whether its generation was ended."""

    def __init__(self, first: list[str], rest: list[str], final: object = "FINAL") -> None:
        self.first, self.rest, self.final = first, rest, final
        self.release = asyncio.Event()
        self.holding = asyncio.Event()
        self.closed = False

    async def __call__(self):
        try:
            for word in self.first:
                yield word
            self.holding.set()
            await self.release.wait()
            for word in self.rest:
                yield word
            yield {"final": self.final}
        finally:
            self.closed = True


async def _held(model: HeldModel) -> None:
    async with asyncio.timeout(PATIENCE):
        await model.holding.wait()


async def _shown(stream: RecordingStream, text: str) -> None:
    """Until the last push is `text`."""
    async with asyncio.timeout(PATIENCE):
        while not (stream.pushes and stream.pushes[-1] == text):
            stream.pushed.clear()
            await stream.pushed.wait()


async def test_words_written_before_a_pause_are_pushed_during_the_pause():
    stream, model = RecordingStream(), HeldModel(["Our ", "sourdough ", "is "], ["baked ", "daily."])
    task = asyncio.create_task(_streamed(model(), stream))
    await _held(model)
    await _shown(stream, "Our sourdough is ")
    assert not task.done() and not model.release.is_set()  # pushed while the model still holds the rest
    model.release.set()
    assert await task == {"final": "FINAL"}
    assert stream.pushes[0] == "Our "  # the first text at once
    assert all(b.startswith(a) for a, b in zip(stream.pushes, stream.pushes[1:], strict=False))  # whole text so far
    assert stream.started and stream.finished


async def test_an_error_of_the_answer_function_reaches_the_caller():
    async def failing():
        yield "Half an "
        raise ConnectionError("model went away")

    stream = RecordingStream()
    with pytest.raises(ConnectionError, match="model went away"):
        await _streamed(failing(), stream)
    assert stream.finished


async def test_cancelling_the_answer_ends_the_generation():
    stream, model = RecordingStream(), HeldModel(["Never "], ["finished"])
    task = asyncio.create_task(_streamed(model(), stream))
    await _held(model)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert model.closed and stream.finished


async def test_an_answer_without_its_final_item_is_an_error():
    async def no_final():
        yield "words only"

    with pytest.raises(RuntimeError, match="without an answer"):
        await _streamed(no_final(), RecordingStream())
