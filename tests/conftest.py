"""Fixtures: an isolated SKILLTRACK_HOME, and a real daemon running for it.

What the tests share beyond fixtures is in tests/support/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.home import DaemonProcess, Home, isolated_home


@pytest.fixture
def home() -> Iterator[Home]:
    with isolated_home() as h:
        yield h


@pytest.fixture
def daemon(home: Home) -> DaemonProcess:
    return home.start_daemon()
