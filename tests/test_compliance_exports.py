"""The seven licence-compliance reports of DESIGN §6 as CSV: golden bytes per report, and
`mar-insight export` writing the same bytes for a scoped user."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli.main import main
from data.db import make_engine
from data.schema import create_schema
from queries.exports import build_report, to_csv
from queries.filters import Filters
from tests.compliance_case import ANNA, JUNE, add_compliance_case


@pytest.fixture
def compliance(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        add_compliance_case(conn)
    return engine


def _csv(engine: sa.Engine, report: str, filters: Filters = JUNE) -> bytes:
    with engine.connect() as conn:
        return to_csv(build_report(conn, report, filters))


def test_key_pipeline_csv(compliance: sa.Engine) -> None:
    assert _csv(compliance, "key-pipeline") == (
        b"stage,keys,dwell_median_days,dwell_keys\n"
        b"mar_stock,1,155.5,6\n"
        b"allocated,3,0.0,3\n"
        b"consumed,1,2.5,2\n"
        b"bound,0,0.5,2\n"
        b"reported,0,1.0,2\n"
        b"activated,1,,0\n"
        b"denied,1,,0\n"
        b"returned,0,,0\n"
    )


def test_stuck_keys_csv(compliance: sa.Engine) -> None:
    assert _csv(compliance, "stuck-keys") == (
        b"partner_id,partner_name,product_code,stage,keys,oldest_since,max_age_days\n"
        b"1,Alpha,W11P,consumed,1,2021-06-02,28\n"
    )


def test_activation_denials_csv(compliance: sa.Engine) -> None:
    assert _csv(compliance, "activation-denials") == (
        b"partner_id,partner_name,code,keys,meaning\n1,Alpha,01,1,duplicate product key ID\n"
    )


def test_duplicate_devices_csv(compliance: sa.Engine) -> None:
    assert _csv(compliance, "duplicate-devices") == (
        b"device,keys,partners,first_bound,last_bound\n0123456789ab,2,2,2021-06-02,2021-06-05\n"
    )


def test_citizenship_caps_csv(compliance: sa.Engine) -> None:
    assert _csv(compliance, "citizenship-caps") == (
        b"partner_id,partner_name,month,windows_units,office_units,cap,status\n"
        b"1,Alpha,2021-06-01,1,2,2,office_above_windows\n"
    )


def test_return_window_csv_keeps_the_cents_and_a_negative_days_left(
    compliance: sa.Engine,
) -> None:
    assert _csv(compliance, "return-window") == (
        b"product_code,partner_id,status,keys,value,oldest_fulfilled,min_days_left,"
        b"partner_name\n"
        b"W11P,,expired,1,10.00,2020-06-29,-1,\n"
    )


def test_partner_risk_csv(compliance: sa.Engine) -> None:
    assert _csv(compliance, "partner-risk") == (
        b"partner_id,partner_name,flags,reasons,denials,duplicate_device,key_reused,over_cap,"
        b"stuck_keys,behind_on_reporting,report_discrepancy,coa_after_sunset\n"
        b"1,Alpha,4,denials;duplicate_device;over_cap;stuck_keys,"
        b"true,true,false,true,true,false,false,false\n"
        b"2,Beta,1,duplicate_device,false,true,false,false,false,false,false,false\n"
    )


@pytest.fixture
def _no_local_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("MAR_")]:
        monkeypatch.delenv(name)


@pytest.mark.usefixtures("_no_local_settings")
@pytest.mark.parametrize(
    "report",
    [
        "key-pipeline",
        "stuck-keys",
        "activation-denials",
        "duplicate-devices",
        "citizenship-caps",
        "return-window",
        "partner-risk",
    ],
)
def test_export_as_an_account_manager_writes_the_scoped_download(
    database_url: str, tmp_path: Path, report: str
) -> None:
    engine = make_engine(database_url)
    create_schema(engine)
    with engine.begin() as conn:
        add_compliance_case(conn)
    out = tmp_path / "report.csv"

    code = main(
        [
            "export",
            report,
            *("--url", database_url, "--as-of", "2021-06-30", "--from", "2021-06-01"),
            *("--as-user", ANNA, "--out", str(out)),
        ]
    )

    assert code == 0
    assert out.read_bytes() == _csv(engine, report, JUNE.replace(scope_account_manager_id=2))
    assert b"Alpha" not in out.read_bytes()
    engine.dispose()
