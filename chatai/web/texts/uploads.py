"""File upload errors (the session, a file over its size limit) in English and Russian."""

from __future__ import annotations

EN: dict[str, str] = {
    "uploads_signed_out": "Your session has ended, so the files were not uploaded. Sign in again and upload them.",
    "uploads_busy": "The previous upload is still being sent, so these files were not taken. Drop them again "
                    "when it has finished.",
    "uploads_received": "Received and queued for indexing: {names}.",
    "uploads_received_at": "Received {when}",
    "uploads_file_too_large": ("{name} is larger than {limit} MB, the limit for one file, so the upload was "
                               "stopped. Split it into smaller files."),
    "uploads_part_too_large": "A part of the upload is larger than {limit} MB, the limit for one file.",
}

RU: dict[str, str] = {
    "uploads_signed_out": "Сеанс завершён, поэтому файлы не загружены. Войдите снова и загрузите их ещё раз.",
    "uploads_busy": "Предыдущая загрузка ещё идёт, поэтому эти файлы не приняты. Перетащите их снова, когда "
                    "она закончится.",
    "uploads_received": "Получены и поставлены в очередь на индексацию: {names}.",
    "uploads_received_at": "Получен {when}",
    "uploads_file_too_large": ("Файл {name} больше {limit} МБ (предел для одного файла), поэтому загрузка "
                               "остановлена. Разделите его на файлы поменьше."),
    "uploads_part_too_large": "Часть загрузки больше {limit} МБ (предел для одного файла).",
}
