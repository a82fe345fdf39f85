"""added the compliance rollups (key_dwell_days, shared_device_rollup, reused_key_rollup), an
index of denied keys, and narrower indexes for stuck keys and the return window

DESIGN §4b at ten million keys: the dwell-time medians, the misuse lists and the denial lists
read a few rollup rows or index entries instead of every key or installation.  The new tables
start empty; the rollup set has a new name (rollup_state), so the query layer reads the raw
tables until `mar-insight refresh` fills them.  The indexes of keys waiting for their next
step are on when they entered it while none of the next steps is set (PostgreSQL keeps
statistics of that expression), and the indexes of a key event also hold the step before
it.  No row changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0.5"
down_revision = "v0.4"

#: The indexes of keys waiting for their next step, on when they entered the stage while
#: none of the next steps is set (data/schema.py `waiting_since`).
_WAITING = (
    ("ix_keys_consumed_unbound", "consumed_at", ("bound_at", "reported_at")),
    ("ix_keys_bound_unreported", "bound_at", ("reported_at",)),
    ("ix_keys_reported_unanswered", "reported_at", ("acknowledged_at",)),
    ("ix_keys_unused", "fulfilled_at", ("consumed_at", "returned_at")),
)
_EVENTS = (
    ("ix_keys_consumed_at", ("consumed_at", "fulfilled_at")),
    ("ix_keys_returned_at", ("returned_at", "fulfilled_at")),
    ("ix_keys_bound_at", ("bound_at", "consumed_at")),
    ("ix_keys_reported_at", ("reported_at", "bound_at", "consumed_at")),
    ("ix_keys_acknowledged_at", ("acknowledged_at", "reported_at")),
)


def upgrade() -> None:
    op.create_table(
        "key_dwell_days",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("product_id", sa.Integer, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("keys", sa.Integer, nullable=False),
    )
    op.create_index("ix_key_dwell_days_day", "key_dwell_days", ["day"])
    op.create_table(
        "shared_device_rollup",
        sa.Column("device_hash", sa.String(64), primary_key=True),
    )
    op.create_table(
        "reused_key_rollup",
        sa.Column("key_id", sa.Integer, primary_key=True, autoincrement=False),
    )
    for name, entered, later in _WAITING:
        op.drop_index(name, "keys")
        unset = " AND ".join(f"{column} IS NULL" for column in later)
        op.create_index(name, "keys", [sa.text(f"(CASE WHEN {unset} THEN {entered} END)")])
    for name, columns in _EVENTS:
        op.drop_index(name, "keys")
        op.create_index(name, "keys", list(columns))
    op.create_index(
        "ix_keys_denied",
        "keys",
        [
            sa.text(
                "(CASE WHEN NOT (coalesce(activation_code, '') = '00'"
                " OR coalesce(activation_code, '') = '02') THEN acknowledged_at END)"
            )
        ],
    )
