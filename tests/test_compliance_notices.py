"""The compliance parts of the digest and the alerts (issue 16 with DESIGN §4b): partner risk
in the digest, and alerts for a new denial, a duplicate device and an over-cap month.

As-of Wednesday 30 June 2021; the digest's week is 24 .. 30 June.

| key | partner (manager) | product          | what happened                                       |
| --- | ----------------- | ---------------- | --------------------------------------------------- |
| 1   | 1 Alpha (1 Anna)  | W11P             | reported 3 Jun, denied with code 01 on 25 June      |
| 2   | 3 Gamma (2 Bert)  | W11P             | bound 3 June to the PC abab…                        |
| 3   | 3 Gamma (2 Bert)  | W11P             | bound 4 June to the same PC                         |
| 4-5 | 3 Gamma (2 Bert)  | W11C citizenship | allocated 10 June: 2 Windows units, Gamma's cap 1   |

Partner risk in the week: Alpha `denials` (1 of 1 answered keys denied); Gamma
`duplicate_device` and `stuck_keys` (keys 2 and 3 bound 27 and 26 days ago, more than 7); the
over-cap month is not in the week (allocations of 10 June).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import sqlalchemy as sa

from notify.alerts import run_alerts
from notify.digest import compose_digest
from queries.access import viewer_for_email
from tests.builders import add_account_manager, add_key, add_partner, add_product, add_user
from tests.mail_servers import SmtpSink, mail_settings

AS_OF = dt.date(2021, 6, 30)
BOSS, ANNA, BERT = "boss@mar.example", "anna@mar.example", "bert@mar.example"
PC = "ab" * 32
W11P, W11C = 1, 2


@pytest.fixture
def db(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        add_account_manager(conn, 1, "Anna Becker", email=ANNA)
        add_account_manager(conn, 2, "Bert Weber", email=BERT)
        add_partner(conn, 1, "Alpha", manager=1)
        add_partner(conn, 3, "Gamma", manager=2, citizenship_cap=1)
        add_product(conn, W11P, "W11P", "Windows 11 Pro")
        add_product(conn, W11C, "W11C", "Windows 11 Pro Citizenship", channel="citizenship")
        add_user(conn, BOSS, "management")
        add_user(conn, ANNA, "account_manager", manager=1)
        add_user(conn, BERT, "account_manager", manager=2)
        lifecycle = {"allocated_at": "2021-06-01", "consumed_at": "2021-06-02"}
        add_key(
            conn, 1, W11P, partner=1, **lifecycle, reported_at="2021-06-03",
            acknowledged_at="2021-06-25", activation_code="01",
        )  # fmt: skip
        add_key(conn, 2, W11P, partner=3, **lifecycle, bound_at="2021-06-03", device_hash=PC)
        add_key(conn, 3, W11P, partner=3, **lifecycle, bound_at="2021-06-04", device_hash=PC)
        for key in (4, 5):
            add_key(conn, key, W11C, partner=3, allocated_at="2021-06-10")
    return engine


def _risk_rows(engine: sa.Engine, email: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        viewer = viewer_for_email(conn, email)
        assert viewer is not None
        message = compose_digest(
            conn, viewer, AS_OF, mail_settings(), lambda _trend, _language: b""
        ).message
    (risk,) = [
        part.get_content()
        for part in message.iter_attachments()
        if "partner-risk" in str(part.get_filename())
    ]
    return [(row["partner_name"], row["reasons"]) for row in csv.DictReader(io.StringIO(risk))]


def _bodies(sink: SmtpSink, address: str) -> list[str]:
    texts = [m.get_body(preferencelist=("plain",)) for m in sink.to(address)]
    return [t.get_content().replace("\r\n", "\n") for t in texts if t is not None]


def test_the_digest_attaches_the_partner_risk_of_the_recipients_partners(db: sa.Engine) -> None:
    assert _risk_rows(db, BOSS) == [
        ("Gamma", "duplicate_device;stuck_keys"),
        ("Alpha", "denials"),
    ]
    assert _risk_rows(db, ANNA) == [("Alpha", "denials")]
    assert _risk_rows(db, BERT) == [("Gamma", "duplicate_device;stuck_keys")]


def test_compliance_alerts_go_to_the_partners_account_manager(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    (anna,) = _bodies(smtp, ANNA)
    assert "Alpha (#1): 1 key(s) denied with code 01 (duplicate product key ID)" in anna
    assert "Gamma" not in anna
    (bert,) = _bodies(smtp, BERT)
    assert f"Gamma (#3): the PC {PC[:12]} is bound to 2 keys, 2 of them this partner's" in bert
    assert "Gamma (#3) took 2 Windows and 0 Office citizenship units in June 2021 (over cap" in bert
    assert "Alpha" not in bert


def test_a_denial_alert_clears_once_four_weeks_pass_without_another(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    # 25 June is the last day of the 28 days ending 22 July, outside those ending 23 July.
    for day in (dt.date(2021, 7, 22), dt.date(2021, 7, 23), dt.date(2021, 7, 24)):
        run_alerts(db, mail_settings(smtp.port), as_of=day, send=True)
    started, cleared = _bodies(smtp, ANNA)
    assert started.startswith("New:\n- Alpha (#1): 1 key(s) denied")
    assert cleared.startswith("Cleared, no longer true:\n- Alpha (#1): 1 key(s) denied")


def test_compliance_alerts_link_to_the_compliance_page_with_the_rules_window(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    page = "https://insight.mar.example/compliance"
    # Denials: the 28 days ending 30 June start on 3 June.
    (anna,) = _bodies(smtp, ANNA)
    assert f"{page}?as_of=2021-06-30&from=2021-06-03&to=2021-06-30&partner=1\n" in anna
    # The device: the alerts' default year ending 30 June; the cap: May and June.
    (bert,) = _bodies(smtp, BERT)
    assert f"{page}?as_of=2021-06-30&from=2020-07-01&to=2021-06-30&partner=3\n" in bert
    assert f"{page}?as_of=2021-06-30&from=2021-05-01&to=2021-06-30&partner=3\n" in bert
