"""The production build is reused exactly when nothing it depends on changed (chatai/web/build_fingerprint.py):
each part, changed alone, is named; what only matters at run time, and what Reflex writes itself, is not."""

import os
import shutil

import pytest

from chatai.settings import PROJECT_ROOT
from chatai.web import build_fingerprint as fp

SETTINGS = {"public_url": "http://127.0.0.1:3000", "port": 3000, "host": "127.0.0.1"}


@pytest.fixture
def checkout(tmp_path):
    """A copy of what the build reads (chatai/, rxconfig.py, assets/, reflex.lock/) and a built .web."""
    root = tmp_path / "checkout"
    shutil.copytree(PROJECT_ROOT / "chatai", root / "chatai", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT_ROOT / "assets", root / "assets", ignore=shutil.ignore_patterns("external"))
    shutil.copytree(PROJECT_ROOT / "reflex.lock", root / "reflex.lock")
    shutil.copy(PROJECT_ROOT / "rxconfig.py", root / "rxconfig.py")
    web = root / ".web"
    (web / fp.BUILD_INDEX).parent.mkdir(parents=True)
    (web / fp.BUILD_INDEX).write_text("<html>built</html>")
    return root


def inputs(root, environ=None, **settings):
    values = {**SETTINGS, **settings}
    return fp.build_inputs(root, fp.baked_settings(values["public_url"], values["port"], values["host"],
                                                   environ or {}))


def test_a_build_is_reused_only_after_it_was_recorded(checkout):
    web = checkout / ".web"
    assert fp.changed_parts(web, inputs(checkout)) == ["no record of the previous build"]
    fp.remember(web, inputs(checkout))
    assert fp.changed_parts(web, inputs(checkout)) == []
    fp.forget(web)  # a build starting: until it succeeds nothing is reused
    assert fp.changed_parts(web, inputs(checkout)) == ["no record of the previous build"]


def test_no_build_at_all_is_built(checkout):
    (checkout / ".web" / fp.BUILD_INDEX).unlink()
    assert fp.changed_parts(checkout / ".web", inputs(checkout)) == ["no previous build"]


@pytest.mark.parametrize(("change", "part"), [
    (lambda root: (root / "chatai/web/pages/overview.py").write_text(
        (root / "chatai/web/pages/overview.py").read_text() + "\n# a page changed\n"), fp.CODE),
    (lambda root: (root / "chatai/web/pages/new_page.py").write_text("PAGE = 1\n"), fp.CODE),
    (lambda root: (root / "rxconfig.py").write_text((root / "rxconfig.py").read_text() + "\n"), fp.CODE),
    (lambda root: (root / "assets/logo.svg").write_text("<svg/>"), fp.ASSETS),
    (lambda root: (root / "reflex.lock/package.json").write_text("{}"), fp.PACKAGES),
])
def test_a_changed_source_names_its_part(checkout, change, part):
    web = checkout / ".web"
    fp.remember(web, inputs(checkout))
    change(checkout)
    assert fp.changed_parts(web, inputs(checkout)) == [part]


def test_files_the_app_does_not_build_from_change_nothing(checkout):
    web = checkout / ".web"
    fp.remember(web, inputs(checkout))
    (checkout / "assets/external/chatai").mkdir(parents=True)  # Reflex writes shared assets here itself
    (checkout / "assets/external/chatai/x.js").write_text("1")
    (checkout / "chatai/services/mail_templates/reset.en.txt").write_text("read at run time")
    (checkout / "README.md").write_text("docs")
    assert fp.changed_parts(web, inputs(checkout)) == []


@pytest.mark.parametrize("setting", [{"public_url": "https://support.example.com"}, {"port": 8080},
                                     {"host": "0.0.0.0"}])  # noqa: S104 - a value, nothing binds
def test_a_setting_baked_into_the_build_rebuilds(checkout, setting):
    web = checkout / ".web"
    fp.remember(web, inputs(checkout))
    assert fp.changed_parts(web, inputs(checkout, **setting)) == [fp.SETTINGS]


def test_reflex_and_vite_variables_rebuild_run_time_ones_do_not(checkout):
    web = checkout / ".web"
    fp.remember(web, inputs(checkout, {"REFLEX_REDIS_URL": "redis://a", "PATH": "/bin"}))
    run_time = {"REFLEX_REDIS_URL": "redis://b", "REFLEX_STATES_WORKDIR": "/x", "REFLEX_TELEMETRY_ENABLED": "0",
                "DATABASE_URL": "postgresql://elsewhere", "PATH": "/usr/bin"}
    assert fp.changed_parts(web, inputs(checkout, run_time)) == []
    assert fp.changed_parts(web, inputs(checkout, {"REFLEX_FRONTEND_PATH": "/app"})) == [fp.SETTINGS]
    assert fp.changed_parts(web, inputs(checkout, {"VITE_MINIFY": "false"})) == [fp.SETTINGS]


def test_a_build_written_by_anything_else_is_not_reused(checkout):
    """A bare `reflex run --env prod` (or an older checkout) rebuilt .web for other settings since."""
    web = checkout / ".web"
    fp.remember(web, inputs(checkout))
    index = web / fp.BUILD_INDEX
    index.write_text("<html>built for another PUBLIC_URL</html>")
    stat = index.stat()
    os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert fp.changed_parts(web, inputs(checkout)) == ["the build was replaced"]


def test_the_record_holds_no_setting_in_clear(checkout):
    web = checkout / ".web"
    secret = "rx-secret-value-3f9c"
    fp.remember(web, inputs(checkout, {"REFLEX_API_TOKEN": secret}, public_url="https://user:pw9@host.example"))
    text = (web / fp.STAMP_NAME).read_text()
    assert secret not in text and "pw9" not in text and "host.example" not in text
