"""One logging setup for the server and the CLI: what an operator reads after the fact.

Everything goes to one logger, `mar_insight`, written as plain text or one JSON object per
line (`MAR_LOG_FORMAT`) to `MAR_LOG_FILE` ("-": standard error).  Sign-ins, refused
parameters, imports, exports and timeouts are logged as they happen; an unexpected error is
logged with its traceback under a short reference, and the viewer or the operator at the
terminal gets only one sentence that quotes the reference.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from pathlib import Path

from data.errors import Message
from i18n.catalogs import N_

log = logging.getLogger("mar_insight")
_HANDLER = "mar_insight"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def configure_logging(log_file: str, log_format: str) -> None:
    """Send the `mar_insight` logger to `log_file` in `log_format`; calling it again with
    other settings replaces the handler, with the same ones changes nothing."""
    wanted = f"{log_file}|{log_format}"
    current = [h for h in log.handlers if (h.get_name() or "").startswith(_HANDLER)]
    if any(h.get_name() == f"{_HANDLER}:{wanted}" for h in current):
        return
    for old in current:
        log.removeHandler(old)
        old.close()
    handler: logging.Handler
    if log_file == "-":
        handler = logging.StreamHandler(sys.stderr)
    else:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.set_name(f"{_HANDLER}:{wanted}")
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def unexpected(error: BaseException) -> Message:
    """Log `error` with its traceback under a new reference; return the one sentence to show
    (in the reader's language where it is shown)."""
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected error, reference %s", reference, exc_info=error)
    return Message(
        N_(
            "Something went wrong that we did not expect (reference {reference}); the operator "
            "finds the details under that reference in the MAR Insight log."
        ),
        reference=reference,
    )
