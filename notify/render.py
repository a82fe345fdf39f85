"""Frames as e-mail: small HTML tables that read on a phone, their plain-text twins, and the
dashboard links that reopen the same view (filters in the query string, DESIGN §2).

Mail clients ignore style sheets in `<head>` unevenly, so styles are inline; the layout is one
column at most 600 pixels wide, which a phone shows without zooming.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import urllib.parse
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import polars as pl

from dashboard import labels
from i18n import Language, formats
from i18n.catalogs import N_, translations

#: Rows a table shows in the mail; the rest are in the attachment or behind the link.
MAX_ROWS = 10

#: Mail column headers, shorter than the dashboard's: a phone has room for five columns.
LABELS = {
    "partner_id": "#",
    "partner_name": N_("Partner"),
    "product_code": N_("Product"),
    "product_name": N_("Name"),
    "missing_reports": N_("Missing"),
    "oldest_due": N_("Oldest due"),
    "days_overdue": N_("Days overdue"),
    "unreported_installations": N_("Unreported"),
    "days_at_stage": N_("Days waiting"),
    "stockout_date": N_("Runs out"),
    "days_of_cover": N_("Days of cover"),
    "stock_on_hand": N_("Stock"),
    "figure": N_("Figure"),
    "value": N_("Value"),
    "previous": N_("Previous"),
    "change": N_("Change"),
}
#: A label and its value in a plain-text line (French puts a space before the colon).
PAIR = N_("{label}: {value}")
FONT = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
CELL = "padding:4px 6px;border-bottom:1px solid #e2e8f0;text-align:left;vertical-align:top"


def dashboard_link(base_url: str, page: str, params: Mapping[str, Sequence[str]]) -> str:
    """The address of a dashboard page showing exactly `params`."""
    query = urllib.parse.urlencode({k: ",".join(v) for k, v in params.items()})
    return f"{base_url}/{page}" + (f"?{query}" if query else "")


def label(column: str, language: Language) -> str:
    """A column's header in the mail: the mail's own short words, else the dashboard's."""
    if column in LABELS:
        return translations(language).gettext(LABELS[column]) if column != "partner_id" else "#"
    return labels.column(column, language)


def cell(value: object, column: str, language: Language) -> str:
    """A value as the reader sees it, in their language: thousands grouped, one decimal at
    most, days in the language's pattern, codes (a stage) as the dashboard names them."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return translations(language).gettext(labels.YES_NO[0 if value else 1])
    if isinstance(value, float):
        digits = 0 if value.is_integer() else 1
        rising = column == "change" and value > 0  # a fall has its minus, no change no sign
        return formats.number(value, language, decimals=digits, signed=rising)
    if isinstance(value, int):
        return formats.number(value, language)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return formats.date(value, language)
    if isinstance(value, str) and column == "reasons":
        gettext = translations(language).gettext
        codes = value.split(";")
        return ", ".join(
            gettext(labels.RISK_FLAGS[c]) if c in labels.RISK_FLAGS else c for c in codes
        )
    if isinstance(value, str):
        return labels.value(column, value, language)
    return str(value)


def _shown(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    return frame.head(MAX_ROWS), max(frame.height - MAX_ROWS, 0)


def html_table(frame: pl.DataFrame, more: str, language: Language) -> str:
    """At most `MAX_ROWS` rows; `more` says where the rest are ("{n} more …")."""
    rows, hidden = _shown(frame)
    head = "".join(
        f'<th style="{CELL};color:#475569;font-weight:600">{html.escape(label(c, language))}</th>'
        for c in rows.columns
    )
    # Names may wrap; numbers and dates may not (a date broken at its hyphen misreads).
    styles = {
        c: CELL if dtype == pl.String else f"{CELL};white-space:nowrap"
        for c, dtype in rows.schema.items()
    }
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{styles[c]}">{html.escape(cell(v, c, language))}</td>'
            for c, v in zip(rows.columns, row, strict=True)
        )
        + "</tr>"
        for row in rows.iter_rows()
    )
    table = (
        '<table role="presentation" cellspacing="0" cellpadding="0" '
        f'style="width:100%;border-collapse:collapse;font-size:13px"><tr>{head}</tr>{body}</table>'
    )
    if hidden:
        shown = formats.number(hidden, language)
        table += f'<p style="font-size:13px;color:#475569">{html.escape(more.format(n=shown))}</p>'
    return table


def text_table(frame: pl.DataFrame, more: str, language: Language) -> str:
    """The plain-text twin: one line per row, `Label: value` pairs, no column alignment (a
    phone wraps long lines anyway)."""
    rows, hidden = _shown(frame)
    pair = translations(language).gettext(PAIR)
    lines = [
        "- "
        + "; ".join(
            pair.format(label=label(c, language), value=cell(v, c, language))
            for c, v in zip(rows.columns, row, strict=True)
        )
        for row in rows.iter_rows()
    ]
    if hidden:
        lines.append(more.format(n=formats.number(hidden, language)))
    return "\n".join(lines)


def html_page(title: str, blocks: Sequence[str], language: Language) -> str:
    """A whole HTML mail body in `language`: the blocks one below the other in one narrow
    column (the `lang` attribute lets a screen reader speak it right)."""
    return (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        f'<body style="margin:0;padding:0;background:#f1f5f9;font-family:{FONT};color:#0f172a">'
        '<div style="max-width:600px;margin:0 auto;padding:16px;background:#ffffff">'
        + "".join(blocks)
        + "</div></body></html>"
    )


def html_heading(text: str, level: int = 2) -> str:
    size = {1: 20, 2: 16}[level]
    return f'<h{level} style="font-size:{size}px;margin:20px 0 8px">{html.escape(text)}</h{level}>'


def html_paragraph(text: str, *, muted: bool = False) -> str:
    colour = "#475569" if muted else "#0f172a"
    return f'<p style="font-size:14px;margin:6px 0;color:{colour}">{html.escape(text)}</p>'


def html_link(text: str, href: str) -> str:
    return (
        f'<p style="font-size:14px;margin:6px 0"><a href="{html.escape(href)}" '
        f'style="color:#2563eb">{html.escape(text)}</a></p>'
    )


def email_message(
    sender: str, recipients: Sequence[str], subject: str, text: str, html_body: str
) -> EmailMessage:
    """A mail with a plain-text body and its HTML alternative (attachments are added later)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(text)
    message.add_alternative(html_body, subtype="html")
    return message


def preview_html(message: EmailMessage) -> str:
    """The HTML part with its inline images as `data:` addresses: what a mail client shows,
    as a page a browser can open (the README's sample and the phone test use it)."""
    body = message.get_body(preferencelist=("html",))
    if body is None:
        return ""
    page = str(body.get_content())
    for part in message.walk():
        cid = part["Content-ID"]
        payload = part.get_payload(decode=True)
        if cid and isinstance(payload, bytes):
            inline = base64.b64encode(payload).decode()
            page = page.replace(
                f"cid:{str(cid).strip('<>')}", f"data:{part.get_content_type()};base64,{inline}"
            )
    return page
