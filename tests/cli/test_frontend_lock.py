"""A Reflex build must leave the tracked reflex.lock/ untouched (rxconfig points Reflex at a working copy)."""

import os
import subprocess
import sys

from chatai.settings import PROJECT_ROOT

# What every Reflex build does with the lock folder: render package.json into .web (its one-line JSON)
# and copy .web's package.json and lockfiles back to the lock folder.
BUILD_STEPS = """
import rxconfig  # noqa: F401 - the config is what redirects the lock folder
from reflex.utils import frontend_skeleton as skeleton

skeleton.initialize_package_json()
skeleton.sync_web_lockfiles_to_root()
print(skeleton.get_root_lockfile_path("package.json"))
"""


def test_reflex_build_steps_leave_the_committed_lock_folder_untouched(tmp_path):
    committed = {path: path.read_bytes() for path in (PROJECT_ROOT / "reflex.lock").iterdir()}
    env = {**os.environ, "REFLEX_WEB_WORKDIR": str(tmp_path / "web"), "PYTHONPATH": str(PROJECT_ROOT)}
    (tmp_path / "web").mkdir()
    try:
        result = subprocess.run([sys.executable, "-c", BUILD_STEPS], cwd=PROJECT_ROOT, env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        written = result.stdout.strip().splitlines()[-1]
        assert (tmp_path / "web" / "package.json").read_text() in open(written).read()
        assert {path: path.read_bytes() for path in committed} == committed
    finally:
        for path, data in committed.items():  # without the redirect the build rewrote them: put them back
            if path.read_bytes() != data:
                path.write_bytes(data)
