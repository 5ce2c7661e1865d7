"""Configuration read from PORTFOLIO_* environment variables."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "portfolio.db"
# The values of PORTFOLIO_JOBS (README, "Deployment").
JOBS_CHOICES = ("auto", "queue", "in-process")


class Settings(BaseSettings):
    """Settings for the app, the CLI and the tests."""

    model_config = SettingsConfigDict(env_prefix="PORTFOLIO_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    environment: str = "development"
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    workers: Annotated[int, Field(ge=1)] = 1
    sqlite_busy_timeout_ms: int = 5000
    plan_wall_clock_seconds: float = 60.0
    # How long a page waits for a re-ranking after edits before showing the previous one.
    ranking_wait_seconds: float = 2.0
    # A portfolio of this many projects or more has its similarity model built in a child
    # process (its build's memory all goes back when it ends); 0 always, -1 never.
    similarity_process_from: int = 20_000
    cookie_secure: bool | None = None
    public_read: bool = False
    max_body_bytes: int = 1_000_000
    max_upload_bytes: int = 55_000_000
    # Security limits (README, "Security"); each is documented with its default there.
    session_max_age_seconds: int = 8 * 3600
    # Harvesting open-data portals: per-request time-out, size of one answer, datasets in all.
    harvest_timeout_seconds: float = 10.0
    harvest_max_response_bytes: int = 50_000_000
    harvest_max_datasets: int = 100_000
    # Whether a harvest may read a portal at a private, loopback or link-local address; unset:
    # on a developer's or a test's machine only (a local test server), never in production.
    harvest_private_addresses: bool | None = None
    # `portfolio serve` guards against clients that never finish a request (see web/server.py).
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    keep_alive_seconds: int = 5
    max_connections: int = 200
    session_idle_seconds: int = 30 * 60
    api_token_days: int = 90
    api_token_max_days: int = 365
    sign_in_window_seconds: int = 15 * 60
    sign_in_account_free_failures: int = 10
    sign_in_client_free_failures: int = 5
    sign_in_max_lock_seconds: int = 15 * 60
    import_max_rows: int = 100_000
    import_max_columns: int = 200
    # Host names the app answers to ("*": any, for development); others get 400.
    allowed_hosts: Annotated[list[str], NoDecode] = ["127.0.0.1", "localhost"]
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = ["127.0.0.1"]
    hsts_seconds: int = 365 * 24 * 3600
    snapshots_per_user_per_day: int = 20
    # Documents attached to projects: kept on disk under their content hash.
    attachments_dir: Path = Path("var") / "attachments"
    attachment_max_bytes: int = 20_000_000
    # Sign-in through an OpenID Connect provider (README, "Single sign-on"): on when an issuer
    # is set. The discovery document is kept oidc_metadata_seconds; keys until one is unknown.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_groups_claim: str = "groups"
    oidc_scopes: str = "openid email profile"
    oidc_provider_name: str = "your organisation's account"
    oidc_timeout_seconds: float = 5.0
    oidc_metadata_seconds: int = 3600
    # Email and password sign-in; off when everyone signs in through the provider.
    local_passwords: bool = True
    # Background work (README, "Deployment"): "in-process" threads of each web process,
    # "queue" (procrastinate on PostgreSQL, run by `portfolio worker`), or "auto": the queue
    # on PostgreSQL outside development and tests, in-process otherwise.
    jobs: str = "auto"
    job_attempts: int = 3
    # How long a caller with no previous ranking waits for a queued one before a 503.
    ranking_job_wait_seconds: float = 300.0
    # A job whose worker sent no heartbeat for this long is started again by another worker.
    worker_stalled_seconds: int = 30
    worker_heartbeat_seconds: float = 5.0
    # Working together (README, "Working together"): progress, discussion and notifications.
    progress_stale_days: int = 30
    comment_max_chars: int = 20_000
    comment_edit_minutes: int = 15
    # The address emails link back to (the app as its users reach it).
    public_url: str = "http://127.0.0.1:8000"
    # Email through SMTP; no host: notifications stay in the app and emails wait in the outbox.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_tls: str = "none"  # none, starttls or ssl
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "London data portfolio <portfolio@localhost>"
    smtp_timeout_seconds: float = 10.0
    email_max_attempts: int = 5
    email_retry_seconds: float = 60.0

    @field_validator("jobs")
    @classmethod
    def _known_jobs(cls, value: str) -> str:
        """Refuse a PORTFOLIO_JOBS that names no way of running background work."""
        # A typo ("queu") read as "auto" would run the queue, or not, without saying so.
        if value not in JOBS_CHOICES:
            # A custom error: its message is shown as it is, without "Value error, ".
            raise PydanticCustomError("jobs", "must be {allowed}, not {value}", {
                "allowed": f"{', '.join(JOBS_CHOICES[:-1])} or {JOBS_CHOICES[-1]}",
                "value": repr(value)})
        return value

    @field_validator("allowed_hosts", "forwarded_allow_ips", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """Read a list from "a,b,c" as the environment gives it."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def is_development(self) -> bool:
        """Tell whether this is a developer's or a test's machine."""
        return self.environment in {"development", "test"}

    @property
    def harvest_reads_private_addresses(self) -> bool:
        """Tell whether a harvest may read a portal at a private or local address."""
        if self.harvest_private_addresses is not None:
            return self.harvest_private_addresses
        return self.is_development

    @property
    def trusted_hosts(self) -> list[str]:
        """Return the host names the app answers to (the test client's too, in tests)."""
        return [*self.allowed_hosts, *(["testserver"] if self.environment == "test" else [])]

    @property
    def secure_cookies(self) -> bool:
        """Tell whether cookies carry the Secure flag (default: outside development)."""
        return self.cookie_secure if self.cookie_secure is not None else not self.is_development

    def resolved_secret_key(self) -> str:
        """Return the secret key; development keeps a generated one, production must set it."""
        if self.secret_key:
            return self.secret_key
        if not self.is_development:
            raise RuntimeError(
                "PORTFOLIO_SECRET_KEY is not set: outside development the app refuses to start "
                "without a secret key (generate one with: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        path = Path("var") / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def oidc_enabled(self) -> bool:
        """Tell whether sign-in through an OpenID Connect provider is offered."""
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def uses_job_queue(self) -> bool:
        """Tell whether background work goes to the PostgreSQL job queue (not this process)."""
        if self.is_sqlite or self.jobs == "in-process":
            return False
        return self.jobs == "queue" or not self.is_development

    @property
    def is_sqlite(self) -> bool:
        """Tell whether the database is an embedded SQLite file."""
        return self.database_url.startswith("sqlite")

