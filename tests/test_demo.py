"""The demo generator: deterministic, consistent with the data model, and safe to rerun."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from data import schema
from data.db import make_engine
from data.demo import generate_demo
from data.errors import UserError

AS_OF = dt.date(2025, 6, 30)
END_OF_AS_OF = dt.datetime(2025, 6, 30, 23, 59, 59)
SIZE = 2_000


def _generate(engine: sa.Engine, **options: object) -> dict[str, int]:
    settings: dict[str, object] = {"installations": SIZE, "as_of": AS_OF, "progress": _quiet}
    return generate_demo(engine, **{**settings, **options})  # type: ignore[arg-type]


def _quiet(_stage: str, _fraction: float) -> None:
    """Keep test output free of progress bars."""


def _checksums(engine: sa.Engine) -> dict[str, str]:
    sums = {}
    with engine.connect() as connection:
        for table in schema.DATA_TABLES:
            rows = connection.execute(sa.select(table).order_by(*table.primary_key.columns))
            sums[table.name] = hashlib.sha256(repr(rows.all()).encode()).hexdigest()
    return sums


def _scalar(engine: sa.Engine, sql: str, **params: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text(sql), params).scalar_one())


@pytest.fixture
def second_engine(database_url: str, tmp_path: Path) -> Iterator[sa.Engine]:
    """Another fresh, empty database of the same dialect, to compare two runs."""
    if database_url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'second.sqlite'}")
        yield engine
        engine.dispose()
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(database_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    engine = make_engine(re.sub(r"search_path%3D\w+", f"search_path%3D{name}", database_url))
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def test_same_seed_fills_a_second_database_identically(
    empty_engine: sa.Engine, second_engine: sa.Engine
) -> None:
    _generate(empty_engine, seed=7)
    _generate(second_engine, seed=7)
    assert _checksums(empty_engine) == _checksums(second_engine)


def test_different_seed_gives_different_data(
    empty_engine: sa.Engine, second_engine: sa.Engine
) -> None:
    _generate(empty_engine, seed=7)
    _generate(second_engine, seed=8)
    first, second = _checksums(empty_engine), _checksums(second_engine)
    assert first["installations"] != second["installations"]
    assert first["partners"] != second["partners"]


def test_row_counts_match_the_requested_size_and_the_documented_business(
    empty_engine: sa.Engine,
) -> None:
    counts = _generate(empty_engine)
    actual = {
        table.name: _scalar(empty_engine, f"SELECT count(*) FROM {table.name}")
        for table in schema.DATA_TABLES
    }
    assert counts == actual
    assert counts["installations"] == SIZE
    assert 380 <= counts["partners"] <= 420
    assert 280 <= counts["conversions"] <= 320
    assert counts["products"] == 8
    assert counts["keys"] == _scalar(empty_engine, "SELECT sum(quantity) FROM key_orders")
    assert counts["users"] == counts["account_managers"] + 2


def test_every_consumed_key_has_exactly_one_successful_installation_at_its_consumed_at(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    mismatched = _scalar(
        engine,
        """
        SELECT count(*) FROM keys k
        WHERE k.consumed_at IS NOT NULL AND 1 <> (
            SELECT count(*) FROM installations i
            WHERE i.key_id = k.id AND i.status = 'success' AND i.installed_at = k.consumed_at
        )
        """,
    )
    assert mismatched == 0
    assert _scalar(engine, "SELECT count(*) FROM keys WHERE consumed_at IS NOT NULL") > 0


def test_every_successful_installation_uses_a_consumed_key_of_its_partner_and_product(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    wrong = _scalar(
        engine,
        """
        SELECT count(*) FROM installations i LEFT JOIN keys k ON k.id = i.key_id
        WHERE i.status = 'success' AND (
            k.id IS NULL OR k.consumed_at IS NULL OR k.partner_id <> i.partner_id
            OR k.product_id <> i.product_id
        )
        """,
    )
    assert wrong == 0


def test_failed_attempts_are_a_few_percent_and_only_use_keys_consumed_later(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    failed = _scalar(engine, "SELECT count(*) FROM installations WHERE status = 'failed'")
    assert 0.02 * SIZE <= failed <= 0.04 * SIZE
    wrong = _scalar(
        engine,
        """
        SELECT count(*) FROM installations i JOIN keys k ON k.id = i.key_id
        WHERE i.status = 'failed' AND NOT (
            k.consumed_at > i.installed_at AND k.allocated_at <= i.installed_at
            AND k.partner_id = i.partner_id AND k.product_id = i.product_id
        )
        """,
    )
    assert wrong == 0


def test_keys_never_go_backwards_and_state_is_the_furthest_stage_reached(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    wrong = _scalar(
        engine,
        """
        SELECT count(*) FROM keys k JOIN key_orders o ON o.id = k.order_id
        WHERE k.fulfilled_at <> o.fulfilled_at
           OR k.product_id <> o.product_id
           OR k.state <> CASE
                WHEN k.returned_at IS NOT NULL THEN 'returned'
                WHEN k.acknowledged_at IS NOT NULL AND k.activation_code IN ('00', '02')
                  THEN 'activated'
                WHEN k.acknowledged_at IS NOT NULL THEN 'denied'
                WHEN k.reported_at IS NOT NULL THEN 'reported'
                WHEN k.bound_at IS NOT NULL THEN 'bound'
                WHEN k.consumed_at IS NOT NULL THEN 'consumed'
                WHEN k.allocated_at IS NOT NULL THEN 'allocated'
                ELSE 'fulfilled' END
           OR (k.allocated_at IS NOT NULL) <> (k.partner_id IS NOT NULL)
           OR k.allocated_at < k.fulfilled_at
           OR k.consumed_at < k.allocated_at
           OR k.bound_at < k.consumed_at
           OR (k.bound_at IS NOT NULL AND k.consumed_at IS NULL)
           OR k.reported_at < k.consumed_at
           OR k.reported_at < k.bound_at
           OR k.acknowledged_at < k.reported_at
           OR (k.acknowledged_at IS NOT NULL AND k.reported_at IS NULL)
           OR (k.acknowledged_at IS NULL) <> (k.activation_code IS NULL)
           OR k.returned_at < k.allocated_at
           OR (k.returned_at IS NOT NULL AND k.consumed_at IS NOT NULL)
           OR (k.returned_at IS NULL) <> (k.return_code IS NULL)
           OR (k.device_hash IS NULL) <> (k.bound_at IS NULL AND k.reported_at IS NULL)
           OR k.product_key_id IS NULL
           OR o.fulfilled_at < o.ordered_at
        """,
    )
    assert wrong == 0
    with engine.connect() as connection:
        states = set(connection.execute(sa.text("SELECT DISTINCT state FROM keys")).scalars())
    assert states == set(schema.KEY_STATES)


def test_every_key_has_its_own_13_digit_product_key_id_and_devices_are_sha256_hex(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    with engine.connect() as connection:
        ids = connection.execute(sa.text("SELECT product_key_id FROM keys")).scalars().all()
        hashes = connection.execute(
            sa.text("SELECT device_hash FROM keys WHERE device_hash IS NOT NULL")
        ).scalars()
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert all(re.fullmatch(r"\d{13}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_most_reported_keys_are_bound_first_and_answered_within_two_days(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    reported = _scalar(engine, "SELECT count(*) FROM keys WHERE reported_at IS NOT NULL")
    bound = _scalar(
        engine, "SELECT count(*) FROM keys WHERE reported_at IS NOT NULL AND bound_at IS NOT NULL"
    )
    with engine.connect() as connection:
        keys = schema.keys.c
        early = dt.datetime.combine(AS_OF - dt.timedelta(days=3), dt.time())
        waits = connection.execute(
            sa.select(keys.reported_at, keys.acknowledged_at).where(keys.reported_at < early)
        ).all()
    answered = [ack - rep for rep, ack in waits if ack is not None]
    enabled = _scalar(engine, "SELECT count(*) FROM keys WHERE activation_code IN ('00', '02')")
    assert bound >= 0.9 * reported
    assert len(answered) >= 0.98 * len(waits)
    assert max(answered) <= dt.timedelta(days=2)
    assert enabled >= 0.98 * _scalar(engine, "SELECT count(activation_code) FROM keys")
    assert _scalar(engine, "SELECT count(*) FROM keys WHERE activation_code = '02'") > 0


def test_a_few_denials_spread_over_several_codes(engine: sa.Engine) -> None:
    _generate(engine)
    with engine.connect() as connection:
        denials = dict(
            connection.execute(
                sa.text(
                    """
                    SELECT activation_code, count(*) FROM keys
                    WHERE acknowledged_at IS NOT NULL AND activation_code NOT IN ('00', '02')
                    GROUP BY activation_code
                    """
                )
            ).all()
        )
    assert len(denials) >= 3, denials
    assert set(denials) <= {"01", "03", "04", "05", "06", "07"}
    assert sum(denials.values()) <= 0.02 * _scalar(
        engine, "SELECT count(acknowledged_at) FROM keys"
    )


def test_a_handful_of_keys_is_stuck_at_each_stage(engine: sa.Engine) -> None:
    _generate(engine)
    day = dt.datetime.combine(AS_OF, dt.time())
    with engine.connect() as connection:
        stuck = dict(
            connection.execute(
                sa.text(
                    """
                    SELECT state, count(*) FROM keys
                    WHERE (state = 'consumed' AND consumed_at < :consumed)
                       OR (state = 'bound' AND bound_at < :bound)
                       OR (state = 'reported' AND reported_at < :reported)
                    GROUP BY state
                    """
                ),
                {
                    "consumed": day - dt.timedelta(days=2),
                    "bound": day - dt.timedelta(days=7),
                    "reported": day - dt.timedelta(days=3),
                },
            ).all()
        )
    assert set(stuck) == {"consumed", "bound", "reported"}
    assert all(1 <= count <= 25 for count in stuck.values()), stuck


def test_two_or_three_tprs_bind_two_keys_to_one_device_or_install_a_key_twice(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    with engine.connect() as connection:
        shared = (
            connection.execute(
                sa.text(
                    """
                SELECT k.partner_id FROM keys k JOIN (
                    SELECT device_hash FROM keys WHERE device_hash IS NOT NULL
                    GROUP BY device_hash HAVING count(*) >= 2
                ) d ON d.device_hash = k.device_hash
                """
                )
            )
            .scalars()
            .all()
        )
        reused = (
            connection.execute(
                sa.text(
                    """
                SELECT DISTINCT partner_id FROM installations
                WHERE status = 'success' AND key_id IN (
                    SELECT key_id FROM installations WHERE status = 'success'
                    GROUP BY key_id HAVING count(*) >= 2
                )
                """
                )
            )
            .scalars()
            .all()
        )
        own_sites = set(
            connection.execute(sa.text("SELECT id FROM partners WHERE kind = 'own_site'")).scalars()
        )
    assert shared and reused
    assert 2 <= len(set(shared) | set(reused)) <= 3
    assert not (set(shared) | set(reused)) & own_sites


def test_citizenship_units_break_the_cap_once_and_office_tops_windows_once(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    k, p, pa = schema.keys, schema.products, schema.partners
    month = sa.extract("year", k.c.allocated_at) * 100 + sa.extract("month", k.c.allocated_at)
    units = (
        sa.select(
            k.c.partner_id,
            month.label("month"),
            sa.func.sum(sa.case((p.c.family == "windows", 1), else_=0)).label("windows"),
            sa.func.sum(sa.case((p.c.family == "office", 1), else_=0)).label("office"),
            sa.func.coalesce(pa.c.citizenship_cap, 250).label("cap"),
        )
        .join(p, p.c.id == k.c.product_id)
        .join(pa, pa.c.id == k.c.partner_id)
        .where(p.c.channel == "citizenship", k.c.allocated_at.is_not(None), pa.c.kind == "tpr")
        .group_by(k.c.partner_id, month, pa.c.citizenship_cap)
    )
    with engine.connect() as connection:
        rows = connection.execute(units).all()
        channels = (
            connection.execute(
                sa.text("SELECT family FROM products WHERE channel = 'citizenship' ORDER BY family")
            )
            .scalars()
            .all()
        )
    over_cap = [r for r in rows if r.windows > r.cap or r.office > r.cap]
    office_above = [r for r in rows if r.office > r.windows and r not in over_cap]
    assert channels == ["office", "windows"]
    assert len(over_cap) == 1
    assert len(office_above) >= 1
    assert len(rows) > len(over_cap) + len(office_above)


def test_some_unused_keys_are_closing_in_the_return_window_and_some_expired(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    day = dt.datetime.combine(AS_OF, dt.time())
    unused = "consumed_at IS NULL AND returned_at IS NULL"
    closing = _scalar(
        engine,
        f"SELECT count(*) FROM keys WHERE {unused} AND fulfilled_at >= :oldest"
        " AND fulfilled_at < :youngest",
        oldest=day - dt.timedelta(days=365),
        youngest=day - dt.timedelta(days=299),
    )
    expired = _scalar(
        engine,
        f"SELECT count(*) FROM keys WHERE {unused} AND fulfilled_at < :oldest",
        oldest=day - dt.timedelta(days=365),
    )
    assert closing > 0
    assert expired > 0


def test_returns_carry_their_code_most_with_credit_a_few_without(engine: sa.Engine) -> None:
    _generate(engine)
    credited = _scalar(engine, "SELECT count(*) FROM keys WHERE return_code LIKE 'O%'")
    uncredited = _scalar(engine, "SELECT count(*) FROM keys WHERE return_code LIKE 'Q%'")
    returned = _scalar(engine, "SELECT count(returned_at) FROM keys")
    assert credited + uncredited == returned
    assert 1 <= uncredited < credited


def test_a_few_coa_licences_are_installed_after_the_rrp_sunset(engine: sa.Engine) -> None:
    _generate(engine)
    after = _scalar(
        engine,
        """
        SELECT count(*) FROM installations i JOIN products p ON p.id = i.product_id
        WHERE p.licence_type = 'coa' AND i.status = 'success' AND i.installed_at >= :sunset
        """,
        sunset=dt.datetime(2021, 1, 1),
    )
    assert 1 <= after <= 10


def test_report_periods_are_first_days_of_months_due_on_the_tenth_after(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    with engine.connect() as connection:
        reports = connection.execute(sa.select(schema.licence_reports)).all()
    assert reports
    for report in reports:
        assert report.period.day == 1
        following = (report.period + dt.timedelta(days=32)).replace(day=10)
        assert report.due_at == dt.datetime.combine(following, dt.time())
        assert (report.submitted_at is None) == (report.reported_installations is None)


def test_a_short_list_of_partners_is_behind_on_reporting(engine: sa.Engine) -> None:
    _generate(engine)
    behind = _scalar(
        engine,
        """
        SELECT count(DISTINCT partner_id) FROM licence_reports
        WHERE submitted_at IS NULL AND due_at < :as_of
        """,
        as_of=dt.datetime.combine(AS_OF, dt.time()),
    )
    assert 10 <= behind <= 30


def test_nothing_is_dated_after_the_as_of_day(engine: sa.Engine) -> None:
    _generate(engine)
    with engine.connect() as connection:
        for table in schema.DATA_TABLES:
            for column in table.columns:
                if not isinstance(column.type, sa.DateTime | sa.Date):
                    continue
                latest = connection.execute(sa.select(sa.func.max(column))).scalar_one()
                if isinstance(latest, dt.datetime):
                    assert latest <= END_OF_AS_OF, column
                elif latest is not None:
                    assert latest <= AS_OF, column


def test_at_least_one_product_has_less_than_21_days_of_cover(engine: sa.Engine) -> None:
    _generate(engine)
    window_start = dt.datetime.combine(AS_OF - dt.timedelta(days=27), dt.time())
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                """
                SELECT p.code,
                  (SELECT count(*) FROM keys k WHERE k.product_id = p.id
                     AND k.fulfilled_at <= :end
                     AND (k.consumed_at IS NULL OR k.consumed_at > :end)
                     AND (k.returned_at IS NULL OR k.returned_at > :end)) AS stock,
                  (SELECT count(*) FROM keys k WHERE k.product_id = p.id
                     AND k.consumed_at >= :start AND k.consumed_at <= :end) AS consumed
                FROM products p
                """
            ),
            {"end": END_OF_AS_OF, "start": window_start},
        ).all()
    cover = {code: stock / (consumed / 28) for code, stock, consumed in rows if consumed}
    assert min(cover.values()) < 21, cover
    assert max(cover.values()) >= 21, cover


def test_indexes_and_foreign_keys_are_in_place_after_loading(engine: sa.Engine) -> None:
    def structure() -> list[object]:
        inspector = sa.inspect(engine)
        # A partial index's WHERE comes back as a new clause object each time: compare text.
        return [
            (
                sorted(
                    (
                        {**index, "dialect_options": {k: str(v) for k, v in opts.items()}}
                        for index in inspector.get_indexes(table.name)
                        for opts in [index.get("dialect_options", {})]
                    ),
                    key=lambda i: str(i["name"]),
                ),
                sorted(inspector.get_foreign_keys(table.name), key=lambda f: str(f["name"])),
            )
            for table in schema.DATA_TABLES
        ]

    before = structure()
    _generate(engine)
    assert structure() == before


def test_rollups_are_rebuilt_for_the_data_that_replaced_the_old(engine: sa.Engine) -> None:
    _generate(engine, seed=7)
    _generate(engine, seed=8, installations=1_500, replace=True)
    rolled_up = _scalar(engine, "SELECT sum(successes) + sum(failures) FROM installation_rollup")
    assert rolled_up == 1_500
    consumed = _scalar(engine, "SELECT sum(consumed) FROM key_rollup")
    assert consumed == _scalar(engine, "SELECT count(consumed_at) FROM keys")
    with engine.connect() as connection:
        through = connection.execute(sa.select(schema.rollup_state.c.complete_through))
        assert through.scalar_one() == AS_OF


def test_a_database_with_data_is_refused_without_replace(engine: sa.Engine) -> None:
    _generate(engine)
    before = _checksums(engine)
    with pytest.raises(UserError, match=r"already holds data.*--replace"):
        _generate(engine, seed=8)
    assert _checksums(engine) == before


def test_replace_regenerates_and_leaves_the_audit_log_alone(engine: sa.Engine) -> None:
    _generate(engine, seed=7)
    with engine.begin() as connection:
        connection.execute(
            schema.audit_log.insert(),
            {"at": END_OF_AS_OF, "who": "a@mar.example", "report": "stock", "filters": "{}"}
            | {"row_count": 1},
        )
    counts = _generate(engine, seed=8, installations=1_500, replace=True)
    assert counts["installations"] == _scalar(engine, "SELECT count(*) FROM installations")
    assert counts["installations"] == 1_500
    assert _scalar(engine, "SELECT count(*) FROM audit_log") == 1


def test_default_progress_draws_a_bar_on_stderr(
    engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_demo(engine, installations=1_000, as_of=AS_OF)
    err = capsys.readouterr().err
    assert re.search(r"installations +\[#+\] 100%", err)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"installations": 999}, "at least 1,000 installations"),
        ({"as_of": dt.date(2020, 12, 31)}, "as-of date"),
    ],
)
def test_impossible_requests_are_refused_with_one_sentence(
    options: dict[str, object], message: str
) -> None:
    engine = sa.create_engine("sqlite://")
    with pytest.raises(UserError, match=message):
        _generate(engine, **options)


def test_own_sites_owe_no_reports_and_every_tpr_that_installed_has_report_rows(
    engine: sa.Engine,
) -> None:
    _generate(engine)
    own_site_reports = _scalar(
        engine,
        """
        SELECT count(*) FROM licence_reports r JOIN partners p ON p.id = r.partner_id
        WHERE p.kind = 'own_site'
        """,
    )
    silent_tprs = _scalar(
        engine,
        """
        SELECT count(*) FROM partners p
        WHERE p.kind = 'tpr'
          AND EXISTS (SELECT 1 FROM installations i WHERE i.partner_id = p.id
                      AND i.status = 'success' AND i.installed_at < :two_months_ago)
          AND NOT EXISTS (SELECT 1 FROM licence_reports r WHERE r.partner_id = p.id)
        """,
        two_months_ago=dt.datetime.combine(AS_OF - dt.timedelta(days=62), dt.time()),
    )
    assert _scalar(engine, "SELECT count(*) FROM partners WHERE kind = 'own_site'") == 3
    assert own_site_reports == 0
    assert silent_tprs == 0


def test_no_open_rrp_has_waited_more_than_thirteen_months_at_its_stage(
    engine: sa.Engine,
) -> None:
    as_of = dt.date(2021, 9, 30)  # while the funnel is still busy
    _generate(engine, as_of=as_of)
    c = schema.conversions.c
    stages = (c.rrp_registered_at, c.contacted_at, c.applied_at, c.contract_signed_at)
    with engine.connect() as connection:
        open_rrps = connection.execute(
            sa.select(*stages).where(c.first_order_at.is_(None), c.lost_at.is_(None))
        ).all()
    waiting = [(as_of - max(s for s in row if s is not None).date()).days for row in open_rrps]
    given_up = _scalar(
        engine, "SELECT count(*) FROM conversions WHERE lost_reason = 'no answer for a year'"
    )
    assert waiting
    assert all(days <= 396 for days in waiting)
    assert given_up > 0
