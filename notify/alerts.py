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
import json
from collections import defaultdict
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any, Literal

import sqlalchemy as sa

from dashboard import labels
from data.audit import record_export
from data.errors import Message
from data.schema import account_managers, alert_state, ensure_schema, partners, users
from data.settings import Settings
from i18n import DEFAULT_LANGUAGE, Language, formats, is_language
from i18n.catalogs import N_, translations
from notify import render
from notify.outbox import DeliveryError, post_webhook, send_message, smtp_connection, utc_now
from queries.alerts import AlertThresholds, Code, Condition, Month, current_conditions
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
    ("started", N_("New")),
    ("cleared", N_("Cleared, no longer true")),
)
#: Each kind of event in one word, as the command line lists what is due.
EVENT_NAMES: dict[Event, str] = {"started": N_("started"), "cleared": N_("cleared")}
_s = alert_state.c


@dataclasses.dataclass(frozen=True)
class AlertEvent:
    """A start or a clear that a channel has not been told yet."""

    event: Event
    rule: str
    subject: str
    partner_id: int | None
    #: The condition's message as `alert_state` stores it (`stored_message`).
    message: str
    link: str

    def said(self, language: Language) -> str:
        """The message in `language`, its figures and days written as the language writes
        them."""
        return said(self.message, language)


@dataclasses.dataclass
class AlertRun:
    """What a run found and told: events per channel, and what could not be delivered."""

    holding: int = 0
    mailed: list[AlertEvent] = dataclasses.field(default_factory=list)
    posted: list[AlertEvent] = dataclasses.field(default_factory=list)
    pending: list[AlertEvent] = dataclasses.field(default_factory=list)
    failures: list[Message] = dataclasses.field(default_factory=list)


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
            "message": stored_message(condition.message),
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


def stored_message(message: Message) -> str:
    """A condition's message as `alert_state` keeps it: its English template and its values
    as JSON, so the start and the clear are told in each reader's language."""
    values = {name: _stored_value(value) for name, value in message.values.items()}
    return json.dumps({"template": message.template, "values": values}, sort_keys=True)


def _stored_value(value: object) -> object:
    if isinstance(value, Message):
        return {"message": value.template}
    if isinstance(value, Code):
        return {"column": value.column, "code": value.code}
    if isinstance(value, Month):
        return {"month": value.first_day.isoformat()}
    if isinstance(value, dt.date):
        return {"day": value.isoformat()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return str(value)


def said(stored: str, language: Language) -> str:
    """A stored message in `language`; a message stored before messages were translated
    (plain English text) is told as it is."""
    try:
        parsed = json.loads(stored)
    except ValueError:
        return stored
    if not isinstance(parsed, dict) or "template" not in parsed:
        return stored
    gettext = translations(language).gettext
    values = {name: _said_value(v, language) for name, v in parsed["values"].items()}
    return gettext(parsed["template"]).format(**values)


def _said_value(value: object, language: Language) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return formats.number(value, language)
    if isinstance(value, float):
        return formats.number(value, language, decimals=1)  # days of cover, as tables show
    if isinstance(value, dict) and "message" in value:
        return translations(language).gettext(value["message"])
    if isinstance(value, dict) and "code" in value:
        return labels.value(value["column"], value["code"], language)
    if isinstance(value, dict) and "month" in value:
        return formats.month(dt.date.fromisoformat(value["month"]), language)
    if isinstance(value, dict) and "day" in value:
        return formats.date(dt.date.fromisoformat(value["day"]), language)
    return str(value)


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


def _languages(connection: sa.Connection) -> dict[str, Language]:
    """The language each user chose for their mail (`users.language`), by lower-case address."""
    statement = sa.select(users.c.email, users.c.language).where(users.c.language.is_not(None))
    return {
        email.lower(): language
        for email, language in connection.execute(statement)
        if is_language(language)
    }


#: The recipients of one alert message and the language it is written in.
Recipients = tuple[tuple[str, ...], Language]


def _by_recipient(
    connection: sa.Connection, events: Sequence[AlertEvent], default: Language
) -> dict[Recipients, list[AlertEvent]]:
    """Partner alerts go to the partner's account manager; company alerts (stock) and alerts
    about a partner without a manager go to every management user, in one message per
    language (a user's own, else `default`, MAR_LANGUAGE)."""
    managers = recipients_by_partner(connection)
    chosen = _languages(connection)

    def language_of(address: str) -> Language:
        return chosen.get(address.lower(), default)

    management: dict[Language, list[str]] = defaultdict(list)
    for address in management_addresses(connection):
        management[language_of(address)].append(address)
    groups: dict[Recipients, list[AlertEvent]] = defaultdict(list)
    for event in events:
        manager = managers.get(event.partner_id) if event.partner_id is not None else None
        if manager:
            groups[(manager,), language_of(manager)].append(event)
        elif management:
            for language, addresses in management.items():
                groups[tuple(addresses), language].append(event)
        else:
            groups[(), default].append(event)
    return groups


def _lines(events: Sequence[AlertEvent], kind: Event) -> list[AlertEvent]:
    return [e for e in events if e.event == kind]


def alert_text(events: Sequence[AlertEvent], language: Language) -> str:
    """The plain-text body (and the webhook's `text`): new alerts first, then cleared ones."""
    _ = translations(language).gettext
    parts = []
    for kind, heading in HEADINGS:
        chosen = _lines(events, kind)
        if chosen:
            parts.append(_("{heading}:").format(heading=_(heading)))
            parts += [f"- {e.said(language)}\n  {_linked(e, language)}" for e in chosen]
            parts.append("")
    return "\n".join(parts)


def _linked(event: AlertEvent, language: Language) -> str:
    """The event's dashboard link, opening in the reader's language."""
    if language == DEFAULT_LANGUAGE:
        return event.link
    return event.link + ("&" if "?" in event.link else "?") + f"lang={language}"


def _subject(events: Sequence[AlertEvent], language: Language) -> str:
    _ = translations(language).gettext
    started, cleared = len(_lines(events, "started")), len(_lines(events, "cleared"))
    counts = [
        template.format(count=formats.number(n, language))
        for n, template in ((started, _("{count} new")), (cleared, _("{count} cleared")))
        if n
    ]
    return _("MAR Insight alerts: {counts}").format(counts=", ".join(counts))


def alert_message(
    addresses: Sequence[str], events: Sequence[AlertEvent], settings: Settings, language: Language
) -> EmailMessage:
    """One alert mail in `language`: its subject counts new and cleared alerts."""
    _ = translations(language).gettext
    title = _subject(events, language)
    blocks = [render.html_heading(title, 1)]
    for kind, heading in HEADINGS:
        chosen = _lines(events, kind)
        if chosen:
            blocks.append(render.html_heading(_(heading)))
            for event in chosen:
                blocks.append(render.html_paragraph(event.said(language)))
                blocks.append(
                    render.html_link(_("Open in the dashboard"), _linked(event, language))
                )
    return render.email_message(
        settings.mail_from,
        addresses,
        title,
        alert_text(events, language),
        render.html_page(title, blocks, language),
    )


def webhook_payload(events: Sequence[AlertEvent], language: Language) -> dict[str, Any]:
    """Slack and Teams show `text`; `alerts` carries the same events for other receivers.
    The channel has no one reader, so it speaks MAR_LANGUAGE."""
    return {
        "text": f"{_subject(events, language)}\n{alert_text(events, language)}",
        "alerts": [
            {**dataclasses.asdict(e), "message": e.said(language), "link": _linked(e, language)}
            for e in events
        ],
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
        groups = _by_recipient(connection, mail, settings.language)
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
    groups: dict[Recipients, list[AlertEvent]],
    run: AlertRun,
) -> None:
    nobody = groups.pop(((), settings.language), [])
    if nobody:
        run.failures.append(
            Message(
                N_(
                    "Nobody to tell about {count} alert(s) by mail: the users table has no "
                    "management user."
                ),
                count=len(nobody),
            )
        )
    if not groups:
        return
    try:
        with smtp_connection(settings) as client:
            for (addresses, language), events in groups.items():
                try:
                    send_message(client, alert_message(addresses, events, settings, language))
                except DeliveryError as exc:
                    run.failures.append(exc.sentence)
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
        run.failures.append(exc.sentence)


def _post_all(
    engine: sa.Engine, settings: Settings, events: list[AlertEvent], run: AlertRun
) -> None:
    assert settings.alert_webhook_url is not None  # only called with a webhook configured
    try:
        post_webhook(
            settings.alert_webhook_url.get_secret_value(),
            webhook_payload(events, settings.language),
            settings.smtp_timeout_seconds,
        )
    except DeliveryError as exc:
        run.failures.append(exc.sentence)
        return
    with engine.begin() as connection:
        _mark_told(connection, events, "webhook")
        record_export(
            connection, who="alert webhook", report="alerts", filters={}, row_count=len(events)
        )
    run.posted += events
