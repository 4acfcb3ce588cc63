"""The one settings object. Nothing else in the project reads os.environ.

A leaf module: it imports nothing from the app, so every process (web, bot runner, CLI,
tests) can load it first.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Storage. Empty URLs mean "run the embedded servers under data_dir".
    database_url: str = ""
    redis_url: str = ""
    data_dir: Path = Field(default=PROJECT_ROOT / ".data", validation_alias="CHATAI_DATA_DIR")

    # Signing / encryption. Empty means "generate once and keep in data_dir".
    secret_key: SecretStr = SecretStr("")

    # OpenAI or any OpenAI-compatible server. No key and no base URL = no LLM (extractive answers).
    openai_api_key: SecretStr = SecretStr("")
    openai_base_url: str = ""
    openai_chat_model: str = "gpt-4o-mini"
    openai_embedding_model: str = "text-embedding-3-small"

    # Telegram Bot API server root; the code appends /bot<token>/<method>.
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    # Run the bot runner inside the web process (single machine). Off when runners are separate.
    run_bots_in_web: bool = True

    # Uploads.
    max_upload_mb: int = 10

    # Optional SMTP for owner alerts (low balance). Empty host = alerts only in the dashboard.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = ""

    # Where the app is reachable from outside (webhook URLs, links in emails).
    public_url: str = "http://localhost:3000"
    port: int = Field(default=3000, validation_alias="PORT")
    host: str = "127.0.0.1"  # put a reverse proxy in front for the outside world (deploy/)

    log_level: str = "INFO"

    # First admin, created on start when there is no admin yet.
    admin_email: str = "admin@chatai.local"
    admin_password: SecretStr = SecretStr("")

    # Accounts.
    session_ttl_hours: int = 24 * 14
    signin_max_attempts: int = 5
    signin_window_seconds: int = 15 * 60

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def pg_data_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def redis_socket(self) -> Path:
        return self.redis_dir / "redis.sock"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key.get_secret_value() or self.openai_base_url)


@lru_cache
def get_settings() -> Settings:
    return Settings()
