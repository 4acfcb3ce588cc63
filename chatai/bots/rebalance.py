"""Moving bots to a runner that joined later, so that two runners share the work instead of one holding it.

Leases alone never move a bot: the runner that took it renews it for as long as it lives, so the first runner
up after a deploy holds every bot and a runner started next sits idle. Each runner therefore hands over the
bots that rendezvous hashing (ownership.preferred_runner) gives to another live runner, which takes a free
bot it prefers at once. Carefully, because a hand-over stops the bot for a moment:
- only once the set of live runners has stayed the same for `stable_for` seconds (a runner that is starting,
  or flapping, gets nothing);
- at most `share` of this runner's bots per round (a deploy moves bots in waves, never all at once);
- never the same bot twice within `cooldown` seconds (a runner that cannot start a bot handed to it gives it
  back through the takeover grace; it is not handed over again and again).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from chatai.bots.ownership import preferred_runner

SHARE = 0.1  # of this runner's bots per round, at least one
COOLDOWN = 600.0


class Rebalancer:
    def __init__(self, runner_id: str, *, stable_for: float, share: float = SHARE, cooldown: float = COOLDOWN):
        self.runner_id = runner_id
        self.stable_for = stable_for
        self.share = share
        self.cooldown = cooldown
        self._live: frozenset[str] = frozenset()
        self._live_since = 0.0
        self._handed: dict[uuid.UUID, float] = {}  # bot -> when it was last handed over

    def to_hand_over(self, mine: Sequence[uuid.UUID], live: Sequence[str], now: float) -> list[uuid.UUID]:
        """The bots to release this round (the caller stops them and releases their leases)."""
        current = frozenset(live)
        if current != self._live:
            self._live, self._live_since = current, now
            return []
        if len(current) < 2 or self.runner_id not in current or now - self._live_since < self.stable_for:
            return []
        self._handed = {b: t for b, t in self._handed.items() if now - t < self.cooldown}
        ordered = sorted(current)
        foreign = [b for b in mine if b not in self._handed and preferred_runner(b, ordered) != self.runner_id]
        chosen = foreign[:max(1, int(len(mine) * self.share))]
        for bot_id in chosen:
            self._handed[bot_id] = now
        return chosen
