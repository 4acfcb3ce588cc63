"""File upload session errors in English and Russian."""

from __future__ import annotations

EN: dict[str, str] = {
    "uploads_signed_out": "Your session has ended, so the files were not uploaded. Sign in again and upload them.",
}

RU: dict[str, str] = {
    "uploads_signed_out": "Сеанс завершён, поэтому файлы не загружены. Войдите снова и загрузите их ещё раз.",
}
