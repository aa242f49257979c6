"""Settings read from the environment (prefix `BEFFROI_`) with embedded defaults."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import SetupError

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"  # links made by a process that listens nowhere (`beffroi worker`)


def local_url(host: str, port: int) -> str:
    """The address of a server listening on host:port, as a link on this machine (a wildcard host is 127.0.0.1)."""
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Settings(BaseSettings):
    """One engine's configuration; tests build their own instance instead of touching globals."""

    model_config = SettingsConfigDict(env_prefix="BEFFROI_", extra="ignore")

    database_url: str = "sqlite:///beffroi.db"
    redis_url: str | None = None
    queue_name: str = "beffroi"
    secret_key: SecretStr | None = None
    # signs public links (unsubscribe); kept apart so key rotation keeps them valid
    link_secret: SecretStr | None = None
    data_dir: Path = Path(".beffroi")
    recipes_dir: Path = Path("recipes")
    allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allowed_folders: Annotated[list[str], NoDecode] = Field(default_factory=list)  # besides <data_dir>/posts
    public_url: str | None = None  # how people reach this Beffroi (links in messages); unset: see local_url
    workers: int = Field(4, ge=1)          # runs in flight in `beffroi serve` (in-process)
    worker_threads: int = Field(16, ge=1)  # runs in flight per `beffroi worker` process (they mostly wait on APIs)
    shutdown_grace: float = Field(30.0, ge=0)  # seconds `serve` waits for running runs on SIGTERM (then resumable)
    progress_interval: float = Field(0.5, ge=0)  # seconds between two writes of a step's progress (ctx.progress)
    default_step_timeout: float = Field(300.0, gt=0)
    http_timeout: float = Field(30.0, gt=0)
    log_level: str = "INFO"
    # an `email` connection (smtp) the installation sends its own e-mails through (approval requests); unset: they
    # are only recorded in the outbox
    notify_connection: str | None = None
    language: str = "fr"  # the installation's language: of the e-mails to people who chose none (fr, en)
    timezone: str = "Europe/Brussels"  # the installation's time zone: times shown in the web UI, publish windows
    holidays: str = "BE"  # whose public holidays publish windows skip: a country code, or country-subdivision (DE-BY)
    disable_plugins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # names, built-ins included
    plugins_dir: Path | None = None  # plugin modules (`*.py`, packages) loaded from a folder, without packaging
    clock_file: Path | None = None  # tests and rehearsals only: a file holding the date-time taken as now (clocks.py)

    @classmethod
    def from_environment(cls) -> Settings:
        """The settings of this process; a bad value is a SetupError naming each variable (never its value)."""
        try:
            return cls()
        except ValidationError as exc:
            problems = "; ".join(f"BEFFROI_{str(e['loc'][0]).upper() if e['loc'] else '…'}: {e['msg']}"
                                 for e in exc.errors())
            raise SetupError(f"bad setting: {problems}") from None

    @field_validator("allowed_networks", "disable_plugins", mode="before")
    @classmethod
    def _split_words(cls, value):
        """Accept `10.0.0.0/8,127.0.0.0/8` or `analytics hello` (comma or space separated) as well as a list."""
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        """A language Beffroi's own e-mails are written in."""
        if value.strip().lower() not in ("fr", "en"):
            raise ValueError("Beffroi speaks fr and en")
        return value.strip().lower()

    @field_validator("notify_connection", mode="before")
    @classmethod
    def _none_when_empty(cls, value):
        """`BEFFROI_NOTIFY_CONNECTION=` (empty) means none."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """An IANA time zone name (Europe/Brussels, UTC…)."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (an IANA name such as Europe/Brussels or UTC)") from None
        return value

    @field_validator("holidays")
    @classmethod
    def _known_calendar(cls, value: str) -> str:
        """A country (ISO 3166 code) whose public holidays the `holidays` package knows, with a subdivision or not."""
        import holidays

        country, _, subdivision = value.strip().upper().partition("-")
        if country not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays known for {country!r} (a country code such as BE, FR, NL, DE)")
        if subdivision and subdivision not in holidays.list_supported_countries()[country]:
            raise ValueError(f"{country} has no subdivision {subdivision!r}")
        return f"{country}-{subdivision}" if subdivision else country

    @field_validator("plugins_dir", "clock_file", mode="before")
    @classmethod
    def _unset_when_empty(cls, value):
        """`BEFFROI_PLUGINS_DIR=` (empty) means no folder, not the current one (the same for a clock file)."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("allowed_folders", mode="before")
    @classmethod
    def _split_folders(cls, value):
        """Accept `/srv/posts,/srv/news` (comma separated: paths may hold spaces) as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
