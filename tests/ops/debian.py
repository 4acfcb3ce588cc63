"""Debian tools the operations tests run for real (nginx, logrotate): installed with apt-get when missing
and this is root, as the Makefile installs chromium; otherwise the test is skipped, saying what to install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def debian_binary(binary: str, package: str) -> str:
    def found() -> str:
        return shutil.which(binary) or next((f"{d}/{binary}" for d in ("/usr/sbin", "/sbin")
                                             if Path(f"{d}/{binary}").exists()), "")

    if found():
        return found()
    if os.geteuid() != 0:
        pytest.skip(f"{binary} is not installed and this is not root: run 'sudo apt-get install {package}'")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, capture_output=True,
                             text=True, timeout=600)
    if install.returncode != 0:
        update = subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        install = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, capture_output=True,
                                 text=True, timeout=600)
        if update.returncode != 0 or install.returncode != 0:
            pytest.skip(f"{package} could not be installed with apt-get: {install.stderr.strip()[-300:]}")
    return found()
