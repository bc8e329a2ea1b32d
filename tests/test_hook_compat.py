"""The hook under old interpreters: the plugin form runs whatever `python3` it finds.

Its core needs Python 3.8 and nothing newer (vermin checks the source; the oldest interpreter
on the machine runs it for real). Which interpreters there are is tests/support/pythons.py's
business; each test's id names the one it ran.
"""

from __future__ import annotations

import ast
import contextlib
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import pythons
from tests.support.cli import BIN
from tests.support.events import payload
from tests.support.home import HOOK, WAIT_FOR_ACK, DaemonProcess, Home

CORE = HOOK.with_name("skilltrack_hook_core.py")
FALLBACK = HOOK.with_name("skilltrack_hook_fallback.py")
VERMIN = BIN / "vermin"
OLDEST = pythons.oldest_supported()


def _oldest_id() -> str:
    if OLDEST.version[:2] <= (3, 9):
        return OLDEST.label
    return f"{OLDEST.label}-the-oldest-found-no-3.8-or-3.9"


ON_OLDEST = pytest.mark.parametrize("python", [pytest.param(OLDEST, id=_oldest_id())])


def vermin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VERMIN), "--no-tips", "--violations", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_hook_core_needs_nothing_newer_than_python_3_8() -> None:
    result = vermin("-t=3.8-", str(CORE))

    assert result.returncode == 0, result.stdout


def test_the_hook_script_and_its_fallback_need_nothing_newer_than_2_7_and_3_0() -> None:
    # Whatever python3 the plugin finds must at least parse these, to spool the event.
    result = vermin("-t=2.7-", "-t=3.0-", str(HOOK), str(FALLBACK))

    assert result.returncode == 0, result.stdout


def test_vermin_as_used_here_finds_what_3_8_lacks(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nos.waitstatus_to_exitcode(0)\n")

    result = vermin("-t=3.8-", str(sample))

    assert result.returncode == 1
    assert "'os.waitstatus_to_exitcode' member requires !2, 3.9" in result.stdout


def evaluated_annotations(source: str) -> list[str]:
    """The annotations of the defs in `source` that 3.8 might fail to evaluate: every one
    but a plain name (`int`, `os.PathLike`) or a string.

    A def's annotations are evaluated when the def runs (before 3.14), and 3.8 cannot evaluate
    `tuple[...]` or `float | None`: the core failed at import for it (issue 24). Vermin
    reports the first only if told that annotations are evaluated, and then local variables'
    too, which never are; the second only by a guess that takes every `a | b` for one.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            arguments = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            annotations = [x.annotation for x in arguments if x is not None] + [node.returns]
            found += [
                f"line {x.lineno}: {ast.unparse(x)}"
                for x in annotations
                if x is not None
                and not isinstance(x, ast.Name | ast.Attribute)
                and not (isinstance(x, ast.Constant) and isinstance(x.value, str | None))
            ]
    return found


def test_the_hook_core_quotes_the_annotations_3_8_would_fail_on() -> None:
    assert evaluated_annotations(CORE.read_text()) == []


def test_annotations_3_8_would_fail_on_are_found() -> None:
    source = (
        "def f(a: int, *b: list[str], c: 'x | y', d: os.PathLike) -> float | None:\n"
        "    v: dict[str, int] = {}\n"
    )

    assert evaluated_annotations(source) == ["line 1: list[str]", "line 1: float | None"]


@ON_OLDEST
def test_the_hook_stores_an_event_under_the_oldest_python(
    home: Home, daemon: DaemonProcess, python: pythons.Python
) -> None:
    result = home.hook(payload(tool_use_id="toolu_old"), extra_env=WAIT_FOR_ACK, python=python.path)

    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    [event] = home.events()
    assert event["tool_use_id"] == "toolu_old"
    assert uuid.UUID(event["event_id"]).version == 7
    assert not home.paths.spool.exists()


@ON_OLDEST
def test_the_hook_spools_and_starts_the_daemon_under_the_oldest_python(
    home: Home, python: pythons.Python
) -> None:
    # The daemon is found on PATH (nothing named skilltrack-daemon is beside that Python).
    path = {"PATH": f"{BIN}{os.pathsep}{home.env.get('PATH', '')}"}

    result = home.hook(payload(tool_use_id="toolu_old"), extra_env=path, python=python.path)

    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    home.wait_for(lambda: len(home.events()) == 1, what="the spooled event, replayed")
    assert home.events()[0]["tool_use_id"] == "toolu_old"


@pytest.fixture
def slow_acknowledger(tmp_path: Path) -> Iterator[str]:
    """A socket that acknowledges each frame 0.2 s after it has read it."""
    path = str(tmp_path / "d.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while conn.recv(65536):
                pass
            threading.Event().wait(0.2)
            with contextlib.suppress(OSError):  # a hook that gave up has closed its end
                conn.sendall(b"OK\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path
    thread.join(timeout=10)
    server.close()


@ON_OLDEST
def test_a_slow_acknowledgement_is_waited_for_under_the_oldest_python(
    slow_acknowledger: str, python: pythons.Python
) -> None:
    # The hook first waits QUICK_REPLY_S, then longer. Before 3.10 that first timeout is
    # socket.timeout, an OSError but no TimeoutError; caught as the wrong one, the hook gave
    # up at once and spooled. With the waits set so that only the first one can run out:
    script = (
        f"import sys; sys.path.insert(0, {str(CORE.parent)!r}); import skilltrack_hook_core as c\n"
        "c.QUICK_REPLY_S, c.MAX_AGE_S, c.DEADLINE_S = 0.005, 60.0, 20.0\n"
        f"print(c.send({slow_acknowledger!r}, b'ST1 x 1.0 -\\n{{}}'))\n"
    )

    result = subprocess.run(
        [python.path, "-I", "-S", "-c", script],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.stdout.strip() == "(True, False)", result.stderr
