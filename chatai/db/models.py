"""The core tables of the product; the others live in modules of their own, imported at the end of this one so
that its metadata (what alembic autogenerates from) holds every table.

Conventions: UUID primary keys, tz-aware UTC timestamps, enums stored as short strings so
that adding a value needs no migration. Money is stored as integer micro-units of the
platform currency (1 unit = 1_000_000) so sums are exact.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlmodel import Field, SQLModel

MICRO = 1_000_000  # micro-units per currency unit

# Embedding dimensions that have an HNSW index (see the first migration). The column
# itself is dimensionless so switching provider needs no schema change.
INDEXED_EMBEDDING_DIMS = (384, 1536)

# Indexes created by hand in migrations (expression, partial, HNSW) that autogenerate cannot
# describe; alembic/env.py skips them when comparing.
MIGRATION_ONLY_INDEXES = frozenset(
    [f"ix_{t}_embedding_{d}" for t in ("chunks", "qa_pairs") for d in INDEXED_EMBEDDING_DIMS]
    + ["ix_chunks_tsv", "ix_qa_pairs_tsv", "ix_telegram_updates_pending"]
    + ["ix_messages_tsv", "ix_dialogs_owner_unread", "ix_dialogs_owner_status_last",  # inbox (0005)
       "ix_messages_created_cover", "ix_messages_system"]
    + ["ix_users_email_trgm", "ix_users_created_id", "ix_billing_accounts_balance_user"]  # admin lists (0010)
    + ["ix_messages_delivery_failed", "ix_telegram_updates_failed"]  # admin system page, last errors (0011)
    + ["ix_dialogs_owner_tg_user"]  # the customer card's other dialogs (0021)
)

# Full text: English and Russian stemming both, so either language matches its word forms.
TSV_EXPRESSION = "to_tsvector('english', {col}) || to_tsvector('russian', {col})"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), **kw)


def _opt_ts(**kw: Any) -> Any:
    return Field(default=None, sa_type=sa.DateTime(timezone=True), **kw)


def _fk(target: str) -> Any:
    """A required, indexed reference whose rows go when the parent goes."""
    return Field(foreign_key=target, ondelete="CASCADE", index=True)


# --- accounts ---------------------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    password_hash: str = Field(max_length=255)
    role: str = Field(default="owner", max_length=16)  # owner | admin
    locale: str = Field(default="en", max_length=8)  # en | ru
    # The business's clock (IANA name) for every time shown to its people, in exports and mails (0024).
    time_zone: str = Field(default="UTC", max_length=64)
    blocked: bool = False
    created_at: datetime = _ts()
    password_changed_at: datetime = _ts()
    email_verified_at: datetime | None = _opt_ts()  # None = not proven yet (services/email_tokens.py)


class UserSession(SQLModel, table=True):
    """Server-side sign-in session. The browser holds the token; only its hash is stored."""

    __tablename__ = "user_sessions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    last_seen_at: datetime = _ts()
    client: str = Field(default="", max_length=255)
    user_agent: str = Field(default="", max_length=255)  # the browser's, shown as "Chrome on Windows" (0024)


# --- assistants and knowledge -------------------------------------------------------------


class Assistant(SQLModel, table=True):
    __tablename__ = "assistants"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = _fk("users.id")
    name: str = Field(max_length=120)
    system_prompt: str = Field(default="", sa_type=sa.Text)
    model: str = Field(default="", max_length=120)  # empty = the platform default
    temperature: float = 0.2
    greeting: str = Field(default="", sa_type=sa.Text)
    language: str = Field(default="auto", max_length=8)  # auto | en | ru
    # Retrieval.
    top_k: int = 5
    score_threshold: float = 0.3
    qa_direct_threshold: float = 0.85
    embedding_provider: str = Field(default="", max_length=80)  # what the chunks are embedded with
    # "How sure before answering": careful | balanced | bold (rag/confidence.py threshold_for).
    answer_certainty: str = Field(default="balanced", max_length=16, sa_column_kwargs={"server_default": "balanced"})
    # Handoff to a person.
    handoff_enabled: bool = True
    handoff_on_low_confidence: bool = True
    handoff_timeout_minutes: int = Field(default=10, sa_column_kwargs={"server_default": "10"})  # waiting or silent
    enabled: bool = True
    # Telegram groups: off = private chats only; on = answer in a group only when addressed (bots/group_chats.py).
    answer_in_groups: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Document(SQLModel, table=True):
    __tablename__ = "documents"
    __table_args__ = (
        sa.UniqueConstraint("assistant_id", "content_hash", name="uq_documents_assistant_hash"),
        sa.Index("ix_documents_assistant_created", "assistant_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    assistant_id: uuid.UUID = _fk("assistants.id")
    filename: str = Field(max_length=255)
    content_type: str = Field(default="", max_length=120)
    size_bytes: int = 0
    content_hash: str = Field(max_length=64)
    status: str = Field(default="queued", max_length=16, index=True)  # queued|processing|ready|error
    progress: float = 0.0
    error: str = Field(default="", sa_type=sa.Text)
    page_count: int = 0
    chunk_count: int = 0
    # Lease of the worker processing it: a crashed worker's document is picked up again.
    lease_until: datetime | None = _opt_ts()
    # Claims of this document since it was queued: one that kills its worker every time (out of memory, a
    # parser crash) ends as "error" after MAX_INGEST_ATTEMPTS instead of being retried forever.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class DocumentFile(SQLModel, table=True):
    """The uploaded bytes, kept apart from the row listed on every page, so re-index needs no re-upload."""

    __tablename__ = "document_files"

    document_id: uuid.UUID = Field(foreign_key="documents.id", ondelete="CASCADE", primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary)


class VectorArray(sa.types.TypeDecorator):
    """`vector[]`: written from a list of float lists; read only inside SQL (retrieval ranks with it), so rows
    come back as PostgreSQL's text form rather than being parsed for nothing."""

    impl = sa.ARRAY(Vector(), dimensions=1)
    cache_ok = True

    def result_processor(self, dialect, coltype):  # noqa: ANN001, ANN201 - SQLAlchemy's hook
        return None


class Chunk(SQLModel, table=True):
    __tablename__ = "chunks"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    document_id: uuid.UUID = _fk("documents.id")
    assistant_id: uuid.UUID = _fk("assistants.id")
    position: int = 0
    section: str = Field(default="", sa_type=sa.Text)
    text: str = Field(sa_type=sa.Text)
    token_count: int = 0
    embedding: list[float] | None = Field(default=None, sa_type=Vector())
    embedding_dim: int = 0
    # One vector per paragraph/row of a multi-unit chunk (rag/passage_vectors.py); `embedding` is their mean.
    unit_embeddings: Any = Field(default=None, sa_type=VectorArray)
    tsv: Any = Field(
        default=None,
        sa_column=sa.Column(TSVECTOR, sa.Computed(TSV_EXPRESSION.format(col="text"), persisted=True)),
    )


class QAPair(SQLModel, table=True):
    __tablename__ = "qa_pairs"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    assistant_id: uuid.UUID = _fk("assistants.id")
    question: str = Field(sa_type=sa.Text)
    answer: str = Field(sa_type=sa.Text)
    embedding: list[float] | None = Field(default=None, sa_type=Vector())
    embedding_dim: int = 0
    tsv: Any = Field(
        default=None,
        sa_column=sa.Column(TSVECTOR, sa.Computed(TSV_EXPRESSION.format(col="question"), persisted=True)),
    )
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class KbTermStat(SQLModel, table=True):
    """Document frequency of one lexeme among an assistant's chunks (BM25 IDF); kept by triggers on chunks."""

    __tablename__ = "kb_term_stats"

    assistant_id: uuid.UUID = Field(foreign_key="assistants.id", ondelete="CASCADE", primary_key=True)
    term: str = Field(sa_type=sa.Text, primary_key=True)
    df: int = 0


class KbCorpusStat(SQLModel, table=True):
    """Chunk count and total lexemes of an assistant's chunks (BM25 N and average length); kept by triggers."""

    __tablename__ = "kb_corpus_stats"

    assistant_id: uuid.UUID = Field(foreign_key="assistants.id", ondelete="CASCADE", primary_key=True)
    chunks: int = Field(default=0, sa_type=sa.BigInteger)
    lexemes: int = Field(default=0, sa_type=sa.BigInteger)


# --- embedding provider switches (0008) ----------------------------------------------------


class KbReembed(SQLModel, table=True):
    """An assistant's knowledge base being re-embedded into `provider`'s space, batch by batch in chunk id
    order (a crash resumes after `cursor`); the row goes when Assistant.embedding_provider is switched."""

    __tablename__ = "kb_reembed"

    assistant_id: uuid.UUID = Field(foreign_key="assistants.id", ondelete="CASCADE", primary_key=True)
    provider: str = Field(max_length=80)
    cursor: uuid.UUID | None = None  # the last chunk id re-embedded
    done: int = 0
    total: int = 0
    started_at: datetime = _ts()
    updated_at: datetime = _ts()


# --- Telegram ------------------------------------------------------------------------------


class Bot(SQLModel, table=True):
    __tablename__ = "bots"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    assistant_id: uuid.UUID = _fk("assistants.id")
    owner_id: uuid.UUID = _fk("users.id")
    telegram_bot_id: int = Field(sa_type=sa.BigInteger, sa_column_kwargs={"unique": True})
    username: str = Field(default="", max_length=64)
    token_encrypted: str = Field(sa_type=sa.Text)
    token_hint: str = Field(default="", max_length=32)  # e.g. "123456:…wxyz", safe to show
    mode: str = Field(default="polling", max_length=16)  # polling | webhook
    webhook_secret: str = Field(default="", sa_type=sa.Text)  # encrypted like the token (security.encrypt_secret)
    desired_state: str = Field(default="running", max_length=16)  # running | paused
    status: str = Field(default="starting", max_length=16, index=True)  # starting|running|paused|error
    last_error: str = Field(default="", sa_type=sa.Text)
    last_error_at: datetime | None = _opt_ts()
    last_poll_at: datetime | None = _opt_ts()
    # Which runner process owns it, and until when (a dead runner's lease expires).
    runner_id: str = Field(default="", max_length=64)
    lease_until: datetime | None = _opt_ts()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class TelegramUpdate(SQLModel, table=True):
    """One row per received update: the dedupe key that makes every message answered exactly once."""

    __tablename__ = "telegram_updates"

    bot_id: uuid.UUID = Field(foreign_key="bots.id", ondelete="CASCADE", primary_key=True)
    update_id: int = Field(sa_type=sa.BigInteger, primary_key=True)
    status: str = Field(default="received", max_length=16)  # received | answered | ignored | failed | resuming
    received_at: datetime = _ts()
    answered_at: datetime | None = _opt_ts()


class BotEvent(SQLModel, table=True):
    """A bot's event log for its owner: error entered (with the reason), recovered, update skipped, paused,
    resumed, token replaced. `message` is a sentence written by the platform, never user text; the last
    200 per bot are kept (services/bot_events.py)."""

    __tablename__ = "bot_events"
    __table_args__ = (sa.Index("ix_bot_events_bot_created", "bot_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    bot_id: uuid.UUID = Field(foreign_key="bots.id", ondelete="CASCADE")
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    kind: str = Field(max_length=32)  # error | recovered | update_failed | paused | resumed | token_replaced
    message: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = _ts()


class Dialog(SQLModel, table=True):
    __tablename__ = "dialogs"
    __table_args__ = (
        # 0022: a business chat and the bot's own chat with a customer share the customer's chat id
        sa.UniqueConstraint("bot_id", "channel", "business_connection_id", "telegram_chat_id",
                            name="uq_dialogs_bot_chat"),
        sa.Index("ix_dialogs_assistant_last", "assistant_id", "last_message_at"),
        sa.Index("ix_dialogs_owner_last", "owner_id", "last_message_at"),
        sa.Index("ix_dialogs_status_handoff", "status", "handoff_at"),  # the handoff timeout sweep (0006)
        # 0017: the inbox's and analytics' split by channel; the channels the pipeline knows
        sa.Index("ix_dialogs_owner_channel_last", "owner_id", "channel", "last_message_at"),
        sa.CheckConstraint("channel IN ('telegram', 'web', 'playground', 'business')", name="ck_dialogs_channel"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    bot_id: uuid.UUID | None = Field(default=None, foreign_key="bots.id", ondelete="SET NULL", index=True)
    assistant_id: uuid.UUID = Field(foreign_key="assistants.id", ondelete="CASCADE")
    owner_id: uuid.UUID = _fk("users.id")
    # telegram | web | playground | business (chatai/conversation/channel.CHANNELS); the playground is the
    # owner's own conversation, never charged nor counted as a customer's
    channel: str = Field(default="telegram", max_length=16, sa_column_kwargs={"server_default": "telegram"})
    telegram_chat_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    # Telegram Business (0022): the connection a "business" dialog's replies go through; "" elsewhere.
    business_connection_id: str = Field(default="", max_length=128, sa_column_kwargs={"server_default": ""})
    telegram_user_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    user_name: str = Field(default="", max_length=255)
    user_language: str = Field(default="", max_length=16)
    # The Telegram @username (0021), for the inbox's customer card; "" when the customer has none.
    user_username: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    status: str = Field(default="ai", max_length=16, index=True)  # ai | waiting | human
    handoff_at: datetime | None = _opt_ts()
    operator_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # Handoff (0006): when the person side last acted (take-over, an operator reply); a held dialog whose
    # operator stays silent past the assistant's handoff timeout goes back to the AI (services/handoff.py).
    operator_active_at: datetime | None = _opt_ts()
    cost_micros: int = Field(default=0, sa_type=sa.BigInteger)
    last_message_at: datetime = _ts()
    created_at: datetime = _ts()
    # Inbox: what the owner has read; unread = user messages after it (the epoch: nothing read yet).
    owner_read_at: datetime = Field(default=datetime(1970, 1, 1, tzinfo=UTC), sa_type=sa.DateTime(timezone=True),
                                    sa_column_kwargs={"server_default": sa.text("'1970-01-01 00:00:00+00'")})


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (sa.Index("ix_messages_dialog_created", "dialog_id", "created_at"),
                      # handoff (0006): the runners' sweep of outgoing messages not yet sent
                      sa.Index("ix_messages_delivery_pending", "created_at",
                               postgresql_where=sa.text("delivery_status = 'pending'")))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    dialog_id: uuid.UUID = Field(foreign_key="dialogs.id", ondelete="CASCADE")
    role: str = Field(max_length=16)  # user | assistant | operator | system
    text: str = Field(sa_type=sa.Text)
    telegram_message_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    telegram_update_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    answered_by: str = Field(default="", max_length=16)  # llm | qa | extractive | fallback | operator
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_micros: int = Field(default=0, sa_type=sa.BigInteger)
    latency_ms: int | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    needs_handoff: bool = False
    operator_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    # Outgoing messages the runner sends later (operator replies, handoff notices): '' (nothing to send) |
    # pending | sent | failed, with the reason as a sentence in the owner's language (services/handoff.py).
    delivery_status: str = Field(default="", max_length=16, sa_column_kwargs={"server_default": ""})
    delivery_error: str = Field(default="", sa_type=sa.Text, sa_column_kwargs={"server_default": ""})
    created_at: datetime = _ts()


# --- operations ----------------------------------------------------------------------------


class Notification(SQLModel, table=True):
    """Alerts for an owner (low balance, bot in error, waiting handoff) shown in the dashboard."""

    __tablename__ = "notifications"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id")
    kind: str = Field(max_length=32)
    text: str = Field(sa_type=sa.Text)
    read_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()


class AuditLog(SQLModel, table=True):
    """Append-only (a trigger refuses UPDATE and DELETE, 0010): who did what to which object, from where, with
    the before/after values in `details` (services/audit.py)."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_target", "target_type", "target_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", index=True)
    action: str = Field(max_length=64, index=True)
    target_type: str = Field(default="", max_length=32)
    target_id: str = Field(default="", max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    client: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), index=True)


# --- admin (0010): sort keys for the admin user list, kept by triggers ---------------------------


class UserActivity(SQLModel, table=True):
    """One row per user (a trigger on users inserts it): total spend (sum of committed charges, a trigger on
    ledger_entries) and last activity (a trigger on user_sessions). Kept as indexed columns so the admin list
    sorts and pages 100k users by them without aggregating the ledger."""

    __tablename__ = "user_activity"
    __table_args__ = (sa.Index("ix_user_activity_spent", "spent_micros", "user_id"),
                      sa.Index("ix_user_activity_last_active", "last_active_at", "user_id"))

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    spent_micros: int = Field(default=0, sa_type=sa.BigInteger)
    last_active_at: datetime = _ts()


# --- admin money (0011): what each LLM costs the platform, for cost and margin figures -----------------


class ModelPrice(SQLModel, table=True):
    """An admin's price for one chat model, in USD micros per 1M tokens (USD because that is how providers
    bill; services/admin_money.py converts with settings.llm_usd_rate). A row overrides the built-in default
    of that model (admin_money.DEFAULT_MODEL_PRICES); a model with neither costs zero and is flagged."""

    __tablename__ = "model_prices"

    model: str = Field(primary_key=True, max_length=120)
    prompt_usd_micros: int = Field(sa_type=sa.BigInteger)  # per 1M prompt tokens
    completion_usd_micros: int = Field(sa_type=sa.BigInteger)  # per 1M completion tokens
    updated_at: datetime = _ts()
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


# Tables kept in their own modules (money and mail of the accounts; the operator chat, issue 22; the inbox
# tools, issue 23; the website widget, issue 21; team seats, issue 23, migration 0023), imported here so that
# every importer of the models (alembic's env, the app, the runner) registers them.
import chatai.inbox_tools.models  # noqa: E402, F401
from chatai.business import models as _business_models  # noqa: E402, F401
from chatai.db import mail_models, money_models, operator_models  # noqa: E402, F401
from chatai.team import models as _team_models  # noqa: E402, F401
from chatai.widget import models as _widget_models  # noqa: E402, F401
