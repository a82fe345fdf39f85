"""How far a PostgreSQL streaming replica is behind its primary, so the dashboard can say how
fresh its figures are when it reads from one (`MAR_READ_DATABASE_URL`)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from data.db import is_postgres

# A standby that has replayed everything it received while its WAL receiver runs is current,
# however long ago the primary last committed: the age of the last replayed transaction alone
# would call an idle pair stale.  Otherwise (replay behind, paused, delayed, or the primary
# unreachable) the figures are as old as that last replayed transaction.
_LAG = sa.text(
    """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN NULL
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
             AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0.0
        ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
    END
    """
)


def replica_lag(connection: sa.Connection) -> dt.timedelta | None:
    """How much of the primary's recent history the connection's server does not show yet.

    None on a primary, on SQLite, and on a standby that has replayed nothing since it
    started (its age is unknown); zero on a standby that is caught up.
    """
    if not is_postgres(connection):
        return None
    seconds = connection.execute(_LAG).scalar_one()
    if seconds is None:
        return None
    return dt.timedelta(seconds=max(float(seconds), 0.0))
