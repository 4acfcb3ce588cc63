"""A web backend worker that dies (killed, out of memory) is started again instead of taking the app down.

Reflex builds granian's server without `respawn_failed_workers`, and granian then answers the first
unexpected worker exit by shutting down every worker: with two workers behind nginx, one crash dropped every
dashboard session instead of moving them to the other worker (tests/e2e/test_scale_out.py). Reflex imports
`granian.server.Server` when it starts the backend, after rxconfig.py ran, so rxconfig installs this.
"""

from __future__ import annotations

import granian.server


class RespawningServer(granian.server.Server):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("respawn_failed_workers", True)
        super().__init__(*args, **kwargs)


def respawn_failed_workers() -> None:
    granian.server.Server = RespawningServer
