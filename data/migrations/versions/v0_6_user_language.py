"""added users.language, the language of a user's digests and alerts

A user may read German or French mail while the company's setting (MAR_LANGUAGE) says
English; the column is empty for every existing user, who keeps getting MAR_LANGUAGE's mail.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0.6"
down_revision = "v0.5"


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("language", sa.String(2)))
        users.create_check_constraint("language", "language IN ('en', 'de', 'fr')")
