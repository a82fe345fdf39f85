"""The licence and installation database, defined once for PostgreSQL and SQLite (DESIGN §3).

The column names of the data tables are the CSV import contract; `audit_log` is the
product's own table and is not part of the import.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import Grouping

from data.errors import UserError
from data.migrations import current_revision, head, outdated_schema, stamp_head
from i18n import LANGUAGES

metadata = sa.MetaData(naming_convention={"ck": "ck_%(table_name)s_%(constraint_name)s"})

#: DESIGN §1: a key's life as Microsoft records it, in order; `returned` ends an unused key.
KEY_STATES = (
    "fulfilled",
    "allocated",
    "consumed",
    "bound",
    "reported",
    "activated",
    "denied",
    "returned",
)
#: Microsoft's answers to a computer build report that enable the key (DESIGN §1): `00`
#: enabled, `02` enabled through the override process; any other answer is a denial.
ENABLING_CODES = ("00", "02")
SEGMENTS = ("education", "authority", "nonprofit")
INSTALL_STATUSES = ("success", "failed")
ROLES = ("management", "account_manager", "admin")
SIZE_CLASSES = ("S", "M", "L")
LICENCE_TYPES = ("dpk", "coa")
FAMILIES = ("windows", "office")
PARTNER_KINDS = ("tpr", "own_site")
CHANNELS = ("commercial", "citizenship")


#: Marks a column that an import file may leave out (DESIGN §3, in italics): empty when unknown.
OPTIONAL = {"optional_in_import": True}


def is_optional_in_import(column: sa.Column[object]) -> bool:
    return bool(column.info.get("optional_in_import"))


def is_enabling(code: sa.ColumnElement[str | None]) -> sa.ColumnElement[bool]:
    """An activation code that enables the key; an empty code is not one (a denial).

    Written as `=` comparisons, not IN: PostgreSQL writes an index on `varchar IN (…)` back
    with other casts than it parses, so a demo load (which drops and restores the indexes)
    left `ix_keys_denied` on an expression the queries no longer match."""
    value = sa.func.coalesce(code, "")
    return sa.or_(*(value == enabling for enabling in ENABLING_CODES))


def _one_of(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=column)


account_managers = sa.Table(
    "account_managers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("region", sa.String(100)),
)

partners = sa.Table(
    "partners",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("region", sa.String(100)),
    sa.Column("size_class", sa.String(1), nullable=False),
    sa.Column("account_manager_id", sa.Integer, sa.ForeignKey("account_managers.id")),
    sa.Column("joined_at", sa.DateTime),
    sa.Column("kind", sa.String(10), info=OPTIONAL),
    sa.Column("citizenship_cap", sa.Integer, info=OPTIONAL),
    _one_of("size_class", SIZE_CLASSES),
    _one_of("kind", PARTNER_KINDS),
    sa.CheckConstraint("citizenship_cap IS NULL OR citizenship_cap >= 0", name="citizenship_cap"),
    sa.CheckConstraint("length(country) = 2", name="country"),
    sa.Index("ix_partners_account_manager", "account_manager_id"),
)

conversions = sa.Table(
    "conversions",
    metadata,
    sa.Column("partner_id", sa.Integer, sa.ForeignKey("partners.id"), primary_key=True),
    sa.Column("rrp_registered_at", sa.DateTime, nullable=False),
    sa.Column("contacted_at", sa.DateTime),
    sa.Column("applied_at", sa.DateTime),
    sa.Column("contract_signed_at", sa.DateTime),
    sa.Column("first_order_at", sa.DateTime),
    sa.Column("lost_at", sa.DateTime),
    sa.Column("lost_reason", sa.String(200)),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("code", sa.String(50), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("family", sa.String(20), nullable=False),
    sa.Column("licence_type", sa.String(3), nullable=False),
    sa.Column("channel", sa.String(12), info=OPTIONAL),
    _one_of("family", FAMILIES),
    _one_of("licence_type", LICENCE_TYPES),
    _one_of("channel", CHANNELS),
)

key_orders = sa.Table(
    "key_orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
    sa.Column("ordered_at", sa.DateTime, nullable=False),
    sa.Column("fulfilled_at", sa.DateTime),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", sa.Numeric(12, 2)),
    sa.CheckConstraint("quantity > 0", name="quantity"),
)

keys = sa.Table(
    "keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("key_orders.id")),
    sa.Column("partner_id", sa.Integer, sa.ForeignKey("partners.id")),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("fulfilled_at", sa.DateTime, nullable=False),
    sa.Column("allocated_at", sa.DateTime),
    sa.Column("consumed_at", sa.DateTime),
    sa.Column("reported_at", sa.DateTime),
    sa.Column("returned_at", sa.DateTime),
    sa.Column("product_key_id", sa.String(20), info=OPTIONAL),
    sa.Column("bound_at", sa.DateTime, info=OPTIONAL),
    sa.Column("device_hash", sa.String(64), info=OPTIONAL),
    sa.Column("acknowledged_at", sa.DateTime, info=OPTIONAL),
    sa.Column("activation_code", sa.String(2), info=OPTIONAL),
    sa.Column("return_code", sa.String(10), info=OPTIONAL),
    _one_of("state", KEY_STATES),
    # DESIGN §3: fulfilled <= allocated <= consumed <= bound <= reported <= acknowledged; a
    # step the source does not record may be missing (reported without bound_at).
    sa.CheckConstraint(
        "(allocated_at IS NULL OR allocated_at >= fulfilled_at)"
        " AND (consumed_at IS NULL OR (allocated_at IS NOT NULL AND consumed_at >= allocated_at))"
        " AND (bound_at IS NULL OR (consumed_at IS NOT NULL AND bound_at >= consumed_at))"
        " AND (reported_at IS NULL OR (consumed_at IS NOT NULL AND reported_at >= consumed_at"
        " AND (bound_at IS NULL OR reported_at >= bound_at)))"
        " AND (acknowledged_at IS NULL OR (reported_at IS NOT NULL"
        " AND acknowledged_at >= reported_at))"
        " AND (returned_at IS NULL OR (consumed_at IS NULL AND returned_at >= fulfilled_at"
        " AND (allocated_at IS NULL OR returned_at >= allocated_at)))",
        name="forward_only",
    ),
    sa.Index("ix_keys_product_state", "product_id", "state"),
    sa.Index("ix_keys_partner_allocated", "partner_id", "allocated_at"),
    # One per key event: the query layer reads the days after the rollups (today) raw, by
    # event time across all products (EXPLAIN showed a sequential scan of every key without).
    # Each also holds the step before it: the compliance lists ask for keys that took their
    # next step only after the as-of date but entered their stage long before it, and the
    # index answers both (without, every key stepped on since was fetched from the heap).
    sa.Index("ix_keys_fulfilled_at", "fulfilled_at"),
    sa.Index("ix_keys_allocated_at", "allocated_at"),
    sa.Index("ix_keys_consumed_at", "consumed_at", "fulfilled_at"),
    sa.Index("ix_keys_returned_at", "returned_at", "fulfilled_at"),
    sa.Index("ix_keys_bound_at", "bound_at", "consumed_at"),
    sa.Index("ix_keys_reported_at", "reported_at", "bound_at", "consumed_at"),
    sa.Index("ix_keys_acknowledged_at", "acknowledged_at", "reported_at"),
    # Devices shared by several keys.
    sa.Index("ix_keys_device_hash", "device_hash"),
)


def waiting_since(
    entered: sa.ColumnElement[Any], later: tuple[sa.ColumnElement[Any], ...]
) -> sa.ColumnElement[Any]:
    """`entered` while none of `later` is set, else NULL: when a key still waiting for its
    next step entered its stage (DESIGN §4b).  The stages below are indexed on exactly this
    expression, so stuck keys and the return window read only those few keys, and PostgreSQL
    keeps statistics of it: on partial indexes of the same keys it estimated hundreds of
    thousands of rows (one column's NULLs taken as independent of another's), read every key
    and compiled the plan (JIT) for longer than the query took."""
    return sa.case((sa.and_(*(column.is_(None) for column in later)), entered))


#: The stages a key waits in for its next step: its index, when it entered, what comes next.
WAITING_STAGES: tuple[tuple[str, sa.Column[Any], tuple[sa.Column[Any], ...]], ...] = (
    ("ix_keys_consumed_unbound", keys.c.consumed_at, (keys.c.bound_at, keys.c.reported_at)),
    ("ix_keys_bound_unreported", keys.c.bound_at, (keys.c.reported_at,)),
    ("ix_keys_reported_unanswered", keys.c.reported_at, (keys.c.acknowledged_at,)),
    ("ix_keys_unused", keys.c.fulfilled_at, (keys.c.consumed_at, keys.c.returned_at)),
)
for _name, _entered, _later in WAITING_STAGES:
    sa.Index(_name, Grouping(waiting_since(_entered, _later)))


def denied_at() -> sa.ColumnElement[Any]:
    """When Microsoft denied the key (answered with anything but an enabling code), else
    NULL.  Indexed as such, for the same reason as `waiting_since`: the few denied keys."""
    return sa.case((sa.not_(is_enabling(keys.c.activation_code)), keys.c.acknowledged_at))


sa.Index("ix_keys_denied", Grouping(denied_at()))


installations = sa.Table(
    "installations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("key_id", sa.Integer, sa.ForeignKey("keys.id")),
    sa.Column("partner_id", sa.Integer, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
    sa.Column("segment", sa.String(10), nullable=False),
    sa.Column("site", sa.String(100)),
    sa.Column("installed_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(7), nullable=False),
    _one_of("segment", SEGMENTS),
    _one_of("status", INSTALL_STATUSES),
    sa.Index("ix_installations_installed_at", "installed_at"),
    sa.Index("ix_installations_partner_installed_at", "partner_id", "installed_at"),
    sa.Index("ix_installations_key", "key_id"),
)

licence_reports = sa.Table(
    "licence_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("partner_id", sa.Integer, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("period", sa.Date, nullable=False),
    sa.Column("due_at", sa.DateTime, nullable=False),
    sa.Column("submitted_at", sa.DateTime),
    sa.Column("reported_installations", sa.Integer),
    sa.UniqueConstraint("partner_id", "period", name="uq_licence_reports_partner_period"),
    sa.CheckConstraint(
        "reported_installations IS NULL OR reported_installations >= 0",
        name="reported_installations",
    ),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("account_manager_id", sa.Integer, sa.ForeignKey("account_managers.id")),
    #: The language of the user's digests and alerts; none: MAR_LANGUAGE's.
    sa.Column("language", sa.String(2), info=OPTIONAL),
    _one_of("role", ROLES),
    _one_of("language", LANGUAGES),
    sa.CheckConstraint(
        "role <> 'account_manager' OR account_manager_id IS NOT NULL",
        name="account_manager_scope",
    ),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("who", sa.String(320), nullable=False),
    sa.Column("report", sa.String(100), nullable=False),
    sa.Column("filters", sa.Text, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
)

# --- The product's own tables: what the digest and the alerts have sent ----------------------
# Not part of the import.  No foreign keys: the memory of what was sent outlives the rows that
# caused it (a re-import may change a partner, a user may leave).

#: One row per recipient and ISO week whose digest went out: a rerun skips them.
digest_log = sa.Table(
    "digest_log",
    metadata,
    sa.Column("recipient", sa.String(320), primary_key=True),
    sa.Column("week", sa.Date, primary_key=True),
    sa.Column("sent_at", sa.DateTime, nullable=False),
)

#: One row per alert condition (rule and subject) seen by `mar-insight alerts`: when it started
#: and cleared, and when each channel was told, so each event goes out once per channel.
alert_state = sa.Table(
    "alert_state",
    metadata,
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

# --- The product's own tables: rollups the loaders maintain (not part of the import) ------

#: What the rollups sum: install attempts by outcome, and key events by kind.  `bound` counts
#: keys tied to a device (at `bound_at`, or at `reported_at` when the binding was not
#: recorded), so every key that leaves `consumed` is counted once; `activated` and `denied`
#: split Microsoft's answers (DESIGN §4b: the key pipeline and the denial rate).
INSTALLATION_COUNTS = ("successes", "failures")
KEY_EVENT_COUNTS = (
    "fulfilled",
    "allocated",
    "consumed",
    "returned_allocated",
    "returned_unallocated",
    "bound",
    "reported",
    "activated",
    "denied",
)


def _counts(names: tuple[str, ...]) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.Integer, nullable=False) for name in names]


installation_rollup = sa.Table(
    "installation_rollup",
    metadata,
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("partner_id", sa.Integer, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("segment", sa.String(10), nullable=False),
    sa.Column("site", sa.String(100)),
    *_counts(INSTALLATION_COUNTS),
    sa.Index("ix_installation_rollup_day", "day"),
    sa.Index("ix_installation_rollup_partner_day", "partner_id", "day"),
)

key_rollup = sa.Table(
    "key_rollup",
    metadata,
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("partner_id", sa.Integer),
    *_counts(KEY_EVENT_COUNTS),
    sa.Index("ix_key_rollup_day", "day"),
    sa.Index("ix_key_rollup_product_day", "product_id", "day"),
    sa.Index("ix_key_rollup_partner_day", "partner_id", "day"),
)

# Coarser rollups derived from the two daily ones: a month per partner answers ranges and
# positions over years in a few thousand rows; the day totals answer views without partners.
installation_month_rollup = sa.Table(
    "installation_month_rollup",
    metadata,
    sa.Column("month", sa.Date, nullable=False),
    sa.Column("partner_id", sa.Integer, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("segment", sa.String(10), nullable=False),
    sa.Column("site", sa.String(100)),
    *_counts(INSTALLATION_COUNTS),
    sa.Index("ix_installation_month_rollup_month", "month"),
    sa.Index("ix_installation_month_rollup_partner_month", "partner_id", "month"),
)

installation_partner_months = sa.Table(
    "installation_partner_months",
    metadata,
    sa.Column("month", sa.Date, nullable=False),
    sa.Column("partner_id", sa.Integer, nullable=False),
    *_counts(INSTALLATION_COUNTS),
    sa.Index("ix_installation_partner_months_month", "month"),
    sa.Index("ix_installation_partner_months_partner_month", "partner_id", "month"),
)

installation_day_totals = sa.Table(
    "installation_day_totals",
    metadata,
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("segment", sa.String(10), nullable=False),
    *_counts(INSTALLATION_COUNTS),
    sa.Index("ix_installation_day_totals_day", "day"),
)

key_month_rollup = sa.Table(
    "key_month_rollup",
    metadata,
    sa.Column("month", sa.Date, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("partner_id", sa.Integer),
    *_counts(KEY_EVENT_COUNTS),
    sa.Index("ix_key_month_rollup_month", "month"),
    sa.Index("ix_key_month_rollup_partner_month", "partner_id", "month"),
)

key_day_totals = sa.Table(
    "key_day_totals",
    metadata,
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("at_partner", sa.Boolean(create_constraint=False), nullable=False),
    *_counts(KEY_EVENT_COUNTS),
    sa.Index("ix_key_day_totals_day", "day"),
)

# Licence compliance at scale (DESIGN §4b): how long keys dwelt in a stage, per day they
# entered the next one (the dwell-time medians without a scan of every key), and the few
# devices and keys the misuse signals can come from, so those lists read a handful of keys.
# Partners are left out of the dwell days: with them the table would be as large as the keys.
key_dwell_days = sa.Table(
    "key_dwell_days",
    metadata,
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("stage", sa.String(10), nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("keys", sa.Integer, nullable=False),
    sa.Index("ix_key_dwell_days_day", "day"),
)

#: Devices bound to two or more keys, and keys with two or more successful installations, at
#: the last refresh: the candidates the misuse lists check against the raw rows.
shared_device_rollup = sa.Table(
    "shared_device_rollup",
    metadata,
    sa.Column("device_hash", sa.String(64), primary_key=True),
)

reused_key_rollup = sa.Table(
    "reused_key_rollup",
    metadata,
    sa.Column("key_id", sa.Integer, primary_key=True, autoincrement=False),
)

rollup_state = sa.Table(
    "rollup_state",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("complete_through", sa.Date, nullable=False),
)

#: The tables of the import format, parents before children (the order to load them in).
DATA_TABLES: tuple[sa.Table, ...] = (
    account_managers,
    partners,
    conversions,
    products,
    key_orders,
    keys,
    installations,
    licence_reports,
    users,
)


def create_schema(bind: sa.Engine | sa.Connection) -> None:
    """Create the current schema in an empty database and record its version; a database at
    the current version is left as it is.

    Any other database is refused (`UserError`): only `mar-insight upgrade` changes a schema,
    so rows are never written into tables that lack columns of this release.
    """
    if isinstance(bind, sa.Engine):
        with bind.begin() as connection:
            create_schema(connection)
        return
    if require_current_schema(bind):
        return
    metadata.create_all(bind, checkfirst=True)
    stamp_head(bind)


def require_current_schema(connection: sa.Connection) -> bool:
    """Whether the database holds the current schema (False: it is empty); raises
    `UserError`, with a sentence naming `mar-insight upgrade`, for an older one."""
    revision = current_revision(connection)
    if revision == head():
        return True
    if revision is None and not has_data_tables(connection):
        return False
    raise UserError(outdated_schema(revision))


def has_schema(connection: sa.Connection) -> bool:
    """Whether the database holds every table of the product (data, rollups, audit)."""
    names = set(sa.inspect(connection).get_table_names())
    return all(table.name in names for table in metadata.sorted_tables)


NO_TABLES = (
    "The database has no MAR Insight tables yet; run 'mar-insight demo' or "
    "'mar-insight import DIR' first."
)


def ensure_schema(connection: sa.Connection) -> None:
    """For commands that read the data and keep state of their own (digest, alerts): refuse
    a database without the data tables (`UserError`), add product tables it lacks."""
    if not has_data_tables(connection):
        raise UserError(NO_TABLES)
    create_schema(connection)


def has_data_tables(connection: sa.Connection) -> bool:
    """Whether the tables of the import format exist (an older database may lack the rest)."""
    names = set(sa.inspect(connection).get_table_names())
    return all(table.name in names for table in DATA_TABLES)
