"""Passwords, session tokens, secret encryption and masking. No I/O beyond the key file.

The password functions here are blocking (argon2): services call them through services/password_work.py,
which runs them off the event loop in a bounded pool."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from chatai.settings import get_settings


@lru_cache(maxsize=1)
def _passwords():  # noqa: ANN202 - passlib's CryptContext
    """argon2 only: passlib's bcrypt backend breaks on bcrypt 5. Imported on first use: passlib costs ~7 MB
    of memory, and the bot runner (which imports this module for bot tokens) never hashes a password."""
    from passlib.context import CryptContext

    return CryptContext(schemes=["argon2"], deprecated="auto")


def hash_password(password: str) -> str:
    return _passwords().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _passwords().verify(password, password_hash)
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A real hash to verify against when the email is unknown, so timing does not reveal accounts. Made on
    first use, not at import: a hash costs half a second of CPU, and most importers never check a password."""
    return hash_password(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    verify_password(password, _dummy_hash())


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@lru_cache
def secret_key() -> bytes:
    """SECRET_KEY, or a random key generated once and kept (mode 600) in the data folder."""
    settings = get_settings()
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured.encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


@lru_cache
def _fernet() -> Fernet:
    derived = hashlib.sha256(b"chatai-secrets-v1:" + secret_key()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt_secret(value: str) -> str:
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted: was SECRET_KEY changed?") from exc


def mask_secret(value: str, keep: int = 4) -> str:
    """Show only the end of a secret ('…wxyz'); a Telegram token keeps its public bot id."""
    if not value:
        return ""
    head = value.split(":", 1)[0] + ":" if ":" in value else ""
    return f"{head}…{value[-keep:]}" if len(value) > keep * 2 else "…"


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
