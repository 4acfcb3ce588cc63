"""The audit log: append-only in the database, security events recorded, filters and CSV export."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from chatai.db.models import AuditLog, utcnow
from chatai.db.session import async_session, get_owner_engine
from chatai.services import accounts, audit

PASSWORD = "copper kettle 91 winds"


async def _actions() -> list[str]:
    async with async_session() as s:
        return [a for (a,) in (await s.execute(sa.select(AuditLog.action).order_by(AuditLog.created_at))).all()]


async def test_audit_rows_cannot_be_changed_or_deleted(db):
    async with async_session() as s:
        audit.record(s, actor_id=None, action="admin.test", target_type="user", target_id="x", before={"a": 1})
        await s.commit()
    # The app's role may not (tests/db/test_app_role.py); the owner is stopped by the trigger.
    for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
        async with async_session() as s:
            with pytest.raises(DBAPIError, match="permission denied for table audit_log"):
                await s.execute(sa.text(statement))
        with get_owner_engine().connect() as conn, pytest.raises(DBAPIError, match="audit_log is append-only"):
            conn.exec_driver_sql(statement)
    assert await _actions() == ["admin.test"]


async def test_security_events_are_recorded(db):
    async with async_session() as s:
        user = await accounts.create_user(s, email="shop@example.com", password=PASSWORD)
    async with async_session() as s:
        with pytest.raises(accounts.AccountError):
            await accounts.sign_in(s, email="shop@example.com", password="wrong password 1", client="203.0.113.9")
        with pytest.raises(accounts.AccountError):
            await accounts.sign_in(s, email="nobody@example.com", password="wrong password 1", client="203.0.113.9")
        token = await accounts.sign_in(s, email="shop@example.com", password=PASSWORD, client="203.0.113.9")
        await accounts.change_password(s, user_id=user.id, current_password=PASSWORD,
                                       new_password="amber lantern 62 tides", keep_token=token)
        await accounts.sign_out_everywhere(s, user_id=user.id)
    assert await _actions() == ["user.create", "user.sign_in_failed", "user.sign_in_failed", "user.sign_in",
                                "user.change_password", "user.sign_out_everywhere"]
    async with async_session() as s:
        failed = (await s.execute(sa.select(AuditLog).where(AuditLog.action == "user.sign_in_failed")
                                  .order_by(AuditLog.created_at))).scalars().all()
    assert [f.target_id for f in failed] == [str(user.id), ""]  # an unknown address is not written down
    assert {f.client for f in failed} == {"203.0.113.9"}


async def test_search_filters_and_csv_export(db):
    async with async_session() as s:
        admin = await accounts.create_user(s, email="root@example.com", password=PASSWORD, role="admin")
        audit.record(s, actor_id=admin.id, action="admin.role", target_type="user", target_id="u-1",
                     before={"role": "owner"}, after={"role": "admin"}, client="198.51.100.1")
        audit.record(s, actor_id=admin.id, action="billing.adjust", target_type="user", target_id="u-2",
                     details={"reason": "=HYPERLINK(\"http://x\")"})
        audit.record(s, actor_id=None, action="user.sign_in_failed", target_type="user", target_id="u-1")
        await s.commit()
        found = await audit.search(s, where=audit.AuditFilter(actor="ROOT@"))
        assert {r.action for r in found} == {"user.create", "admin.role", "billing.adjust"}
        found = await audit.search(s, where=audit.AuditFilter(target="u-1", kind="admin"))
        assert [(r.action, r.details) for r in found] == [
            ("admin.role", {"before": {"role": "owner"}, "after": {"role": "admin"}})]
        assert await audit.search(s, where=audit.AuditFilter(since=utcnow() + timedelta(days=1))) == []
        assert len(await audit.search(s, where=audit.AuditFilter(kind="user.sign_in_failed"))) == 1
        page1 = await audit.search(s, where=audit.AuditFilter(), limit=2)
        page2 = await audit.search(s, where=audit.AuditFilter(), limit=2,
                                   before=(page1[-1].created_at, page1[-1].id))
        assert len(page1) == 2 and len(page2) == 2 and not {r.id for r in page1} & {r.id for r in page2}
        exported = await audit.export_csv(s, where=audit.AuditFilter(kind="billing"))
        moscow_export = await audit.export_csv(s, where=audit.AuditFilter(kind="billing"), time_zone="Europe/Moscow")
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["time", "actor", "action", "target_type", "target_id", "client", "details"]
    assert len(rows) == 2 and rows[1][1] == "root@example.com" and rows[1][2] == "billing.adjust"
    assert "HYPERLINK" in rows[1][6] and rows[1][6].startswith("{")
    moscow = list(csv.reader(io.StringIO(moscow_export)))[1][0]  # the admin's clock, with its offset
    assert moscow.endswith("+03:00") and datetime.fromisoformat(moscow) == datetime.fromisoformat(rows[1][0])


def test_csv_cells_that_would_run_as_formulas_are_neutralised():
    assert audit._cell("=1+1") == "'=1+1" and audit._cell("@SUM(A1)") == "'@SUM(A1)" and audit._cell("ok") == "ok"
