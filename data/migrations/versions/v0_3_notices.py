"""added digest_log and alert_state, the memory of `mar-insight digest` and `mar-insight alerts`

What the weekly digest and the alerts have sent: a digest goes to each recipient once per ISO
week, and an alert is told when it starts and once when it clears.  Two new tables of the
product's own; no existing table or row is touched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0.3"
down_revision = "v0.2"


def upgrade() -> None:
    op.create_table(
        "digest_log",
        sa.Column("recipient", sa.String(320), primary_key=True),
        sa.Column("week", sa.Date, primary_key=True),
        sa.Column("sent_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "alert_state",
        sa.Column("rule", sa.String(50), primary_key=True),
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("partner_id", sa.Integer),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("start_mailed_at", sa.DateTime),
        sa.Column("start_posted_at", sa.DateTime),
        sa.Column("cleared_at", sa.DateTime),
        sa.Column("clear_mailed_at", sa.DateTime),
        sa.Column("clear_posted_at", sa.DateTime),
    )
