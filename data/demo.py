"""Deterministic demo data: a believable MAR business from July 2020 up to the as-of date.

Sales demos, screenshots and the dashboard's own tests need data with the shape of the real
business (RRPs converting in 2020-21, a product running out of keys, a handful of partners
behind on reporting) that is identical for the same seed, as-of date and size. Installations
and keys are planned as numpy arrays and streamed to the database in batches, because the
generator must also fill PostgreSQL with ten million installations in minutes.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from data import schema
from data.bulk import Row, bulk_insert
from data.db import is_postgres
from data.errors import UserError
from data.rollups import refresh_all

Progress = Callable[[str, float], None]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

#: The day the MAR's digital key programme starts; every timestamp but RRP history is later.
START = dt.datetime(2020, 7, 1)
EARLIEST_AS_OF = dt.date(2021, 1, 1)
MIN_INSTALLATIONS = 1_000
DAY = 86_400
HOUR = 3_600
#: Seconds are counted from START; this marks a timestamp that is not set.
NULL = -1
BATCH = 50_000
#: Each key state's index in `schema.KEY_STATES`, so state arrays are named, not numbered.
_STATE = {name: index for index, name in enumerate(schema.KEY_STATES)}

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
#: Probability of reaching contacted, applied, contract signed, first order from the stage before.
_FUNNEL = (0.92, 0.78, 0.82, 0.93)
_LOST_REASONS = ("no eligible customers", "chose another MAR", "closed business", "price")


@dataclass(frozen=True)
class _Product:
    code: str
    name: str
    family: str
    licence_type: str
    price: Decimal
    #: Relative share of installations over time: (date, weight) points, linear in between.
    share: tuple[tuple[dt.date, float], ...]


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
        ((dt.date(2020, 7, 1), 0.45), (dt.date(2021, 6, 30), 0.05), (dt.date(2021, 7, 1), 0.0)),
    ),
)


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
    #: registered, contacted, applied, contract signed, first order: the stages reached.
    stages: tuple[dt.datetime, ...] | None = None
    lost_at: dt.datetime | None = None
    lost_reason: str | None = None

    @property
    def active_from(self) -> dt.datetime | None:
        """Installing starts with the first order for a former RRP, on joining for others."""
        if self.stages is None:
            return self.joined_at
        return self.stages[4] if len(self.stages) == 5 else None


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


@dataclass(frozen=True)
class _Order:
    product: int
    ordered_at: int
    fulfilled_at: int
    quantity: int


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
        self.rnd = random.Random(seed)
        self.rng = np.random.default_rng(seed)
        self.counts: dict[str, int] = {}

    def write(self, connection: sa.Connection) -> dict[str, int]:
        partners = self._partners()
        self.report("planning", 0.1)
        n_failed = round(self.installations * self.rnd.uniform(0.02, 0.04))
        successes = self._installs(partners, self.installations - n_failed)
        self.report("planning", 0.5)
        slots = self._slots(successes)
        orders = self._orders(slots)
        self.report("planning", 1.0)

        self._insert(connection, schema.account_managers, _manager_rows())
        self._insert(connection, schema.partners, _partner_rows(partners))
        self._insert(connection, schema.conversions, _conversion_rows(partners))
        self._insert(connection, schema.products, _product_rows())
        self._insert(connection, schema.key_orders, _order_rows(orders))

        with _checks_deferred(connection, (schema.keys, schema.installations)):
            key_index, allocated_at = self._write_keys(
                connection, partners, successes, slots, orders
            )
            self._write_installations(
                connection, partners, successes, key_index, allocated_at, n_failed
            )
        reports = self._reports(partners, successes)
        self._insert(connection, schema.licence_reports, reports)
        self._insert(connection, schema.users, _user_rows())
        self.report("rollups", 0.0)
        refresh_all(connection)
        self.report("rollups", 1.0)
        return {table.name: self.counts.get(table.name, 0) for table in schema.DATA_TABLES}

    def _insert(
        self, connection: sa.Connection, table: sa.Table, rows: Sequence[Row] | Iterator[Row]
    ) -> None:
        # The optional lifecycle columns are not generated yet: rows hold the others, in order.
        columns = [
            column.name for column in table.columns if not schema.is_optional_in_import(column)
        ]
        self.counts[table.name] = bulk_insert(connection, table, columns, rows, batch_size=BATCH)
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
        """Walk a former RRP down the funnel; stages after the as-of date have not happened."""
        rnd = self.rnd
        registered = _RRP_OPEN + dt.timedelta(rnd.randint(0, (_RRP_CLOSED - _RRP_OPEN).days))
        stages = [self._working_time(registered)]
        gaps = ((2, 150), (5, 60), (7, 45), (3, 30))
        for chance, (low, high) in zip(_FUNNEL, gaps, strict=True):
            if rnd.random() >= chance:
                break
            previous = max(stages[-1], START) if len(stages) == 1 else stages[-1]
            stages.append(self._working_time(previous + dt.timedelta(rnd.randint(low, high))))
        lost_at, reason = None, None
        if len(stages) < 5 and rnd.random() < 0.75:
            lost_at = self._working_time(stages[-1] + dt.timedelta(rnd.randint(14, 120)))
            reason = rnd.choice(_LOST_REASONS)
        elif len(stages) == 5 and rnd.random() < 0.05:
            lost_at = self._working_time(stages[-1] + dt.timedelta(rnd.randint(120, 1000)))
            reason = rnd.choice(("closed business", "chose another MAR"))
        reached = tuple(stage for stage in stages if stage <= self.end_at)
        partner.stages = reached
        if lost_at is not None and lost_at <= self.end_at:
            partner.lost_at, partner.lost_reason = lost_at, reason
        if len(reached) >= 4:
            partner.joined_at = reached[3]

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

    def _write_installations(
        self,
        connection: sa.Connection,
        partners: list[_Partner],
        successes: _Installs,
        key_index: Ints,
        allocated_at: Ints,
        n_failed: int,
    ) -> None:
        """Add failed attempts just before some successes, then write all in time order.

        A failed attempt keeps its key when the key was already at the partner, as the same
        key is then used again by the retry that succeeds.
        """
        rng = self.rng
        retried = rng.choice(len(successes.time), size=n_failed, replace=False)
        failed_at = successes.time[retried] - rng.integers(2 * 60, 40 * 60, n_failed)
        keeps_key = (rng.random(n_failed) < 0.7) & (failed_at >= allocated_at[retried])
        time = np.concatenate([successes.time, failed_at])
        order = np.argsort(time, kind="stable")
        keys = np.concatenate([key_index, np.where(keeps_key, key_index[retried], NULL)])[order]
        partner = np.concatenate([successes.partner, successes.partner[retried]])[order]
        product = np.concatenate([successes.product, successes.product[retried]])[order]
        segment = np.concatenate([successes.segment, successes.segment[retried]])[order]
        failed = (np.arange(len(time)) >= len(successes.time))[order]
        time = time[order]
        sites = [p.site for p in partners]
        segments = np.array(schema.SEGMENTS)
        statuses = np.array(schema.INSTALL_STATUSES)
        total = len(time)

        def rows() -> Iterator[Row]:
            for low in range(0, total, BATCH):
                part = slice(low, low + BATCH)
                partner_index = partner[part].tolist()
                yield from zip(
                    range(low + 1, low + 1 + len(partner_index)),
                    _optional_ids(keys[part]),
                    [i + 1 for i in partner_index],
                    (product[part] + 1).tolist(),
                    segments[segment[part]].tolist(),
                    [sites[i] for i in partner_index],
                    _datetimes(time[part]),
                    statuses[failed[part].astype(np.int64)].tolist(),
                    strict=True,
                )
                self.report("installations", min(low + BATCH, total) / total)

        self._insert(connection, schema.installations, rows())

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

    def _orders(self, slots: list[_Slots]) -> list[_Order]:
        """Buy keys every couple of weeks so stock always covers the coming weeks.

        The product with the second-busiest last four weeks stopped being reordered about two
        months ago and is running out: its days of cover at the as-of date are below 21.
        """
        busiest = sorted(range(len(slots)), key=lambda p: (-slots[p].recent, p))
        low = busiest[1] if slots[busiest[1]].recent else busiest[0]
        orders = [
            order
            for p, product_slots in enumerate(slots)
            for order in self._product_orders(p, product_slots, low=p == low)
        ]
        return sorted(orders, key=lambda o: (o.ordered_at, o.product))

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
        states = np.array(schema.KEY_STATES)
        written = 0

        def rows(product: int) -> Iterator[Row]:
            nonlocal written
            mine = [i for i, o in enumerate(orders) if o.product == product]
            columns = self._key_columns(
                slots[product],
                [orders[i] for i in mine],
                np.array(mine, dtype=np.int64) + 1,
                first_key[mine],
                active_from,
                lead_weeks,
                np.array(holding, dtype=np.int64),
                holding_weight / holding_weight.sum(),
            )
            index, order_ids, partner, state, stamps = columns
            consumed = ~slots[product].returned
            installs = slots[product].installs
            key_index[installs] = index[: len(consumed)][consumed]
            allocated_at[installs] = stamps[1][: len(consumed)][consumed]
            for low in range(0, len(index), BATCH):
                part = slice(low, low + BATCH)
                count = len(index[part])
                yield from zip(
                    (index[part] + 1).tolist(),
                    [product + 1] * count,
                    order_ids[part].tolist(),
                    _optional_ids(partner[part]),
                    states[state[part]].tolist(),
                    *(_datetimes(stamp[part]) for stamp in stamps),
                    strict=True,
                )
                written += count
                self.report("keys", written / total)

        def all_rows() -> Iterator[Row]:
            for product in range(len(_PRODUCTS)):
                yield from rows(product)

        self._insert(connection, schema.keys, all_rows())
        return key_index, allocated_at

    def _key_columns(
        self,
        slots: _Slots,
        orders: list[_Order],
        order_ids: Ints,
        first_key: Ints,
        active_from: Ints,
        lead_weeks: Ints,
        holding: Ints,
        holding_p: Floats,
    ) -> tuple[Ints, Ints, Ints, Ints, tuple[Ints, Ints, Ints, Ints, Ints]]:
        """Give every key of one product its order, partner and the timestamps of its life.

        A key is allocated in the partner's weekly batch ahead of use (never before it
        arrived nor before the partner's first order), reported a few days after it is
        consumed; of the keys left in stock some already sit at partners.
        """
        rng = self.rng
        quantity = np.array([o.quantity for o in orders], dtype=np.int64)
        bought = np.cumsum(quantity)
        count = int(bought[-1]) if len(orders) else 0
        slot = np.arange(count, dtype=np.int64)
        order = np.searchsorted(bought, slot, side="right")
        index = first_key[order] + slot - (bought[order] - quantity[order])
        fulfilled = np.array([o.fulfilled_at for o in orders], dtype=np.int64)[order]
        used = len(slots.time)
        partner = np.full(count, NULL, dtype=np.int64)
        allocated = np.full(count, NULL, dtype=np.int64)
        consumed = np.full(count, NULL, dtype=np.int64)
        returned = np.full(count, NULL, dtype=np.int64)

        partner[:used] = slots.partner
        week_start = slots.time // DAY - (slots.time // DAY + START.weekday()) % 7
        batch = (week_start - 7 * lead_weeks[slots.partner]) * DAY + 9 * HOUR
        batch += (slots.partner * 617) % HOUR
        allocated[:used] = np.maximum.reduce([fulfilled[:used], batch, active_from[slots.partner]])
        consumed[:used] = np.where(slots.returned, NULL, slots.time)
        back = np.flatnonzero(slots.returned)
        back_at = allocated[back] + rng.integers(14 * DAY, 120 * DAY, len(back))
        returned[back] = np.where(back_at <= self.end, back_at, NULL)

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

        reported = consumed + rng.integers(4 * HOUR, 7 * DAY, count)
        reported = np.where((consumed != NULL) & (reported <= self.end), reported, NULL)
        state = np.select(
            [returned != NULL, reported != NULL, consumed != NULL, allocated != NULL],
            [_STATE[name] for name in ("returned", "reported", "consumed", "allocated")],
            default=_STATE["fulfilled"],
        )
        return (
            index,
            order_ids[order],
            partner,
            state,
            (fulfilled, allocated, consumed, reported, returned),
        )

    # -- licence reports --------------------------------------------------------------------

    def _reports(self, partners: list[_Partner], successes: _Installs) -> list[Row]:
        """One report per month for every contracted partner, most on time.

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
            if p.stages is None or len(p.stages) < 4:
                continue
            last = _month_index(p.lost_at.date()) if p.lost_at else months - 2
            periods = range(_month_index(p.stages[3].date()) + 1, min(last, months - 2) + 1)
            due = [(m, _first_of_month(m + 1) + dt.timedelta(days=9)) for m in periods]
            owed[p.index] = [(m, at) for m, at in due if at <= self.end_at]
        overdue = {i: sum(at.date() < self.as_of for _, at in d) for i, d in owed.items()}
        eligible = [i for i, n in overdue.items() if n]
        sloppy = set(
            rnd.sample(eligible, min(len(eligible), max(10, min(25, round(0.08 * len(owed))))))
        )

        rows: list[Row] = []
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
                    (
                        len(rows) + 1,
                        index + 1,
                        _first_of_month(month).date(),
                        due_at,
                        submitted,
                        reported,
                    )
                )
        return rows

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


def _manager_rows() -> list[Row]:
    return [(i, name, email, region) for i, (name, email, region) in enumerate(_MANAGERS, 1)]


def _partner_rows(partners: list[_Partner]) -> list[Row]:
    return [
        (
            p.index + 1,
            p.name,
            p.country,
            _COUNTRIES[p.country].region,
            p.size,
            p.manager_id,
            p.joined_at,
        )
        for p in partners
    ]


def _conversion_rows(partners: list[_Partner]) -> list[Row]:
    return [
        (
            p.index + 1,
            *p.stages,
            *([None] * (5 - len(p.stages))),
            p.lost_at,
            p.lost_reason,
        )
        for p in partners
        if p.stages is not None
    ]


def _product_rows() -> list[Row]:
    return [(i, p.code, p.name, p.family, p.licence_type) for i, p in enumerate(_PRODUCTS, 1)]


def _order_rows(orders: list[_Order]) -> list[Row]:
    rows: list[Row] = []
    for i, order in enumerate(orders, 1):
        ordered_at = _to_datetime(order.ordered_at)
        base = _PRODUCTS[order.product].price
        price = base * (1 + Decimal("0.03") * (ordered_at.year - 2020))
        if order.quantity >= 10_000:
            price *= Decimal("0.96")
        rows.append(
            (
                i,
                order.product + 1,
                ordered_at,
                _to_datetime(order.fulfilled_at),
                order.quantity,
                price.quantize(Decimal("0.01")),
            )
        )
    return rows


def _user_rows() -> list[Row]:
    return [
        ("ceo@mar.example", "management", None),
        ("admin@mar.example", "admin", None),
        *((email, "account_manager", i) for i, (_, email, _) in enumerate(_MANAGERS, 1)),
    ]


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
