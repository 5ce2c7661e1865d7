"""Configuration read from PORTFOLIO_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "portfolio.db"


class Settings(BaseSettings):
    """Settings for the app, the CLI and the tests."""

    model_config = SettingsConfigDict(env_prefix="PORTFOLIO_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    environment: str = "development"
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    sqlite_busy_timeout_ms: int = 5000
    page_size: int = 50
    plan_wall_clock_seconds: float = 60.0

    @property
    def is_sqlite(self) -> bool:
        """Tell whether the database is an embedded SQLite file."""
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings read from the environment."""
    return Settings()
