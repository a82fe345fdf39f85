"""Deterministic demo data: a believable MAR business from July 2020 up to the as-of date.

Sales demos, screenshots and the dashboard's own tests need data with the shape of the real
business (RRPs converting in 2020-21, a product running out of keys, a handful of partners
behind on reporting, and keys living their whole lifecycle with a few of each compliance
problem of DESIGN §4b) that is identical for the same seed, as-of date and size. Installations
and keys are planned as numpy arrays and streamed to the database in batches, because the
generator must also fill PostgreSQL with ten million installations in minutes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import random
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from data import schema
from data.bulk import bulk_insert
from data.db import is_postgres
from data.errors import UserError
from data.rollups import refresh_all

Progress = Callable[[str, float], None]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Texts = npt.NDArray[np.str_]
#: Rows of one table by column name: each column's values, one per row (missing columns: NULL).
Batch = dict[str, list[Any]]

#: The day the MAR's digital key programme starts; every timestamp but RRP history is later.
START = dt.datetime(2020, 7, 1)
EARLIEST_AS_OF = dt.date(2021, 1, 1)
MIN_INSTALLATIONS = 1_000
DAY = 86_400
HOUR = 3_600
#: Seconds are counted from START; this marks a timestamp that is not set.
NULL = -1
BATCH = 50_000

_EPOCH = np.datetime64(START, "s")
_RRP_OPEN = dt.datetime(2019, 6, 1)
_RRP_CLOSED = dt.datetime(2020, 12, 31)
#: The first keys arrive three weeks in, so the first order is placed after START.
_FIRST_INSTALL_DAY = 21
_RAMP_DAYS = 45
_RETURN_RATE = 0.004
_WEEKDAY_FACTOR = np.array([1.0, 1.05, 1.05, 1.0, 0.8, 0.1, 0.02])
_HOUR_WEIGHTS = np.array(
    [0, 0, 0, 0, 0, 0, 1, 4, 8, 10, 10, 9, 6, 8, 9, 8, 6, 3, 1, 0.5, 0, 0, 0, 0], dtype=float
)
_HOUR_P = _HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()

_MANAGERS = (
    ("Anna Becker", "anna.becker@mar.example", "DACH"),
    ("Jonas Weber", "jonas.weber@mar.example", "DACH"),
    ("Lena Gruber", "lena.gruber@mar.example", "DACH"),
    ("Pieter de Vries", "pieter.devries@mar.example", "Benelux"),
    ("Marta Nowak", "marta.nowak@mar.example", "CEE"),
    ("Luca Moretti", "luca.moretti@mar.example", "South"),
)


class _Country(NamedTuple):
    region: str
    weight: float
    legal_form: str
    manager_ids: tuple[int, ...]
    cities: tuple[str, ...]


def _cities(names: str) -> tuple[str, ...]:
    return tuple(names.split(", "))


_COUNTRIES = {
    "DE": _Country(
        "DACH",
        44,
        "GmbH",
        (1, 2),
        _cities(
            "Berlin, Hamburg, München, Köln, Frankfurt, Stuttgart, Düsseldorf, Leipzig, Dortmund, "
            "Essen, Bremen, Dresden, Hannover, Nürnberg, Bochum, Bielefeld, Bonn, Münster, "
            "Karlsruhe, Mannheim, Augsburg, Wiesbaden, Freiburg, Kiel, Rostock, Erfurt, Magdeburg, "
            "Mainz, Regensburg, Göttingen"
        ),
    ),
    "AT": _Country(
        "DACH", 12, "GmbH", (3,), _cities("Wien, Graz, Linz, Salzburg, Innsbruck, St. Pölten")
    ),
    "CH": _Country("DACH", 10, "AG", (3,), _cities("Zürich, Basel, Bern, Luzern, St. Gallen")),
    "NL": _Country(
        "Benelux", 7, "B.V.", (4,), _cities("Amsterdam, Rotterdam, Den Haag, Utrecht, Eindhoven")
    ),
    "BE": _Country("Benelux", 4, "BV", (4,), _cities("Antwerpen, Gent, Brussel, Leuven, Liège")),
    "LU": _Country("Benelux", 1, "S.à r.l.", (4,), _cities("Luxembourg, Esch-sur-Alzette")),
    "PL": _Country("CEE", 7, "Sp. z o.o.", (5,), _cities("Warszawa, Kraków, Wrocław, Poznań")),
    "CZ": _Country("CEE", 5, "s.r.o.", (5,), _cities("Praha, Brno, Ostrava, Plzeň, Olomouc")),
    "FR": _Country("South", 4, "SARL", (6,), _cities("Strasbourg, Lyon, Lille, Metz, Mulhouse")),
    "IT": _Country("South", 3, "S.r.l.", (6,), _cities("Milano, Bolzano, Torino, Verona")),
    "DK": _Country("Nordics", 3, "ApS", (4,), _cities("København, Aarhus, Odense, Aalborg")),
}
_STEMS = (
    "ReTech", "GreenByte", "ReCompute", "EduPC", "CompuCycle", "ReBoot", "NextUse", "Renew IT",
    "ByteCycle", "Circular IT", "LoopTech", "Refurb Pro", "SecondByte", "ClearIT", "RePC",
    "PC Revive",
)  # fmt: skip
# size class: share of partners, relative installation volume
_SIZES = {"S": (0.65, 1.0), "M": (0.27, 5.0), "L": (0.08, 20.0)}
# the MAR's own sites: name, country, size class, site
_OWN_SITES = (
    ("MAR Factory Berlin", "DE", "L", "Berlin factory"),
    ("MAR Factory Leipzig", "DE", "L", "Leipzig factory"),
    ("MAR Service Center Wien", "AT", "M", "Wien service center"),
)
_OWN_SITE_WEIGHT = 30.0
#: The funnel after registration: each stage (its conversions column), the chance of reaching
#: it from the stage before, and the days it takes (fewest, most).
_FUNNEL = (
    ("contacted_at", 0.92, (2, 150)),
    ("applied_at", 0.78, (5, 60)),
    ("contract_signed_at", 0.82, (7, 45)),
    ("first_order_at", 0.93, (3, 30)),
)
_LOST_REASONS = ("no eligible customers", "chose another MAR", "closed business", "price")
#: An RRP that has not moved for this long is given up (issue 11: "who to call" must not be
#: led by 2020 RRPs waiting for years).
_SILENT_DAYS = 365
_SILENT_REASON = "no answer for a year"
_RRP_SUNSET = dt.datetime(2021, 1, 1)
#: Citizenship licences are sold from here on, by a few TPRs.
_CITIZENSHIP_FROM = dt.datetime(2022, 1, 1)
_CITIZENSHIP_TPRS = 5
#: The cap a TPR without an agreed one has (DESIGN §1); one TPR has agreed a higher cap.
_DEFAULT_CAP = 250
_AGREED_CAP = 500

# The key lifecycle after consumption (DESIGN §1), in seconds: OA3 binds within hours, the
# CBR goes out within two days, Microsoft answers within two days.
_BIND_DELAY = (2 * 60, 4 * HOUR)
_REPORT_DELAY = (HOUR, 2 * DAY)
_ANSWER_DELAY = (0, 2 * DAY)
#: Share of reported keys whose binding the source did not record (DESIGN §3 allows it).
_UNBOUND_SHARE = 0.03
_ENABLED = "00"
_OVERRIDE = "02"
_OVERRIDE_SHARE = 0.015
_DENIAL_SHARE = 0.003
_DENIALS = ("01", "03", "04", "05", "06", "07")
#: Accepted returns: with credit (O…) and, past 365 days, without (Q…).
_RETURN_CREDITED = "O01"
_RETURN_UNCREDITED = "Q01"
#: Stuck keys planted per product and stage: (stage, entered between this many days ago).
_STUCK = (("consumed", (3, 30)), ("bound", (8, 40)), ("reported", (4, 30)))
#: Product key IDs are 13 digits; the demo numbers its keys from here.
_PRODUCT_KEY_ID_BASE = 3_310_000_000_000
#: Installs with a paper COA after the RRP sunset, planted (DESIGN §4b flags them).
_COA_AFTER_SUNSET = (3, 6)


@dataclass(frozen=True)
class _Product:
    code: str
    name: str
    family: str
    licence_type: str
    price: Decimal
    #: Relative share of installations over time: (date, weight) points, linear in between.
    share: tuple[tuple[dt.date, float], ...]
    channel: str = "commercial"


_NEVER = ((dt.date(2020, 7, 1), 0.0),)
_PRODUCTS = (
    _Product(
        "W10P-REF",
        "Windows 10 Pro for Refurbished PCs",
        "windows",
        "dpk",
        Decimal("32.00"),
        (
            (dt.date(2020, 7, 1), 1.0),
            (dt.date(2021, 10, 5), 1.0),
            (dt.date(2022, 10, 1), 0.35),
            (dt.date(2025, 10, 13), 0.05),
            (dt.date(2025, 10, 14), 0.0),
        ),
    ),
    _Product(
        "W11P-REF",
        "Windows 11 Pro for Refurbished PCs",
        "windows",
        "dpk",
        Decimal("38.00"),
        ((dt.date(2021, 10, 4), 0.0), (dt.date(2022, 10, 1), 0.9), (dt.date(2024, 1, 1), 1.1)),
    ),
    _Product(
        "W11H-REF",
        "Windows 11 Home for Refurbished PCs",
        "windows",
        "dpk",
        Decimal("24.50"),
        ((dt.date(2021, 10, 4), 0.0), (dt.date(2022, 6, 1), 0.12)),
    ),
    _Product(
        "O21HB",
        "Office Home & Business 2021",
        "office",
        "dpk",
        Decimal("61.00"),
        (
            (dt.date(2021, 10, 4), 0.0),
            (dt.date(2022, 3, 1), 0.3),
            (dt.date(2024, 10, 1), 0.3),
            (dt.date(2025, 6, 1), 0.1),
        ),
    ),
    _Product(
        "O24HB",
        "Office Home & Business 2024",
        "office",
        "dpk",
        Decimal("69.00"),
        ((dt.date(2024, 9, 30), 0.0), (dt.date(2025, 3, 1), 0.3)),
    ),
    _Product(
        "W10P-COA",
        "Windows 10 Pro COA for Refurbished PCs",
        "windows",
        "coa",
        Decimal("29.00"),
        ((dt.date(2020, 7, 1), 0.45), (dt.date(2020, 12, 31), 0.3), (dt.date(2021, 1, 1), 0.0)),
    ),
    # Citizenship licences are not drawn by share: a few TPRs' installs become them.
    _Product(
        "W11P-CIT",
        "Windows 11 Pro Citizenship for Refurbished PCs",
        "windows",
        "dpk",
        Decimal("12.00"),
        _NEVER,
        channel="citizenship",
    ),
    _Product(
        "O21HB-CIT",
        "Office Home & Business 2021 Citizenship",
        "office",
        "dpk",
        Decimal("19.00"),
        _NEVER,
        channel="citizenship",
    ),
)
_PRODUCT = {product.code: index for index, product in enumerate(_PRODUCTS)}


@dataclass
class _Partner:
    index: int
    name: str
    country: str
    size: str
    manager_id: int
    site: str
    weight: float
    lead_weeks: int
    joined_at: dt.datetime | None
    kind: str = "tpr"
    citizenship_cap: int | None = None
    #: The funnel stages reached, by conversions column, in order (None: not a former RRP).
    stages: dict[str, dt.datetime] | None = None
    lost_at: dt.datetime | None = None
    lost_reason: str | None = None

    @property
    def active_from(self) -> dt.datetime | None:
        """Installing starts with the first order for a former RRP, on joining for others."""
        if self.stages is None:
            return self.joined_at
        return self.stages.get("first_order_at")


@dataclass(frozen=True)
class _Installs:
    """Successful installations, in no particular order; times are seconds since START."""

    time: Ints
    partner: Ints
    product: Ints
    segment: Ints


@dataclass(frozen=True)
class _Slots:
    """One product's keys that leave stock, first in first out, before orders exist.

    A slot is consumed by an installation or allocated and returned unused; `time` is when
    the key must be in stock (the installation, or the one the returned key was meant for).
    """

    installs: Ints
    returned: Mask
    time: Ints
    partner: Ints
    recent: int


#: The key timestamps the demo fills, by their keys column.
_KEY_TIMESTAMPS = (
    "fulfilled_at",
    "allocated_at",
    "consumed_at",
    "bound_at",
    "reported_at",
    "acknowledged_at",
    "returned_at",
)


@dataclass
class _Keys:
    """One product's keys, column by column: timestamps in seconds since START (NULL: not
    set), `device` a number per PC (the same number: the same PC), codes "" when unset."""

    index: Ints
    order: Ints
    partner: Ints
    fulfilled_at: Ints
    allocated_at: Ints
    consumed_at: Ints
    bound_at: Ints
    reported_at: Ints
    acknowledged_at: Ints
    returned_at: Ints
    device: Ints
    activation_code: Texts
    return_code: Texts

    @classmethod
    def stock(cls, index: Ints, order: Ints, fulfilled_at: Ints) -> _Keys:
        """Keys that arrived in MAR stock and nothing else happened to yet."""

        def unset() -> Ints:
            return np.full(len(index), NULL, dtype=np.int64)

        return cls(
            index=index,
            order=order.astype(np.int64),
            partner=unset(),
            fulfilled_at=fulfilled_at.astype(np.int64),
            allocated_at=unset(),
            consumed_at=unset(),
            bound_at=unset(),
            reported_at=unset(),
            acknowledged_at=unset(),
            returned_at=unset(),
            device=unset(),
            activation_code=np.full(len(index), "", dtype="<U2"),
            return_code=np.full(len(index), "", dtype="<U3"),
        )


def _concatenate(*parts: _Keys) -> _Keys:
    return _Keys(
        **{
            field.name: np.concatenate([getattr(part, field.name) for part in parts])
            for field in dataclasses.fields(_Keys)
        }
    )


def _furthest_state(keys: _Keys, part: slice) -> Texts:
    """The state column: the furthest stage each key reached (DESIGN §1)."""
    code = keys.activation_code[part]
    answered = keys.acknowledged_at[part] != NULL
    stages = {
        "returned": keys.returned_at[part] != NULL,
        "activated": answered & np.isin(code, (_ENABLED, _OVERRIDE)),
        "denied": answered,
        "reported": keys.reported_at[part] != NULL,
        "bound": keys.bound_at[part] != NULL,
        "consumed": keys.consumed_at[part] != NULL,
        "allocated": keys.allocated_at[part] != NULL,
    }
    state: Texts = np.select(list(stages.values()), list(stages), default="fulfilled")
    return state


@dataclass(frozen=True)
class _Order:
    product: int
    ordered_at: int
    fulfilled_at: int
    quantity: int
    #: Keys bought for no installation (over-ordered, or left over): never consumed, handed to
    #: `holder` (None: they stay in MAR stock) at `allocated_at`.
    stranded: bool = False
    holder: int | None = None
    allocated_at: int = NULL
    #: How many of them go back to Microsoft after 365 days, without credit.
    late_returns: int = 0


@dataclass(frozen=True)
class _Misuse:
    """The TPRs caught misusing keys: two keys bound to one PC, one key installed twice."""

    duplicate_devices: tuple[int, ...]
    reused_key: tuple[int, ...]


class _TextProgress:
    """A bar redrawn in place on stderr, so a load of millions of rows shows it is alive."""

    def __init__(self, width: int = 30) -> None:
        self._width = width
        self._last: tuple[str, int] = ("", -1)

    def __call__(self, stage: str, fraction: float) -> None:
        percent = int(fraction * 100)
        if (stage, percent) == self._last:
            return
        self._last = (stage, percent)
        filled = int(self._width * fraction)
        bar = "#" * filled + "." * (self._width - filled)
        end = "\n" if fraction >= 1 else ""
        sys.stderr.write(f"\r{stage:<16} [{bar}] {percent:3d}%{end}")
        sys.stderr.flush()


def generate_demo(
    engine: sa.Engine,
    *,
    installations: int = 150_000,
    seed: int = 42,
    replace: bool = False,
    as_of: dt.date,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Create the schema and fill it; return the row count per data table.

    Everything happens in one transaction, so a run that fails or is interrupted leaves the
    database as it was, including the data that `replace` would have removed. The daily
    rollups are rebuilt in the same transaction: rollups of replaced data would be wrong.
    """
    if installations < MIN_INSTALLATIONS:
        raise UserError(
            f"The demo needs at least {MIN_INSTALLATIONS:,} installations to look like a "
            f"business; {installations:,} were asked for."
        )
    if as_of < EARLIEST_AS_OF:
        raise UserError(
            f"The demo business starts on {START.date()} and needs an as-of date from "
            f"{EARLIEST_AS_OF} on; {as_of} was given."
        )
    report = progress or _TextProgress()
    schema.create_schema(engine)
    with engine.begin() as connection:
        if is_postgres(connection):
            connection.execute(sa.text("SET LOCAL statement_timeout = 0"))
        _clear_or_refuse(connection, replace=replace)
        return _Demo(as_of, seed, installations, report).write(connection)


def _clear_or_refuse(connection: sa.Connection, *, replace: bool) -> None:
    """Demo data must never silently overwrite real data, so that takes an explicit replace."""
    holds_data = any(
        connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
        for table in schema.DATA_TABLES
    )
    if holds_data and not replace:
        url = connection.engine.url.render_as_string(hide_password=True)
        raise UserError(
            f"The database at {url} already holds data; run again with --replace to overwrite it."
        )
    if not holds_data:
        return
    if is_postgres(connection):
        names = ", ".join(f'"{table.name}"' for table in schema.DATA_TABLES)
        connection.execute(sa.text(f"TRUNCATE {names}"))
    else:
        for table in reversed(schema.DATA_TABLES):
            connection.execute(table.delete())


_CONSTRAINTS_AND_INDEXES = sa.text(
    """
    SELECT 'ALTER TABLE ' || c.conrelid::regclass || ' DROP CONSTRAINT ' || quote_ident(c.conname),
           'ALTER TABLE ' || c.conrelid::regclass || ' ADD CONSTRAINT ' || quote_ident(c.conname)
           || ' ' || pg_get_constraintdef(c.oid)
    FROM pg_constraint c
    WHERE c.conrelid = CAST(:table AS regclass) AND c.contype = 'f'
    UNION ALL
    SELECT 'DROP INDEX ' || i.indexrelid::regclass, pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid = CAST(:table AS regclass)
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    """
)


@contextmanager
def _checks_deferred(connection: sa.Connection, tables: Sequence[sa.Table]) -> Iterator[None]:
    """On PostgreSQL, load the big tables without foreign keys and secondary indexes.

    Checking each copied row against its parents and growing the indexes row by row make a
    load of millions of rows several times slower than validating and building them once at
    the end. Dropping and restoring happen in the caller's transaction, so no one else ever
    sees the tables without them, and a failed load leaves them as they were.
    """
    if not is_postgres(connection):
        yield
        return
    restore: list[str] = []
    for table in tables:
        for drop, create in connection.execute(_CONSTRAINTS_AND_INDEXES, {"table": table.name}):
            connection.execute(sa.text(drop))
            restore.append(create)
    yield
    for create in restore:
        connection.execute(sa.text(create))


class _Demo:
    """One run's random streams, drawn from in a fixed order so that a seed is reproducible."""

    def __init__(self, as_of: dt.date, seed: int, installations: int, report: Progress) -> None:
        self.as_of = as_of
        self.end_at = dt.datetime.combine(as_of, dt.time(23, 59, 59))
        self.end = _seconds(self.end_at)
        self.days = (as_of - START.date()).days + 1
        self.installations = installations
        self.report = report
        self.seed = seed
        self.rnd = random.Random(seed)
        self.rng = np.random.default_rng(seed)
        self.counts: dict[str, int] = {}

    def write(self, connection: sa.Connection) -> dict[str, int]:
        partners = self._partners()
        self.report("planning", 0.1)
        n_failed = round(self.installations * self.rnd.uniform(0.02, 0.04))
        successes = self._installs(partners, self.installations - n_failed)
        successes = self._citizenship(partners, successes)
        successes = self._coa_after_sunset(partners, successes)
        misuse = self._misuse(partners, successes)
        self.report("planning", 0.5)
        slots = self._slots(successes)
        orders = self._orders(slots, partners)
        self.report("planning", 1.0)

        self._insert(connection, schema.account_managers, _manager_rows())
        self._insert(connection, schema.partners, _partner_rows(partners))
        self._insert(connection, schema.conversions, _conversion_rows(partners))
        self._insert(connection, schema.products, _product_rows())
        self._insert(connection, schema.key_orders, _order_rows(orders))

        with _checks_deferred(connection, (schema.keys, schema.installations)):
            key_index, allocated_at = self._write_keys(
                connection, partners, successes, slots, orders, misuse
            )
            self._write_installations(
                connection, partners, successes, key_index, allocated_at, n_failed, misuse
            )
        self._insert(connection, schema.licence_reports, self._reports(partners, successes))
        self._insert(connection, schema.users, _user_rows())
        self.report("rollups", 0.0)
        refresh_all(connection)
        self.report("rollups", 1.0)
        return {table.name: self.counts.get(table.name, 0) for table in schema.DATA_TABLES}

    def _insert(self, connection: sa.Connection, table: sa.Table, batches: Iterable[Batch]) -> None:
        """Write batches of rows by column name: a column the demo does not know stays empty,
        and a name the table does not have fails at once instead of shifting values."""
        count = 0
        for batch in batches:
            unknown = set(batch) - set(table.columns.keys())
            if unknown:
                raise KeyError(f"{table.name} has no column {sorted(unknown)}")
            count += bulk_insert(
                connection, table, list(batch), zip(*batch.values(), strict=True), batch_size=BATCH
            )
        self.counts[table.name] = count
        self.report(table.name, 1.0)

    # -- partners and the conversion funnel -------------------------------------------------

    def _partners(self) -> list[_Partner]:
        rnd = self.rnd
        partners = [
            _Partner(
                index=i,
                name=name,
                country=country,
                size=size,
                manager_id=1,
                site=site,
                weight=_OWN_SITE_WEIGHT,
                lead_weeks=1,
                joined_at=START + dt.timedelta(hours=8),
                kind="own_site",
            )
            for i, (name, country, size, site) in enumerate(_OWN_SITES)
        ]
        kinds = ["rrp"] * rnd.randint(290, 310) + ["dealer"] * rnd.randint(90, 110)
        rnd.shuffle(kinds)
        countries = list(_COUNTRIES)
        country_weights = [_COUNTRIES[c].weight for c in countries]
        names = {p.name for p in partners}
        for kind in kinds:
            country = rnd.choices(countries, country_weights)[0]
            info = _COUNTRIES[country]
            name, city = "", ""
            while not name or name in names:
                city = rnd.choice(info.cities)
                name = f"{rnd.choice(_STEMS)} {city} {info.legal_form}"
            names.add(name)
            size = rnd.choices(list(_SIZES), [share for share, _ in _SIZES.values()])[0]
            partner = _Partner(
                index=len(partners),
                name=name,
                country=country,
                size=size,
                manager_id=rnd.choice(info.manager_ids),
                site=f"{city} workshop",
                weight=_SIZES[size][1] * rnd.lognormvariate(0, 0.5),
                lead_weeks=rnd.choice((1, 1, 2, 2, 3)),
                joined_at=None,
            )
            if kind == "rrp":
                self._convert(partner)
            else:
                latest = (self.end_at - START).days - 30
                partner.joined_at = self._working_time(START + dt.timedelta(rnd.randint(0, latest)))
            partners.append(partner)
        return partners

    def _convert(self, partner: _Partner) -> None:
        """Walk a former RRP down the funnel; stages after the as-of date have not happened.

        An RRP that stops short of a first order is lost within months (with a reason), or,
        when it just goes silent, given up a year after its last step.
        """
        rnd = self.rnd
        registered = _RRP_OPEN + dt.timedelta(rnd.randint(0, (_RRP_CLOSED - _RRP_OPEN).days))
        stages = {"rrp_registered_at": self._working_time(registered)}
        last = stages["rrp_registered_at"]
        for stage, chance, (low, high) in _FUNNEL:
            if rnd.random() >= chance:
                break
            previous = max(last, START) if stage == "contacted_at" else last
            last = stages[stage] = self._working_time(
                previous + dt.timedelta(rnd.randint(low, high))
            )
        lost_at, reason = None, None
        converted = "first_order_at" in stages
        if not converted and rnd.random() < 0.75:
            lost_at = self._working_time(last + dt.timedelta(rnd.randint(14, 120)))
            reason = rnd.choice(_LOST_REASONS)
        elif not converted:
            silent = _SILENT_DAYS + rnd.randint(0, 30)
            lost_at = self._working_time(max(last, START) + dt.timedelta(silent))
            reason = _SILENT_REASON
        elif rnd.random() < 0.05:
            lost_at = self._working_time(last + dt.timedelta(rnd.randint(120, 1000)))
            reason = rnd.choice(("closed business", "chose another MAR"))
        partner.stages = {name: at for name, at in stages.items() if at <= self.end_at}
        if lost_at is not None and lost_at <= self.end_at:
            partner.lost_at, partner.lost_reason = lost_at, reason
        partner.joined_at = partner.stages.get("contract_signed_at")

    def _working_time(self, day: dt.datetime) -> dt.datetime:
        midnight = dt.datetime.combine(day.date(), dt.time())
        return midnight + dt.timedelta(seconds=self.rnd.randint(8 * HOUR, 18 * HOUR - 1))

    # -- installations ----------------------------------------------------------------------

    def _installs(self, partners: list[_Partner], count: int) -> _Installs:
        """Spread the successful installations over days, partners, products and segments.

        Volume follows the partners: each ramps up after its first order, bigger ones install
        much more, on top of slow growth, a late-summer school peak and quiet weekends.
        """
        rng = self.rng
        day = np.arange(self.days, dtype=np.int64)
        dates = [START.date() + dt.timedelta(int(d)) for d in day]
        day_of_year = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
        holiday = np.array(
            [(d.month, d.day) >= (12, 24) or (d.month, d.day) == (1, 1) for d in dates]
        )
        base = (
            1.10 ** (day / 365.25)
            * (1 + 0.2 * np.cos(2 * np.pi * (day_of_year - 220) / 365.25))
            * np.where(holiday, 0.25, 1.0)
            * _WEEKDAY_FACTOR[(day + START.weekday()) % 7]
            * rng.lognormal(0.0, 0.12, self.days)
            * (day >= _FIRST_INSTALL_DAY)
        )
        start = np.array([_day_offset(p.active_from) for p in partners])
        stop = np.array([_day_offset(p.lost_at) for p in partners])
        weight = np.array([p.weight for p in partners])
        activity = np.clip((day[:, None] - start[None, :]) / _RAMP_DAYS, 0.0, 1.0) * (
            day[:, None] + 1 <= stop[None, :]
        )
        cells = (base[:, None] * activity * weight[None, :]).ravel()
        per_cell = rng.multinomial(count, cells / cells.sum())
        cell = np.flatnonzero(per_cell)
        cell_day, cell_partner = np.divmod(cell, len(partners))

        mix = np.stack([_share(p, dates) for p in _PRODUCTS], axis=1)
        by_product = rng.multinomial(
            per_cell[cell], mix[cell_day] / mix[cell_day].sum(axis=1)[:, None]
        )
        row, product = np.nonzero(by_product)
        segment_mix = rng.dirichlet([6.0, 2.5, 1.5], len(partners))
        by_segment = rng.multinomial(by_product[row, product], segment_mix[cell_partner[row]])
        row2, segment = np.nonzero(by_segment)
        repeat = by_segment[row2, segment]
        origin = row[row2]
        seconds = rng.choice(24, size=count, p=_HOUR_P) * HOUR + rng.integers(0, HOUR, count)
        return _Installs(
            time=np.repeat(cell_day[origin], repeat) * DAY + seconds,
            partner=np.repeat(cell_partner[origin], repeat),
            product=np.repeat(product[row2], repeat),
            segment=np.repeat(segment, repeat),
        )

    def _citizenship(self, partners: list[_Partner], successes: _Installs) -> _Installs:
        """A few TPRs sell citizenship licences from 2022: half of their Windows installs, and
        never more Office than Windows ones in a weekly key batch, so their months keep Office
        at or below Windows (DESIGN §1). One of them has agreed a higher cap than the default."""
        rnd, rng = self.rnd, self.rng
        start = _seconds(_CITIZENSHIP_FROM)
        if self.end <= start:
            return successes
        volume = np.bincount(successes.partner[successes.time >= start], minlength=len(partners))
        tprs = [p.index for p in partners if p.kind == "tpr" and volume[p.index] > 0]
        tprs.sort(key=lambda i: (-volume[i], i))
        sellers = sorted(rnd.sample(tprs[:30], min(_CITIZENSHIP_TPRS, len(tprs[:30]))))
        if not sellers:
            return successes
        partners[sellers[-1]].citizenship_cap = _AGREED_CAP
        product = successes.product.copy()
        theirs = np.isin(successes.partner, sellers) & (successes.time >= start)
        commercial = [p.channel == "commercial" and p.licence_type == "dpk" for p in _PRODUCTS]
        eligible = theirs & np.array(commercial)[product]
        windows = eligible & (_families()[product] == "windows")
        office = np.flatnonzero(eligible & (_families()[product] == "office"))
        cit_windows = windows & (rng.random(len(product)) < 0.5)
        product[cit_windows] = _PRODUCT["W11P-CIT"]
        week = (successes.time // DAY + START.weekday()) // 7
        group = successes.partner * (int(week.max()) + 1) + week
        allowed = np.bincount(group[cit_windows], minlength=int(group.max()) + 1)
        by_group = office[np.lexsort((successes.time[office], group[office]))]
        groups = group[by_group]
        first = np.searchsorted(groups, groups, side="left")
        rank = np.arange(len(by_group)) - first
        product[by_group[rank < allowed[groups]]] = _PRODUCT["O21HB-CIT"]
        return _Installs(successes.time, successes.partner, product, successes.segment)

    def _coa_after_sunset(self, partners: list[_Partner], successes: _Installs) -> _Installs:
        """A handful of TPRs still install a paper COA after the RRP sunset (DESIGN §4b)."""
        after = _seconds(_RRP_SUNSET)
        tpr = np.array([p.kind == "tpr" for p in partners])
        dpk_windows = np.array([p.code in ("W10P-REF", "W11P-REF") for p in _PRODUCTS], dtype=bool)
        candidates = np.flatnonzero(
            (successes.time >= after)
            & (successes.time < after + 540 * DAY)
            & tpr[successes.partner]
            & dpk_windows[successes.product]
        )
        wanted = min(len(candidates), self.rnd.randint(*_COA_AFTER_SUNSET))
        product = successes.product.copy()
        product[self.rng.choice(candidates, wanted, replace=False)] = _PRODUCT["W10P-COA"]
        return _Installs(successes.time, successes.partner, product, successes.segment)

    def _misuse(self, partners: list[_Partner], successes: _Installs) -> _Misuse:
        """Three of the busier TPRs misuse keys: two bind two keys to one PC, the third (or the
        next that can) installs a key twice. Candidates in order of volume, drawn by seed."""
        volume = np.bincount(successes.partner, minlength=len(partners))
        tprs = [p.index for p in partners if p.kind == "tpr" and volume[p.index] >= 5]
        tprs.sort(key=lambda i: (-volume[i], i))
        busy = tprs[:20]
        self.rnd.shuffle(busy)
        return _Misuse(duplicate_devices=tuple(busy[:2]), reused_key=tuple(busy[2:]))

    def _write_installations(
        self,
        connection: sa.Connection,
        partners: list[_Partner],
        successes: _Installs,
        key_index: Ints,
        allocated_at: Ints,
        n_failed: int,
        misuse: _Misuse,
    ) -> None:
        """Add failed attempts just before some successes, then write all in time order.

        A failed attempt keeps its key when the key was already at the partner, as the same
        key is then used again by the retry that succeeds. One attempt of the key-reusing TPR
        succeeds with a key it installed before, on another PC.
        """
        rng = self.rng
        retried = rng.choice(len(successes.time), size=n_failed, replace=False)
        failed_at = successes.time[retried] - rng.integers(2 * 60, 40 * 60, n_failed)
        keeps_key = (rng.random(n_failed) < 0.7) & (failed_at >= allocated_at[retried])
        attempt_key = np.where(keeps_key, key_index[retried], NULL)
        reused, source = self._reuse(successes, retried, failed_at, keeps_key, misuse)
        attempt_key[reused] = key_index[source]
        still_failed = np.ones(n_failed, dtype=bool)
        still_failed[reused] = False
        time = np.concatenate([successes.time, failed_at])
        order = np.argsort(time, kind="stable")
        keys = np.concatenate([key_index, attempt_key])[order]
        partner = np.concatenate([successes.partner, successes.partner[retried]])[order]
        product = np.concatenate([successes.product, successes.product[retried]])[order]
        segment = np.concatenate([successes.segment, successes.segment[retried]])[order]
        failed = np.concatenate([np.zeros(len(successes.time), dtype=bool), still_failed])[order]
        time = time[order]
        sites = [p.site for p in partners]
        segments = np.array(schema.SEGMENTS)
        total = len(time)

        def batches() -> Iterator[Batch]:
            for low in range(0, total, BATCH):
                part = slice(low, low + BATCH)
                partner_index = partner[part].tolist()
                yield {
                    "id": list(range(low + 1, low + 1 + len(partner_index))),
                    "key_id": _optional_ids(keys[part]),
                    "partner_id": [i + 1 for i in partner_index],
                    "product_id": (product[part] + 1).tolist(),
                    "segment": segments[segment[part]].tolist(),
                    "site": [sites[i] for i in partner_index],
                    "installed_at": _datetimes(time[part]),
                    "status": np.where(failed[part], "failed", "success").tolist(),
                }
                self.report("installations", min(low + BATCH, total) / total)

        self._insert(connection, schema.installations, batches())

    def _reuse(
        self,
        successes: _Installs,
        retried: Ints,
        failed_at: Ints,
        keeps_key: Mask,
        misuse: _Misuse,
    ) -> tuple[Ints, Ints]:
        """Pick the attempt that succeeds with a key already installed (index among the
        attempts) and the success that first used that key: the first candidate TPR with an
        attempt that had no key of its own and an earlier install of the same product."""
        for partner in misuse.reused_key:
            for attempt in np.flatnonzero((successes.partner[retried] == partner) & ~keeps_key):
                product = successes.product[retried[attempt]]
                earlier = np.flatnonzero(
                    (successes.partner == partner)
                    & (successes.product == product)
                    & (successes.time < failed_at[attempt] - DAY)
                )
                if len(earlier):
                    source = earlier[np.argmax(successes.time[earlier])]
                    return np.array([attempt]), np.array([source])
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)

    # -- keys and key orders ----------------------------------------------------------------

    def _slots(self, successes: _Installs) -> list[_Slots]:
        """Line up each product's keys in the order they leave stock, a few of them returned."""
        recent_since = (self.days - 28) * DAY
        by_product = np.lexsort((successes.time, successes.product))
        bounds = np.searchsorted(successes.product[by_product], np.arange(len(_PRODUCTS) + 1))
        slots = []
        for p in range(len(_PRODUCTS)):
            installs = by_product[bounds[p] : bounds[p + 1]]
            time = successes.time[installs]
            partner = successes.partner[installs]
            n_returned = int(self.rng.binomial(len(installs), _RETURN_RATE))
            before = np.sort(self.rng.integers(0, max(len(installs), 1), n_returned))
            returned = np.zeros(len(installs) + n_returned, dtype=bool)
            returned[before + np.arange(n_returned)] = True
            slot_time = np.empty(len(returned), dtype=np.int64)
            slot_time[~returned], slot_time[returned] = time, time[before]
            slot_partner = np.empty(len(returned), dtype=np.int64)
            slot_partner[~returned], slot_partner[returned] = partner, partner[before]
            recent = int(np.count_nonzero(time >= recent_since))
            slots.append(_Slots(installs, returned, slot_time, slot_partner, recent))
        return slots

    def _orders(self, slots: list[_Slots], partners: list[_Partner]) -> list[_Order]:
        """Buy keys every couple of weeks so stock always covers the coming weeks.

        The product with the second-busiest last four weeks stopped being reordered about two
        months ago and is running out: its days of cover at the as-of date are below 21.
        A few orders bought keys no installation needed (`_stranded_orders`).
        """
        busiest = sorted(range(len(slots)), key=lambda p: (-slots[p].recent, p))
        low = busiest[1] if slots[busiest[1]].recent else busiest[0]
        orders = [
            order
            for p, product_slots in enumerate(slots)
            for order in self._product_orders(p, product_slots, low=p == low)
        ]
        orders += self._stranded_orders(slots, partners, low)
        return sorted(orders, key=lambda o: (o.ordered_at, o.product, o.stranded))

    def _stranded_orders(
        self, slots: list[_Slots], partners: list[_Partner], low: int
    ) -> list[_Order]:
        """Keys bought for no installation, so the compliance views have something to show:
        a TPR over its citizenship cap (its unused keys now closing in the return window), a
        TPR with Office citizenship keys and no Windows ones, and old MAR stock, some closing,
        some expired (a few of those returned after 365 days, without credit)."""
        rnd = self.rnd
        orders: list[_Order] = []

        def order(
            product: int,
            days_ago: tuple[int, int],
            quantity: int,
            holder: int | None = None,
            late_returns: int = 0,
        ) -> None:
            ordered_at = self._order_time(self.end - rnd.randint(*days_ago) * DAY)
            fulfilled_at = ordered_at + rnd.randint(DAY, 3 * DAY)
            allocated_at = fulfilled_at + rnd.randint(DAY, 3 * DAY) if holder is not None else NULL
            if ordered_at < _FIRST_INSTALL_DAY * DAY or max(fulfilled_at, allocated_at) > self.end:
                return
            orders.append(
                _Order(
                    product,
                    ordered_at,
                    fulfilled_at,
                    quantity,
                    stranded=True,
                    holder=holder,
                    allocated_at=allocated_at,
                    late_returns=late_returns,
                )
            )

        citizenship = slots[_PRODUCT["W11P-CIT"]].partner
        sellers = sorted(set(citizenship.tolist()))
        capped = [i for i in sellers if partners[i].citizenship_cap is None]
        if capped and self.end - 340 * DAY >= _seconds(_CITIZENSHIP_FROM):
            holder = max(capped, key=lambda i: (int(np.count_nonzero(citizenship == i)), -i))
            order(
                _PRODUCT["W11P-CIT"], (310, 340), _DEFAULT_CAP + rnd.randint(1, 40), holder=holder
            )

        def tprs_active_since(days_ago: int) -> list[int]:
            since = self.end_at - dt.timedelta(days_ago)
            return [
                p.index
                for p in partners
                if p.kind == "tpr"
                and p.index not in sellers
                and p.active_from is not None
                and p.active_from < since
                and p.lost_at is None
            ]

        others = tprs_active_since(200)
        if others and self.end - 200 * DAY >= _seconds(_CITIZENSHIP_FROM):
            order(_PRODUCT["O21HB-CIT"], (40, 200), rnd.randint(5, 20), holder=rnd.choice(others))
        commercial = [
            p for p in range(len(_PRODUCTS)) if p != low and _PRODUCTS[p].channel == "commercial"
        ]
        aged = max(commercial, key=lambda p: (len(slots[p].time), -p))
        order(aged, (305, 330), rnd.randint(10, 30))
        order(aged, (380, 460), rnd.randint(10, 20))
        others = tprs_active_since(460)
        if others:
            order(aged, (380, 460), rnd.randint(20, 40), holder=rnd.choice(others), late_returns=3)
        return orders

    def _product_orders(self, product: int, slots: _Slots, *, low: bool) -> list[_Order]:
        rnd = self.rnd
        need = slots.time
        if not len(need):
            return []
        per_second = slots.recent / (28 * DAY)

        def needed_by(at: int) -> int:
            if at <= self.end:
                return int(np.searchsorted(need, at, side="right"))
            return len(need) + math.ceil(per_second * (at - self.end))

        stop = self.end - rnd.randint(55, 70) * DAY if low else None
        target_left = max(1, round(slots.recent / 28 * rnd.uniform(6, 14)))
        orders: list[_Order] = []
        bought = 0
        ordered_at = self._order_time(int(need[0]) - rnd.randint(14, 21) * DAY)
        fulfilled_at = ordered_at + rnd.randint(DAY, 5 * DAY + 8 * HOUR)
        while fulfilled_at <= self.end:
            next_ordered = self._order_time(ordered_at + rnd.randint(10, 18) * DAY)
            next_fulfilled = next_ordered + rnd.randint(DAY, 5 * DAY + 8 * HOUR)
            last = stop is not None and next_ordered > stop
            if last:
                quantity = len(need) + target_left - bought
            else:
                missing = needed_by(next_fulfilled + rnd.randint(30, 45) * DAY) - bought
                quantity = _round_up(missing) if missing > 0 else 0
            if quantity > 0:
                orders.append(_Order(product, ordered_at, fulfilled_at, quantity))
                bought += quantity
            if last:
                break
            ordered_at, fulfilled_at = next_ordered, next_fulfilled
        return orders

    def _order_time(self, at: int) -> int:
        """Orders go out on a weekday morning."""
        day = at // DAY
        while (day + START.weekday()) % 7 >= 5:
            day += 1
        return int(day * DAY + 9 * HOUR + self.rnd.randint(0, 3 * HOUR))

    def _write_keys(
        self,
        connection: sa.Connection,
        partners: list[_Partner],
        successes: _Installs,
        slots: list[_Slots],
        orders: list[_Order],
        misuse: _Misuse,
    ) -> tuple[Ints, Ints]:
        """Write every product's keys; return each success's key index and allocation time."""
        key_index = np.full(len(successes.time), NULL, dtype=np.int64)
        allocated_at = np.full(len(successes.time), NULL, dtype=np.int64)
        first_key = np.cumsum([0] + [o.quantity for o in orders])
        total = int(first_key[-1])
        active_from = np.array([_seconds(p.active_from) for p in partners], dtype=np.int64)
        lead_weeks = np.array([p.lead_weeks for p in partners], dtype=np.int64)
        holding = [
            p.index
            for p in partners
            if p.active_from is not None and p.active_from < self.end_at and p.lost_at is None
        ]
        holding_weight = np.array([partners[i].weight for i in holding])
        duplicates_left = list(misuse.duplicate_devices)
        written = 0

        def batches(product: int) -> Iterator[Batch]:
            nonlocal written
            mine = [i for i, o in enumerate(orders) if o.product == product]
            bought = self._bought_keys(
                slots[product],
                orders,
                np.array([i for i in mine if not orders[i].stranded], dtype=np.int64),
                first_key,
                active_from,
                lead_weeks,
                np.array(holding, dtype=np.int64),
                holding_weight / holding_weight.sum(),
            )
            stranded = self._stranded_keys(
                orders, [i for i in mine if orders[i].stranded], first_key
            )
            keys = _concatenate(bought, stranded)
            self._live(keys, duplicates_left)
            consumed = ~slots[product].returned
            installs = slots[product].installs
            key_index[installs] = keys.index[: len(consumed)][consumed]
            allocated_at[installs] = keys.allocated_at[: len(consumed)][consumed]
            for low in range(0, len(keys.index), BATCH):
                part = slice(low, low + BATCH)
                yield self._key_batch(keys, part, product)
                written += len(keys.index[part])
                self.report("keys", written / total)

        def all_batches() -> Iterator[Batch]:
            for product in range(len(_PRODUCTS)):
                yield from batches(product)

        self._insert(connection, schema.keys, all_batches())
        return key_index, allocated_at

    def _key_batch(self, keys: _Keys, part: slice, product: int) -> Batch:
        """One batch of key rows by column name; the state is the furthest stage reached."""
        ids = (keys.index[part] + 1).tolist()
        devices = keys.device[part].tolist()
        return {
            "id": ids,
            "product_id": [product + 1] * len(ids),
            "order_id": (keys.order[part] + 1).tolist(),
            "partner_id": _optional_ids(keys.partner[part]),
            "state": _furthest_state(keys, part).tolist(),
            **{name: _datetimes(getattr(keys, name)[part]) for name in _KEY_TIMESTAMPS},
            "product_key_id": [f"{_PRODUCT_KEY_ID_BASE + i:013d}" for i in ids],
            "device_hash": [None if d == NULL else self._device_hash(d) for d in devices],
            "activation_code": _optional_texts(keys.activation_code[part]),
            "return_code": _optional_texts(keys.return_code[part]),
        }

    def _device_hash(self, device: int) -> str:
        """SHA-256 (hex) of the PC's hardware hash, as DESIGN §3 stores it; the demo's PCs have
        no real hardware hash, so a made-up one per PC number stands in for it."""
        return hashlib.sha256(b"demo-pc:%d:%d" % (self.seed, device)).hexdigest()

    def _bought_keys(
        self,
        slots: _Slots,
        orders: list[_Order],
        mine: Ints,
        first_key: Ints,
        active_from: Ints,
        lead_weeks: Ints,
        holding: Ints,
        holding_p: Floats,
    ) -> _Keys:
        """Give every key of one product's regular orders its order, partner and the
        timestamps up to consumption or return, first in first out.

        A key is allocated in the partner's weekly batch ahead of use (never before it
        arrived nor before the partner's first order); of the keys left in stock some already
        sit at partners.
        """
        rng = self.rng
        quantity = np.array([orders[i].quantity for i in mine], dtype=np.int64)
        bought = np.cumsum(quantity)
        count = int(bought[-1]) if len(mine) else 0
        slot = np.arange(count, dtype=np.int64)
        order = np.searchsorted(bought, slot, side="right")
        index = first_key[mine][order] + slot - (bought[order] - quantity[order])
        fulfilled = np.array([orders[i].fulfilled_at for i in mine], dtype=np.int64)[order]
        used = len(slots.time)
        keys = _Keys.stock(index, mine[order], fulfilled)
        partner, allocated = keys.partner, keys.allocated_at

        partner[:used] = slots.partner
        week_start = slots.time // DAY - (slots.time // DAY + START.weekday()) % 7
        batch = (week_start - 7 * lead_weeks[slots.partner]) * DAY + 9 * HOUR
        batch += (slots.partner * 617) % HOUR
        allocated[:used] = np.maximum.reduce([fulfilled[:used], batch, active_from[slots.partner]])
        keys.consumed_at[:used] = np.where(slots.returned, NULL, slots.time)
        back = np.flatnonzero(slots.returned)
        back_at = allocated[back] + rng.integers(14 * DAY, 120 * DAY, len(back))
        keys.returned_at[back] = np.where(back_at <= self.end, back_at, NULL)
        keys.return_code[back] = np.where(back_at <= self.end, _RETURN_CREDITED, "")

        spare = count - used
        at_partners = int(spare * self.rnd.uniform(0.2, 0.4))
        handed = slice(used, used + at_partners)
        partner[handed] = rng.choice(holding, at_partners, p=holding_p)
        allocated[handed] = np.maximum.reduce(
            [
                fulfilled[handed],
                self.end - rng.integers(0, 14 * DAY, at_partners),
                active_from[partner[handed]],
            ]
        )
        return keys

    def _stranded_keys(self, orders: list[_Order], mine: list[int], first_key: Ints) -> _Keys:
        """The keys of orders no installation needed: with their holder, or in MAR stock; the
        first `late_returns` of an order went back after 365 days, without credit."""
        parts = []
        for i in mine:
            o = orders[i]
            index = first_key[i] + np.arange(o.quantity, dtype=np.int64)
            keys = _Keys.stock(index, np.full(o.quantity, i), np.full(o.quantity, o.fulfilled_at))
            if o.holder is not None:
                keys.partner[:] = o.holder
                keys.allocated_at[:] = o.allocated_at
            back = o.fulfilled_at + self.rng.integers(366 * DAY, 380 * DAY, o.late_returns)
            back = np.where(back <= self.end, back, NULL)
            keys.returned_at[: o.late_returns] = back
            keys.return_code[: o.late_returns] = np.where(back != NULL, _RETURN_UNCREDITED, "")
            parts.append(keys)
        return _concatenate(*parts) if parts else _Keys.stock(*(np.zeros(0, np.int64),) * 3)

    def _live(self, keys: _Keys, duplicates_left: list[int]) -> None:
        """The key's life after consumption (DESIGN §1): bound within hours, reported within
        two days, answered within two more (mostly `00`, a few `02`, a few denials spread over
        the codes); a handful stuck at each stage; a TPR's two keys bound to one PC.
        Nothing after the as-of date has happened yet."""
        rng, end = self.rng, self.end
        count = len(keys.index)
        used = keys.consumed_at != NULL
        bound = np.where(used, keys.consumed_at + rng.integers(*_BIND_DELAY, count), NULL)
        reported = np.where(used, bound + rng.integers(*_REPORT_DELAY, count), NULL)
        answered = np.where(used, reported + rng.integers(*_ANSWER_DELAY, count), NULL)
        bound[used & (rng.random(count) < _UNBOUND_SHARE)] = NULL
        for stamp in (bound, reported, answered):
            stamp[stamp > end] = NULL

        stuck = np.zeros(count, dtype=bool)
        entered = {"consumed": keys.consumed_at, "bound": bound, "reported": reported}
        later = {"consumed": (bound, reported, answered), "bound": (reported, answered)}
        for stage, (fewest, most) in _STUCK:
            since = entered[stage]
            candidates = np.flatnonzero(
                ~stuck
                & (since != NULL)
                & (since <= end - fewest * DAY)
                & (since >= end - most * DAY)
                & (keys.partner != NULL)
            )
            chosen = rng.choice(candidates, min(len(candidates), self.rnd.randint(1, 3)), False)
            stuck[chosen] = True
            for stamp in later.get(stage, (answered,)):
                stamp[chosen] = NULL

        acknowledged = np.flatnonzero(answered != NULL)
        keys.activation_code[acknowledged] = np.where(
            rng.random(len(acknowledged)) < _OVERRIDE_SHARE, _OVERRIDE, _ENABLED
        )
        denials = int(rng.binomial(len(acknowledged), _DENIAL_SHARE))
        if len(acknowledged) >= 30:
            denials = max(denials, 2)
        denied = rng.choice(acknowledged, denials, replace=False)
        keys.activation_code[denied] = np.resize(rng.permutation(_DENIALS), denials)

        keys.bound_at[:], keys.reported_at[:], keys.acknowledged_at[:] = bound, reported, answered
        keys.device[:] = np.where((bound != NULL) | (reported != NULL), keys.index, NULL)
        for partner in list(duplicates_left):
            theirs = np.flatnonzero((keys.partner == partner) & (bound != NULL))
            if len(theirs) >= 2:
                first, second = rng.choice(theirs, 2, replace=False)
                keys.device[second] = keys.device[first]
                duplicates_left.remove(partner)

    # -- licence reports --------------------------------------------------------------------

    def _reports(self, partners: list[_Partner], successes: _Installs) -> Iterator[Batch]:
        """One report per month for every TPR from the month it joined, most on time; the
        MAR's own sites owe none (DESIGN §4).

        Missing reports are concentrated on a few partners that stopped reporting a few
        months ago, so the backlog reads like a short list of people to call.
        """
        rnd = self.rnd
        months = _month_index(self.as_of) + 1
        month_of_day = np.array(
            [_month_index(START.date() + dt.timedelta(d)) for d in range(self.days)]
        )
        actual = np.bincount(
            successes.partner * months + month_of_day[successes.time // DAY],
            minlength=len(partners) * months,
        ).reshape(len(partners), months)

        owed: dict[int, list[tuple[int, dt.datetime]]] = {}
        for p in partners:
            if p.kind == "own_site" or p.joined_at is None:
                continue
            last = _month_index(p.lost_at.date()) if p.lost_at else months - 2
            periods = range(_month_index(p.joined_at.date()), min(last, months - 2) + 1)
            due = [(m, _first_of_month(m + 1) + dt.timedelta(days=9)) for m in periods]
            owed[p.index] = [(m, at) for m, at in due if at <= self.end_at]
        overdue = {i: sum(at.date() < self.as_of for _, at in d) for i, d in owed.items()}
        eligible = [i for i, n in overdue.items() if n]
        sloppy = set(
            rnd.sample(eligible, min(len(eligible), max(10, min(25, round(0.08 * len(owed))))))
        )

        rows: list[dict[str, Any]] = []
        for index, due_list in owed.items():
            stops = overdue[index] - rnd.randint(1, 6) if index in sloppy else len(due_list)
            for n, (month, due_at) in enumerate(due_list):
                submitted = self._submission(due_at, index in sloppy, stopped=n >= stops)
                reported = None
                if submitted is not None:
                    reported = int(actual[index, month])
                    if rnd.random() < 0.06:
                        reported = max(0, reported + rnd.choice((-3, -2, -1, 1, 2, 5)))
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "partner_id": index + 1,
                        "period": _first_of_month(month).date(),
                        "due_at": due_at,
                        "submitted_at": submitted,
                        "reported_installations": reported,
                    }
                )
        return _by_name(rows)

    def _submission(
        self, due_at: dt.datetime, sloppy: bool, *, stopped: bool
    ) -> dt.datetime | None:
        rnd = self.rnd
        if stopped or (sloppy and rnd.random() < 0.05):
            return None
        if rnd.random() < (0.3 if sloppy else 0.06):
            late = due_at + dt.timedelta(seconds=rnd.randint(HOUR, 25 * DAY))
            return late if late <= self.end_at else None
        month_start = due_at.replace(day=1)
        return month_start + dt.timedelta(seconds=rnd.randint(6 * HOUR, 9 * DAY - 1))


# -- small tables ---------------------------------------------------------------------------


def _by_name(rows: Sequence[dict[str, Any]]) -> Iterator[Batch]:
    """Rows written as dicts by column name, as one batch."""
    if rows:
        yield {name: [row[name] for row in rows] for name in rows[0]}


def _manager_rows() -> Iterator[Batch]:
    return _by_name(
        [
            {"id": i, "name": name, "email": email, "region": region}
            for i, (name, email, region) in enumerate(_MANAGERS, 1)
        ]
    )


def _partner_rows(partners: list[_Partner]) -> Iterator[Batch]:
    return _by_name(
        [
            {
                "id": p.index + 1,
                "name": p.name,
                "country": p.country,
                "region": _COUNTRIES[p.country].region,
                "size_class": p.size,
                "account_manager_id": p.manager_id,
                "joined_at": p.joined_at,
                "kind": p.kind,
                "citizenship_cap": p.citizenship_cap,
            }
            for p in partners
        ]
    )


def _conversion_rows(partners: list[_Partner]) -> Iterator[Batch]:
    stages = ("rrp_registered_at", *(stage for stage, _, _ in _FUNNEL))
    return _by_name(
        [
            {
                "partner_id": p.index + 1,
                **{stage: p.stages.get(stage) for stage in stages},
                "lost_at": p.lost_at,
                "lost_reason": p.lost_reason,
            }
            for p in partners
            if p.stages is not None
        ]
    )


def _product_rows() -> Iterator[Batch]:
    return _by_name(
        [
            {
                "id": i,
                "code": p.code,
                "name": p.name,
                "family": p.family,
                "licence_type": p.licence_type,
                "channel": p.channel,
            }
            for i, p in enumerate(_PRODUCTS, 1)
        ]
    )


def _order_rows(orders: list[_Order]) -> Iterator[Batch]:
    rows = []
    for i, order in enumerate(orders, 1):
        ordered_at = _to_datetime(order.ordered_at)
        base = _PRODUCTS[order.product].price
        price = base * (1 + Decimal("0.03") * (ordered_at.year - 2020))
        if order.quantity >= 10_000:
            price *= Decimal("0.96")
        rows.append(
            {
                "id": i,
                "product_id": order.product + 1,
                "ordered_at": ordered_at,
                "fulfilled_at": _to_datetime(order.fulfilled_at),
                "quantity": order.quantity,
                "unit_price": price.quantize(Decimal("0.01")),
            }
        )
    return _by_name(rows)


def _user_rows() -> Iterator[Batch]:
    managers = [
        {"email": email, "role": "account_manager", "account_manager_id": i}
        for i, (_, email, _) in enumerate(_MANAGERS, 1)
    ]
    return _by_name(
        [
            {"email": "ceo@mar.example", "role": "management", "account_manager_id": None},
            {"email": "admin@mar.example", "role": "admin", "account_manager_id": None},
            *managers,
        ]
    )


# -- time and array helpers -----------------------------------------------------------------


def _seconds(at: dt.datetime | None) -> int:
    return NULL if at is None else int((at - START).total_seconds())


def _to_datetime(seconds: int) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


def _day_offset(at: dt.datetime | None) -> float:
    return math.inf if at is None else (at - START).total_seconds() / DAY


def _datetimes(seconds: Ints) -> list[dt.datetime | None]:
    stamps = np.where(
        seconds != NULL, _EPOCH + seconds.astype("timedelta64[s]"), np.datetime64("NaT", "s")
    )
    values: list[dt.datetime | None] = stamps.tolist()
    return values


def _optional_ids(index: Ints) -> list[int | None]:
    return [None if i == NULL else i + 1 for i in index.tolist()]


def _optional_texts(codes: Texts) -> list[str | None]:
    return [code or None for code in codes.tolist()]


def _families() -> Texts:
    return np.array([product.family for product in _PRODUCTS])


def _share(product: _Product, dates: list[dt.date]) -> Floats:
    points = [(d - START.date()).days for d, _ in product.share]
    weights = [w for _, w in product.share]
    return np.interp(np.arange(len(dates)), points, weights)


def _round_up(quantity: int) -> int:
    """Order quantities are round numbers, as a buyer would type them."""
    unit = int(10 ** max(0, len(str(quantity)) - 2))
    return -(-quantity // unit) * unit


def _month_index(day: dt.date) -> int:
    return (day.year - START.year) * 12 + day.month - START.month


def _first_of_month(index: int) -> dt.datetime:
    year, month = divmod(START.month - 1 + index, 12)
    return dt.datetime(START.year + year, month + 1, 1)
