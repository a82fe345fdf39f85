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
    assert 4 <= counts["products"] <= 6
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
                WHEN k.reported_at IS NOT NULL THEN 'reported'
                WHEN k.consumed_at IS NOT NULL THEN 'consumed'
                WHEN k.allocated_at IS NOT NULL THEN 'allocated'
                ELSE 'fulfilled' END
           OR (k.allocated_at IS NOT NULL) <> (k.partner_id IS NOT NULL)
           OR k.allocated_at < k.fulfilled_at
           OR k.consumed_at < k.allocated_at
           OR k.reported_at < k.consumed_at
           OR k.returned_at < k.allocated_at
           OR (k.returned_at IS NOT NULL AND k.consumed_at IS NOT NULL)
           OR o.fulfilled_at < o.ordered_at
        """,
    )
    assert wrong == 0
    with engine.connect() as connection:
        states = set(connection.execute(sa.text("SELECT DISTINCT state FROM keys")).scalars())
    assert states == {"fulfilled", "allocated", "consumed", "reported", "returned"}


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
        return [
            (
                sorted(inspector.get_indexes(table.name), key=lambda i: str(i["name"])),
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
