"""The pinned Claude Code binary, installed once into .cache/ by scripts/install-claude-code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.home import ROOT

INSTALLER = ROOT / "scripts" / "install-claude-code"
VERSION = (Path(__file__).parent / "CLAUDE_CODE_VERSION").read_text().strip()
INSTALL_TIMEOUT_S = 900  # a first install downloads ~360 MB from the npm registry


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    # A developer without npm may skip the e2e test; CI exists to run it, so there a missing
    # binary is a broken build, not a skip.
    message = f"Claude Code {VERSION} is not available: {reason}"
    if _in_ci():
        pytest.fail(f"{message} (CI is set, so the e2e test must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """The path of the pinned native `claude` executable."""
    try:
        installed = subprocess.run(
            [str(INSTALLER)],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"{INSTALLER.name} could not run: {exc}")
    if installed.returncode != 0:
        why = installed.stderr.strip() or f"no message; run {INSTALLER} to see npm's"
        _unavailable(f"{INSTALLER.name} exited with {installed.returncode}: {why}")
    printed = installed.stdout.strip()
    binary = Path(printed)
    if not printed or not binary.is_file() or not os.access(binary, os.X_OK):
        _unavailable(f"{INSTALLER.name} printed {printed!r}, not the path of an executable")
    try:
        version = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"{binary} --version failed: {exc}")
    # The payloads the test relies on were captured from this version; another one would make
    # a failure ambiguous.
    if not version.stdout.startswith(f"{VERSION} "):
        _unavailable(
            f"{binary} --version printed {version.stdout.strip()!r} "
            f"(stderr {version.stderr.strip()!r}), expected {VERSION}"
        )
    return binary
