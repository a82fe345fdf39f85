"""the key rollups count bound, reported, activated and denied keys; indexes for the
licence-compliance metrics

DESIGN §4b.  The new rollup counts start at 0; rollups an older release built carry another
set name (rollup_state), so the query layer reads the raw tables until `mar-insight refresh`
rebuilds them.  No row changes.
The partial indexes hold only the keys still waiting for their next step.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0.4"
down_revision = "v0.3"

_KEY_ROLLUPS = ("key_rollup", "key_month_rollup", "key_day_totals")
_NEW_COUNTS = ("bound", "reported", "activated", "denied")
_INDEXES = (
    ("ix_keys_bound_at", "keys", "bound_at", None),
    ("ix_keys_reported_at", "keys", "reported_at", None),
    ("ix_keys_acknowledged_at", "keys", "acknowledged_at", None),
    ("ix_keys_consumed_unbound", "keys", "consumed_at", "bound_at IS NULL AND reported_at IS NULL"),
    ("ix_keys_bound_unreported", "keys", "bound_at", "reported_at IS NULL"),
    ("ix_keys_reported_unanswered", "keys", "reported_at", "acknowledged_at IS NULL"),
    ("ix_keys_unused", "keys", "fulfilled_at", "consumed_at IS NULL AND returned_at IS NULL"),
    ("ix_keys_device_hash", "keys", "device_hash", None),
    ("ix_installations_key", "installations", "key_id", None),
)


def upgrade() -> None:
    for table in _KEY_ROLLUPS:
        # A default only to fill the rows already there; the metadata has none.
        with op.batch_alter_table(table) as rollup:
            for name in _NEW_COUNTS:
                rollup.add_column(sa.Column(name, sa.Integer, nullable=False, server_default="0"))
        with op.batch_alter_table(table) as rollup:
            for name in _NEW_COUNTS:
                rollup.alter_column(name, server_default=None)
    for name, table, column, where in _INDEXES:
        clause = None if where is None else sa.text(where)
        op.create_index(name, table, [column], postgresql_where=clause, sqlite_where=clause)
