"""One typed settings class for the whole product, read from `MAR_*` variables and `.env`.

Settings are created lazily (never at import time) so tests and the CLI can override them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from data.db import database_url
from data.errors import UserError
from i18n import DEFAULT_LANGUAGE, Language

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'mar-insight.sqlite'}"
DEFAULT_MILESTONES = (100_000, 250_000, 500_000, 1_000_000)
#: The day of the following month on which a monthly licence report without a row of its
#: own falls due (DESIGN §4).
DEFAULT_REPORT_DUE_DAY = 10
DEFAULT_LOG_FILE = DATA_DIR / "mar-insight.log"


#: Settings whose values are never printed.
SECRET_FIELDS = frozenset({"smtp_password", "alert_webhook_url", "database_url"})


@dataclasses.dataclass(frozen=True)
class ComplianceRules:
    """The thresholds of the licence-compliance metrics (DESIGN §4b), with their defaults.

    One value the query layer takes, so a page, the CLI and a test pass the same rules; the
    settings below read each of them from a `MAR_*` variable.
    """

    #: A key is stuck when its age in the stage is more than this many days.
    stuck_consumed_days: int = 2
    stuck_bound_days: int = 7
    stuck_reported_days: int = 3
    #: A partner is flagged at this denial rate (with at least one denial).
    denial_rate: float = 0.05
    #: Citizenship units a TPR may take per family and month unless its own cap says otherwise.
    citizenship_cap: int = 250
    #: A month is `near_cap` from this percentage of the cap (whole percent: exact arithmetic).
    near_cap_percent: int = 90
    #: Unused keys are `closing` from this age, and lose their return credit after the next.
    return_closing_days: int = 300
    return_credit_days: int = 365
    #: COA licences installed after this day break the end of the RRP programme.
    rrp_sunset: dt.date = dt.date(2020, 12, 31)


_RULES = ComplianceRules()


class SettingsError(UserError):
    """A configuration value is wrong; the message is one sentence naming the variable."""


class Settings(BaseSettings):
    """Everything an operator can configure; each field is the variable `MAR_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="MAR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = DEFAULT_DATABASE_URL
    as_of: dt.date | None = None
    milestones: Annotated[tuple[int, ...], NoDecode] = DEFAULT_MILESTONES
    cover_warning_days: int = Field(default=21, ge=1)
    report_due_day: int = Field(default=DEFAULT_REPORT_DUE_DAY, ge=1, le=28)
    cache_ttl_seconds: int = Field(default=300, ge=0)
    connect_timeout_seconds: int = Field(default=5, ge=1)
    statement_timeout_seconds: int = Field(default=30, ge=1)
    require_auth: bool = False
    #: Where the server and the CLI log; "-" writes to standard error (for containers).
    log_file: str = str(DEFAULT_LOG_FILE)
    log_format: Literal["text", "json"] = "text"

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        """`postgresql://` and `postgres://` use psycopg2, the driver the project installs."""
        return database_url(value)

    #: The language when neither the URL (`?lang=`) nor the browser names one we have, and
    #: the language of the command line's messages.
    language: Language = DEFAULT_LANGUAGE
    # Mail and alerts (`mar-insight digest` and `mar-insight alerts`).
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: int = Field(default=30, ge=1)
    mail_from: str = "mar-insight@localhost"
    dashboard_url: str = "http://localhost:8501"
    #: A Slack or Teams incoming-webhook address carries its token in the path: a secret.
    alert_webhook_url: SecretStr | None = None
    stuck_conversion_days: int = Field(default=30, ge=1)

    @field_validator("smtp_host", "smtp_user", "alert_webhook_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`MAR_SMTP_HOST=` in `.env` means no mail server, as if the line were absent."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("dashboard_url", "alert_webhook_url")
    @classmethod
    def _http_url(cls, value: str | SecretStr | None) -> str | SecretStr | None:
        """Links and webhooks must be absolute web addresses; a typo should stop the run, not
        send mail with dead links."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is not None and not text.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if isinstance(value, str) else value

    @field_validator("mail_from")
    @classmethod
    def _address(cls, value: str) -> str:
        if "@" not in value or any(c.isspace() for c in value.strip()):
            raise ValueError("must be an e-mail address")
        return value.strip()

    stuck_consumed_days: int = Field(default=_RULES.stuck_consumed_days, ge=0)
    stuck_bound_days: int = Field(default=_RULES.stuck_bound_days, ge=0)
    stuck_reported_days: int = Field(default=_RULES.stuck_reported_days, ge=0)
    denial_rate: float = Field(default=_RULES.denial_rate, ge=0, le=1)
    citizenship_cap: int = Field(default=_RULES.citizenship_cap, ge=0)
    near_cap_percent: int = Field(default=_RULES.near_cap_percent, ge=1, le=100)
    return_closing_days: int = Field(default=_RULES.return_closing_days, ge=0)
    return_credit_days: int = Field(default=_RULES.return_credit_days, ge=1)
    rrp_sunset: dt.date = _RULES.rrp_sunset
    # Scale-out: the dashboard may read from a streaming replica while writes (audit log,
    # alert state) and every loader keep to database_url, the primary.
    read_database_url: str | None = None
    replica_lag_warning_seconds: int = Field(default=60, ge=1)

    @field_validator("milestones", mode="before")
    @classmethod
    def _parse_milestones(cls, value: object) -> object:
        """Accept a JSON list or a comma-separated list, as people write both in `.env`."""
        if isinstance(value, str):
            text = value.strip().removeprefix("[").removesuffix("]")
            try:
                value = tuple(int(part) for part in text.split(",") if part.strip())
            except ValueError as exc:
                raise ValueError("must be a list of whole numbers") from exc
        if isinstance(value, list | tuple):
            numbers = tuple(sorted(int(v) for v in value))
            if not numbers or numbers[0] <= 0:
                raise ValueError("must be a non-empty list of positive numbers")
            return numbers
        return value

    @model_validator(mode="after")
    def _closing_before_credit_ends(self) -> Settings:
        if self.return_closing_days > self.return_credit_days:
            raise ValueError(
                f"MAR_RETURN_CLOSING_DAYS ({self.return_closing_days}) must not be more than "
                f"MAR_RETURN_CREDIT_DAYS ({self.return_credit_days})"
            )
        return self

    def compliance_rules(self) -> ComplianceRules:
        """The §4b thresholds as configured."""
        names = [field.name for field in dataclasses.fields(ComplianceRules)]
        return ComplianceRules(**{name: getattr(self, name) for name in names})

    @field_validator("read_database_url", mode="before")
    @classmethod
    def _replica_driver(cls, value: object) -> object:
        """`MAR_READ_DATABASE_URL=` in `.env` means no replica, not a database named ''; a URL
        gets the same driver as the main one."""
        if isinstance(value, str):
            return database_url(value) if value.strip() else None
        return value

    @property
    def reads_url(self) -> str:
        """Where the dashboard reads: the replica when one is configured, else the primary."""
        return self.read_database_url or self.database_url

    def today(self) -> dt.date:
        """The as-of date: the configured one for deterministic demos, else today in UTC."""
        return self.as_of or dt.datetime.now(dt.UTC).date()


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning a validation error into one sentence naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "setting"
        # A secret is never echoed back, not even when it is the value that failed.
        value = "***" if field in SECRET_FIELDS else error.get("input")
        reason = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:  # a rule across settings names its variables itself
            raise SettingsError(f"{reason}; fix it in the environment or in .env.") from None
        raise SettingsError(
            f"MAR_{field.upper()} is not valid ({reason}: {value!r}); fix it in the "
            "environment or in .env."
        ) from None
