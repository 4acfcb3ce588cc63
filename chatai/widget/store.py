"""An owner's widget settings: read, validate, save (scoped by owner: another owner's assistant is 'not
found'), and the embed snippet. Errors are codes with parameters; the dashboard and the CLI say them as
sentences (web/texts/widget.py)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Assistant, utcnow
from chatai.services import audit
from chatai.services.assistants import NotFound, get_owned_assistant
from chatai.settings import get_settings
from chatai.widget.models import LANGUAGES, POSITIONS, WidgetSettings
from chatai.widget.sites import MAX_SITES, BadSite, normalize_sites

EDITABLE_FIELDS = ("enabled", "allowed_sites", "title", "operator_name", "accent_color", "position", "welcome",
                   "language", "show_sources")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_TEXT = {"title": 80, "operator_name": 80, "welcome": 1000}
MAX_AVATAR_BYTES = 200 * 1024
# Magic numbers of the images an avatar may be (the upload's own type claim is never trusted).
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))

__all__ = ["NotFound", "WidgetSettingsError", "get_owned_widget", "save_widget", "snippet"]


class WidgetSettingsError(ValueError):
    """A refused value: `code` names the sentence (err_widget_<code>), `params` fill it."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code, self.params = code, params


def _validate(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    if "allowed_sites" in values:
        try:
            values["allowed_sites"] = normalize_sites(list(values["allowed_sites"]))
        except BadSite as bad:
            if len([s for s in values["allowed_sites"] if s.strip()]) > MAX_SITES:
                raise WidgetSettingsError("too_many_sites", n=MAX_SITES) from None
            raise WidgetSettingsError("bad_site", site=bad.entry[:80]) from None
    for key, limit in MAX_TEXT.items():
        if key in values:
            values[key] = str(values[key] or "").strip()
            if len(values[key]) > limit:
                raise WidgetSettingsError("text_too_long", n=limit)
    if "accent_color" in values and not _COLOR.match(str(values["accent_color"])):
        raise WidgetSettingsError("bad_color")
    if "position" in values and values["position"] not in POSITIONS:
        raise ValueError("position must be right or left")
    if "language" in values and values["language"] not in LANGUAGES:
        raise ValueError("language must be auto, en or ru")
    return values


def image_type(data: bytes) -> str:
    """The image type by its first bytes ('' when it is not a PNG, JPEG or WebP)."""
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ""


async def get_widget(session: AsyncSession, *, assistant_id: uuid.UUID) -> WidgetSettings | None:
    """For visitors: the settings as stored (None = never set up, the channel is off)."""
    return await session.get(WidgetSettings, assistant_id)


async def get_owned_widget(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID) -> WidgetSettings:
    """The owner's settings (the defaults, unsaved, when never set up); NotFound for another owner's."""
    await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    widget = await session.get(WidgetSettings, assistant_id)
    return widget or WidgetSettings(assistant_id=assistant_id, owner_id=owner_id)


async def save_widget(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID,
                      **fields: Any) -> WidgetSettings:
    values = _validate(fields)
    widget = await get_owned_widget(session, owner_id=owner_id, assistant_id=assistant_id)
    for key, value in values.items():
        setattr(widget, key, value)
    widget.updated_at = utcnow()
    session.add(widget)
    audit.record(session, actor_id=owner_id, action="widget.update", target_type="assistant",
                 target_id=assistant_id, details={"fields": sorted(values)})
    await session.commit()
    return widget


async def save_avatar(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID,
                      data: bytes | None) -> WidgetSettings:
    """Set (checked by content: PNG, JPEG or WebP, at most MAX_AVATAR_BYTES) or remove (None) the avatar."""
    kind = ""
    if data is not None:
        kind = image_type(data)
        if not kind or len(data) > MAX_AVATAR_BYTES:
            raise WidgetSettingsError("bad_avatar")
    widget = await get_owned_widget(session, owner_id=owner_id, assistant_id=assistant_id)
    widget.avatar, widget.avatar_type, widget.updated_at = data, kind, utcnow()
    session.add(widget)
    await session.commit()
    return widget


def public_url() -> str:
    return get_settings().public_url.rstrip("/")


def snippet(assistant_id: uuid.UUID) -> str:
    """The one line the owner pastes into the site: an async script, no other dependency."""
    return (f'<script async src="{public_url()}/widget/loader.js" '
            f'data-chatai-assistant="{assistant_id}"></script>')


async def assistant_name(session: AsyncSession, assistant_id: uuid.UUID) -> str:
    assistant = await session.get(Assistant, assistant_id)
    return assistant.name if assistant is not None else ""
