"""Only allowed sites may embed the widget: the loader's config, the iframe page's frame-ancestors policy,
and the visitor API's checks (Origin, token, site); a refusal is a sentence, never the assistant."""

import uuid

from tests.factories import make_tenant
from tests.widget.conftest import SITE, SITE_ORIGIN, enable_widget, start_session, started_conversation


async def test_loader_config_answers_an_allowed_site_and_names_only_it(tenant, client):
    response = await client.get(f"/widget/config/{tenant.assistant_id}", headers={"Origin": SITE_ORIGIN})
    assert response.status_code == 200
    assert response.json()["allowed"] is True
    assert response.headers["access-control-allow-origin"] == SITE_ORIGIN


async def test_loader_config_refuses_a_site_not_on_the_list(tenant, client):
    response = await client.get(f"/widget/config/{tenant.assistant_id}", headers={"Origin": "https://evil.example.net"})
    assert response.status_code == 403
    assert response.json() == {"allowed": False}


async def test_a_disabled_channel_or_unknown_assistant_is_refused(tenant, client):
    await enable_widget(tenant, enabled=False)
    for assistant in (tenant.assistant_id, uuid.uuid4()):
        config = await client.get(f"/widget/config/{assistant}", headers={"Origin": SITE_ORIGIN})
        assert config.status_code == 403
        page = await client.get(f"/widget/frame/{assistant}", headers={"Referer": SITE_ORIGIN + "/"})
        assert page.status_code == 404
        assert "The chat is not available on this site." in page.text
        session = await start_session(client, assistant)
        assert session.status_code == 404
        assert session.json() == {"error": "The chat is not available on this site."}


async def test_the_frame_page_may_only_be_framed_by_the_allowed_sites(tenant, client):
    page = await client.get(f"/widget/frame/{tenant.assistant_id}", headers={"Referer": SITE_ORIGIN + "/page"})
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert f"frame-ancestors https://{SITE} http://{SITE}" in policy
    assert "x-frame-options" not in page.headers  # DENY would override the list in old browsers
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


async def test_the_frame_page_refuses_a_page_on_another_site(tenant, client):
    page = await client.get(f"/widget/frame/{tenant.assistant_id}", headers={"Referer": "https://evil.example.net/x",
                                                                            "Accept-Language": "ru-RU,ru"})
    assert page.status_code == 403
    assert "Чат недоступен на этом сайте." in page.text


async def test_owner_text_in_the_frame_page_never_closes_its_script_element(db, client):
    owner = await make_tenant("xss@example.com", name="</script><script>alert(1)</script>")
    await enable_widget(owner, welcome="<img src=x onerror=alert(1)>")
    page = await client.get(f"/widget/frame/{owner.assistant_id}", headers={"Referer": SITE_ORIGIN + "/"})
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert "<img src=x" not in page.text


async def test_a_session_from_another_sites_page_is_refused(tenant, client):
    response = await client.post(f"/widget/api/{tenant.assistant_id}/session", json={"site": SITE},
                                 headers={"Origin": "https://evil.example.net"})
    assert response.status_code == 403


async def test_a_session_for_a_site_not_on_the_list_is_refused(tenant, client):
    response = await start_session(client, tenant.assistant_id, site="evil.example.net")
    assert response.status_code == 403
    assert response.json()["error"] == "The chat is not available on this site."


async def test_a_visitor_token_keeps_the_conversation_across_sessions(tenant, client):
    first = await started_conversation(client, tenant.assistant_id)
    assert first["token"] and first["dialog"]
    again = (await start_session(client, tenant.assistant_id, token=first["token"])).json()
    assert again["dialog"] == first["dialog"]
    assert (await start_session(client, tenant.assistant_id)).json()["dialog"] == ""  # another visitor


async def test_another_owners_visitor_token_never_reaches_their_dialog(tenant, client):
    other = await make_tenant("other@example.com")
    await enable_widget(other)
    theirs = await started_conversation(client, other.assistant_id)
    # Their token on our assistant: a new visitor of ours, never their conversation.
    ours = (await start_session(client, tenant.assistant_id, token=theirs["token"])).json()
    assert ours["dialog"] == "" and ours["token"] != theirs["token"]
    # Their token on our assistant's message and event routes: refused.
    headers = {"Authorization": f"Bearer {theirs['token']}"}
    sent = await client.post(f"/widget/api/{tenant.assistant_id}/messages", headers=headers,
                             json={"text": "hi", "client_message_id": "a" * 16})
    assert sent.status_code == 403
    events = await client.get(f"/widget/api/{tenant.assistant_id}/events?dialog={theirs['dialog']}", headers=headers)
    assert events.status_code == 403


async def test_another_visitors_dialog_id_is_refused(tenant, client):
    mine = await started_conversation(client, tenant.assistant_id)
    theirs = await started_conversation(client, tenant.assistant_id)
    assert mine["dialog"] != theirs["dialog"]
    headers = {"Authorization": f"Bearer {mine['token']}"}
    events = await client.get(f"/widget/api/{tenant.assistant_id}/events?dialog={theirs['dialog']}", headers=headers)
    assert events.status_code == 404
    sent = await client.post(f"/widget/api/{tenant.assistant_id}/messages", headers=headers,
                             json={"text": "hi", "client_message_id": "b" * 16, "dialog": theirs["dialog"]})
    assert sent.status_code == 404


async def test_removing_a_site_ends_the_tokens_issued_on_it(tenant, client):
    session = await started_conversation(client, tenant.assistant_id)
    await enable_widget(tenant, sites=["other.example.com"])
    events = await client.get(f"/widget/api/{tenant.assistant_id}/events?dialog={session['dialog']}",
                              headers={"Authorization": f"Bearer {session['token']}"})
    assert events.status_code == 403


async def test_loader_and_panel_are_cached_static_files(client):
    loader = await client.get("/widget/loader.js")
    assert loader.status_code == 200
    assert loader.headers["content-type"].startswith("text/javascript")
    assert "max-age=3600" in loader.headers["cache-control"]
    again = await client.get("/widget/loader.js", headers={"If-None-Match": loader.headers["etag"]})
    assert again.status_code == 304
    assert (await client.get("/widget/nothing.js")).status_code == 404
