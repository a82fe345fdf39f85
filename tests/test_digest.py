"""The weekly digest (issue 16): one e-mail per recipient, scoped like the dashboard, sent
once per recipient and ISO week through a real SMTP server on loopback.

The database is `tests/two_managers.py`.  The chart is rendered by Kaleido once for the
module (`chart_png`); the other tests hand that picture to the digest, as rendering it again
would only cost time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zlib
from email.message import EmailMessage
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from PIL import Image

from cli.main import main
from data.schema import audit_log, digest_log
from notify.chart import render_trend
from notify.digest import compose_digest, run_digest
from queries.access import viewer_for_email
from queries.digest import InstallationTrend
from tests import two_managers
from tests.mail_servers import SmtpSink, free_port, mail_settings
from tests.two_managers import ANNA, AS_OF, BERT, BOSS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_trend() -> InstallationTrend:
    """Three weeks, milestone 10 projected."""
    return InstallationTrend(
        weeks=pl.DataFrame(
            {
                "period": [dt.date(2021, 6, 14), dt.date(2021, 6, 21), dt.date(2021, 6, 28)],
                "installations": [2, 4, 3],
                "cumulative": [2, 6, 9],
            }
        ),
        milestones=pl.DataFrame(
            {"milestone": [10], "reached_on": [None]},
            schema={"milestone": pl.Int64, "reached_on": pl.Date},
        ),
        next_milestone=pl.DataFrame(
            {
                "milestone": [10],
                "current_total": [9],
                "remaining": [1],
                "rate_per_day": [0.3],
                "projected_on": [dt.date(2021, 7, 4)],
            }
        ),
    )


@pytest.fixture(scope="module")
def chart_png() -> bytes:
    """One real Kaleido render of the small trend."""
    return render_trend(small_trend())


@pytest.fixture
def db(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        two_managers.fill(conn)
    return engine


def _digest(engine: sa.Engine, email: str, chart: bytes) -> EmailMessage:
    with engine.connect() as conn:
        viewer = viewer_for_email(conn, email)
        assert viewer is not None
        return compose_digest(
            conn, viewer, AS_OF, mail_settings(25), lambda _trend, _language: chart
        ).message


def _everything_a_reader_sees(message: EmailMessage) -> str:
    """Text and HTML bodies (the image's alt text is in the HTML) and every attachment."""
    parts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def _attachments(message: EmailMessage) -> dict[str, str]:
    return {str(part.get_filename()): part.get_content() for part in message.iter_attachments()}


def _cli(url: str, *args: str) -> int:
    return main(["digest", "--url", url, *args])


def test_the_chart_is_a_valid_png(chart_png: bytes) -> None:
    assert chart_png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(chart_png))
    image.verify()
    assert image.format == "PNG"
    assert image.size == (1200, 680)  # 600 x 340 at twice the density


def test_the_chart_travels_inline_in_the_html_part(db: sa.Engine, chart_png: bytes) -> None:
    message = _digest(db, BOSS, chart_png)
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    cid = str(images[0]["Content-ID"]).strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()
    body = images[0].get_payload(decode=True)
    assert body.startswith(PNG_SIGNATURE)
    # The IDAT stream inflates: the picture survived the mail encoding intact.
    start = body.index(b"IDAT") + 4
    zlib.decompressobj().decompress(body[start : start + 64])


def test_an_account_managers_digest_names_no_partner_of_another_manager(
    db: sa.Engine, chart_png: bytes
) -> None:
    for email, own, others in (
        (ANNA, two_managers.ANNAS_PARTNERS, two_managers.BERTS_PARTNERS),
        (BERT, two_managers.BERTS_PARTNERS, two_managers.ANNAS_PARTNERS),
    ):
        seen = _everything_a_reader_sees(_digest(db, email, chart_png))
        assert all(name in seen for name in own), email
        assert not any(name in seen for name in others), email


def test_managements_digest_names_every_partner(db: sa.Engine, chart_png: bytes) -> None:
    seen = _everything_a_reader_sees(_digest(db, BOSS, chart_png))
    for name in (*two_managers.ANNAS_PARTNERS, *two_managers.BERTS_PARTNERS):
        assert name in seen


def test_the_backlog_attachment_is_the_reporting_backlog_csv(
    db: sa.Engine, chart_png: bytes
) -> None:
    attachments = _attachments(_digest(db, BOSS, chart_png))
    backlog = attachments["mar-insight_reporting-backlog_2021-06-24_2021-06-30.csv"]
    rows = list(csv.DictReader(io.StringIO(backlog)))
    # Alpha: May report due 10 June, missing for 20 days; Gamma: due 25 June, 5 days.
    assert [(r["partner_name"], r["oldest_due"], r["days_overdue"]) for r in rows] == [
        ("Alpha", "2021-06-10", "20"),
        ("Gamma", "2021-06-25", "5"),
    ]


def test_the_text_part_compares_installations_with_the_week_before(
    db: sa.Engine, chart_png: bytes
) -> None:
    text = _digest(db, ANNA, chart_png).get_body(preferencelist=("plain",))
    assert text is not None
    # Anna's partners: 24..30 June Alpha 3 + Beta 2 = 5; 17..23 June Alpha 1.
    assert "- Figure: Installations; Value: 5; Previous: 1; Change: +4" in text.get_content()


def test_newly_behind_lists_only_partners_who_fell_behind_this_week(
    db: sa.Engine, chart_png: bytes
) -> None:
    text = _digest(db, BOSS, chart_png).get_body(preferencelist=("plain",))
    assert text is not None
    section = text.get_content().split("Newly behind on reporting")[1].split("Reporting backlog")[0]
    assert "Gamma" in section
    assert "Alpha" not in section


def test_stuck_conversions_and_stock_warnings_are_in_the_digest(
    db: sa.Engine, chart_png: bytes
) -> None:
    text = _digest(db, BERT, chart_png).get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert "#: 4; Partner: Delta; Stage: Applied; Since: 2021-05-01; Days waiting: 60" in content
    # The company's stock, the same for every recipient: 20 days of cover, out 20 July.
    assert (
        "Product: W11P; Name: Windows 11 Pro; Stock: 10; Days of cover: 20; Runs out: "
        "2021-07-20" in content
    )


def test_each_section_links_to_its_dashboard_view_with_the_weeks_filters(
    db: sa.Engine, chart_png: bytes
) -> None:
    text = _digest(db, ANNA, chart_png).get_body(preferencelist=("plain",))
    assert text is not None
    links = [
        line.removeprefix("Open in the dashboard: ")
        for line in text.get_content().splitlines()
        if line.startswith("Open in the dashboard: ")
    ]
    query = "?as_of=2021-06-30&from=2021-06-24&to=2021-06-30"
    assert links == [
        f"https://insight.mar.example/{page}{query}"
        for page in (
            "overview",
            "reporting",
            "reporting",
            "conversions",
            "stock",
            "compliance",
            "throughput",
        )
    ]


def test_send_mails_one_digest_to_every_user(db: sa.Engine, smtp: SmtpSink) -> None:
    run = run_digest(
        db,
        mail_settings(smtp.port),
        email=None,
        everyone=True,
        as_of=AS_OF,
        out_dir=None,
        send=True,
        who="test",
        chart_png=lambda _trend, _language: PNG_SIGNATURE,
    )
    assert sorted(run.sent) == sorted([ANNA, BERT, BOSS])
    assert sorted(r for d in smtp.deliveries for r in d.recipients) == sorted([ANNA, BERT, BOSS])
    assert [m["Subject"] for m in smtp.to(ANNA)] == [
        "MAR Insight weekly digest, 2021-06-24 to 2021-06-30"
    ]


def test_a_rerun_in_the_same_week_sends_nothing_again(db: sa.Engine, smtp: SmtpSink) -> None:
    for _ in range(2):
        run = run_digest(
            db,
            mail_settings(smtp.port),
            email=ANNA,
            everyone=False,
            as_of=AS_OF + dt.timedelta(days=_),  # Wednesday, then Thursday of the same week
            out_dir=None,
            send=True,
            who="test",
            chart_png=lambda _trend, _language: PNG_SIGNATURE,
        )
    assert run.already_sent == [ANNA]
    assert len(smtp.to(ANNA)) == 1
    with db.connect() as conn:
        assert conn.execute(sa.select(digest_log.c.recipient, digest_log.c.week)).all() == [
            (ANNA, dt.date(2021, 6, 28))
        ]


def test_a_refused_recipient_gets_the_digest_on_the_rerun_and_nobody_gets_it_twice(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    settings = mail_settings(smtp.port)
    smtp.refuse = {BERT}
    first = run_digest(
        db,
        settings,
        email=None,
        everyone=True,
        as_of=AS_OF,
        out_dir=None,
        send=True,
        who="test",
        chart_png=lambda _trend, _language: PNG_SIGNATURE,
    )
    assert [str(failure) for failure in first.failures] == [
        f"The mail server refused the message to {BERT} (550 5.1.1 Mailbox unavailable)."
    ]
    smtp.refuse = set()
    second = run_digest(
        db,
        settings,
        email=None,
        everyone=True,
        as_of=AS_OF,
        out_dir=None,
        send=True,
        who="test",
        chart_png=lambda _trend, _language: PNG_SIGNATURE,
    )
    assert second.sent == [BERT]
    assert [len(smtp.to(email)) for email in (ANNA, BERT, BOSS)] == [1, 1, 1]


def test_a_mail_server_that_is_down_gives_one_sentence_and_sends_nothing(
    db: sa.Engine,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("MAR_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MAR_SMTP_PORT", str(port))
    monkeypatch.setenv("MAR_SMTP_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("BROWSER_PATH", "/usr/bin/chromium")
    code = _cli(database_url, "--as-user", ANNA, "--as-of", AS_OF.isoformat(), "--send")
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"mar-insight: The mail server 127.0.0.1:{port} cannot be reached (")
    assert err.count("\n") == 1
    assert "hunter2" not in err
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(digest_log)).scalar() == 0


def test_every_digest_sent_is_in_the_audit_log_with_its_scope(
    db: sa.Engine, smtp: SmtpSink
) -> None:
    run_digest(
        db,
        mail_settings(smtp.port),
        email=ANNA,
        everyone=False,
        as_of=AS_OF,
        out_dir=None,
        send=True,
        who="test",
        chart_png=lambda _trend, _language: PNG_SIGNATURE,
    )
    with db.connect() as conn:
        rows = conn.execute(sa.select(audit_log.c.who, audit_log.c.report, audit_log.c.filters))
        assert [(who, report, '"scope_am": ["1"]' in f) for who, report, f in rows] == [
            (f"mail to {ANNA}", "digest", True)
        ]


def test_out_writes_one_eml_file_per_recipient(
    db: sa.Engine, tmp_path: Path, chart_png: bytes
) -> None:
    run = run_digest(
        db,
        mail_settings(25),
        email=None,
        everyone=True,
        as_of=AS_OF,
        out_dir=tmp_path,
        send=False,
        who="test",
        chart_png=lambda _trend, _language: chart_png,
    )
    assert sorted(p.name for p in run.written) == [f"{e}.eml" for e in sorted([ANNA, BERT, BOSS])]
    assert run.sent == []


def test_the_digest_names_its_recipients_or_says_what_is_missing(
    db: sa.Engine,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAR_SMTP_HOST", raising=False)
    assert _cli(database_url, "--send") == 2
    assert _cli(database_url, "--as-user", "nobody@x.example", "--send") == 2
    assert _cli(database_url, "--as-user", ANNA) == 2
    assert _cli(database_url, "--as-user", ANNA, "--send") == 2
    assert capsys.readouterr().err.splitlines() == [
        "mar-insight: Name one recipient with --as-user EMAIL, or use --all for every user.",
        "mar-insight: There is no user 'nobody@x.example' in the users table.",
        "mar-insight: Say where the digests go: --out DIR writes .eml files, --send mails them.",
        "mar-insight: No mail server is configured; set MAR_SMTP_HOST to send mail.",
    ]
