"""Real servers on loopback for the digest and alert tests: an SMTP server (aiosmtpd) that
keeps what it receives and can refuse chosen recipients, and an HTTP server that keeps the
JSON posted to it."""

from __future__ import annotations

import dataclasses
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from data.settings import Settings, load_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclasses.dataclass
class Delivery:
    """One message as the server accepted it."""

    recipients: list[str]
    message: EmailMessage


@dataclasses.dataclass
class SmtpSink:
    """What the server received; addresses in `refuse` get `550` at RCPT."""

    port: int
    deliveries: list[Delivery] = dataclasses.field(default_factory=list)
    refuse: set[str] = dataclasses.field(default_factory=set)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        self.deliveries.append(Delivery(list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [d.message for d in self.deliveries if address in d.recipients]


@contextmanager
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclasses.dataclass
class WebhookSink:
    url: str
    posts: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@contextmanager
def webhook_server() -> Iterator[WebhookSink]:
    port = free_port()
    sink = WebhookSink(url=f"http://127.0.0.1:{port}/hook/secret-token")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            sink.posts.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


def mail_settings(port: int = 25, **overrides: Any) -> Settings:
    """The settings every mail test starts from: the loopback SMTP server on `port`, a sender
    and the dashboard address the mails link to; `overrides` add what a test is about."""
    return load_settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_timeout_seconds=5,
        mail_from="insight@mar.example",
        dashboard_url="https://insight.mar.example",
        **overrides,
    )
