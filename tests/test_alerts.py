"""Alerts that fire once (issue 16): each condition is mailed to whom it concerns when it
starts and once when it clears, however often `mar-insight alerts --send` runs, through a real
SMTP server and a real webhook receiver on loopback.

The database is `tests/two_managers.py`; at 30 June 2021 these conditions hold (threshold for
a stuck conversion: 30 days):

| rule                | subject           | told by mail to       |
| ------------------- | ----------------- | --------------------- |
| low_stock_cover     | product:W11P      | boss (management)     |
| behind_on_reporting | partner:1 (Alpha) | anna                  |
| behind_on_reporting | partner:3 (Gamma) | bert                  |
| stuck_conversion    | partner:2:contacted (Beta, 90 days) | anna    |
| stuck_conversion    | partner:4:applied (Delta, 60 days)  | bert    |
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from cli.main import main
from data.schema import alert_state, audit_log, licence_reports
from data.settings import load_settings
from notify.alerts import run_alerts
from tests import two_managers
from tests.builders import ts
from tests.mail_servers import SmtpSink, WebhookSink, free_port, mail_settings, webhook_server
from tests.two_managers import ANNA, AS_OF, BERT, BOSS


@pytest.fixture
def db(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        two_managers.fill(conn)
    return engine


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with webhook_server() as sink:
        yield sink


def _submit_alphas_report(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            licence_reports.update()
            .where(licence_reports.c.partner_id == 1)
            .values(submitted_at=ts("2021-06-29 09:00"), reported_installations=0)
        )


def _bodies(sink: SmtpSink, address: str) -> list[str]:
    texts = [m.get_body(preferencelist=("plain",)) for m in sink.to(address)]
    return [t.get_content().replace("\r\n", "\n") for t in texts if t is not None]


def test_each_alert_goes_to_the_partners_account_manager_and_stock_to_management(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    assert sorted(tuple(d.recipients) for d in smtp.deliveries) == [(ANNA,), (BERT,), (BOSS,)]
    (anna,) = _bodies(smtp, ANNA)
    assert "Alpha (#1) is behind on reporting: 1 missing report(s)" in anna
    assert "Beta (#2) has waited 90 days at the stage 'Contacted'" in anna
    assert "Gamma" not in anna and "Delta" not in anna
    (boss,) = _bodies(smtp, BOSS)
    assert "Windows 11 Pro (W11P) has 20.0 days of cover (10 keys)" in boss
    assert "https://insight.mar.example/stock?product=W11P" in boss
    assert [m["Subject"] for m in smtp.to(BERT)] == ["MAR Insight alerts: 2 new"]


def test_an_alert_fires_once_and_stays_quiet_on_reruns(db: sa.Engine, smtp: SmtpSink) -> None:
    for _ in range(3):  # cron every five minutes
        run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    assert len(smtp.to(ANNA)) == 1


def test_one_cleared_message_follows_when_the_condition_ends(db: sa.Engine, smtp: SmtpSink) -> None:
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    _submit_alphas_report(db)
    for _ in range(2):
        run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    assert [m["Subject"] for m in smtp.to(ANNA)] == [
        "MAR Insight alerts: 2 new",
        "MAR Insight alerts: 1 cleared",
    ]
    body = _bodies(smtp, ANNA)[1]
    assert body.startswith("Cleared, no longer true:\n- Alpha (#1) is behind on reporting")
    assert "Beta" not in body


def test_the_webhook_gets_each_start_and_clear_once_as_json(
    db: sa.Engine, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    settings = mail_settings(smtp.port, alert_webhook_url=webhook.url)
    run_alerts(db, settings, as_of=AS_OF, send=True)
    run_alerts(db, settings, as_of=AS_OF, send=True)
    _submit_alphas_report(db)
    run_alerts(db, settings, as_of=AS_OF, send=True)
    assert [[(a["event"], a["subject"]) for a in post["alerts"]] for post in webhook.posts] == [
        [
            ("started", "partner:1"),
            ("started", "partner:3"),
            ("started", "product:W11P"),
            ("started", "partner:2:contacted"),
            ("started", "partner:4:applied"),
        ],
        [("cleared", "partner:1")],
    ]
    assert webhook.posts[1]["text"].startswith("MAR Insight alerts: 1 cleared\n")


def test_a_mail_server_that_is_down_loses_nothing_and_repeats_nothing(
    db: sa.Engine,
    database_url: str,
    smtp: SmtpSink,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    down = free_port()
    monkeypatch.setenv("MAR_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MAR_SMTP_PORT", str(down))
    args = ["alerts", "--url", database_url, "--as-of", AS_OF.isoformat(), "--send"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mar-insight: The mail server 127.0.0.1:{down} cannot be reached (")
    assert err.count("\n") == 1
    monkeypatch.setenv("MAR_SMTP_PORT", str(smtp.port))
    assert main(args) == 0
    assert main(args) == 0
    assert [len(smtp.to(a)) for a in (ANNA, BERT, BOSS)] == [1, 1, 1]


def test_a_refused_recipient_is_retried_without_repeating_the_others(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    smtp.refuse = {BERT}
    first = run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    assert [str(failure) for failure in first.failures] == [
        f"The mail server refused the message to {BERT} (550 5.1.1 Mailbox unavailable)."
    ]
    smtp.refuse = set()
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    assert [len(smtp.to(a)) for a in (ANNA, BERT, BOSS)] == [1, 1, 1]


def test_without_send_the_due_events_are_listed_and_nothing_changes(
    db: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "--url", database_url, "--as-of", AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "5 alert condition(s) hold; 5 event(s) are due:"
    assert len(out) == 6
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(alert_state)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == 0


def test_a_condition_that_ends_before_anyone_heard_of_it_is_forgotten(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    smtp.refuse = {ANNA}
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    _submit_alphas_report(db)
    smtp.refuse = set()
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    (body,) = _bodies(smtp, ANNA)
    assert "Alpha" not in body  # neither its start nor its clear
    assert "Beta (#2) has waited 90 days" in body


def test_every_alert_mail_is_in_the_audit_log(db: sa.Engine, smtp: SmtpSink) -> None:
    run_alerts(db, mail_settings(smtp.port), as_of=AS_OF, send=True)
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.who, audit_log.c.report, audit_log.c.row_count).order_by(
                audit_log.c.who
            )
        ).all()
    assert rows == [
        (f"alert mail to {ANNA}", "alerts", 2),
        (f"alert mail to {BERT}", "alerts", 2),
        (f"alert mail to {BOSS}", "alerts", 1),
    ]


def test_secrets_are_never_printed(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAR_SMTP_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("MAR_ALERT_WEBHOOK_URL", "ftp://hooks.example/token-secret")
    assert main(["alerts", "--url", database_url]) == 2
    err = capsys.readouterr().err
    assert err == (
        "mar-insight: MAR_ALERT_WEBHOOK_URL is not valid (must start with http:// or https://: "
        "'***'); fix it in the environment or in .env.\n"
    )
    monkeypatch.delenv("MAR_ALERT_WEBHOOK_URL")
    assert "hunter2" not in repr(load_settings(smtp_password="hunter2-secret"))


@pytest.mark.parametrize("argv", [["alerts"], ["digest", "--all", "--send"]])
def test_a_database_without_tables_gives_one_sentence(
    empty_engine: sa.Engine,
    database_url: str,
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*argv, "--url", database_url]) == 2
    assert capsys.readouterr().err == (
        "mar-insight: The database has no MAR Insight tables yet; run 'mar-insight demo' or "
        "'mar-insight import DIR' first.\n"
    )
