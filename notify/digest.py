"""The weekly digest: one e-mail per recipient with the sections of `queries.digest`, scoped
like the dashboard (management sees every partner, an account manager only theirs).

A digest goes to each recipient once per ISO week (`digest_log`): a rerun after a failure
sends only to those who did not get it.  Every digest sent or written to a file is in the
audit log, as a CSV export is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import html
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from data.audit import record_export
from data.errors import Message, UserError
from data.schema import digest_log, ensure_schema, users
from data.settings import Settings
from i18n import DEFAULT_LANGUAGE, Language, formats
from i18n.catalogs import N_, translations
from notify import render
from notify.chart import chart_renderer, render_trend
from notify.outbox import (
    NO_MAIL_SERVER,
    DeliveryError,
    send_message,
    smtp_connection,
    utc_now,
)
from queries.access import Viewer, viewer_for_email
from queries.digest import (
    SECTIONS,
    DigestOptions,
    InstallationTrend,
    digest_filters,
    installation_trend,
)
from queries.exports import file_name, to_csv
from queries.filters import Filters

CHART_CID = "installations-chart"


@dataclasses.dataclass(frozen=True)
class DigestMail:
    """One recipient's digest, ready to send or to write as an `.eml` file."""

    viewer: Viewer
    filters: Filters
    message: EmailMessage
    rows: int


@dataclasses.dataclass
class DigestRun:
    """What a run did: who got a digest, who already had this week's, what failed."""

    sent: list[str] = dataclasses.field(default_factory=list)
    written: list[Path] = dataclasses.field(default_factory=list)
    already_sent: list[str] = dataclasses.field(default_factory=list)
    failures: list[Message] = dataclasses.field(default_factory=list)


def iso_week(day: dt.date) -> dt.date:
    """The Monday that starts the ISO week of `day`: the digest log's week."""
    return day - dt.timedelta(days=day.weekday())


def options_from(settings: Settings) -> DigestOptions:
    return DigestOptions(
        milestones=settings.milestones,
        cover_warning_days=settings.cover_warning_days,
        stuck_conversion_days=settings.stuck_conversion_days,
        report_due_day=settings.report_due_day,
        rules=settings.compliance_rules(),
    )


def digest_recipients(
    connection: sa.Connection, *, email: str | None, everyone: bool
) -> list[Viewer]:
    """`--as-user EMAIL` (one user) or `--all` (every user of the users table)."""
    if everyone == (email is not None):
        raise UserError(N_("Name one recipient with --as-user EMAIL, or use --all for every user."))
    if email is not None:
        viewer = viewer_for_email(connection, email)
        if viewer is None:
            raise UserError(N_("There is no user '{email}' in the users table."), email=email)
        return [viewer]
    emails = connection.execute(sa.select(users.c.email).order_by(users.c.email)).scalars()
    return [v for e in list(emails) if (v := viewer_for_email(connection, e)) is not None]


def recipient_language(viewer: Viewer, settings: Settings) -> Language:
    """The user's own language (`users.language`), else MAR_LANGUAGE."""
    return viewer.language or settings.language


def _audience(viewer: Viewer, _: Callable[[str], str]) -> str:
    """Whose figures the digest shows, as the subject of its introduction."""
    if viewer.scope_account_manager_id is None:
        return _("every partner")
    return _("your partners")


def _whose(viewer: Viewer, _: Callable[[str], str]) -> str:
    """Whose installations the chart shows ("of your partners": German and French decline
    the words differently here)."""
    if viewer.scope_account_manager_id is None:
        return _("of every partner")
    return _("of your partners")


def _alt_text(trend: InstallationTrend, viewer: Viewer, language: Language) -> str:
    """What the chart shows, in words, for readers who do not load images."""
    _ = translations(language).gettext
    if trend.weeks.is_empty():
        return _("No installations {whose} in the last weeks.").format(whose=_whose(viewer, _))
    last = trend.weeks.row(-1, named=True)
    text = _(
        "Installations {whose} per week: {installations} in the week of {week}, "
        "{cumulative} in all."
    ).format(
        whose=_whose(viewer, _),
        installations=formats.number(last["installations"], language),
        week=formats.date(last["period"], language),
        cumulative=formats.number(last["cumulative"], language),
    )
    upcoming = trend.next_milestone.row(0, named=True)
    if upcoming["milestone"] is not None and upcoming["projected_on"] is not None:
        text += " " + _("Next milestone {milestone} projected for {day}.").format(
            milestone=formats.number(upcoming["milestone"], language),
            day=formats.date(upcoming["projected_on"], language),
        )
    return text


def _readable(frame: pl.DataFrame, language: Language) -> pl.DataFrame:
    """The KPI section's figures named in the recipient's language, percentages marked."""
    if "percent" not in frame.columns:
        return frame
    _ = translations(language).gettext
    names = [
        _(name) + (" (%)" if percent else "")
        for name, percent in frame.select("figure", "percent").iter_rows()
    ]
    return frame.with_columns(figure=pl.Series(names, dtype=pl.String))


def compose_digest(
    connection: sa.Connection,
    viewer: Viewer,
    as_of: dt.date,
    settings: Settings,
    chart_png: Callable[[InstallationTrend, Language], bytes],
) -> DigestMail:
    """The digest of one recipient, in their language: text, HTML with the inline chart,
    CSV attachments (the machine CSV, the same in every language)."""
    language = recipient_language(viewer, settings)
    _ = translations(language).gettext
    filters = viewer.restrict(digest_filters(as_of))
    options = options_from(settings)
    title = _("MAR Insight weekly digest, {start} to {end}").format(
        start=formats.date(filters.date_from, language),
        end=formats.date(filters.range_end, language),
    )
    intro = _("For {name}: {audience}, the week to {day} compared with the week before.").format(
        name=viewer.name, audience=_audience(viewer, _), day=formats.date(as_of, language)
    )
    html_blocks = [render.html_heading(title, 1), render.html_paragraph(intro, muted=True)]
    text_blocks = [title, "=" * len(title), intro]
    attachments: list[tuple[str, bytes]] = []
    rows = 0
    open_link = _("Open in the dashboard")
    for section in SECTIONS:
        frame = section.build(connection, filters, options)
        rows += frame.height
        link = render.dashboard_link(
            settings.dashboard_url, section.page, _with_language(filters, language)
        )
        more = _("{n} more rows in the dashboard.")
        if section.attachment is not None:
            name = file_name(section.attachment, filters)
            attachments.append((name, to_csv(frame)))
            more = _("{n} more rows in the attachment {name}.").replace("{name}", name)
        heading, empty = _(section.title), _(section.empty)
        html_blocks.append(render.html_heading(heading))
        text_blocks += ["", heading, "-" * len(heading)]
        if frame.is_empty():
            html_blocks.append(render.html_paragraph(empty))
            text_blocks.append(empty)
        else:
            shown = _readable(frame, language)
            shown = shown.select(section.shown) if section.shown else shown
            html_blocks.append(render.html_table(shown, more, language))
            text_blocks.append(render.text_table(shown, more, language))
        html_blocks.append(render.html_link(open_link, link))
        text_blocks.append(_(render.PAIR).format(label=open_link, value=link))

    trend = installation_trend(connection, filters, options)
    alt = _alt_text(trend, viewer, language)
    chart_heading = _("Installations")
    html_blocks.append(render.html_heading(chart_heading))
    html_blocks.append(
        f'<img src="cid:{CHART_CID}" alt="{html.escape(alt)}" width="600" '
        'style="width:100%;max-width:600px;height:auto;display:block">'
    )
    html_blocks.append(render.html_paragraph(alt, muted=True))
    throughput_link = render.dashboard_link(
        settings.dashboard_url, "throughput", _with_language(filters, language)
    )
    html_blocks.append(render.html_link(open_link, throughput_link))
    text_blocks += ["", chart_heading, "-" * len(chart_heading), alt]
    text_blocks.append(_(render.PAIR).format(label=open_link, value=throughput_link))

    message = render.email_message(
        settings.mail_from,
        [viewer.email],
        title,
        "\n".join(text_blocks) + "\n",
        render.html_page(title, html_blocks, language),
    )
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None  # added just above
    html_part.add_related(
        chart_png(trend, language),
        maintype="image",
        subtype="png",
        cid=f"<{CHART_CID}>",
        filename="chart.png",
    )
    for name, body in attachments:
        message.add_attachment(body, maintype="text", subtype="csv", filename=name)
    return DigestMail(viewer=viewer, filters=filters, message=message, rows=rows)


def _with_language(filters: Filters, language: Language) -> dict[str, list[str]]:
    """The digest's filters as a link, with `lang` so the dashboard opens in the mail's
    language (English, the default, needs none)."""
    params = filters.to_params()
    return params if language == DEFAULT_LANGUAGE else {**params, "lang": [language]}


def _already_sent(connection: sa.Connection, week: dt.date) -> set[str]:
    statement = sa.select(digest_log.c.recipient).where(digest_log.c.week == week)
    return {email.lower() for email in connection.execute(statement).scalars()}


def run_digest(
    engine: sa.Engine,
    settings: Settings,
    *,
    email: str | None,
    everyone: bool,
    as_of: dt.date,
    out_dir: Path | None,
    send: bool,
    who: str,
    chart_png: Callable[[InstallationTrend, Language], bytes] | None = None,
) -> DigestRun:
    """Compose each recipient's digest; write it to `out_dir` and/or send it.

    Without `send` nothing is recorded in the digest log (writing files is audited all the
    same).  A server that cannot be reached raises `DeliveryError` before anything is sent; a
    server that refuses one message is reported in `failures` and the others still go out.
    `chart_png` draws the chart (default: Kaleido, one Chromium for the whole run); tests
    that are not about the chart pass one picture rendered once.
    """
    run = DigestRun()
    week = iso_week(as_of)
    with engine.begin() as connection:
        ensure_schema(connection)
        viewers = digest_recipients(connection, email=email, everyone=everyone)
        done = _already_sent(connection, week) if send else set()
    if send and not settings.smtp_host:  # say so before composing anything
        raise DeliveryError(NO_MAIL_SERVER)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    mails: list[DigestMail] = []
    with contextlib.nullcontext() if chart_png else chart_renderer():
        for viewer in viewers:
            if viewer.email.lower() in done and out_dir is None:
                run.already_sent.append(viewer.email)
                continue
            with engine.connect() as connection:
                mail = compose_digest(
                    connection, viewer, as_of, settings, chart_png or render_trend
                )
            if out_dir is not None:
                path = out_dir / f"{viewer.email}.eml"
                path.write_bytes(bytes(mail.message))
                run.written.append(path)
                with engine.begin() as connection:
                    _audit(connection, mail, f"{who} file for {viewer.email}")
            if viewer.email.lower() in done:
                run.already_sent.append(viewer.email)
            else:
                mails.append(mail)
    if send and mails:
        _send_all(engine, settings, mails, week, run)
    return run


def _send_all(
    engine: sa.Engine,
    settings: Settings,
    mails: Sequence[DigestMail],
    week: dt.date,
    run: DigestRun,
) -> None:
    with smtp_connection(settings) as client:
        for mail in mails:
            try:
                send_message(client, mail.message)
            except DeliveryError as exc:
                run.failures.append(exc.sentence)
                continue
            with engine.begin() as connection:
                connection.execute(
                    digest_log.insert().values(
                        recipient=mail.viewer.email, week=week, sent_at=utc_now()
                    )
                )
                _audit(connection, mail, f"mail to {mail.viewer.email}")
            run.sent.append(mail.viewer.email)


def _audit(connection: sa.Connection, mail: DigestMail, who: str) -> None:
    """One audit row per digest that left the system, with its filters and scope."""
    params = mail.filters.to_params()
    if mail.filters.scope_account_manager_id is not None:
        params["scope_am"] = [str(mail.filters.scope_account_manager_id)]
    record_export(connection, who=who, report="digest", filters=params, row_count=mail.rows)
