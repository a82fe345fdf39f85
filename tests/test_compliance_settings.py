"""The thresholds of the licence-compliance metrics as settings (DESIGN §4b, README)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from data.settings import ComplianceRules, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _no_local_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("MAR_")]:
        monkeypatch.delenv(name)


def test_the_defaults_are_those_of_the_design() -> None:
    assert load_settings().compliance_rules() == ComplianceRules(
        stuck_consumed_days=2,
        stuck_bound_days=7,
        stuck_reported_days=3,
        denial_rate=0.05,
        citizenship_cap=250,
        near_cap_percent=90,
        return_closing_days=300,
        return_credit_days=365,
        rrp_sunset=dt.date(2020, 12, 31),
    )


def test_each_threshold_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAR_CITIZENSHIP_CAP", "400")
    monkeypatch.setenv("MAR_RRP_SUNSET", "2021-06-30")

    rules = load_settings().compliance_rules()

    assert (rules.citizenship_cap, rules.rrp_sunset) == (400, dt.date(2021, 6, 30))


def test_a_denial_rate_above_one_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAR_DENIAL_RATE", "5")

    with pytest.raises(SettingsError, match=r"^MAR_DENIAL_RATE is not valid"):
        load_settings()


def test_a_return_window_closing_after_the_credit_ends_is_refused_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAR_RETURN_CLOSING_DAYS", "400")

    with pytest.raises(SettingsError) as refused:
        load_settings()

    assert str(refused.value) == (
        "MAR_RETURN_CLOSING_DAYS (400) must not be more than MAR_RETURN_CREDIT_DAYS (365); "
        "fix it in the environment or in .env."
    )
