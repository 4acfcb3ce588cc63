"""billing (prices, charges, top-ups, promo codes)

Prices become "price per billable item by channel" with history (a change is a new row); the ledger gets
the effect on reserved money (hold) and a reason; charges (one reservation per answer), top-ups and promo
codes are new. Default prices are seeded once here, so a restart never resets what an admin set.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MICRO = 1_000_000
DEFAULT_PRICES = (("answer", 5 * MICRO), ("qa_answer", 5 * MICRO), ("operator_message", 0), ("document_page", 0))


def upgrade() -> None:
    op.create_check_constraint("ck_billing_available_non_negative", "billing_accounts",
                               "balance_micros >= reserved_micros")
    # New columns with server defaults fire no row trigger, so the append-only ledger accepts them.
    op.add_column("ledger_entries", sa.Column("hold_micros", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("ledger_entries", sa.Column("reason", sa.Text(), server_default="", nullable=False))

    op.drop_index("ix_prices_model", table_name="prices")
    op.drop_table("prices")
    op.create_table(
        "prices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("price_micros", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_prices_item_channel_from", "prices", ["item", "channel", "effective_from"], unique=False)
    op.execute("INSERT INTO prices (id, item, channel, price_micros, effective_from) VALUES "
               + ", ".join(f"(gen_random_uuid(), '{item}', 'telegram', {micros}, now())"
                           for item, micros in DEFAULT_PRICES))

    op.create_table(
        "charges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=True),
        sa.Column("update_id", sa.BigInteger(), nullable=True),
        sa.Column("dialog_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("item", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["users.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["dialog_id"], ["dialogs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index(op.f("ix_charges_account_id"), "charges", ["account_id"], unique=False)
    op.create_index(op.f("ix_charges_status"), "charges", ["status"], unique=False)

    op.create_table(
        "topups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("provider_payment_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("confirmation_url", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["users.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_payment_id"),
    )
    op.create_index(op.f("ix_topups_account_id"), "topups", ["account_id"], unique=False)
    op.create_index(op.f("ix_topups_status"), "topups", ["status"], unique=False)

    op.create_table(
        "promo_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("bonus_micros", sa.BigInteger(), nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=False),
        sa.Column("redemptions", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "promo_redemptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("promo_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["promo_id"], ["promo_codes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("promo_id", "account_id", name="uq_promo_redemptions_code_account"),
    )
    op.create_index(op.f("ix_promo_redemptions_promo_id"), "promo_redemptions", ["promo_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_promo_redemptions_promo_id"), table_name="promo_redemptions")
    op.drop_table("promo_redemptions")
    op.drop_table("promo_codes")
    op.drop_index(op.f("ix_topups_status"), table_name="topups")
    op.drop_index(op.f("ix_topups_account_id"), table_name="topups")
    op.drop_table("topups")
    op.drop_index(op.f("ix_charges_status"), table_name="charges")
    op.drop_index(op.f("ix_charges_account_id"), table_name="charges")
    op.drop_table("charges")
    op.drop_index("ix_prices_item_channel_from", table_name="prices")
    op.drop_table("prices")
    op.create_table(
        "prices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("cost_input_per_1k_micros", sa.BigInteger(), nullable=False),
        sa.Column("cost_output_per_1k_micros", sa.BigInteger(), nullable=False),
        sa.Column("price_input_per_1k_micros", sa.BigInteger(), nullable=False),
        sa.Column("price_output_per_1k_micros", sa.BigInteger(), nullable=False),
        sa.Column("price_per_message_micros", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_prices_model", "prices", ["model"], unique=False)
    # Dropping columns rewrites no rows, so the append-only trigger does not object.
    op.drop_column("ledger_entries", "reason")
    op.drop_column("ledger_entries", "hold_micros")
    op.drop_constraint("ck_billing_available_non_negative", "billing_accounts", type_="check")
