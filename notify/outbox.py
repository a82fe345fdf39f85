"""Sending: e-mail through the configured SMTP server, and the optional alert webhook.

Every failure becomes a `DeliveryError` with one sentence: the server cannot be reached, it
refused us, or it refused one message.  Secrets (the SMTP password, the webhook address, which
carries its token) never appear in a message.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from data.errors import UserError
from data.settings import Settings
from i18n.catalogs import N_


def utc_now() -> dt.datetime:
    """When something was sent: naive UTC to the second, like every timestamp of the schema."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class DeliveryError(UserError):
    """A message could not be delivered; the text says why in one sentence."""


NO_MAIL_SERVER = N_("No mail server is configured; set MAR_SMTP_HOST to send mail.")


def _server(settings: Settings) -> str:
    return f"{settings.smtp_host}:{settings.smtp_port}"


@contextmanager
def smtp_connection(settings: Settings) -> Iterator[smtplib.SMTP]:
    """One session with the mail server for a whole run (several messages)."""
    if not settings.smtp_host:
        raise DeliveryError(NO_MAIL_SERVER)
    try:
        client = smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        )
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            N_(
                "The mail server {server} cannot be reached ({reason}); check "
                "MAR_SMTP_HOST and MAR_SMTP_PORT, nothing was sent."
            ),
            server=_server(settings),
            reason=_reason(exc),
        ) from None
    try:
        try:
            if settings.smtp_starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                client.login(settings.smtp_user, password)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                N_(
                    "The mail server {server} refused the session ({reason}); check "
                    "MAR_SMTP_STARTTLS, MAR_SMTP_USER and MAR_SMTP_PASSWORD, nothing was sent."
                ),
                server=_server(settings),
                reason=_reason(exc),
            ) from None
        yield client
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def send_message(client: smtplib.SMTP, message: EmailMessage) -> None:
    """Hand one message to the server; every recipient must be accepted."""
    try:
        refused = client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            N_("The mail server refused the message to {to} ({reason})."),
            to=message["To"],
            reason=_reason(exc),
        ) from None
    if refused:
        raise DeliveryError(
            N_("The mail server refused the message to {to}."), to=", ".join(sorted(refused))
        )


def post_webhook(url: str, payload: Mapping[str, Any], timeout_seconds: int) -> None:
    """POST the payload as JSON (the `text` field is what Slack and Teams show)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(
            N_("The alert webhook answered HTTP {code}; check MAR_ALERT_WEBHOOK_URL."),
            code=exc.code,
        ) from None
    except (OSError, ValueError) as exc:
        raise DeliveryError(
            N_("The alert webhook cannot be reached ({reason}); check MAR_ALERT_WEBHOOK_URL."),
            reason=_reason(exc),
        ) from None


def _reason(error: BaseException) -> str:
    """The server's answer or the socket error, on one line."""
    if isinstance(error, smtplib.SMTPResponseException):
        text = (
            error.smtp_error.decode("utf-8", "replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        return f"{error.smtp_code} {' '.join(text.split())}"
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        code, answer = next(iter(error.recipients.values()))
        return f"{code} {' '.join(answer.decode('utf-8', 'replace').split())}"
    if isinstance(error, urllib.error.URLError):
        return " ".join(str(error.reason).split())
    return " ".join(str(error).split()) or type(error).__name__
