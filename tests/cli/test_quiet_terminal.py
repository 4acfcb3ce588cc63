"""The terminal of `make run` shows what an operator can act on: Node's "out of date" warning (Node 20 is the
README's), pushes to tabs that just closed, ONNX Runtime's pre-processing hint and Reflex's deprecation
notices are dropped (chatai/logging_setup.py); other warnings of the same loggers still show."""

import subprocess
import sys

from chatai.settings import PROJECT_ROOT

# A process set up as the app's are (Reflex's own log sinks, then ours), then each line as its library writes it.
SCRIPT = """
import logging
from reflex_base.utils import log
log.enable_managed_logging()
from chatai.logging_setup import configure_logging
configure_logging(level="INFO")
from reflex.utils import js_runtimes
print("node outdated:", js_runtimes.is_outdated_nodejs_installed(), flush=True)
logging.getLogger("reflex.app").warning("Attempting to send delta to disconnected client 'tab-1'")
logging.warning("Please consider to run pre-processing before quantization. Refer to example: ...")
log.deprecate(feature_name="rx.Old", reason="use rx.New", deprecation_version="0.9", removal_version="1.0")
logging.getLogger("reflex.app").warning("control: a warning of the same logger")
logging.getLogger("chatai.test").warning("control: a warning of the app")
"""


def test_framework_noise_stays_off_the_terminal_and_other_warnings_show():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert "control: a warning of the same logger" in out and "control: a warning of the app" in out
    for noise in ("Node.js is out of date", "delta to disconnected client", "pre-processing before quantization",
                  "rx.Old has been deprecated"):
        assert noise not in out, out


def test_deprecations_show_at_debug_level():
    script = SCRIPT.replace('level="INFO"', 'level="DEBUG"')
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "rx.Old has been deprecated" in result.stdout + result.stderr
