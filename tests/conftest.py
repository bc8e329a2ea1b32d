"""Fixtures: an isolated SKILLTRACK_HOME, and a real daemon running for it.

What the tests share beyond fixtures is in tests/support/.
"""

from __future__ import annotations

import compileall
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import skilltrack
from tests.support.home import DaemonProcess, Home, isolated_home


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the package under test once. Every daemon and command the tests start as a
    process imports it; where PYTHONDONTWRITEBYTECODE is set (as on the shared test
    machine), a module without its .pyc was compiled again by each (for the daemon's
    imports, 0.06 s of CPU a start).
    The hook's copy is left as it is: its bytecode cache is part of what its tests see."""
    compileall.compile_dir(
        Path(skilltrack.__file__).parent, quiet=1, rx=re.compile(r"[/\\]hook[/\\]")
    )


@pytest.fixture
def home() -> Iterator[Home]:
    with isolated_home() as h:
        yield h


@pytest.fixture
def daemon(home: Home) -> DaemonProcess:
    return home.start_daemon()
