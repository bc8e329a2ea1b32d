"""Fixtures: an isolated SKILLTRACK_HOME, and a real daemon running for it.

What the tests share beyond fixtures is in tests/support/.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.home import DaemonProcess, Home


@pytest.fixture
def home() -> Iterator[Home]:
    # A short path under /tmp: the socket path must stay under ~100 bytes.
    d = Path(tempfile.mkdtemp(prefix="st-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLTRACK_")}
    env["SKILLTRACK_HOME"] = str(d)
    h = Home(d, env)
    try:
        yield h
    finally:
        h.stop_all()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemon(home: Home) -> DaemonProcess:
    return home.start_daemon()
