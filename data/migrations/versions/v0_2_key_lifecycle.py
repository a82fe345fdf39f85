"""added partners.kind, partners.citizenship_cap, products.channel, keys.product_key_id,
keys.bound_at, keys.device_hash, keys.acknowledged_at, keys.activation_code, keys.return_code
(all empty); key states bound, activated, denied; the forward-only rule covers bound_at and
acknowledged_at

The key lifecycle and compliance columns of DESIGN §3.  Existing rows keep every value: the new
columns are empty, and every stored key satisfies the wider state list and the wider
forward-only rule (an empty bound_at and acknowledged_at add no condition).  SQLite changes a
CHECK constraint only by copying the table (batch mode); the rollups are not touched, since
their sums do not read the new columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0.2"
down_revision = "v0.1"

_KEY_STATES = (
    "fulfilled",
    "allocated",
    "consumed",
    "bound",
    "reported",
    "activated",
    "denied",
    "returned",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    allowed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({allowed})"


_FORWARD_ONLY = (
    "(allocated_at IS NULL OR allocated_at >= fulfilled_at)"
    " AND (consumed_at IS NULL OR (allocated_at IS NOT NULL AND consumed_at >= allocated_at))"
    " AND (bound_at IS NULL OR (consumed_at IS NOT NULL AND bound_at >= consumed_at))"
    " AND (reported_at IS NULL OR (consumed_at IS NOT NULL AND reported_at >= consumed_at"
    " AND (bound_at IS NULL OR reported_at >= bound_at)))"
    " AND (acknowledged_at IS NULL OR (reported_at IS NOT NULL"
    " AND acknowledged_at >= reported_at))"
    " AND (returned_at IS NULL OR (consumed_at IS NULL AND returned_at >= fulfilled_at"
    " AND (allocated_at IS NULL OR returned_at >= allocated_at)))"
)


def upgrade() -> None:
    with op.batch_alter_table("partners") as partners:
        partners.add_column(sa.Column("kind", sa.String(10)))
        partners.add_column(sa.Column("citizenship_cap", sa.Integer))
        partners.create_check_constraint(
            op.f("ck_partners_kind"), _one_of("kind", ("tpr", "own_site"))
        )
        partners.create_check_constraint(
            op.f("ck_partners_citizenship_cap"), "citizenship_cap IS NULL OR citizenship_cap >= 0"
        )
    with op.batch_alter_table("products") as products:
        products.add_column(sa.Column("channel", sa.String(12)))
        products.create_check_constraint(
            op.f("ck_products_channel"), _one_of("channel", ("commercial", "citizenship"))
        )
    with op.batch_alter_table("keys") as keys:
        keys.add_column(sa.Column("product_key_id", sa.String(20)))
        keys.add_column(sa.Column("bound_at", sa.DateTime))
        keys.add_column(sa.Column("device_hash", sa.String(64)))
        keys.add_column(sa.Column("acknowledged_at", sa.DateTime))
        keys.add_column(sa.Column("activation_code", sa.String(2)))
        keys.add_column(sa.Column("return_code", sa.String(10)))
        keys.drop_constraint(op.f("ck_keys_state"), type_="check")
        keys.drop_constraint(op.f("ck_keys_forward_only"), type_="check")
        keys.create_check_constraint(op.f("ck_keys_state"), _one_of("state", _KEY_STATES))
        keys.create_check_constraint(op.f("ck_keys_forward_only"), _FORWARD_ONLY)
