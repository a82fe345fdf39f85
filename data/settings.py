"""One typed settings class for the whole product, read from `MAR_*` variables and `.env`.

Settings are created lazily (never at import time) so tests and the CLI can override them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'mar-insight.sqlite'}"
DEFAULT_MILESTONES = (100_000, 250_000, 500_000, 1_000_000)
#: The day of the following month on which a monthly licence report without a row of its
#: own falls due (DESIGN §4).
DEFAULT_REPORT_DUE_DAY = 10


class SettingsError(ValueError):
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
        value = error.get("input")
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(
            f"MAR_{field.upper()} is not valid ({reason}: {value!r}); fix it in the "
            "environment or in .env."
        ) from None
