"""The Compliance page and the partner's compliance section, driven with AppTest in
signed-in mode on the hand-worked compliance case (tests/compliance_case.py): management sees
every partner, an account manager only theirs, and every table is the export's frame."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator

import polars as pl
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import labels
from data.db import make_engine
from data.schema import audit_log, create_schema
from queries.exports import build_report, to_csv
from queries.filters import Filters
from tests.apptest_support import APP, AUTH_SECRETS, DeferredFiles, open_page
from tests.compliance_case import ALPHA, ANNA, AS_OF, BETA, JUNE, MANAGEMENT, add_compliance_case

RANGE = {"from": "2021-06-01", "to": "2021-06-30"}
REPORTS = (
    "partner-risk",
    "key-pipeline",
    "stuck-keys",
    "activation-denials",
    "duplicate-devices",
    "citizenship-caps",
    "return-window",
)


@pytest.fixture(scope="module")
def case_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('compliance') / 'case.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        add_compliance_case(conn)
    engine.dispose()
    return url


@pytest.fixture
def signed_in(monkeypatch: pytest.MonkeyPatch, case_url: str) -> Iterator[Callable[[str], AppTest]]:
    monkeypatch.setenv("MAR_DATABASE_URL", case_url)
    monkeypatch.setenv("MAR_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("MAR_REQUIRE_AUTH", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()

    def make(email: str) -> AppTest:
        app = AppTest.from_file(APP, default_timeout=60)
        app.secrets = json.loads(json.dumps(AUTH_SECRETS))
        app.user = {"is_logged_in": True, "email": email, "name": email}
        return app

    yield make
    st.cache_resource.clear()
    st.cache_data.clear()


def _open(app: AppTest, page: str, **params: str) -> AppTest:
    open_page(app, page, **{**RANGE, **params})
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    return app


#: Tables that take no selection carry no key in AppTest: a column only they have names them.
_UNKEYED = {
    "dwell_keys": "key-pipeline",
    "first_bound": "duplicate-devices",
    "bound_on": "duplicate-device-keys",
    "installing_partners": "reused-keys",
    "value_without_credit": "returns-in-range",
    "reasons": "partner-risk",
}


def _tables(app: AppTest) -> dict[str, pl.DataFrame]:
    """Every table on the page by its report name (selectable tables are keyed
    `table-REPORT`)."""
    tables = {}
    for table in app.dataframe:
        frame = pl.from_pandas(table.value)
        if table.key:
            tables[str(table.key).removeprefix("table-")] = frame
        else:
            for column, report in _UNKEYED.items():
                if column in frame.columns:
                    tables[report] = frame
    return tables


def _export(url: str, report: str, filters: Filters) -> list[dict[str, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        body = to_csv(build_report(conn, report, filters))
    engine.dispose()
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def test_management_sees_every_section_with_every_partner(
    signed_in: Callable[[str], AppTest],
) -> None:
    app = _open(signed_in(MANAGEMENT), "compliance")

    tables = _tables(app)
    assert set(REPORTS) <= set(tables)
    assert list(tables["partner-risk"]["partner_id"]) == [ALPHA, BETA]
    assert list(tables["key-pipeline"]["keys"]) == [1, 3, 1, 0, 0, 1, 1, 0]
    assert len(app.get("plotly_chart")) >= 5


def test_an_account_manager_sees_only_their_partners_in_every_table(
    signed_in: Callable[[str], AppTest],
) -> None:
    app = _open(signed_in(ANNA), "compliance")

    tables = _tables(app)
    shown = {
        int(p)
        for frame in tables.values()
        if "partner_id" in frame.columns
        for p in frame["partner_id"].drop_nulls()
    }
    assert shown == {BETA}
    # Beta holds one activated key; nothing of the MAR's is in view.
    assert list(tables["key-pipeline"]["keys"]) == [0, 0, 0, 0, 0, 1, 0, 0]
    assert tables["duplicate-devices"].select("keys", "partners").row(0) == (2, 2)


@pytest.mark.parametrize(("email", "scope"), [(MANAGEMENT, None), (ANNA, 2)])
@pytest.mark.parametrize("report", REPORTS)
def test_each_table_shows_the_rows_of_its_export(
    signed_in: Callable[[str], AppTest],
    case_url: str,
    email: str,
    scope: int | None,
    report: str,
) -> None:
    app = _open(signed_in(email), "compliance")

    expected = _export(case_url, report, JUNE.replace(scope_account_manager_id=scope))
    frame = _tables(app).get(report)
    shown = 0 if frame is None else frame.height
    assert shown == len(expected)
    if expected:
        first = next(iter(expected[0]))
        shown_values = [str(v) for v in frame[first]]  # type: ignore[index]
        assert shown_values == [labels.value(first, row[first]) for row in expected]


def test_a_compliance_download_writes_one_audit_row(
    signed_in: Callable[[str], AppTest], case_url: str, deferred_files: DeferredFiles
) -> None:
    app = _open(signed_in(ANNA), "compliance")

    deferred_files.fetch(app, "download-partner-risk")

    engine = make_engine(case_url)
    with engine.connect() as conn:
        last = conn.execute(
            sa.select(audit_log.c.who, audit_log.c.report, audit_log.c.row_count)
            .order_by(audit_log.c.id.desc())
            .limit(1)
        ).one()
    engine.dispose()
    assert tuple(last) == (ANNA, "partner-risk", 1)


def test_the_partner_detail_page_shows_the_partners_flags_and_their_rows(
    signed_in: Callable[[str], AppTest],
) -> None:
    app = _open(signed_in(MANAGEMENT), "partner_detail", partner=str(ALPHA))

    assert [w.value for w in app.warning] == [
        "Flags: Denials, Duplicate device, Over cap, Stuck keys."
    ]
    tables = _tables(app)
    assert list(tables["stuck-keys"]["partner_id"]) == [ALPHA]
    assert list(tables["activation-denials"]["code"]) == ["01"]
    # The evidence names Alpha's key on the shared device, not Beta's.
    assert list(tables["duplicate-device-keys"]["key_id"]) == [3]
    assert list(tables["citizenship-caps"]["status"]) == ["More Office than Windows"]


def test_an_account_managers_partner_detail_shows_their_partners_section(
    signed_in: Callable[[str], AppTest],
) -> None:
    app = _open(signed_in(ANNA), "partner_detail", partner=str(BETA))

    assert [w.value for w in app.warning] == ["Flags: Duplicate device."]
    assert list(_tables(app)["duplicate-device-keys"]["key_id"]) == [4]


def test_a_partner_without_flags_is_said_to_have_none(
    signed_in: Callable[[str], AppTest],
) -> None:
    # On 1 June Beta's key is not bound yet: nothing to flag.
    day = "2021-06-01"
    app = _open(signed_in(MANAGEMENT), "partner_detail", partner=str(BETA), as_of=day, to=day)

    assert "No compliance flag" in app.success[0].value
