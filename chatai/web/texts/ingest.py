"""Ingestion limit errors (chatai/rag/limits.py) in English and Russian.

A document's error is stored as the English sentence (the worker has no locale), so the Russian page
turns it back into its template's parameters and renders the Russian one: `document_error(locale, msg)`.
Sentences that match no template (other parser errors) are returned unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache

from chatai.rag.limits import MESSAGES
from chatai.web.sentence_templates import template_pattern, translate

EN: dict[str, str] = {f"ingest_{key}": template for key, template in MESSAGES.items()}

RU: dict[str, str] = {
    "ingest_unzipped_too_large": "Файл распаковывается в {size} МБ (предел {limit} МБ); возможно, это zip-бомба.",
    "ingest_ratio_too_high": ("Часть файла при распаковке увеличивается в {ratio} раз (предел {limit}); "
                              "возможно, это zip-бомба."),
    "ingest_too_many_members": "Файл состоит из {count} частей (предел {limit}); возможно, это zip-бомба.",
    "ingest_too_many_pages": "В PDF {pages} страниц (предел {limit}); разделите его на файлы поменьше.",
    "ingest_too_many_elements": ("В файле больше {limit} абзацев, строк или других элементов (предел {limit}); "
                                 "разделите его на файлы поменьше."),
    "ingest_too_deep": ("Элементы HTML вложены глубже {limit} уровней (предел {limit}); "
                        "сохраните страницу в более простом виде."),
    "ingest_too_many_columns": "В CSV {columns} столбцов (предел {limit}); удалите ненужные столбцы.",
    "ingest_too_many_chunks": ("Из файла получилось бы больше {limit} фрагментов (предел {limit}); "
                               "разделите его на файлы поменьше."),
    "ingest_text_too_long": ("В файле больше {limit} символов текста (предел {limit} символов); "
                             "разделите его на файлы поменьше."),
    "ingest_text_too_dense": ("Файл распаковывается в более чем {limit} символов текста, больше {per_mb} на МБ "
                              "файла (предел {per_mb} символов на МБ); возможно, это бомба из сжатых данных."),
    "ingest_too_many_waiting": ("{limit} ваших файлов уже ждут чтения (предел {limit}); "
                                "загрузите этот файл снова, когда они будут готовы."),
    "ingest_out_of_memory": ("Для чтения файла понадобилось больше {limit} МБ памяти (предел {limit} МБ); "
                             "разделите его или сохраните в более простом формате."),
    "ingest_out_of_time": ("Чтение файла заняло больше {limit} с процессорного времени (предел {limit} с); "
                           "разделите его или сохраните в более простом формате."),
    "ingest_reader_crashed": ("Файл не удалось прочитать: программа чтения неожиданно остановилась. "
                              "Сохраните его в другом формате и загрузите снова."),
}


@lru_cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    return [(template_pattern(template), RU[f"ingest_{key}"]) for key, template in MESSAGES.items()]


def document_error(locale: str, message: str) -> str:
    """The stored (English) error of a document or upload, in the owner's language."""
    if locale == "en" or not message:
        return message
    return translate(message, _patterns())
