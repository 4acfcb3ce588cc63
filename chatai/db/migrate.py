"""Run alembic from code (the CLI, `make run` and the tests share this). Migrations run as the schema's owner
(DATABASE_OWNER_URL, or the embedded server's superuser); afterwards the owner grants the app's role what it
needs (chatai/db/roles.py)."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from chatai.settings import PROJECT_ROOT


def _config() -> Config:
    from chatai.db.session import owner_database_url

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["skip_logging_config"] = True
    config.attributes["database_url"] = owner_database_url()
    return config


def upgrade(revision: str = "head") -> None:
    from chatai.db.roles import secure_app_role

    command.upgrade(_config(), revision)
    secure_app_role()


def downgrade(revision: str) -> None:
    command.downgrade(_config(), revision)


def current_revision() -> str | None:
    from alembic.runtime.migration import MigrationContext

    from chatai.db.session import get_owner_engine

    with get_owner_engine().connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
