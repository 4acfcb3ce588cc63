"""Many ids as one SQL parameter (chatai/db/id_arrays.py): the runner's sweeps ask for the rows of the bots it
runs, and that statement must cost the same for 10 bots and 10,000."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from chatai.db.id_arrays import any_of, uuid_array


def _values(ids: list[uuid.UUID]) -> sa.Values:
    return sa.values(sa.column("v", sa.Uuid()), name="t").data([(i,) for i in ids])


def test_any_of_selects_exactly_the_ids_given(db):
    rows = [uuid.uuid4() for _ in range(6)]
    table = _values(rows)
    wanted = [rows[1], rows[4], uuid.uuid4()]  # one that is not there
    found = db.execute(sa.select(table.c.v).where(any_of(table.c.v, wanted))).scalars().all()
    assert sorted(found) == sorted([rows[1], rows[4]])
    assert db.execute(sa.select(table.c.v).where(any_of(table.c.v, []))).scalars().all() == []


def test_ten_thousand_ids_are_one_parameter(db):
    many = [uuid.uuid4() for _ in range(10_000)]
    table = _values(many[:3])
    found = db.execute(sa.select(table.c.v).where(any_of(table.c.v, many))).scalars().all()
    assert sorted(found) == sorted(many[:3])

    def rendered(ids: list[uuid.UUID]) -> str:
        statement = sa.select(table.c.v).where(any_of(table.c.v, ids))
        return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"render_postcompile": True}))

    assert rendered(many) == rendered(many[:10])  # the same text (and psycopg's cached conversion) for any size
    expanded = sa.select(table.c.v).where(table.c.v.in_(many)).compile(
        dialect=postgresql.dialect(), compile_kwargs={"render_postcompile": True})
    assert str(expanded).count("%(") >= 10_000  # what IN (...) made of it: a parameter per id


def test_the_same_set_in_any_order_reuses_its_text():
    ids = [uuid.uuid4() for _ in range(500)]
    first = uuid_array(ids)
    assert uuid_array(list(reversed(ids))) is first
    assert uuid_array(ids[:1]) == "{" + str(ids[0]) + "}"
    assert uuid_array(ids) is first  # a one-bot lookup in between did not evict the sweep's set
    assert uuid_array([]) == "{}"
