"""Alerts that fire once: each condition of `queries.alerts` is told when it starts and once
when it clears, never in between, however often cron runs `mar-insight alerts --send`.

`alert_state` remembers every condition seen, when it started and cleared, and when each
channel (e-mail, webhook) was told.  A run first brings the state up to date with what holds
now, then tells each channel what it has not been told yet; a delivery that fails is retried
on the next run, and one that succeeded is never repeated.  A clear goes only to a channel
that was told of the start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any, Literal

import sqlalchemy as sa

from data.audit import record_export
from data.schema import account_managers, alert_state, ensure_schema, partners, users
from data.settings import Settings
from notify import render
from notify.outbox import DeliveryError, post_webhook, send_message, smtp_connection, utc_now
from queries.alerts import AlertThresholds, Condition, current_conditions
from queries.filters import Filters

Event = Literal["started", "cleared"]
Channel = Literal["mail", "webhook"]
#: The state column that records, per event and channel, when it was told.
TOLD: dict[tuple[Event, Channel], str] = {
    ("started", "mail"): "start_mailed_at",
    ("started", "webhook"): "start_posted_at",
    ("cleared", "mail"): "clear_mailed_at",
    ("cleared", "webhook"): "clear_posted_at",
}
#: How a message names each kind of event, in the order it lists them.
HEADINGS: tuple[tuple[Event, str], ...] = (
    ("started", "New"),
    ("cleared", "Cleared, no longer true"),
)
_s = alert_state.c


@dataclasses.dataclass(frozen=True)
class AlertEvent:
    """A start or a clear that a channel has not been told yet."""

    event: Event
    rule: str
    subject: str
    partner_id: int | None
    message: str
    link: str


@dataclasses.dataclass
class AlertRun:
    """What a run found and told: events per channel, and what could not be delivered."""

    holding: int = 0
    mailed: list[AlertEvent] = dataclasses.field(default_factory=list)
    posted: list[AlertEvent] = dataclasses.field(default_factory=list)
    pending: list[AlertEvent] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)


def sync_state(
    connection: sa.Connection, conditions: Sequence[Condition], dashboard_url: str
) -> None:
    """Bring `alert_state` up to date with the conditions that hold now.

    A new condition (or one that comes back after clearing) starts afresh; one that holds
    still is left alone; one that no longer holds is cleared, or forgotten when nobody was told
    that it started.
    """
    now = utc_now()
    rows = {(r.rule, r.subject): r for r in connection.execute(sa.select(alert_state))}
    holding = {(c.rule, c.subject): c for c in conditions}
    for key, condition in holding.items():
        row = rows.get(key)
        fresh = {
            "partner_id": condition.partner_id,
            "message": condition.message,
            "link": render.dashboard_link(dashboard_url, condition.page, condition.params),
            "started_at": now,
            **dict.fromkeys(TOLD.values()),
            "cleared_at": None,
        }
        if row is None:
            connection.execute(alert_state.insert().values(rule=key[0], subject=key[1], **fresh))
        elif row.cleared_at is not None:
            connection.execute(alert_state.update().where(*_key(key)).values(**fresh))
    for key, row in rows.items():
        if key in holding or row.cleared_at is not None:
            continue
        if row.start_mailed_at is None and row.start_posted_at is None:
            connection.execute(alert_state.delete().where(*_key(key)))
        else:
            connection.execute(alert_state.update().where(*_key(key)).values(cleared_at=now))


def _key(key: tuple[str, str]) -> list[sa.ColumnElement[bool]]:
    return [_s.rule == key[0], _s.subject == key[1]]


def untold(connection: sa.Connection, channel: Channel) -> list[AlertEvent]:
    """The starts and clears this channel has not been told, in rule and subject order."""
    started = sa.and_(_s.cleared_at.is_(None), _s[TOLD["started", channel]].is_(None))
    cleared = sa.and_(
        _s.cleared_at.is_not(None),
        _s[TOLD["started", channel]].is_not(None),
        _s[TOLD["cleared", channel]].is_(None),
    )
    statement = (
        sa.select(alert_state, started.label("is_start"))
        .where(sa.or_(started, cleared))
        .order_by(_s.rule, _s.subject)
    )
    return [
        AlertEvent(
            event="started" if row.is_start else "cleared",
            rule=row.rule,
            subject=row.subject,
            partner_id=row.partner_id,
            message=row.message,
            link=row.link,
        )
        for row in connection.execute(statement)
    ]


def _mark_told(connection: sa.Connection, events: Sequence[AlertEvent], channel: Channel) -> None:
    now = utc_now()
    for event in events:
        connection.execute(
            alert_state.update()
            .where(*_key((event.rule, event.subject)))
            .values({TOLD[event.event, channel]: now})
        )


def recipients_by_partner(connection: sa.Connection) -> dict[int, str]:
    """Each partner's account manager's address (partners without one are left out)."""
    statement = sa.select(partners.c.id, account_managers.c.email).join(
        account_managers, account_managers.c.id == partners.c.account_manager_id
    )
    return {row[0]: row[1] for row in connection.execute(statement)}


def management_addresses(connection: sa.Connection) -> tuple[str, ...]:
    statement = sa.select(users.c.email).where(users.c.role == "management").order_by(users.c.email)
    return tuple(connection.execute(statement).scalars())


def _by_recipient(
    connection: sa.Connection, events: Sequence[AlertEvent]
) -> dict[tuple[str, ...], list[AlertEvent]]:
    """Partner alerts go to the partner's account manager; company alerts (stock) and alerts
    about a partner without a manager go to every management user, in one message."""
    managers = recipients_by_partner(connection)
    management = management_addresses(connection)
    groups: dict[tuple[str, ...], list[AlertEvent]] = defaultdict(list)
    for event in events:
        manager = managers.get(event.partner_id) if event.partner_id is not None else None
        groups[(manager,) if manager else management].append(event)
    return groups


def _lines(events: Sequence[AlertEvent], kind: Event) -> list[AlertEvent]:
    return [e for e in events if e.event == kind]


def alert_text(events: Sequence[AlertEvent]) -> str:
    """The plain-text body (and the webhook's `text`): new alerts first, then cleared ones."""
    parts = []
    for kind, heading in HEADINGS:
        chosen = _lines(events, kind)
        if chosen:
            parts.append(f"{heading}:")
            parts += [f"- {e.message}\n  {e.link}" for e in chosen]
            parts.append("")
    return "\n".join(parts)


def _subject(events: Sequence[AlertEvent]) -> str:
    started, cleared = len(_lines(events, "started")), len(_lines(events, "cleared"))
    counts = [f"{n} {word}" for n, word in ((started, "new"), (cleared, "cleared")) if n]
    return f"MAR Insight alerts: {', '.join(counts)}"


def alert_message(
    addresses: Sequence[str], events: Sequence[AlertEvent], settings: Settings
) -> EmailMessage:
    title = _subject(events)
    blocks = [render.html_heading(title, 1)]
    for kind, heading in HEADINGS:
        chosen = _lines(events, kind)
        if chosen:
            blocks.append(render.html_heading(heading))
            for event in chosen:
                blocks.append(render.html_paragraph(event.message))
                blocks.append(render.html_link("Open in the dashboard", event.link))
    return render.email_message(
        settings.mail_from, addresses, title, alert_text(events), render.html_page(title, blocks)
    )


def webhook_payload(events: Sequence[AlertEvent]) -> dict[str, Any]:
    """Slack and Teams show `text`; `alerts` carries the same events for other receivers."""
    return {
        "text": f"{_subject(events)}\n{alert_text(events)}",
        "alerts": [dataclasses.asdict(e) for e in events],
    }


def run_alerts(engine: sa.Engine, settings: Settings, *, as_of: dt.date, send: bool) -> AlertRun:
    """Evaluate the rules at `as_of`; with `send`, update the state and tell every channel
    what it has not been told.  Without `send`, report what would go out and change nothing.
    """
    thresholds = AlertThresholds(
        cover_warning_days=settings.cover_warning_days,
        stuck_conversion_days=settings.stuck_conversion_days,
        report_due_day=settings.report_due_day,
        rules=settings.compliance_rules(),
    )
    with engine.begin() as connection:
        ensure_schema(connection)
    run = AlertRun()
    with engine.connect() as connection:
        conditions = current_conditions(connection, Filters.default(as_of), thresholds)
    run.holding = len(conditions)
    with engine.connect() as connection:
        transaction = connection.begin()
        sync_state(connection, conditions, settings.dashboard_url)
        mail = untold(connection, "mail")
        post = untold(connection, "webhook") if settings.alert_webhook_url else []
        groups = _by_recipient(connection, mail)
        if not send:
            transaction.rollback()
            run.pending = sorted({*mail, *post}, key=lambda e: (e.rule, e.subject, e.event))
            return run
        transaction.commit()
    if groups:
        _mail_all(engine, settings, groups, run)
    if post:
        _post_all(engine, settings, post, run)
    return run


def _mail_all(
    engine: sa.Engine,
    settings: Settings,
    groups: dict[tuple[str, ...], list[AlertEvent]],
    run: AlertRun,
) -> None:
    nobody = groups.pop((), [])
    if nobody:
        run.failures.append(
            f"Nobody to tell about {len(nobody)} alert(s) by mail: the users table has no "
            "management user."
        )
    if not groups:
        return
    try:
        with smtp_connection(settings) as client:
            for addresses, events in groups.items():
                try:
                    send_message(client, alert_message(addresses, events, settings))
                except DeliveryError as exc:
                    run.failures.append(str(exc))
                    continue
                with engine.begin() as connection:
                    _mark_told(connection, events, "mail")
                    record_export(
                        connection,
                        who=f"alert mail to {', '.join(addresses)}",
                        report="alerts",
                        filters={},
                        row_count=len(events),
                    )
                run.mailed += events
    except DeliveryError as exc:  # the server cannot be reached: the webhook still goes
        run.failures.append(str(exc))


def _post_all(
    engine: sa.Engine, settings: Settings, events: list[AlertEvent], run: AlertRun
) -> None:
    assert settings.alert_webhook_url is not None  # only called with a webhook configured
    try:
        post_webhook(
            settings.alert_webhook_url.get_secret_value(),
            webhook_payload(events),
            settings.smtp_timeout_seconds,
        )
    except DeliveryError as exc:
        run.failures.append(str(exc))
        return
    with engine.begin() as connection:
        _mark_told(connection, events, "webhook")
        record_export(
            connection, who="alert webhook", report="alerts", filters={}, row_count=len(events)
        )
    run.posted += events
