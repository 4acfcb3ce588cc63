"""Many ids as ONE SQL parameter: `column = ANY(CAST(:ids AS uuid[]))` with the array as one text value.

Why: a runner's periodic sweeps (handoff timeouts, owed deliveries, operator alerts and forwards, stored
operator updates) each ask "rows of the bots running here", every few seconds. With `column IN (...)` a
runner of 10,000 bots made SQLAlchemy render 10,000 bind parameters and psycopg convert that query text
anew each time (its query cache skips texts that long): ~0.1 s of CPU per statement, on the event loop that
answers messages. Five such sweeps every 5 s stalled every answer in flight for about half a second
(bench.bots_10k --stages: the slow updates came in bursts 5 s apart). One text parameter is converted once,
and the text of a set of ids is built once while the set does not change (the sweeps of a round share it).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

_KEPT = 4  # texts of the last few sets: a round's sweeps share one set; a one-bot lookup must not evict it
_texts: dict[frozenset[uuid.UUID], str] = {}


def uuid_array(ids: Collection[uuid.UUID]) -> str:
    """PostgreSQL's text form of a uuid[] of `ids` (reused while the same set comes again)."""
    key = frozenset(ids)
    text = _texts.pop(key, None)
    if text is None:
        text = "{" + ",".join(str(i) for i in key) + "}"
        while len(_texts) >= _KEPT:
            _texts.pop(next(iter(_texts)))
    _texts[key] = text  # most recent last
    return text


def any_of(column: Any, ids: Collection[uuid.UUID]) -> sa.ColumnElement[bool]:
    """`column = ANY(<ids as one uuid[] parameter>)`: an IN list that costs the same for 10 ids or 10,000."""
    return column == sa.any_(sa.cast(sa.literal(uuid_array(ids), sa.Text()), postgresql.ARRAY(sa.Uuid())))
