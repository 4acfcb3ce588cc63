"""The first hour of a business owner (issue 13), at the handler level: refused uploads, errors as
sentences in the owner's language, the getting-started checklist, answer-style presets, tab titles."""

from __future__ import annotations

import pytest

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Bot, Document, User, utcnow
from chatai.db.session import async_session
from chatai.security import encrypt_secret
from chatai.services import accounts, assistants
from chatai.web.components.document_language import page_title
from chatai.web.pages.assistants import STYLE_PRESETS, AssistantsState
from chatai.web.pages.bots import BotsState
from chatai.web.pages.overview import OverviewState
from chatai.web.state.auth import AuthState
from chatai.web.state.knowledge import KnowledgeState
from chatai.web.texts.bot_events import bot_event_text
from tests.web.clients import signed_in_root


@pytest.fixture
async def owner(db):
    async with async_session() as s:
        token = await accounts.sign_up(s, email="florist@example.com", password="tulips and roses")
        user = await accounts.user_for_token(s, token)
    return {"token": token, "id": user.id}


async def _tab(token: str, locale: str = "en"):
    root = await signed_in_root(token)
    (await root.get_state(AuthState)).locale = locale
    return root


async def _set_locale(owner: dict, locale: str) -> None:
    async with async_session() as s:
        await accounts.set_locale(s, user_id=owner["id"], locale=locale)


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "price-list.pdf is 11.0\u00a0MB, over the 10 MB limit: it was not uploaded."),
    ("ru", "Файл price-list.pdf весит 11,0\u00a0МБ — больше предела 10 МБ; он не загружен."),
])
async def test_a_file_over_the_limit_is_named_before_uploading(owner, locale, expected):
    await _set_locale(owner, locale)  # the default limit is 10 MB
    root = await _tab(owner["token"], locale)
    state = await root.get_state(KnowledgeState)
    await KnowledgeState.handle_upload_rejected.fn(state, [{"name": "price-list.pdf", "size": 11 * 1048576}])
    assert state.upload_errors == [expected]


async def test_the_getting_started_checklist_ticks_what_is_done(owner):
    root = await _tab(owner["token"])
    state = await root.get_state(OverviewState)
    await OverviewState.load_overview.fn(state)
    assert (state.assistants, state.documents, state.bots_connected) == (0, 0, 0)

    async with async_session() as s:
        assistant = await assistants.create_assistant(s, owner_id=owner["id"], name="Flowers")
        s.add(Document(assistant_id=assistant.id, filename="prices.txt", content_hash="p" * 64, status="ready"))
        # A bot in error is still connected: step 3 is done.
        s.add(Bot(assistant_id=assistant.id, owner_id=owner["id"], telegram_bot_id=7, username="flowers_bot",
                  token_encrypted=encrypt_secret("7:" + "y" * 35), token_hint="7:…yyyy", status="error"))
        await s.commit()
    await OverviewState.load_overview.fn(state)
    assert state.assistants == 1 and state.documents == 1 and state.bots_connected == 1


async def test_assistant_errors_are_sentences_in_the_owners_language(owner):
    await _set_locale(owner, "ru")
    root = await _tab(owner["token"], "ru")
    state = await root.get_state(AssistantsState)
    await AssistantsState.handle_create_submit.fn(state, {"name": "  "})
    assert state.error == "Дайте ассистенту название длиной от 1 до 120 символов."


async def test_creating_with_prompt_greeting_and_a_style_preset(owner):
    root = await _tab(owner["token"])
    state = await root.get_state(AssistantsState)
    await AssistantsState.handle_create_submit.fn(state, {"name": "Flowers", "system_prompt": "Be brief.",
                                                          "greeting": "Hello!", "style": "strict"})
    assert state.error == ""
    async with async_session() as s:
        created = (await assistants.list_assistants(s, owner_id=owner["id"]))[0]
    assert (created.system_prompt, created.greeting) == ("Be brief.", "Hello!")
    assert (created.score_threshold, created.temperature) == (STYLE_PRESETS["strict"]["score_threshold"],
                                                              STYLE_PRESETS["strict"]["temperature"])
    assert state.assistants[0]["style"] == "strict"


async def test_a_custom_style_keeps_the_advanced_values(owner):
    root = await _tab(owner["token"])
    state = await root.get_state(AssistantsState)
    await AssistantsState.handle_create_submit.fn(state, {"name": "Flowers"})
    AssistantsState.start_edit.fn(state, state.assistants[0]["id"])
    form = {**state.editing, "style": "custom", "temperature": "1.1", "score_threshold": "0.5"}
    await AssistantsState.handle_edit_submit.fn(state, form)
    assert state.error == "" and state.assistants[0]["temperature"] == "1.1"
    assert state.assistants[0]["style"] == "custom"


async def test_a_bad_bot_token_is_refused_in_russian(owner):
    async with async_session() as s:
        assistant = await assistants.create_assistant(s, owner_id=owner["id"], name="Flowers")
        await s.execute(User.__table__.update().where(User.id == owner["id"]).values(email_verified_at=utcnow()))
        await s.commit()
    await _set_locale(owner, "ru")
    root = await _tab(owner["token"], "ru")
    state = await root.get_state(BotsState)
    await BotsState.load_bots.fn(state)
    state.connect_assistant_id = str(assistant.id)
    async for _ in BotsState.handle_connect_submit.fn(state, {"token": "not a token"}):
        pass
    assert state.error == "Это не похоже на токен бота. Скопируйте токен из @BotFather целиком."


def test_a_bots_last_error_is_shown_in_russian():
    from chatai.bots.bot_sentences import TELEGRAM_UNREACHABLE

    assert bot_event_text("ru", TELEGRAM_UNREACHABLE) == "Нет связи с Telegram; повторяем."
    assert bot_event_text("en", TELEGRAM_UNREACHABLE) == TELEGRAM_UNREACHABLE


def test_tab_titles_follow_the_language():
    assert page_title("ru", "/dashboard/knowledge") == "База знаний · ChatAI"
    assert page_title("en", "/dashboard/knowledge") == "Knowledge base · ChatAI"
    assert page_title("ru", "/no/such/page") == "Страница не найдена · ChatAI"
    assert page_title("en", "/admin/users/[admin_user_id]") == "Account · Admin · ChatAI"


async def test_a_drop_with_every_file_refused_keeps_the_refusal_on_screen(owner):
    """react-dropzone calls on_drop (with no files) beside on_drop_rejected: that must not clear the refusal."""
    async with async_session() as s:
        assistant = await assistants.create_assistant(s, owner_id=owner["id"], name="Flowers")
    root = await _tab(owner["token"])
    state = await root.get_state(KnowledgeState)
    state.assistant_id = str(assistant.id)
    await KnowledgeState.handle_upload_rejected.fn(state, [{"name": "big.pdf", "size": 11 * 1048576}])
    async for _ in KnowledgeState.handle_upload.fn(state, []):
        pass
    assert len(state.upload_errors) == 1 and "big.pdf" in state.upload_errors[0]


def test_the_search_console_names_pages_and_qa_pairs_in_russian():
    import uuid

    from chatai.rag.retrieval import SearchHit
    from chatai.web.pages.kb_search import hit_row

    page = SearchHit(kind="chunk", id=uuid.uuid4(), document="hours.pdf", section="Page 3", text="We open at 9.",
                     score=0.8, similarity=0.8, vector_rank=1, fts_rank=None)
    pair = SearchHit(kind="qa", id=uuid.uuid4(), document="Q&A", section="Do you deliver?", text="Yes.",
                     score=0.8, similarity=0.8, vector_rank=1, fts_rank=None)
    assert (hit_row(page, 0.3, "ru")["section"], hit_row(page, 0.3, "en")["section"]) == ("Стр. 3", "Page 3")
    assert hit_row(pair, 0.3, "ru")["document"] == "Вопрос-ответ"
    assert hit_row(pair, 0.3, "ru")["section"] == "Do you deliver?"  # the owner's own words stay as typed


def test_the_overview_says_durations_in_the_owners_language():
    from chatai.web.pages.overview import _duration

    assert (_duration(12.34, "en"), _duration(12.34, "ru")) == ("12.3 s", "12,3 с")
    assert (_duration(150, "ru"), _duration(7200, "ru"), _duration(None, "ru")) == ("2,5 мин", "2,0 ч", "—")
