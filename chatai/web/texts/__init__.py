"""UI text of each feature in its own module (EN and RU dicts), merged into chatai.web.i18n.

Why split: features land independently; one module each keeps their strings beside nobody else's.
A module here defines `EN: dict[str, str]` and `RU: dict[str, str]` with the same keys; keys must be
unique across all modules (tests/web/test_i18n.py checks both).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def feature_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
