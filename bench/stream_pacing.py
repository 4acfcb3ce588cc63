"""What the pipeline's pacing of streamed text costs per answer, before and after it learned to push during
a model's pause (chatai/conversation/pipeline._streamed: a reader task and a queue, so that waiting for the
model's next words can time out):

    .venv/bin/python -m bench.stream_pacing [--answers 300] [--words 250] [--rounds 6]

No database, no network: an answer function yielding --words words then its final item, into a stream that
only counts pushes (interval 0.1 s, the widget's); the words arrive one by one (each its own wake-up, as
from a network stream: a timed wait per word, the worst case) and all at once. Both versions run in
alternating blocks in one process; CPU seconds per answer (process time), the median block of each, and
the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from chatai.conversation.pipeline import _streamed


async def _streamed_before(items: Any, stream: Any) -> Any:
    """The pacing before (pushes only when the model's next words arrive), for the comparison."""
    text, pushed_at, final = "", 0.0, None
    await stream.start()
    try:
        async for item in items:
            if not isinstance(item, str):
                final = item
                continue
            text += item
            if time.monotonic() - pushed_at >= stream.interval:
                await stream.push(text)
                pushed_at = time.monotonic()
    finally:
        await stream.finish()
    return final


class CountingStream:
    interval = 0.1

    def __init__(self) -> None:
        self.pushes = 0

    async def start(self) -> None:
        return None

    async def push(self, text: str) -> None:
        self.pushes += 1

    async def finish(self) -> None:
        return None


async def _answer(words: int, *, apart: bool):
    for n in range(words):
        if apart:  # each word its own read, as from a network stream: the pacing waits for every one
            await asyncio.sleep(0)
        yield f"word{n} "
    yield {"final": True}


async def _block(version: Any, answers: int, words: int, apart: bool) -> float:
    started = time.process_time()
    for _ in range(answers):
        assert await version(_answer(words, apart=apart), CountingStream()) == {"final": True}  # noqa: S101
    return (time.process_time() - started) / answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--words", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    async def run(apart: bool) -> dict[str, list[float]]:
        blocks: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            blocks["before"].append(await _block(_streamed_before, args.answers, args.words, apart))
            blocks["after"].append(await _block(_streamed, args.answers, args.words, apart))
        return blocks

    print(f"{args.words} words per answer, {args.answers} answers a block, {args.rounds} blocks each")
    for apart, label in ((True, "words arriving one by one"), (False, "words arriving all at once")):
        blocks = asyncio.run(run(apart))
        before, after = statistics.median(blocks["before"]), statistics.median(blocks["after"])
        print(f"{label}: before {before * 1e3:.3f} ms CPU per answer ({before / args.words * 1e6:.2f} us a word), "
              f"after {after * 1e3:.3f} ms ({after / args.words * 1e6:.2f} us a word), ratio {after / before:.2f}")


if __name__ == "__main__":
    main()
