"""`python -m chatai widget enable/disable/snippet` as its own process against the test database."""

import uuid

from chatai.db.session import async_session
from chatai.widget.models import WidgetSettings
from tests.cli.test_core_cli import cli
from tests.factories import make_tenant


async def _widget(assistant_id):
    async with async_session() as session:
        return await session.get(WidgetSettings, assistant_id)


async def test_enable_allows_sites_disable_keeps_them_and_snippet_prints_one_script(db):
    tenant = await make_tenant("cli-widget@example.com")
    enabled = cli("widget", "enable", "--assistant", str(tenant.assistant_id), "--allow", "Shop.Example.com",
                  "--allow", "*.example.org")
    assert enabled.returncode == 0, enabled.stderr
    widget = await _widget(tenant.assistant_id)
    assert (widget.enabled, widget.allowed_sites) == (True, ["shop.example.com", "*.example.org"])

    assert cli("widget", "enable", "--assistant", str(tenant.assistant_id), "--allow", "localhost").returncode == 0
    assert (await _widget(tenant.assistant_id)).allowed_sites == ["shop.example.com", "*.example.org", "localhost"]

    disabled = cli("widget", "disable", "--assistant", str(tenant.assistant_id))
    assert disabled.returncode == 0, disabled.stderr
    widget = await _widget(tenant.assistant_id)
    assert (widget.enabled, len(widget.allowed_sites)) == (False, 3)

    snippet = cli("widget", "snippet", "--assistant", str(tenant.assistant_id))
    assert snippet.returncode == 0, snippet.stderr
    assert snippet.stdout.strip().startswith("<script async src=")
    assert snippet.stdout.strip().endswith(f'data-chatai-assistant="{tenant.assistant_id}"></script>')
    assert snippet.stdout.count("\n") == 1


async def test_a_bad_site_or_unknown_assistant_is_one_sentence_and_exit_1(db):
    tenant = await make_tenant("cli-widget-bad@example.com")
    bad = cli("widget", "enable", "--assistant", str(tenant.assistant_id), "--allow", "not a host")
    assert bad.returncode == 1
    assert "“not a host” is not a host name." in bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = cli("widget", "snippet", "--assistant", str(uuid.uuid4()))
    assert unknown.returncode == 1 and "no assistant with id" in unknown.stderr
