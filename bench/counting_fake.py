"""The fake Bot API of tests/fakes in its own process, with one more control call for the load benches:
how many of the load's questions were answered, and how many answers were sent more than once.

    .venv/bin/python -m bench.counting_fake --port 0     # prints the port, serves until killed
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.fakes.telegram_server import FakeTelegram, main


class CountingFake(FakeTelegram):
    def _control(self, action: str, body: dict[str, Any]) -> Any:
        if action == "answers":
            # The load's questions are "question N" and the bench's instant answer repeats the question: a
            # reply's first line names the question it answers.
            counts = Counter(m["text"].split("\n")[0] for b in self.bots.values() for m in b.sent)
            return {"answered": len(counts), "duplicated": sum(c - 1 for c in counts.values()),
                    "sent": sum(counts.values())}
        return super()._control(action, body)


if __name__ == "__main__":
    main(CountingFake)
