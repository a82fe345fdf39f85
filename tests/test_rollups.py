"""The rollups change speed, never answers: every metric gives the same frame from the
rollups (daily, monthly, day totals) as from the raw tables, on SQLite and PostgreSQL
(issue: fast at 10 M rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from data.csv_import import import_directory
from data.demo import generate_demo
from data.rollups import ROLLUP_NAME, complete_through, refresh_all
from data.schema import rollup_state
from queries import (
    activations,
    citizenship,
    coa,
    conversions,
    key_pipeline,
    kpis,
    misuse,
    partner_risk,
    reporting,
    stock,
    throughput,
    volumes,
)
from queries.facts import Span, spans
from queries.filters import Filters
from tests.builders import (
    add_account_manager,
    add_installation,
    add_key,
    add_partner,
    add_product,
    add_report,
)

AS_OF = dt.date(2021, 6, 30)
Metric = Callable[[sa.Connection, Filters], pl.DataFrame]
METRICS: dict[str, Metric] = {
    "partner_volumes": volumes.partner_volumes,
    "partner_volume_series": lambda c, f: volumes.partner_volume_series(c, f, "week"),
    "throughput_day": lambda c, f: throughput.throughput(c, f, "day"),
    "throughput_week": lambda c, f: throughput.throughput(c, f, "week"),
    "throughput_month": lambda c, f: throughput.throughput(c, f, "month"),
    "milestones": lambda c, f: throughput.milestones(c, f, (5, 10, 1_000, 100_000)),
    "next_milestone": lambda c, f: throughput.next_milestone(c, f, (10, 1_000, 100_000)),
    "by_product": lambda c, f: throughput.installation_breakdown(c, f, "product"),
    "by_segment": lambda c, f: throughput.installation_breakdown(c, f, "segment"),
    "by_site": lambda c, f: throughput.installation_breakdown(c, f, "site"),
    "stock_on_hand": stock.stock_on_hand,
    "allocation_vs_consumption": stock.allocation_vs_consumption,
    "reporting_backlog": reporting.reporting_backlog,
    "report_status": reporting.report_status,
    "overview_kpis": kpis.overview_kpis,
    "conversion_funnel": conversions.conversion_funnel,
    "key_pipeline": key_pipeline.key_pipeline,
    "stuck_keys": lambda c, f: key_pipeline.stuck_keys(c, f),
    "duplicate_devices": misuse.duplicate_devices,
    "duplicate_device_keys": misuse.duplicate_device_keys,
    "reused_keys": misuse.reused_keys,
    "denial_rate": activations.denial_rate,
    "partner_denial_rates": activations.partner_denial_rates,
    "citizenship_caps": lambda c, f: citizenship.citizenship_caps(c, f),
    "coa_after_sunset": lambda c, f: coa.coa_after_sunset(c, f),
    "partner_risk": lambda c, f: partner_risk.partner_risk(c, f),
}
FILTERS = {
    "default": Filters.default(AS_OF),
    "june": Filters(as_of=AS_OF, date_from=dt.date(2021, 6, 1), date_to=dt.date(2021, 6, 30)),
    "partner": Filters.default(AS_OF).replace(partner_ids=(1,)),
    "manager_scope": Filters.default(AS_OF).replace(scope_account_manager_id=2),
    "product": Filters.default(AS_OF).replace(product_codes=("O21",)),
    "segment": Filters.default(AS_OF).replace(segments=("authority",)),
    "earlier_as_of": Filters.default(dt.date(2021, 6, 10)),
    "partner_mid_month": Filters(
        as_of=AS_OF, date_from=dt.date(2020, 12, 20), date_to=dt.date(2021, 6, 15), partner_ids=(1,)
    ),
    "manager_product_mid_month": Filters(
        as_of=dt.date(2021, 6, 20),
        date_from=dt.date(2021, 5, 31),
        date_to=dt.date(2021, 6, 20),
        scope_account_manager_id=1,
        product_codes=("W11P",),
    ),
}


def _all_metrics(engine: sa.Engine, filters: Filters) -> dict[str, pl.DataFrame]:
    with engine.connect() as connection:
        return {name: metric(connection, filters) for name, metric in METRICS.items()}


def _drop_rollups(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(rollup_state.delete())


def _assert_same(raw: dict[str, pl.DataFrame], rolled: dict[str, pl.DataFrame]) -> None:
    for name, frame in raw.items():
        assert_frame_equal(rolled[name], frame, check_exact=True), name


@pytest.fixture
def edge_cases(engine: sa.Engine) -> sa.Engine:
    """Installations and keys on range and as-of boundaries, failures, unknown sites, keys
    returned before and after allocation, MAR keys consumed without a partner, keys bound,
    reported (with and without a binding) and answered around the as-of date, citizenship
    and COA products."""
    with engine.begin() as conn:
        add_account_manager(conn, 1)
        add_account_manager(conn, 2)
        add_partner(conn, 1, manager=1)
        add_partner(conn, 2, manager=2, region="Benelux", country="NL")
        add_product(conn, 1, "W11P")
        add_product(conn, 2, "O21", family="office")
        for i, (partner, product, at, status, segment, site) in enumerate(
            [
                (1, 1, "2021-05-31T23:59:59", "success", "education", "Berlin"),
                (1, 1, "2021-06-01T00:00:00", "success", "education", "Berlin"),
                (1, 2, "2021-06-07T10:00", "failed", "authority", None),
                (1, 2, "2021-06-07T11:00", "success", "authority", None),
                (2, 1, "2021-06-10T12:00", "success", "nonprofit", "Utrecht"),
                (2, 1, "2021-06-30T23:59:59", "success", "education", "Utrecht"),
                (2, 2, "2021-07-01T00:00:00", "success", "education", "Utrecht"),
                (1, 1, "2020-12-24T08:00", "success", "education", "Berlin"),
            ],
            start=1,
        ):
            add_installation(conn, i, partner, product, at, status, segment, site=site)
        add_key(conn, 1, 1, partner=1, allocated_at="2021-05-01", consumed_at="2021-06-01")
        add_key(conn, 2, 1, partner=1, allocated_at="2021-06-02", returned_at="2021-06-20")
        add_key(conn, 3, 1, partner=2, allocated_at="2021-06-03")
        add_key(conn, 4, 2, returned_at="2021-06-05")
        add_key(conn, 5, 2, fulfilled_at="2021-07-02")
        add_key(conn, 6, 1, allocated_at="2021-06-04", consumed_at="2021-06-25")
        add_key(conn, 7, 2, partner=2, allocated_at="2021-06-29", consumed_at="2021-07-01")
        add_product(conn, 3, "WC", channel="citizenship")
        add_product(conn, 4, "OC", family="office", channel="citizenship")
        add_product(conn, 5, "COA", licence_type="coa")
        add_installation(conn, 9, 2, 5, "2021-06-15T10:00")
        for key, product, partner, allocated in (
            (8, 3, 1, "2021-05-31T23:00"),
            (9, 3, 2, "2021-06-01T00:00"),
            (10, 4, 2, "2021-06-02"),
            (11, 4, 2, "2021-06-20"),
        ):
            add_key(conn, key, product, partner=partner, allocated_at=allocated)
        lifecycle = {"allocated_at": "2021-05-01", "consumed_at": "2021-05-20"}
        add_key(conn, 12, 1, partner=1, **lifecycle, bound_at="2021-06-10")
        add_key(conn, 13, 1, partner=2, **lifecycle, bound_at="2021-06-30T23:00")
        add_key(conn, 14, 2, partner=2, **lifecycle, reported_at="2021-06-12")
        add_key(
            conn, 15, 1, partner=1, **lifecycle, bound_at="2021-05-21", reported_at="2021-06-01"
        )
        for key, partner, answered, code in (
            (16, 1, "2021-06-05", "00"),
            (17, 1, "2021-06-06", "01"),
            (18, 2, "2021-05-31", "02"),
            (19, 2, "2021-06-20", None),
            (20, 2, "2021-07-01", "03"),
        ):
            add_key(
                conn,
                key,
                1,
                partner=partner,
                **lifecycle,
                reported_at="2021-05-25",
                acknowledged_at=answered,
                activation_code=code,
            )
        # One PC bound to two keys by the as-of date, another only after it (a binding the
        # report carries); one key installed twice by then (once before an earlier as-of).
        shared, later = "a" * 64, "b" * 64
        add_key(conn, 21, 1, partner=1, **lifecycle, bound_at="2021-05-22", device_hash=shared)
        add_key(conn, 22, 1, partner=2, **lifecycle, bound_at="2021-06-30", device_hash=shared)
        add_key(conn, 23, 2, partner=2, **lifecycle, reported_at="2021-06-02", device_hash=later)
        add_key(conn, 24, 2, partner=1, **lifecycle, reported_at="2021-07-01", device_hash=later)
        for n, (key, at) in enumerate(
            [(21, "2021-05-21"), (21, "2021-06-30T12:00"), (22, "2021-06-29")],
            start=20,
        ):
            add_installation(conn, n, 1, 1, at, key=key)
        add_report(conn, 1, 1, "2021-05-01", submitted_at=None)
        add_report(conn, 2, 2, "2021-05-01", submitted_at="2021-06-01", reported_installations=1)
    return engine


@pytest.mark.parametrize("filters", FILTERS.values(), ids=FILTERS.keys())
def test_every_metric_is_the_same_from_rollups_and_raw_tables(
    edge_cases: sa.Engine, filters: Filters
) -> None:
    raw = _all_metrics(edge_cases, filters)
    with edge_cases.begin() as connection:
        refresh_all(connection)
    _assert_same(raw, _all_metrics(edge_cases, filters))


def test_rollups_answer_until_the_last_complete_day_before_today(edge_cases: sa.Engine) -> None:
    with edge_cases.begin() as connection:
        refresh_all(connection)
    with edge_cases.connect() as connection:
        assert complete_through(connection) == dt.date(2021, 7, 2)


def test_rows_written_after_the_refresh_are_read_from_the_raw_table(
    edge_cases: sa.Engine,
) -> None:
    with edge_cases.begin() as connection:
        refresh_all(connection)
        add_installation(connection, 100, 1, 1, "2021-07-05T09:00")
    filters = Filters(
        as_of=dt.date(2021, 7, 31), date_from=dt.date(2021, 7, 1), date_to=dt.date(2021, 7, 31)
    )
    with edge_cases.connect() as connection:
        frame = throughput.throughput(connection, filters, "day")
    assert frame.select("period", "installations").rows() == [
        (dt.date(2021, 7, 1), 1),
        (dt.date(2021, 7, 5), 1),
    ]


def test_an_import_refreshes_the_days_it_touched(edge_cases: sa.Engine, tmp_path: Path) -> None:
    with edge_cases.begin() as connection:
        refresh_all(connection)
    (tmp_path / "installations.csv").write_text(
        "id,key_id,partner_id,product_id,segment,site,installed_at,status\n"
        "1,,1,1,education,Berlin,2021-06-15T09:00:00,success\n"
        "200,,2,2,authority,,2021-06-16T10:00:00,failed\n"
    )
    import_directory(edge_cases, tmp_path)
    rolled = _all_metrics(edge_cases, FILTERS["june"])
    _drop_rollups(edge_cases)
    _assert_same(_all_metrics(edge_cases, FILTERS["june"]), rolled)


def test_an_imported_second_installation_of_a_key_makes_it_a_reused_key(
    edge_cases: sa.Engine, tmp_path: Path
) -> None:
    with edge_cases.begin() as connection:
        refresh_all(connection)
    (tmp_path / "installations.csv").write_text(
        "id,key_id,partner_id,product_id,segment,site,installed_at,status\n"
        "300,22,2,1,education,Utrecht,2021-06-30T08:00:00,success\n"
    )
    import_directory(edge_cases, tmp_path)
    rolled = _all_metrics(edge_cases, FILTERS["default"])
    _drop_rollups(edge_cases)
    _assert_same(_all_metrics(edge_cases, FILTERS["default"]), rolled)
    assert rolled["reused_keys"]["key_id"].to_list() == [21, 22]


def test_rows_written_by_others_before_an_imported_day_are_not_skipped(
    edge_cases: sa.Engine, tmp_path: Path
) -> None:
    with edge_cases.begin() as connection:
        refresh_all(connection)  # complete through 2021-07-02
        add_installation(connection, 100, 1, 1, "2021-07-05T09:00")  # not through a loader
    (tmp_path / "installations.csv").write_text(
        "id,key_id,partner_id,product_id,segment,site,installed_at,status\n"
        "101,,2,1,education,Utrecht,2021-07-10T10:00:00,success\n"
    )
    import_directory(edge_cases, tmp_path)
    july = Filters(
        as_of=dt.date(2021, 7, 31), date_from=dt.date(2021, 7, 1), date_to=dt.date(2021, 7, 31)
    )
    rolled = _all_metrics(edge_cases, july)
    _drop_rollups(edge_cases)
    _assert_same(_all_metrics(edge_cases, july), rolled)
    assert rolled["throughput_month"]["installations"].to_list() == [3]


def test_a_day_still_going_on_is_never_marked_complete(edge_cases: sa.Engine) -> None:
    today = dt.datetime.now(dt.UTC).date()
    with edge_cases.begin() as connection:
        add_installation(connection, 100, 1, 1, f"{today.isoformat()}T00:00:01")
        refresh_all(connection)
    with edge_cases.connect() as connection:
        complete = connection.execute(sa.select(rollup_state.c.complete_through)).scalar()
    assert complete == today - dt.timedelta(days=1)


def test_the_demo_database_gives_the_same_reports_from_rollups(engine: sa.Engine) -> None:
    as_of = dt.date(2022, 3, 31)
    generate_demo(engine, installations=3_000, seed=5, as_of=as_of, progress=lambda *_: None)
    with engine.begin() as connection:
        refresh_all(connection)
    filters = Filters.default(as_of)
    rolled = _all_metrics(engine, filters)
    _drop_rollups(engine)
    _assert_same(_all_metrics(engine, filters), rolled)


def test_rollups_built_by_an_older_version_are_not_read(edge_cases: sa.Engine) -> None:
    with edge_cases.begin() as connection:
        refresh_all(connection)
        connection.execute(rollup_state.update().values(name="daily"))
    with edge_cases.connect() as connection:
        assert complete_through(connection) is None


def test_a_range_is_read_as_days_around_whole_months_then_raw_after_the_rollups() -> None:
    day = dt.date
    assert spans(day(2021, 6, 5), day(2021, 1, 15), day(2021, 6, 10), monthly=True) == [
        Span("raw", day(2021, 6, 6), day(2021, 6, 10)),
        Span("day", day(2021, 1, 15), day(2021, 1, 31)),
        Span("month", day(2021, 2, 1), day(2021, 5, 1)),
        Span("day", day(2021, 6, 1), day(2021, 6, 5)),
    ]


def test_a_range_of_whole_months_is_read_from_the_month_rollups_alone() -> None:
    day = dt.date
    assert spans(day(2021, 7, 2), day(2021, 2, 1), day(2021, 6, 30), monthly=True) == [
        Span("month", day(2021, 2, 1), day(2021, 6, 1)),
    ]


def test_all_history_is_read_as_months_up_to_the_last_whole_one() -> None:
    day = dt.date
    assert spans(day(2021, 7, 2), None, day(2021, 7, 20), monthly=True) == [
        Span("raw", day(2021, 7, 3), day(2021, 7, 20)),
        Span("month", None, day(2021, 6, 1)),
        Span("day", day(2021, 7, 1), day(2021, 7, 2)),
    ]


def test_a_range_within_one_month_is_read_daily() -> None:
    day = dt.date
    assert spans(day(2021, 7, 2), day(2021, 6, 3), day(2021, 6, 29), monthly=True) == [
        Span("day", day(2021, 6, 3), day(2021, 6, 29)),
    ]


def test_day_rows_are_read_daily_however_long_the_range() -> None:
    day = dt.date
    assert spans(day(2021, 7, 2), day(2021, 1, 15), day(2021, 6, 10), monthly=False) == [
        Span("day", day(2021, 1, 15), day(2021, 6, 10)),
    ]


def test_a_range_after_the_rollups_is_read_raw() -> None:
    day = dt.date
    assert spans(day(2021, 7, 2), day(2021, 7, 5), day(2021, 7, 9), monthly=True) == [
        Span("raw", day(2021, 7, 5), day(2021, 7, 9)),
    ]


def test_rollup_state_names_the_current_set_of_rollups(edge_cases: sa.Engine) -> None:
    with edge_cases.begin() as connection:
        refresh_all(connection)
    with edge_cases.connect() as connection:
        assert connection.execute(sa.select(rollup_state.c.name)).scalars().all() == [ROLLUP_NAME]
