"""Assistants: list, create, edit settings, delete."""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.rag.certainty import CERTAINTY_LEVELS, DEFAULT_CERTAINTY
from chatai.services import assistants as svc
from chatai.team.roles import ASSISTANTS
from chatai.web.components.confirm import confirm_action
from chatai.web.components.layout import card, dashboard_page, empty_state, error_callout, page_header, t
from chatai.web.i18n import text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState
from chatai.web.texts.first_hour import assistant_error

_FORM_FIELDS = {
    "name": str, "system_prompt": str, "greeting": str, "language": str, "model": str,
    "temperature": float, "top_k": int, "score_threshold": float, "qa_direct_threshold": float,
    "handoff_timeout_minutes": int,
}
_CHECKBOXES = ("handoff_enabled", "handoff_on_low_confidence", "enabled", "answer_in_groups")
# "Answer style" in words an owner understands; each sets the two expert knobs behind it.
STYLE_PRESETS: dict[str, dict[str, float]] = {
    "strict": {"score_threshold": 0.45, "temperature": 0.0},
    "balanced": {"score_threshold": 0.3, "temperature": 0.2},
    "creative": {"score_threshold": 0.2, "temperature": 0.7},
}
CUSTOM = "custom"


def style_of(score_threshold: float, temperature: float) -> str:
    for name, preset in STYLE_PRESETS.items():
        if preset == {"score_threshold": score_threshold, "temperature": temperature}:
            return name
    return CUSTOM


def _preset_to_apply(style: str, submitted: dict, saved: dict[str, str]) -> dict[str, float]:
    """The chosen preset's values, unless the submitted advanced fields hold numbers that are neither the
    preset's nor the saved ones: the owner typed them (a change that reached the server after the form was
    read, so the select still named the preset) and they win over the preset."""
    preset = STYLE_PRESETS.get(style, {})
    for key, value in preset.items():
        if submitted.get(key) not in (value, _number(saved.get(key, ""))):
            return {}
    return preset


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _row(a) -> dict[str, str]:
    return {
        "id": str(a.id), "name": a.name, "system_prompt": a.system_prompt, "greeting": a.greeting,
        "language": a.language, "model": a.model, "temperature": str(a.temperature), "top_k": str(a.top_k),
        "score_threshold": str(a.score_threshold), "qa_direct_threshold": str(a.qa_direct_threshold),
        "handoff_timeout_minutes": str(a.handoff_timeout_minutes),
        "handoff_enabled": "1" if a.handoff_enabled else "", "enabled": "1" if a.enabled else "",
        "handoff_on_low_confidence": "1" if a.handoff_on_low_confidence else "",
        "answer_in_groups": "1" if a.answer_in_groups else "",
        "style": style_of(a.score_threshold, a.temperature), "answer_certainty": a.answer_certainty,
    }


class AssistantsState(rx.State):
    assistants: list[dict[str, str]] = []
    editing: dict[str, str] = {}
    edit_open: bool = False
    create_open: bool = False
    error: str = ""

    async def _reload(self, owner_id: uuid.UUID) -> None:
        async with async_session() as session:
            self.assistants = [_row(a) for a in await svc.list_assistants(session, owner_id=owner_id)]

    @rx.event
    async def load_assistants(self):
        access = await require_access(self, ASSISTANTS)
        if access is None:
            return await refusal(self)
        await self._reload(access.business_id)

    @rx.event
    def set_create_open(self, value: bool):
        self.create_open = value
        self.error = ""

    @rx.event
    def set_edit_open(self, value: bool):
        self.edit_open = value
        self.error = ""

    @rx.event
    async def handle_create_submit(self, form: dict):
        access = await require_access(self, ASSISTANTS)
        if access is None:
            return await refusal(self)
        try:
            async with async_session() as session:
                await svc.create_assistant(session, owner_id=access.business_id, name=str(form.get("name", "")),
                                           system_prompt=str(form.get("system_prompt", "")),
                                           greeting=str(form.get("greeting", "")),
                                           **STYLE_PRESETS.get(str(form.get("style", "")), {}))
        except ValueError as exc:
            self.error = assistant_error((await self.get_state(AuthState)).locale, exc)
            return
        self.create_open = False
        await self._reload(access.business_id)

    @rx.event
    def start_edit(self, assistant_id: str):
        match = [a for a in self.assistants if a["id"] == assistant_id]
        if match:
            self.editing = dict(match[0])
            self.error = ""
            self.edit_open = True

    @rx.event
    def choose_style(self, style: str):
        """A preset shows its values in the advanced fields, so what is saved is what the owner sees."""
        preset = {key: str(value) for key, value in STYLE_PRESETS.get(style, {}).items()}
        self.editing = {**self.editing, "style": style if style in STYLE_PRESETS else CUSTOM, **preset}

    @rx.event
    def edit_advanced(self, field: str, value: str):
        """An owner's own advanced value makes the style "Custom": a preset would otherwise overwrite it."""
        if field in _FORM_FIELDS:
            self.editing = {**self.editing, field: str(value), "style": CUSTOM}

    @rx.event
    async def handle_edit_submit(self, form: dict):
        access = await require_access(self, ASSISTANTS)
        if access is None:
            return await refusal(self)
        auth = await self.get_state(AuthState)
        try:
            values = {key: cast(form.get(key, "")) for key, cast in _FORM_FIELDS.items()}
            values.update({key: bool(form.get(key)) for key in _CHECKBOXES})
            saved = next((a for a in self.assistants if a["id"] == self.editing.get("id")), {})
            values["answer_certainty"] = str(form.get("answer_certainty") or saved.get("answer_certainty")
                                             or DEFAULT_CERTAINTY)
            values.update(_preset_to_apply(str(form.get("style", "")), values, saved))
            async with async_session() as session:
                await svc.update_assistant(session, owner_id=access.business_id,
                                           assistant_id=uuid.UUID(self.editing["id"]), **values)
        except svc.NotFound:
            self.error = text(auth.locale, "err_not_found")
            return
        except ValueError as exc:
            self.error = assistant_error(auth.locale, exc)
            return
        self.edit_open = False
        await self._reload(access.business_id)

    @rx.event
    async def delete_assistant(self, assistant_id: str):
        access = await require_access(self, ASSISTANTS)
        if access is None:
            return await refusal(self)
        try:
            async with async_session() as session:
                await svc.delete_assistant(session, owner_id=access.business_id, assistant_id=uuid.UUID(assistant_id))
        except (svc.NotFound, ValueError):
            pass
        self.edit_open = False
        await self._reload(access.business_id)


def _labeled(key: str, control: rx.Component, help_key: str = "") -> rx.Component:
    help_line = [rx.text(t(help_key), size="1", color=rx.color("gray", 10))] if help_key else []
    return rx.vstack(rx.text(t(key), size="2", weight="medium"), control, *help_line, spacing="1", width="100%")


def _style_choice(with_custom: bool) -> rx.Component:
    """The answer style as radio choices: as a select, its chosen label ("Сбалансированный (рекомендуем)") was
    cut off at a phone's width; here every choice wraps and is on screen."""
    names = [*STYLE_PRESETS, *([CUSTOM] if with_custom else [])]
    if with_custom:  # editing: follows the state, so typing an advanced value shows "Custom" at once
        bound = {"value": AssistantsState.editing["style"], "on_change": AssistantsState.choose_style}
    else:
        bound = {"default_value": "balanced"}
    choices = [rx.el.label(rx.radio_group.item(value=name, id=f"assistant-style-{name}", flex_shrink="0"),
                           rx.text(t(f"first_hour_style_{name}"), size="2"),
                           display="flex", gap="8px", align_items="start", cursor="pointer")
               for name in names]
    return _labeled("first_hour_style", rx.radio_group.root(rx.vstack(*choices, spacing="2"), name="style",
                                                            id="assistant-style", **bound),
                    "first_hour_style_help")


def _certainty_choice() -> rx.Component:
    """"How sure before answering": below the bar the assistant says it does not know and hands over."""
    choices = [rx.el.label(rx.radio_group.item(value=name, id=f"assistant-certainty-{name}", flex_shrink="0"),
                           rx.text(t(f"certainty_{name}"), size="2"),
                           display="flex", gap="8px", align_items="start", cursor="pointer")
               for name in CERTAINTY_LEVELS]
    return _labeled("certainty_label", rx.radio_group.root(
        rx.vstack(*choices, spacing="2"), name="answer_certainty", id="assistant-certainty",
        default_value=AssistantsState.editing["answer_certainty"]), "certainty_help")


# (label and help key, form field, input props) of the expert knobs under "Advanced".
_ADVANCED_FIELDS = (
    ("temperature", "temperature", {"type": "number", "step": "0.1", "min": "0", "max": "2"}),
    ("score_threshold", "score_threshold", {"type": "number", "step": "0.05", "min": "0", "max": "1"}),
    ("top_k", "top_k", {"type": "number", "min": "1", "max": "50"}),
    ("qa_threshold", "qa_direct_threshold", {"type": "number", "step": "0.05", "min": "0", "max": "1"}),
    ("handoff_timeout", "handoff_timeout_minutes", {"type": "number", "min": "1", "max": "1440"}),
    ("model", "model", {}),
)


def _advanced_input(field: str, **props) -> rx.Component:
    return rx.input(name=field, value=AssistantsState.editing[field], id=f"assistant-{field.replace('_', '-')}",
                    on_change=lambda value: AssistantsState.edit_advanced(field, value), **props)


def _create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("plus", size=16), t("new_assistant"), id="new-assistant")),
        rx.dialog.content(
            rx.dialog.title(t("new_assistant")),
            rx.form(
                rx.vstack(
                    error_callout(AssistantsState.error),
                    _labeled("name", rx.input(name="name", id="assistant-name", required=True, max_length=120,
                                              width="100%")),
                    _labeled("system_prompt", rx.text_area(name="system_prompt", rows="3", width="100%",
                                                           id="assistant-system-prompt"),
                             "first_hour_help_system_prompt"),
                    _labeled("greeting", rx.text_area(name="greeting", rows="2", width="100%",
                                                      id="assistant-greeting"), "first_hour_help_greeting"),
                    _style_choice(with_custom=False),
                    rx.hstack(rx.dialog.close(rx.button(t("cancel"), variant="soft", color_scheme="gray",
                                                        type="button")),
                              rx.button(t("create"), type="submit", id="create-assistant"), justify="end",
                              width="100%"),
                    spacing="3",
                ),
                on_submit=AssistantsState.handle_create_submit,
            ),
            min_width="0",
        ),
        open=AssistantsState.create_open,
        on_open_change=AssistantsState.set_create_open,
    )


def _edit_dialog() -> rx.Component:
    e = AssistantsState.editing
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(e["name"]),
            rx.form(
                rx.vstack(
                    error_callout(AssistantsState.error),
                    _labeled("name", rx.input(name="name", default_value=e["name"], required=True, width="100%")),
                    _labeled("system_prompt", rx.text_area(name="system_prompt", default_value=e["system_prompt"],
                                                           rows="4", width="100%"), "first_hour_help_system_prompt"),
                    _labeled("greeting", rx.text_area(name="greeting", default_value=e["greeting"], rows="2",
                                                      width="100%"), "first_hour_help_greeting"),
                    _labeled("language", rx.el.select(
                        rx.el.option(t("lang_auto"), value="auto"), rx.el.option("English", value="en"),
                        rx.el.option("Русский", value="ru"), name="language", default_value=e["language"]),
                        "first_hour_help_language"),
                    _style_choice(with_custom=True),
                    _certainty_choice(),
                    # Expert knobs stay in the form (a closed <details> still submits its fields).
                    rx.el.details(
                        rx.el.summary(t("first_hour_advanced"), cursor="pointer", id="assistant-advanced"),
                        rx.grid(
                            *[_labeled(label, _advanced_input(field, **props), f"first_hour_help_{label}")
                              for label, field, props in _ADVANCED_FIELDS],
                            columns=rx.breakpoints(initial="1", sm="2"),
                            spacing="3",
                            width="100%",
                            padding_top="12px",
                        ),
                        width="100%",
                    ),
                    rx.checkbox(t("handoff_enabled"), name="handoff_enabled",
                                default_checked=e["handoff_enabled"] != ""),
                    rx.checkbox(t("handoff_low_conf"), name="handoff_on_low_confidence",
                                default_checked=e["handoff_on_low_confidence"] != ""),
                    rx.checkbox(t("assistant_enabled"), name="enabled", default_checked=e["enabled"] != ""),
                    rx.vstack(rx.checkbox(t("group_chats_answer"), name="answer_in_groups",
                                          id="assistant-answer-in-groups",
                                          default_checked=e["answer_in_groups"] != ""),
                              rx.text(t("group_chats_help"), size="1", color=rx.color("gray", 10)), spacing="1"),
                    # Kept in view at the bottom while the long form scrolls (a phone shows a third of it).
                    rx.hstack(
                        confirm_action(
                            rx.button(t("delete"), color_scheme="red", variant="soft", type="button",
                                      id="delete-assistant"),
                            title_key="first_hour_confirm_delete_assistant", subject=e["name"],
                            loss_key="first_hour_loss_assistant", action_key="delete",
                            on_confirm=AssistantsState.delete_assistant(e["id"])),
                        rx.spacer(),
                        rx.dialog.close(rx.button(t("cancel"), variant="soft", color_scheme="gray", type="button")),
                        rx.button(t("save"), type="submit", id="save-assistant"),
                        width="100%",
                        wrap="wrap",
                        position="sticky",
                        bottom="0",
                        padding_y="12px",
                        bg="var(--color-panel-solid)",
                        z_index="1",
                    ),
                    spacing="3",
                ),
                on_submit=AssistantsState.handle_edit_submit,
                key=e["id"],
            ),
            max_width="640px",
            # Its own scroll container, no taller than the screen: else (in Russian on a phone) it grew past
            # the screen and the sticky Save row scrolled away with it.
            max_height="calc(100dvh - 32px)",
            overflow_y="auto",
            # A flex item: without min_width 0 its widest content stretched it past a phone's screen.
            min_width="0",
            padding=rx.breakpoints(initial="16px", sm="24px"),
        ),
        open=AssistantsState.edit_open,
        on_open_change=AssistantsState.set_edit_open,
    )


def _assistant_card(a: dict) -> rx.Component:
    return card(
        rx.hstack(
            rx.center(rx.icon("bot", size=20), bg=rx.color("indigo", 3), border_radius="10px", width="40px",
                      height="40px", flex_shrink="0"),
            rx.vstack(
                rx.text(a["name"], weight="bold", size="4"),
                rx.text(rx.cond(a["greeting"] != "", a["greeting"], "—"), size="2", color=rx.color("gray", 11),
                        trim="both", style={"display": "-webkit-box", "-webkit-line-clamp": "2",
                                            "-webkit-box-orient": "vertical", "overflow": "hidden"}),
                spacing="1",
                flex="1",
                min_width="0",
            ),
            rx.button(rx.icon("pencil", size=14), t("edit"), variant="soft", size="2",
                      on_click=AssistantsState.start_edit(a["id"])),
            align="center",
            spacing="4",
            width="100%",
        ),
    )


@dashboard_page
def assistants_page() -> rx.Component:
    return rx.vstack(
        page_header("assistants_title", "assistants_subtitle", _create_dialog()),
        rx.cond(
            AssistantsState.assistants.length() > 0,
            rx.grid(rx.foreach(AssistantsState.assistants, _assistant_card),
                    columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%"),
            card(empty_state("bot", "no_assistants")),
        ),
        _edit_dialog(),
        width="100%",
    )
