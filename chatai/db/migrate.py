"""Run alembic from code (the CLI, `make run` and the tests share this)."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from chatai.settings import PROJECT_ROOT


def _config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["skip_logging_config"] = True
    return config


def upgrade(revision: str = "head") -> None:
    command.upgrade(_config(), revision)


def downgrade(revision: str) -> None:
    command.downgrade(_config(), revision)


def current_revision() -> str | None:
    from alembic.runtime.migration import MigrationContext

    from chatai.db.session import get_engine

    with get_engine().connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
